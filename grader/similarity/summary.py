"""The words of the report, its summary for a terminal and the link the class dashboard shows
(no imports of the grader: the CLI and the dashboard use it)."""
from __future__ import annotations

import json
from pathlib import Path

REPORT_DIR = "similarity"  # inside the batch's output folder

STATEMENT = ("A high score is a reason to look, not a verdict. Students who solve the same small "
             "exercise from the same handout write similar code; the score only says how much of "
             "two submissions is the same code up to names, comments, layout and order. Read "
             "both, and talk to the students, before concluding anything.")

IGNORED = ("Left out before comparing: the released skeleton, the provided modules, the code "
           "blocks of the handout, docstrings, comments and whitespace; identifiers are "
           "compared as placeholders, so renaming changes nothing.")


def text_summary(summary: dict, *, show: int = 10) -> str:
    """What ``grader similarity`` prints: counts, the flagged pairs, where the report is."""
    flagged = summary["flagged"]
    lines = [f"similarity of {summary['assignment']}: {summary['compared']} submissions "
             f"compared in {summary['seconds']:.1f} s, {summary['pairs_sharing_code']} pairs share "
             f"some code, {len(flagged)} at or above {100 * summary['threshold']:.0f}%"]
    for f in flagged[:show]:
        lines.append(f"  {100 * f['score']:3.0f}%  {_plain(f['a'])} <-> {_plain(f['b'])}")
    if len(flagged) > show:
        lines.append(f"  ... and {len(flagged) - show} more")
    if summary["without_files"]:
        lines.append(f"not compared (no kept files): {len(summary['without_files'])} students")
    lines += [STATEMENT, f"report: {summary['index']}  (all pairs: {summary['csv']})"]
    return "\n".join(lines) + "\n"


def _plain(name: str) -> str:
    """A student name as a terminal may print it: control characters escaped."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in name)


def dashboard_link(grades) -> dict | None:
    """What the class dashboard shows of the report in ``grades``, if there is one: the page
    (relative to ``grades``), how many pairs are flagged, and the statement."""
    try:
        data = json.loads((Path(grades) / REPORT_DIR / "similarity.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("flagged"), list):
        return None
    return {"href": f"{REPORT_DIR}/index.html", "flagged": len(data["flagged"]),
            "statement": STATEMENT}
