"""grader batch: layouts, parallel grading, resuming after SIGKILL, the gradebook, Dask."""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from grader import batch
from grader.batch.tasks import failed_record
from grader.intake.students import discover
from grader.results.gradebook import read_record, write_record
from grader.course.config import REPO_ROOT
from grader.errors import SubmissionError

EXAMPLES = REPO_ROOT / "examples" / "submissions" / "hw1_graph"
FAST = {"alice": "correct", "bob": "forgets_dout", "carol": "mutates_x", "dave": "syntax_error"}
SCORES = {"alice": 42, "bob": 23, "carol": 37, "dave": 0}


def make_class(root, students=FAST, as_zip=()):
    root.mkdir(parents=True, exist_ok=True)
    for name, example in students.items():
        if name in as_zip:
            with zipfile.ZipFile(root / f"{name}.zip", "w") as zf:
                zf.write(EXAMPLES / example / "graph.py", f"{name}/graph.py")
        else:
            shutil.copytree(EXAMPLES / example, root / name)
    return root


def gradebook(out):
    with open(out / "gradebook.csv", newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_folders_and_zips_grade_into_a_gradebook(tmp_path):
    subs = make_class(tmp_path / "subs", as_zip={"bob"})
    summary = batch.batch(subs, assignment="hw1_graph", out=tmp_path / "out", jobs=2,
                          progress=False)
    rows = gradebook(tmp_path / "out")
    assert {r["student"]: float(r["total"]) for r in rows} == SCORES
    assert list(rows[0]) == ["student", "key", "mulnode", "addnode", "mynetwork",
                             "numerical_gradient", "total", "max_score", "status",
                             "pending_gpu", "sandbox"]
    # dave's file does not import: graded (0), with a status of its own
    assert summary["statuses"] == {"ok": 3, "import_error": 1} and summary["median"] == 30
    for name in SCORES:
        assert (tmp_path / "out" / "students" / name / "results.json").is_file()
        feedback = (tmp_path / "out" / "students" / name / "feedback.txt").read_text()
        assert "FAIL" in feedback or "could not be imported" in feedback or name == "alice"
    assert (tmp_path / "out" / "summary.png").stat().st_size > 1000
    again = batch.batch(subs, assignment="hw1_graph", out=tmp_path / "out", progress=False)
    assert again["graded_now"] == 0 and again["skipped"] == 4


def test_one_zip_of_the_class_and_nbgrader_layout(tmp_path):
    subs = make_class(tmp_path / "subs", {"alice": "correct", "bob": "forgets_dout"})
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in subs.rglob("*.py"):
            zf.write(file, file.relative_to(subs).as_posix())
    names = [s.name for s in discover(archive, "hw1_graph", tmp_path / "scratch")]
    assert names == ["alice", "bob"]
    course = tmp_path / "course" / "submitted"
    for name, example in {"erin": "correct", "frank": "mutates_x"}.items():
        shutil.copytree(EXAMPLES / example, course / name / "hw1_graph")
    (course / "ghost" / "other_assignment").mkdir(parents=True)
    found = discover(course.parent, "hw1_graph", tmp_path / "scratch2")
    assert [(s.name, s.path.name) for s in found] == [("erin", "hw1_graph"),
                                                     ("frank", "hw1_graph")]


def test_an_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionError, match="no student folders or zips"):
        discover(tmp_path / "empty", "hw1_graph", tmp_path / "s")


def test_an_infrastructure_failure_never_replaces_a_good_score(tmp_path):
    good = {"score": 42.0, "max_score": 42.0, "status": "ok", "tests": [], "output": "ok"}
    write_record(tmp_path, "alice", good)
    failed = failed_record("alice", "alice", "hw1_graph", "infrastructure", "docker is down")
    assert write_record(tmp_path, "alice", failed) == good
    assert read_record(tmp_path, "alice")["score"] == 42.0


def test_a_batch_killed_with_sigkill_finishes_on_the_next_run(tmp_path):
    students = {f"s{i:02d}": ("correct" if i % 2 else "forgets_dout") for i in range(8)}
    subs = make_class(tmp_path / "subs", students)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "grader", "batch", str(subs), "--assignment", "hw1_graph",
           "--out", str(out), "--jobs", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("students/*/results.json"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the batch and everything under it, mid-flight
    proc.wait()
    done_before = len(list(out.glob("students/*/results.json")))
    assert 2 <= done_before < len(students)
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    rows = gradebook(out)
    assert sorted(r["student"] for r in rows) == sorted(students)  # each exactly once
    assert all(r["status"] == "ok" for r in rows)
    assert {r["student"]: float(r["total"]) for r in rows} == {
        n: (42.0 if e == "correct" else 23.0) for n, e in students.items()}


def test_dask_cluster_grades_the_same(tmp_path):
    distributed = pytest.importorskip("distributed")
    subs = make_class(tmp_path / "subs")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        summary = batch.batch(subs, assignment="hw1_graph", out=tmp_path / "out",
                              scheduler=cluster.scheduler_address, progress=False)
    assert summary["statuses"] == {"ok": 3, "import_error": 1}
    assert {r["student"]: float(r["total"]) for r in gradebook(tmp_path / "out")} == SCORES


def _zip_of(example, path):
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(EXAMPLES / example / "graph.py", "graph.py")


def test_student_names_that_shadow_the_batch_files_or_each_other(tmp_path):
    """`gradebook.csv.zip`, `summary.txt.zip`, `dave/` beside `dave_.zip`, `Carol!`: each is
    graded under a key of its own; the batch's files stay files; a re-run works too."""
    subs = make_class(tmp_path / "subs", {"dave": "correct"})
    _zip_of("correct", subs / "gradebook.csv.zip")
    _zip_of("forgets_dout", subs / "summary.txt.zip")
    _zip_of("mutates_x", subs / "dave_.zip")
    shutil.copytree(EXAMPLES / "syntax_error", subs / "Carol!")
    out = tmp_path / "out"
    for _ in range(2):
        summary = batch.batch(subs, assignment="hw1_graph", out=out, progress=False)
        assert summary["statuses"] == {"ok": 4, "import_error": 1}  # Carol!: syntax_error
        rows = {r["student"]: r for r in gradebook(out)}
        assert {n: float(r["total"]) for n, r in rows.items()} == {
            "gradebook.csv": 42, "summary.txt": 23, "dave": 42, "dave_": 37, "Carol!": 0}
        assert (out / "gradebook.csv").is_file() and (out / "summary.txt").is_file()
    keys = {n: r["key"] for n, r in rows.items()}
    assert len(set(keys.values())) == 5 and keys["dave"] == "dave"
    assert keys["Carol!"].startswith("carol-") and keys["Carol!"] != keys["dave"]
    for name, key in keys.items():
        record = json.loads((out / "students" / key / "results.json").read_text())
        assert (record["student"], record["key"]) == (name, key)


def test_nbgrader_names_that_differ_only_in_odd_characters_stay_apart(tmp_path):
    course = tmp_path / "course" / "submitted"
    shutil.copytree(EXAMPLES / "correct", course / "carol" / "hw1_graph")
    shutil.copytree(EXAMPLES / "syntax_error", course / "carol!" / "hw1_graph")
    shutil.copytree(EXAMPLES / "forgets_dout", course / "gradebook.csv" / "hw1_graph")
    batch.batch(course.parent, assignment="hw1_graph", out=tmp_path / "out", progress=False)
    rows = {r["student"]: float(r["total"]) for r in gradebook(tmp_path / "out")}
    assert rows == {"carol": 42, "carol!": 0, "gradebook.csv": 23}


def test_two_submissions_for_one_student_are_reported_and_the_rest_graded(tmp_path):
    subs = make_class(tmp_path / "subs", {"alice": "correct", "dave": "forgets_dout"})
    _zip_of("correct", subs / "dave.zip")
    summary = batch.batch(subs, assignment="hw1_graph", out=tmp_path / "out", progress=False)
    rows = {r["student"]: r for r in gradebook(tmp_path / "out")}
    assert float(rows["alice"]["total"]) == 42 and rows["alice"]["status"] == "ok"
    assert rows["dave"]["status"] == "submission_error" and float(rows["dave"]["total"]) == 0
    feedback = (tmp_path / "out" / "students" / "dave" / "feedback.txt").read_text()
    assert "two submissions for student 'dave' (dave/, dave.zip)" in feedback
    assert summary["statuses"] == {"ok": 1, "submission_error": 1}


def test_a_rerun_regrades_exactly_the_changed_submissions(tmp_path):
    subs = make_class(tmp_path / "subs", {"alice": "correct", "bob": "forgets_dout",
                                          "carol": "mutates_x"}, as_zip={"carol"})
    out = tmp_path / "out"
    batch.batch(subs, assignment="hw1_graph", out=out, progress=False)
    shutil.copy(EXAMPLES / "correct" / "graph.py", subs / "bob" / "graph.py")  # bob fixes it
    _zip_of("correct", subs / "carol.zip")                                   # so does carol
    summary = batch.batch(subs, assignment="hw1_graph", out=out, progress=False)
    assert (summary["graded_now"], summary["changed"], summary["skipped"]) == (2, 2, 1)
    assert {r["student"]: float(r["total"]) for r in gradebook(out)} == {
        "alice": 42, "bob": 42, "carol": 42}
    again = batch.batch(subs, assignment="hw1_graph", out=out, progress=False)
    assert (again["graded_now"], again["changed"]) == (0, 0)


def test_progress_in_a_log_is_plain_lines(tmp_path):
    """Not a terminal (a log file, CI): periodic plain lines, never a `\\r` progress bar."""
    subs = make_class(tmp_path / "subs")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with open(tmp_path / "log", "w") as log:
        proc = subprocess.run([sys.executable, "-m", "grader", "batch", str(subs),
                               "--assignment", "hw1_graph", "--out", str(tmp_path / "out")],
                              env=env, stdout=subprocess.DEVNULL, stderr=log, timeout=300)
    assert proc.returncode == 0
    text = (tmp_path / "log").read_text()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines and all(line.startswith("graded ") for line in lines)
    assert lines[-1].startswith("graded 4/4 (last: ")
