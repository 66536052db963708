"""Does a submission hold the files the assignment declares? If not, say what is wrong in one
message a student can act on, before any test runs.

Without this, ``Graph.py`` instead of ``graph.py`` (or a zip of another assignment's files)
scores 0 with every test failing on an import, the reason buried in each test's output. Here
it is a ``SubmissionError``, graded ``submission_error``, with messages such as::

    found Graph.py; the file must be named graph.py
    graph.py is in two folders (a/graph.py, b/graph.py); submit one copy, at the top level
    graph.py is missing (the submission holds mlp.py, perceptron.py, sgd.py)
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path, PurePosixPath

from grader.errors import SubmissionError
from grader.intake.archive import JUNK_DIRS, JUNK_FILES
from grader.results.safe_text import visible

MAX_LISTED = 6  # files named in a "missing" message


def _files_in(folder: Path, recursive: bool) -> list[PurePosixPath]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in JUNK_DIRS) if recursive else []
        for name in sorted(files):
            if name in JUNK_FILES or name.startswith("._") or name.endswith((".pyc", ".pyo")):
                continue
            found.append(PurePosixPath(Path(root, name).relative_to(folder).as_posix()))
    return found


def _nearest(name: str, present: list[PurePosixPath]) -> PurePosixPath | None:
    """The file most likely meant as ``name``: the same name in another case, then names close
    in spelling (``graph (1).py``, ``graph.py.txt``, ``grpah.py``), ``.py`` files first."""
    by_name = {}
    for path in present:
        by_name.setdefault(path.name, path)
    for candidate, path in by_name.items():
        if candidate.lower() == name.lower():
            return path
    stem = Path(name).stem.lower()
    for candidate, path in by_name.items():  # graph (1).py, graph-final.py, graph.py.txt
        low = candidate.lower()
        if low.startswith(stem) and (low.endswith(".py") or low.startswith(name.lower())):
            return path
    close = difflib.get_close_matches(name.lower(), [c.lower() for c in by_name], n=1,
                                      cutoff=0.75)
    if close:
        return next(p for c, p in by_name.items() if c.lower() == close[0])
    return None


def problems_with_files(folder: Path, files, *, recursive: bool = True) -> list[str]:
    """One message per declared file that is not at the top of ``folder`` (empty: all there).
    ``recursive=False`` looks only at the top level (a student's assignment folder, whose
    ``tests/`` is not part of the work)."""
    folder = Path(folder)
    present = _files_in(folder, recursive)
    problems, missing = [], []
    for name in files:
        if (folder / name).is_file():
            continue
        elsewhere = [p for p in present if p.name == name]
        if len(elsewhere) > 1:
            shown = ", ".join(str(p) for p in elsewhere[:MAX_LISTED])
            problems.append(f"{name} is in {len(elsewhere)} folders ({shown}); submit one "
                            "copy, at the top level")
            continue
        if elsewhere:
            problems.append(f"found {elsewhere[0]}; {name} must be at the top level of the "
                            "submission, not in a folder")
            continue
        near = _nearest(name, [p for p in present if p.name not in files])
        if near is not None:
            problems.append(f"found {near}; the file must be named {name}")
        else:
            missing.append(name)
    if missing:
        held = sorted({str(p) for p in present})
        listed = ", ".join(held[:MAX_LISTED]) + (
            f" and {len(held) - MAX_LISTED} more" if len(held) > MAX_LISTED else "")
        names = missing[0] if len(missing) == 1 else \
            ", ".join(missing[:-1]) + f" and {missing[-1]}"
        problems.append(f"{names} {'is' if len(missing) == 1 else 'are'} missing "
                        + (f"(the submission holds {listed})" if held
                           else "(the submission holds no files)"))
    return [visible(p) for p in problems]


def require_files(folder: Path, files, *, recursive: bool = True) -> None:
    """Raise ``SubmissionError`` (one message) unless every declared file is in ``folder``."""
    problems = problems_with_files(folder, files, recursive=recursive)
    if problems:
        raise SubmissionError("; ".join(problems))
