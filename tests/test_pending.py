"""Issue 20, item 5: pending GPU points, files that do not import, and the class statistics,
as results.json, gradebook.csv, feedback.txt, the pages, summary.txt and the console say them.

A small hw2 class graded for real by ``grader batch`` (the command line, for its console
output), without a GPU: ``pat`` hands in an untiled kernel that runs correctly on the
simulator (11 points, 3 pending a GPU run), ``dave`` a file with a SyntaxError (and nbgrader's
``timestamp.txt``), ``frank`` a zip that is not one (a submission error).
"""
from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from grader.course.config import REPO_ROOT, find_assignment

HW2 = find_assignment("hw2_mlp")
EXAMPLES = REPO_ROOT / "examples" / "submissions" / "hw2_mlp"
PENDING_SENTENCE = "3 points wait for a GPU run; they are not counted as lost."


def gradebook(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8-sig") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def record(out: Path, key: str) -> dict:
    return json.loads((out / "students" / key / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def hw2_class(tmp_path_factory):
    """(output folder, what `grader batch` printed on stdout, the same for a second run, its
    progress lines on stderr) for the class above."""
    from grader import cli
    from grader.gpu.device import detect

    root = tmp_path_factory.mktemp("pending-class")
    subs = root / "subs"
    shutil.copytree(EXAMPLES / "cuda_untiled", subs / "pat")
    shutil.copytree(EXAMPLES / "syntax_error", subs / "dave")
    (subs / "dave" / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC\n")
    subs.joinpath("frank.zip").write_bytes(b"PK\x03\x04 not really a zip")
    out = root / "out"
    mp = pytest.MonkeyPatch()
    mp.setenv("GRADER_GPU", "0")  # as on a machine without a GPU, whatever this one has
    detect.cache_clear()
    import contextlib
    import io
    console, progress = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(console), contextlib.redirect_stderr(progress):
            code = cli.main(["batch", str(subs), "--assignment", "hw2_mlp", "--out", str(out),
                             "--jobs", "2"])
        again = io.StringIO()
        with contextlib.redirect_stdout(again):
            cli.main(["batch", str(subs), "--assignment", "hw2_mlp", "--out", str(out),
                      "--jobs", "2"])
    finally:
        mp.undo()
        detect.cache_clear()
    assert code == 0, console.getvalue() + progress.getvalue()
    return out, console.getvalue(), again.getvalue(), progress.getvalue()


# --- pending is its own state ---------------------------------------------------------------------

def test_a_pending_test_is_pending_in_results_json_not_failed(hw2_class):
    out, _, _, _ = hw2_class
    pat = record(out, "pat")
    assert pat["status"] == "needs_gpu" and pat["pending_gpu"]["points"] == 3.0
    speed = next(t for t in pat["tests"] if t["kind"] == "needs_gpu")
    assert speed["status"] == "pending" and speed["score"] == 0
    assert all(t["status"] in ("passed", "failed") for t in pat["tests"] if t is not speed)
    # A student reads results.json on Gradescope: no TA's command there.
    assert "--regrade-pending" not in speed["output"]


def test_gradescope_still_gets_passed_or_failed(hw2_class):
    """Gradescope's schema knows "passed" and "failed" only: a pending test is sent as failed
    (0 of its points), tagged needs_gpu, with the neutral sentence in its output."""
    from grader.export.gradescope import gradescope_results
    out, _, _, _ = hw2_class
    sent = gradescope_results(record(out, "pat"), HW2)
    assert {t["status"] for t in sent["tests"]} <= {"passed", "failed"}
    speed = next(t for t in sent["tests"] if "needs_gpu" in t["tags"])
    assert speed["status"] == "failed" and "not counted as lost" in speed["output"]


def test_the_gradebook_says_pending_and_how_many_points(hw2_class):
    out, _, _, _ = hw2_class
    rows = gradebook(out)
    assert rows["pat"]["status"] == "needs_gpu" and rows["pat"]["pending_gpu"] == "3"
    assert rows["pat"]["total"] == "11" and rows["pat"]["linear_cuda_speed"] == "0"
    assert rows["dave"]["pending_gpu"] == "0" and rows["frank"]["pending_gpu"] == "0"


def test_the_dashboard_counts_a_pending_student_among_the_graded(hw2_class):
    out, _, _, _ = hw2_class
    index = (out / "index.html").read_text(encoding="utf-8")
    infrastructure = index.split('id="infrastructure"', 1)[1].split("<h2>", 1)[0]
    assert "pat" not in infrastructure
    assert '<b id="n-graded">2</b>' in index  # pat (pending) and dave (import error)
    assert '<b id="n-pending">1</b>' in index
    pending = index.split('id="pending"', 1)[1].split("</table>", 1)[0]
    assert ">pat<" in pending and ">3<" in pending
    assert '<b id="mean">5.50</b>' in index  # (11 + 0) / 2: frank is not a score


def test_the_student_page_says_pending_neutrally(hw2_class):
    out, _, _, _ = hw2_class
    page = (out / "students" / "pat" / "feedback.html").read_text(encoding="utf-8")
    assert PENDING_SENTENCE in page
    assert "--regrade-pending" not in page
    row = page.split('data-problem="linear_cuda_speed"', 1)[1].split("</tr>", 1)[0]
    assert "verdict-bad" not in row and "pending" in row
    assert 'class="test pending" data-test="test_linear_cuda_speed_on_gpu"' in page
    text = (out / "students" / "pat" / "feedback.txt").read_text(encoding="utf-8")
    assert PENDING_SENTENCE in text and "--regrade-pending" not in text
    assert "PEND [linear_cuda_speed] test_linear_cuda_speed_on_gpu  0/3" in text


# --- a file that does not import ------------------------------------------------------------------

def test_a_file_that_does_not_import_has_its_own_status(hw2_class):
    out, _, again, _ = hw2_class
    dave = record(out, "dave")
    assert dave["status"] == "import_error" and "SyntaxError" in dave["import_error"]
    assert gradebook(out)["dave"]["status"] == "import_error"
    # Graded, not retried: the second run grades only frank (a submission error) again.
    assert "1 now, 2 already done" in again


def test_the_import_error_is_the_first_thing_the_student_reads(hw2_class):
    out, _, _, _ = hw2_class
    page = (out / "students" / "dave" / "feedback.html").read_text(encoding="utf-8")
    assert 'id="import-error"' in page
    banner = page.split('id="import-error"', 1)[1].split("</div>", 1)[0]
    assert "Fix this first" in banner and "SyntaxError" in banner and "sgd.py" in banner
    # Before the ignored files (nbgrader's timestamp.txt) and before any test card.
    assert page.index('id="import-error"') < page.index('id="ignored"')
    assert page.index('id="import-error"') < page.index('class="test failing"')
    text = (out / "students" / "dave" / "feedback.txt").read_text(encoding="utf-8")
    head = "\n".join(text.splitlines()[:6])
    assert "Fix this first" in head and "SyntaxError" in head


# --- one definition of each statistic, labelled, everywhere ---------------------------------------

def statistics_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith("score: mean ")]
    assert len(lines) == 1, text
    return lines[0]


def test_console_summary_and_dashboard_give_the_same_labelled_statistics(hw2_class):
    out, console, _, _ = hw2_class
    summary = (out / "summary.txt").read_text(encoding="utf-8")
    line = statistics_line(summary)
    assert statistics_line(console) == line
    assert line.startswith("score: mean 5.50, median 5.5 of 144 over 2 graded submissions")
    assert "1 with points pending a GPU run" in line and "1 whose files do not import" in line
    assert "left out: 1 submission error" in line
    # summary.txt describes the class, not one run of the batch ("0 now, 0 already done").
    assert not re.search(r"\d+ now, \d+ already done", summary)
    assert "3 now, 0 already done" in console
    index = (out / "index.html").read_text(encoding="utf-8")
    shown = re.search(r'<p id="statistics"[^>]*>(.*?)</p>', index, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", shown).strip() == line[len("score: "):]


def test_the_progress_lines_say_pending_and_import_errors(hw2_class):
    """While the batch runs, a TA reads "pat: 11/144" as 3 points lost, and "dave: 0/144" as a
    bad score: each line says what the score is."""
    _, _, _, progress = hw2_class
    lines = progress.splitlines()
    assert any("pat: 11/144, 3 pending a GPU run" in line for line in lines), progress
    assert any("dave: 0/144, the files do not import" in line for line in lines), progress
    assert any("frank: submission error" in line for line in lines), progress


def test_a_cuda_file_that_does_not_import_is_said_first_and_costs_only_its_tests(tmp_path):
    """The CUDA file loads in a worker of its own: its SyntaxError costs only the CUDA tests,
    and the student reads it first (page and feedback.txt), with status import_error."""
    from grader.api import grade
    from grader.results.gradebook import write_record
    from grader.results.pages.build import student_page
    from grader.results.pages.records import batch_records
    folder = tmp_path / "quinn"
    shutil.copytree(EXAMPLES / "correct", folder)
    kernel = folder / "linear_cuda.py"
    kernel.write_text(kernel.read_text().replace("def launch_config(N, H):",
                                                 "def launch_config(N, H:"))
    results = grade(folder, assignment="hw2_mlp",
                    only=["test_perceptron_predict_small", "test_linear_cuda_small"])
    by_name = {t["name"]: t for t in results["tests"]}
    assert by_name["test_perceptron_predict_small"]["status"] == "passed"
    assert by_name["test_linear_cuda_small"]["status"] == "failed"
    assert results["status"] == "import_error" and "import_error" not in results
    assert "SyntaxError" in results["cuda_import_error"]
    write_record(tmp_path / "out", "quinn", {**results, "student": "quinn", "key": "quinn"})
    text = (tmp_path / "out" / "students" / "quinn" / "feedback.txt").read_text()
    assert text.splitlines()[2].startswith("Your CUDA file could not be imported")
    assert "Fix this first" in text.splitlines()[2] and "SyntaxError" in text.splitlines()[3]
    page = student_page(batch_records(tmp_path / "out")[0], HW2)
    banner = page.split('id="cuda-import-error"', 1)[1].split("</div>", 1)[0]
    assert "Fix this first" in banner and "SyntaxError" in banner and "linear_cuda.py" in banner


def test_grade_on_a_terminal_says_pending_not_failed():
    """`grader grade` prints each problem as it finishes: a problem whose only test waits for
    a GPU is "pending a GPU run", not "1 of 1 tests failed"."""
    from grader.results.reports import problem_line
    from grader.results.scoring import ProblemProgress
    events = [{"event": "expected", "errors": [], "tests": [
                  {"id": "s", "problem": "speed", "points": 3},
                  {"id": "v", "problem": "values", "points": 2}]},
              {"event": "result", "id": "s", "outcome": "failed", "kind": "needs_gpu"},
              {"event": "result", "id": "v", "outcome": "failed", "kind": "wrong_answer"}]
    finished = ProblemProgress().feed("".join(json.dumps(e) + "\n" for e in events).encode())
    by_problem = {f["problem"]: f for f in finished}
    assert by_problem["speed"]["failed"] == 0 and by_problem["speed"]["pending"] == 1
    assert problem_line(by_problem["speed"]).endswith("pending a GPU run")
    assert problem_line(by_problem["values"]).endswith("1 of 1 tests failed")
