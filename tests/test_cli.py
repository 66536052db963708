"""The command line: clear errors for user mistakes, results written where asked."""
import json
import os
import shutil
import subprocess
import sys
import zipfile

from grader.course.config import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples" / "submissions" / "hw1_graph"


def grader(*args, cwd=REPO_ROOT):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}  # also without `pip install -e .`
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_grade_a_zip_writes_results_json(tmp_path):
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(EXAMPLES / "forgets_dout" / "graph.py", "alice/graph.py")
    out = tmp_path / "out"
    proc = grader("grade", archive, "--assignment", "hw1_graph", "--output", out)
    assert proc.returncode == 0, proc.stderr
    assert "alice.zip: 21 / 42" in proc.stdout
    results = json.loads((out / "results.json").read_text())
    assert results["score"] == 21 and len(results["tests"]) == 40
    assert {"name", "score", "max_score", "status", "output", "visibility", "problem",
            "kind"} <= set(results["tests"][0])


def test_missing_submission_is_a_clear_error(tmp_path):
    proc = grader("grade", tmp_path / "nope", "--assignment", "hw1_graph")
    assert proc.returncode == 2
    assert proc.stderr.startswith("grader: ") and "no such file or folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_assignment_is_a_clear_error(tmp_path):
    proc = grader("grade", EXAMPLES / "correct", "--assignment", "hw9")
    assert proc.returncode == 2 and "no assignment 'hw9'" in proc.stderr
    assert "known: hw1_graph" in proc.stderr and "Traceback" not in proc.stderr


def test_broken_zip_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    proc = grader("grade", bad, "--assignment", "hw1_graph")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "bad.zip" in proc.stderr


def test_check_outside_an_assignment_folder(tmp_path):
    proc = grader("check", cwd=tmp_path)
    assert proc.returncode == 2 and "no assignment.yaml here" in proc.stderr


def test_check_prints_which_problem_fails(tmp_path):
    folder = tmp_path / "hw1"
    shutil.copytree(REPO_ROOT / "assignments" / "hw1_graph", folder)
    shutil.copy(EXAMPLES / "swaps_dx_dy" / "graph.py", folder / "graph.py")
    proc = grader("check", cwd=folder)
    assert proc.returncode == 1
    assert "FAIL mulnode" in proc.stdout and "PASS addnode" in proc.stdout
    assert "wrong answer" in proc.stdout


def test_release_notebook_and_exports_from_the_command_line(tmp_path):
    proc = grader("release", "hw1_graph", "--notebook", "--out", tmp_path / "hw1_graph")
    assert proc.returncode == 0, proc.stderr
    assert f"notebook release (nbgrader's source/hw1_graph/): {tmp_path / 'hw1_graph-notebook'}" \
        in proc.stdout
    assert (tmp_path / "hw1_graph-notebook" / "hw1_graph.ipynb").is_file()
    proc = grader("check", tmp_path / "hw1_graph-notebook" / "hw1_graph.ipynb")
    assert proc.returncode == 1 and "0 / 8 points" in proc.stdout and "Traceback" not in proc.stderr
    proc = grader("export", "nbgrader", tmp_path / "nowhere", "--assignment", "hw1_graph")
    assert proc.returncode == 2 and "no such folder" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = grader("export", "gradescope", "hw1_graph", "--out", tmp_path / "autograder.tar")
    assert proc.returncode == 2 and "must be a .zip file" in proc.stderr


def test_a_notebook_submission_with_no_code_is_a_clear_error(tmp_path):
    nb = tmp_path / "alice.ipynb"
    nb.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                              "cells": [{"cell_type": "markdown", "metadata": {},
                                         "source": "hi"}]}))
    proc = grader("grade", nb, "--assignment", "hw1_graph")
    assert proc.returncode == 2 and "alice.ipynb: no cells with your code" in proc.stderr
    assert "Traceback" not in proc.stderr
