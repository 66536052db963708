"""A submission without the declared files is a `submission_error` with one message that names
the missing file and what was found instead (issue 10, item 8); files that do not import are
said once, first, with the student's traceback (item 11)."""
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from grader.course.config import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples" / "submissions"
CORRECT = EXAMPLES / "hw1_graph" / "correct" / "graph.py"


def grader(*args, cwd=REPO_ROOT):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def make_zip(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, source in files.items():
            zf.write(source, name)
    return path


@pytest.mark.parametrize("files, message", [
    ({"Graph.py": CORRECT}, "found Graph.py; the file must be named graph.py"),
    ({"graph (1).py": CORRECT, "notes.txt": CORRECT},
     "found graph (1).py; the file must be named graph.py"),
    ({"a/graph.py": CORRECT, "b/graph.py": CORRECT},
     "graph.py is in 2 folders (a/graph.py, b/graph.py); submit one copy, at the top level"),
    ({"src/graph.py": CORRECT, "README.md": CORRECT},
     "found src/graph.py; graph.py must be at the top level of the submission"),
    ({name: EXAMPLES / "hw2_mlp" / "correct" / name for name in
      ("mlp.py", "perceptron.py", "sgd.py")},
     "graph.py is missing (the submission holds mlp.py, perceptron.py, sgd.py)"),
])
def test_a_misnamed_file_is_a_submission_error_that_says_what_to_fix(tmp_path, files, message):
    archive = make_zip(tmp_path / "alice.zip", files)
    out = tmp_path / "out"
    proc = grader("grade", archive, "--assignment", "hw1_graph", "--output", out)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert message in proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "submission_error" and results["score"] == 0
    assert message in results["output"] and results["tests"] == []


def test_in_a_batch_the_feedback_is_that_message_and_nothing_else(tmp_path):
    subs = tmp_path / "subs"
    (subs / "bob").mkdir(parents=True)
    shutil.copy(CORRECT, subs / "bob" / "Graph.py")
    shutil.copytree(EXAMPLES / "hw1_graph" / "correct", subs / "alice")
    proc = grader("batch", subs, "--assignment", "hw1_graph", "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / "out" / "students" / "bob" / "results.json").read_text())
    assert record["status"] == "submission_error"
    feedback = (tmp_path / "out" / "students" / "bob" / "feedback.txt").read_text()
    assert feedback == ("Your submission could not be graded (0 / 42 points):\n"
                        "  found Graph.py; the file must be named graph.py\n")
    assert "submission_error: 1" in proc.stdout and "ok: 1" in proc.stdout


def test_check_says_the_file_is_misnamed(tmp_path):
    folder = tmp_path / "hw1"
    shutil.copytree(REPO_ROOT / "assignments" / "hw1_graph", folder)
    (folder / "graph.py").rename(folder / "Graph.py")
    proc = grader("check", cwd=folder)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "found Graph.py; the file must be named graph.py" in proc.stderr


def test_files_that_do_not_import_are_said_once_first(tmp_path):
    subs = tmp_path / "subs"
    shutil.copytree(EXAMPLES / "hw1_graph" / "syntax_error", subs / "dave")
    (subs / "erin").mkdir()
    (subs / "erin" / "graph.py").write_text("import numpy as np\n\nx = undefined_name + 1\n")
    proc = grader("batch", subs, "--assignment", "hw1_graph", "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    dave = (tmp_path / "out" / "students" / "dave" / "feedback.txt").read_text()
    assert dave.splitlines()[2].startswith("Your files could not be imported")
    assert dave.count("SyntaxError: '(' was never closed (graph.py, line 46)") == 1
    assert len(dave.splitlines()) < 10  # not one hint per test
    erin = (tmp_path / "out" / "students" / "erin" / "feedback.txt").read_text()
    assert erin.count("NameError: name 'undefined_name' is not defined") == 1
    assert 'graph.py", line 3' in erin or "graph.py:3" in erin or "line 3" in erin
    results = json.loads((tmp_path / "out" / "students" / "erin" / "results.json").read_text())
    assert "undefined_name" in results["import_error"]


def test_check_says_the_import_error_once(tmp_path):
    folder = tmp_path / "hw1"
    shutil.copytree(REPO_ROOT / "assignments" / "hw1_graph", folder)
    shutil.copy(EXAMPLES / "hw1_graph" / "syntax_error" / "graph.py", folder / "graph.py")
    proc = grader("check", cwd=folder)
    assert proc.returncode == 1
    assert proc.stdout.count("was never closed") == 1
    assert proc.stdout.index("could not be imported") < proc.stdout.index("FAIL mulnode")
