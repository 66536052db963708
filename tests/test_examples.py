"""Every assignment: the committed release is current, and each example submission scores what
its EXPECTED.md table says (graded as a batch, two at a time)."""
import csv
import re

import pytest

from grader.course.config import REPO_ROOT, solutions_dir
from grader.course.release import check_release_up_to_date

ASSIGNMENTS = sorted(p.parent.name for p in solutions_dir().glob("*/assignment.yaml"))
EXAMPLES = REPO_ROOT / "examples" / "submissions"


def expected_scores(assignment):
    """{example: score} from the first table of EXPECTED.md (first and last columns)."""
    rows = {}
    for line in (EXAMPLES / assignment / "EXPECTED.md").read_text().splitlines():
        match = re.match(r"^\| `([\w-]+)/?` \|.*\|\s*(\d+(?:\.\d+)?)\s*\|\s*$", line)
        if match:
            rows.setdefault(match.group(1), float(match.group(2)))
    return rows


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_is_up_to_date(assignment):
    assert check_release_up_to_date(assignment) == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_examples_score_as_expected(assignment, example_batches):
    want = expected_scores(assignment)
    folders = sorted(p.name for p in (EXAMPLES / assignment).iterdir() if p.is_dir())
    assert want and sorted(want) == folders, "EXPECTED.md must list every example"
    out, summary = example_batches(assignment)
    assert summary["statuses"] == {"ok": len(folders)}
    with open(out / "gradebook.csv", newline="") as f:
        got = {row["student"]: float(row["total"]) for row in csv.DictReader(f)}
    assert got == want
