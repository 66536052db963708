"""What the pages are built from: a batch's stored records, and student text made safe.

Two small functions, each the one place its concern lives:

- ``batch_records(out)``: every student's stored ``results.json`` in a batch's output folder;
- ``student_html(text)``: text a student controls, ready for a page (control characters made
  visible, HTML escaped).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from grader.results.safe_text import visible_html


@dataclass(frozen=True)
class StudentRecord:
    name: str      # the student's name as the TA gave it (shown, never used as a path)
    key: str       # the name of the student's folder (file-system safe in the keyed layout)
    folder: Path   # holds results.json; the student's feedback.html is written beside it
    results: dict  # results.json as stored


def batch_records(out: Path) -> list[StudentRecord]:
    """Every readable record in a batch's output folder ``out``, sorted by name then key.

    Reads ``out/students/<key>/results.json`` (the keyed layout: the record holds ``student``
    and ``key``) or, where there is no ``students/`` folder, ``out/<name>/results.json``. A
    record that cannot be read (a batch killed while writing one never leaves such a file,
    but a person might) is skipped: it is graded again by the next batch.
    """
    out = Path(out)
    root = out / "students" if (out / "students").is_dir() else out
    records = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(results, dict):
            continue
        name = results.get("student")
        key = results.get("key")
        records.append(StudentRecord(name=name if isinstance(name, str) else folder.name,
                                     key=key if isinstance(key, str) else folder.name,
                                     folder=folder, results=results))
    return sorted(records, key=lambda r: (r.name, r.key))


def student_html(text) -> Markup:
    """``text`` (anything a student controls) for a page: control and invisible formatting
    characters made visible and ``& < > " '`` escaped (``results.safe_text.visible_html``),
    marked safe for the templates. Safe inside an element or a quoted attribute."""
    return Markup(visible_html(text))
