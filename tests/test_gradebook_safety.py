"""Issue 20, item 5: a gradebook a spreadsheet can open safely, and the sandbox each result was
graded in (gradebook.csv and the dashboard).

The names are real: a class folder whose zips are named like formulas (each a submission
error: no grading needed), and ``Zoë Müller`` and ``alice`` graded for real (hw1).
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from grader.course.config import REPO_ROOT, find_assignment

HW1 = find_assignment("hw1_graph")
EXAMPLES = REPO_ROOT / "examples" / "submissions" / "hw1_graph"
FORMULAS = ["=cmd|calc", "+SUM(A1)", "-2+3", "@SUM(A1)", "=HYPERLINK(\"x\")"]
DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r", "\n")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from grader import batch
    root = tmp_path_factory.mktemp("gradebook-safety")
    subs = root / "subs"
    shutil.copytree(EXAMPLES / "correct", subs / "Zoë Müller")
    shutil.copytree(EXAMPLES / "forgets_dout", subs / "alice")
    for name in FORMULAS:
        (subs / f"{name}.zip").write_bytes(b"PK\x03\x04 not a zip")
    out = root / "out"
    batch.batch(subs, assignment="hw1_graph", out=out, jobs=2, progress=False)
    return out


def read_gradebook(out: Path) -> list[dict]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_no_cell_of_the_gradebook_is_a_formula(graded):
    rows = read_gradebook(graded)
    assert len(rows) == len(FORMULAS) + 2
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(DANGEROUS_FIRST), (column, cell)
    # What the TA reads is the name, with the quote a spreadsheet shows as text.
    assert sorted(r["student"] for r in rows if r["status"] == "submission_error") == \
        sorted("'" + n for n in FORMULAS)


def test_the_gradebook_opens_in_excel_as_utf8(graded):
    """Excel reads a CSV without a byte-order mark in the machine's code page (ZoÃ« MÃ¼ller)."""
    raw = (graded / "gradebook.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\xef\xbb\xbf") == 1  # one BOM, also after a rebuild
    names = {r["student"] for r in read_gradebook(graded)}
    assert "Zoë Müller" in names and "alice" in names


def test_one_helper_makes_cells_safe_for_both_csv_files():
    from grader.results.safe_text import spreadsheet_cell
    from grader.similarity import pages
    for text in [*FORMULAS, "\t=1+1", "\r=1", "\n=1+1", "alice", "Zoë", "", "1.5", "'quoted"]:
        assert pages._cell(text) == spreadsheet_cell(text)
        assert not spreadsheet_cell(text).startswith(DANGEROUS_FIRST)
    assert spreadsheet_cell("alice") == "alice" and spreadsheet_cell("=1") == "'=1"


def _set_sandbox(out: Path, key: str, mode: str | None) -> None:
    path = out / "students" / key / "results.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    if mode is None:
        results.pop("provenance", None)  # a record from before provenance was recorded
    else:
        results["provenance"] = {**results.get("provenance", {}), "sandbox_mode": mode}
    path.write_text(json.dumps(results), encoding="utf-8")


def rebuild(out: Path):
    """gradebook.csv and the pages again from the records, as a batch's end does."""
    from grader.results.gradebook import write_gradebook
    from grader.results.pages.build import write_pages
    from grader.results.pages.records import batch_records
    students = [SimpleNamespace(name=r.name, key=r.key) for r in batch_records(out)]
    write_gradebook(out, HW1, students)
    write_pages(out, HW1)


@pytest.fixture
def mixed_sandboxes(graded, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(graded, out)
    keys = {r["student"]: r["key"] for r in read_gradebook(out)}
    _set_sandbox(out, keys["alice"], "plain")
    _set_sandbox(out, keys["Zoë Müller"], "jail")
    for name in FORMULAS:
        _set_sandbox(out, keys["'" + name], None)
    rebuild(out)
    return out


def test_the_gradebook_says_which_sandbox_graded_each_student(mixed_sandboxes):
    rows = {r["student"]: r for r in read_gradebook(mixed_sandboxes)}
    assert rows["alice"]["sandbox"] == "plain"
    assert rows["Zoë Müller"]["sandbox"] == "jail"
    assert {rows["'" + n]["sandbox"] for n in FORMULAS} == {"unknown"}
    raw = (mixed_sandboxes / "gradebook.csv").read_bytes()
    assert raw.count(b"\xef\xbb\xbf") == 1


def test_the_dashboard_marks_plain_mode_as_not_confined(mixed_sandboxes):
    index = (mixed_sandboxes / "index.html").read_text(encoding="utf-8")
    line = index.split('id="sandboxes"', 1)[1].split("</div>", 1)[0]
    assert "jail 1" in line and "unknown 5" in line
    plain = index.split('id="sandbox-plain"', 1)[1].split("</div>", 1)[0]
    assert "not confined" in plain and "alice" in plain


def test_a_class_graded_in_the_jail_alone_has_no_warning(graded, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(graded, out)
    for r in read_gradebook(out):
        _set_sandbox(out, r["key"], "jail")
    rebuild(out)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'id="sandboxes"' in index and 'id="sandbox-plain"' not in index
