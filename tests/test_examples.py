"""Every assignment: the committed release is current, and each example submission scores what
its EXPECTED.md table says (graded as a batch, two at a time)."""
import csv
import re

import pytest

from grader.course.config import REPO_ROOT, solutions_dir
from grader.course.release import check_release_up_to_date
from grader.gpu.device import detect

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


def expected_import_errors(assignment):
    """The examples whose row in EXPECTED.md says `import_error`: files that do not import."""
    return {m.group(1) for line in (EXAMPLES / assignment / "EXPECTED.md").read_text().splitlines()
            if (m := re.match(r"^\| `([\w-]+)/?` \|", line)) and "import_error" in line}


def expected_pending(assignment):
    """The examples whose row in EXPECTED.md says `needs_gpu`: their GPU-only points are pending
    where there is no GPU (they pass on the simulator's tiny inputs)."""
    return {m.group(1) for line in (EXAMPLES / assignment / "EXPECTED.md").read_text().splitlines()
            if (m := re.match(r"^\| `([\w-]+)/?` \|", line)) and "needs_gpu" in line}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_is_up_to_date(assignment):
    assert check_release_up_to_date(assignment) == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_examples_score_as_expected(assignment, example_batches):
    want = expected_scores(assignment)
    folders = sorted(p.name for p in (EXAMPLES / assignment).iterdir() if p.is_dir())
    assert want and sorted(want) == folders, "EXPECTED.md must list every example"
    out, summary = example_batches(assignment)
    with open(out / "gradebook.csv", newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert {row["student"]: float(row["total"]) for row in rows} == want
    pending = expected_pending(assignment) if detect() is None else set()
    assert {row["student"] for row in rows if row["status"] == "needs_gpu"} == pending
    broken = expected_import_errors(assignment)
    assert {row["student"] for row in rows if row["status"] == "import_error"} == broken
    assert summary["statuses"] == {k: v for k, v in (
        ("ok", len(folders) - len(pending) - len(broken)), ("needs_gpu", len(pending)),
        ("import_error", len(broken))) if v}
