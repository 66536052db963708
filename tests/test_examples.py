"""Every assignment: the committed release is current, and each example submission scores what
its EXPECTED.md table says (graded as a batch, two at a time)."""
import csv
import re

import pytest

from grader import batch
from grader.course.config import REPO_ROOT, find_assignment, solutions_dir
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


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_is_up_to_date(assignment):
    assert check_release_up_to_date(assignment) == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_examples_score_as_expected(assignment, tmp_path):
    want = expected_scores(assignment)
    folders = sorted(p.name for p in (EXAMPLES / assignment).iterdir() if p.is_dir())
    assert want and sorted(want) == folders, "EXPECTED.md must list every example"
    summary = batch.batch(EXAMPLES / assignment, assignment=assignment, out=tmp_path, jobs=2,
                          progress=False)
    with open(tmp_path / "gradebook.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    got = {row["student"]: float(row["total"]) for row in rows}
    assert got == want
    # Without a GPU, an example with a CUDA file has its GPU-only points pending; one without
    # has nothing to run on a GPU, and is graded in full.
    cuda_files = find_assignment(assignment).cuda.files
    pending = {name for name in folders
               if detect() is None and any((EXAMPLES / assignment / name / f).is_file()
                                           for f in cuda_files)}
    assert {row["student"] for row in rows if row["status"] == "needs_gpu"} == pending
    assert summary["statuses"] == {k: v for k, v in (("ok", len(folders) - len(pending)),
                                                     ("needs_gpu", len(pending))) if v}
