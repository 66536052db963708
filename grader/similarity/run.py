"""``grader similarity``: rank every pair of a batch's submissions by how much code they share.

Reads the student files a batch kept (``sources.load_submissions``), leaves out what everyone
was given (``sources.given_texts``), fingerprints each submission once and compares every pair
(``pairs.compare_class``), then writes the report into ``GRADES/similarity/`` (``pages``).
No student code runs: the files are read as text and tokenised by Pygments.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from grader.course.config import find_assignment
from grader.errors import GraderError
from grader.similarity.sources import given_texts, load_submissions
from grader.similarity.summary import REPORT_DIR, dashboard_link  # noqa: F401


def similarity(grades, *, assignment: str | None = None, submissions=None, release=None,
               out=None, threshold: float = 0.6, min_match: int = 100,
               common_fraction: float = 0.2, common_floor: int = 10, pages: int = 50,
               dashboard: bool = True) -> dict:
    """Compare every pair of submissions of the batch in ``grades``; write the report.

    ``assignment`` defaults to the one the batch graded; ``submissions`` reads the students'
    files from the class's submissions folder instead of the copies the batch kept; ``release``
    is the student release whose skeleton is left out (default ``assignments/<id>/``); ``out``
    defaults to ``grades/similarity/``. A pair is flagged when at least ``threshold`` of one
    side's own code is found in the other and they have ``min_match`` characters of normalised
    code in common. A passage found in more than ``max(common_floor, common_fraction * N)``
    of the N submissions is treated as shared by everyone (MOSS's ``-m``). Pages are written
    for the ``pages`` highest pairs and for every flagged one (500 at most: a class with more
    has a problem no list of pairs solves). With ``dashboard``, a class dashboard
    (``grades/index.html``) is rebuilt to link the report. Returns the summary that
    ``similarity.json`` holds, with the report's paths.
    """
    try:
        from grader.similarity.pages import write_report
        from grader.similarity.pairs import Settings, compare_class
    except ImportError as e:  # copydetect (or Pygments) is not installed
        raise GraderError(f"grader similarity needs copydetect ({e}): "
                          "pip install 'nn-grader[batch]'") from None
    if not 0 < threshold <= 1:
        raise GraderError(f"--threshold {threshold}: give a fraction between 0 and 1, e.g. 0.6")
    if min_match < 0 or pages < 0 or common_floor < 1 or not 0 < common_fraction <= 1:
        raise GraderError("--min-match and --pages must be >= 0, the common floor >= 1 and the "
                          "common fraction between 0 and 1")
    grades = Path(grades)
    if submissions is None and not grades.is_dir():
        raise GraderError(f"{grades}: no such folder (give the --out folder of `grader batch`)")
    spec = find_assignment(assignment or assignment_of(grades))
    settings = Settings(threshold=threshold, min_match=min_match,
                        common_fraction=common_fraction, common_floor=common_floor)
    students = load_submissions(grades, spec, submissions=submissions)
    start = time.perf_counter()
    pairs = compare_class(students, given_texts(spec, release), settings, pages=pages)
    seconds = time.perf_counter() - start
    out = Path(out) if out is not None else grades / REPORT_DIR
    summary = write_report(out, spec, students, pairs, settings, pages=pages, seconds=seconds)
    if dashboard and out == grades / REPORT_DIR and (grades / "index.html").is_file():
        from grader.results.pages.build import write_pages
        write_pages(grades, spec)
    summary.update(index=str(out / "index.html"), csv=str(out / "similarity.csv"),
                   top=[{"a": p.a, "b": p.b, "score": p.score} for p in pairs[:10]])
    return summary


def assignment_of(grades: Path) -> str:
    """The assignment the batch in ``grades`` graded (from its students' results)."""
    base = grades / "students" if (grades / "students").is_dir() else grades
    seen = set()
    for record in sorted(base.glob("*/results.json")):
        try:
            seen.add(json.loads(record.read_text(encoding="utf-8")).get("assignment"))
        except (OSError, ValueError, AttributeError):
            continue
    seen.discard(None)
    if len(seen) != 1:
        found = f"found {', '.join(sorted(map(str, seen)))}" if seen else "found none"
        raise GraderError(f"{grades}: cannot tell which assignment this batch graded ({found}); "
                          "pass --assignment ID")
    return seen.pop()
