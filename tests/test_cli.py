"""The command line: clear errors for user mistakes, results written where asked."""
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

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
    assert "alice.zip: 23 / 42" in proc.stdout
    results = json.loads((out / "results.json").read_text())
    assert results["score"] == 23 and len(results["tests"]) == 40
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


# --- issue 10: packaging (item 9), clear errors (12), one option name, help, --json (13),
# --- check's folder and assignment (14) --------------------------------------------------

def release_copy(tmp_path, assignment="hw1_graph", example="correct"):
    folder = tmp_path / assignment
    shutil.copytree(REPO_ROOT / "assignments" / assignment, folder)
    for file in (REPO_ROOT / "examples" / "submissions" / assignment / example).iterdir():
        shutil.copy(file, folder / file.name)
    return folder


def test_zip_writes_exactly_the_declared_files_and_says_what_it_holds(tmp_path):
    folder = release_copy(tmp_path)
    (folder / "notes.txt").write_text("scratch")
    (folder / "__pycache__").mkdir()
    proc = grader("zip", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    archive = folder / "hw1_graph.zip"
    assert f"wrote {archive.name}" in proc.stdout or str(archive) in proc.stdout
    assert "graph.py (" in proc.stdout and "submit this file" in proc.stdout
    with zipfile.ZipFile(archive) as zf:
        assert zf.namelist() == ["graph.py"]
    graded = grader("grade", archive, "--assignment", "hw1_graph")
    assert "hw1_graph.zip: 42 / 42" in graded.stdout


@pytest.mark.parametrize("breakage, message", [
    (lambda f: (f / "graph.py").rename(f / "Graph.py"),
     "found Graph.py; the file must be named graph.py"),
    (lambda f: (f / "graph.py").write_text("def f(:\n    pass\n"),
     "not zipped: graph.py:1: SyntaxError: invalid syntax"),
    (lambda f: (f / "graph.py").write_text("import numpy\nraise RuntimeError('at import')\n"),
     "not zipped: importing your files failed: RuntimeError: at import"),
])
def test_zip_refuses_files_that_would_not_grade(tmp_path, breakage, message):
    folder = release_copy(tmp_path)
    breakage(folder)
    proc = grader("zip", cwd=folder)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert message in proc.stderr
    assert not (folder / "hw1_graph.zip").exists()


@pytest.mark.parametrize("args, message", [
    (["batch", "subs", "--assignment", "hw1_graph", "--out", "o", "--jobs", "0"],
     "argument --jobs: must be at least 1, not 0"),
    (["batch", "subs", "--assignment", "hw1_graph", "--out", "o", "--jobs", "-1"],
     "argument --jobs: must be at least 1, not -1"),
    (["demo", "--jobs", "two"], "argument --jobs: 'two' is not a whole number"),
    (["batch", "subs", "--assignment", "hw1_graph", "--out", "o", "--engine-wait", "-5"],
     "argument --engine-wait: must be a number of seconds"),
    (["grade", "x"], "the following arguments are required: --assignment"),
])
def test_a_bad_argument_shows_the_subcommands_usage(tmp_path, args, message):
    proc = grader(*args, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"usage: grader {args[0]} ") and message in proc.stderr


def test_an_output_path_that_is_a_file_or_read_only_is_a_clear_error(tmp_path):
    subs = tmp_path / "subs"
    shutil.copytree(EXAMPLES / "correct", subs / "alice")
    (tmp_path / "a_file").write_text("")
    for verb in (["grade", subs / "alice"], ["batch", subs]):
        proc = grader(*verb, "--assignment", "hw1_graph", "--out", tmp_path / "a_file")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert "a_file: exists and is not a folder; give --out a folder" in proc.stderr
    readonly = tmp_path / "ro"
    readonly.mkdir()
    if os.geteuid() == 0:  # root writes through permissions: use a read-only mount
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs",
                                  str(readonly)], capture_output=True)
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.decode()}")
    else:
        readonly.chmod(0o555)
    try:
        for verb in (["grade", subs / "alice"], ["batch", subs]):
            proc = grader(*verb, "--assignment", "hw1_graph", "--out", readonly / "out")
            assert proc.returncode == 2 and "Traceback" not in proc.stderr
            assert "cannot write there" in proc.stderr and "writable folder" in proc.stderr
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(readonly)])


def test_a_grade_whose_results_cannot_be_written_still_prints_them(tmp_path):
    out = tmp_path / "out"
    (out / "results.json").mkdir(parents=True)  # in the way of the file
    proc = grader("grade", EXAMPLES / "forgets_dout", "--assignment", "hw1_graph",
                  "--out", out)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "forgets_dout: 23 / 42" in proc.stdout
    assert "results.json: cannot write it" in proc.stderr


def test_out_and_output_are_one_option_everywhere(tmp_path):
    from grader.cli import build_parser
    parser = build_parser()
    verbs = {"grade": ["x", "--assignment", "a"], "batch": ["x", "--assignment", "a"],
             "demo": [], "release": ["a"], "zip": []}
    for verb, rest in verbs.items():
        for spelling in ("--out", "--output"):
            args = parser.parse_args([verb, *rest, spelling, "somewhere"])
            assert args.out == "somewhere", (verb, spelling)
    proc = grader("grade", EXAMPLES / "correct", "--assignment", "hw1_graph", "--output",
                  tmp_path / "g")
    assert proc.returncode == 0 and (tmp_path / "g" / "results.json").is_file()


def _subparsers(parser):
    import argparse
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from ((f"{name} {n}", s) for n, s in _subparsers(sub))


def test_every_option_has_help_and_shows_its_default():
    from grader.cli import build_parser
    for name, sub in _subparsers(build_parser()):
        formatter = sub._get_formatter()
        for action in sub._actions:
            if action.dest == "help" or not hasattr(action, "help"):
                continue
            assert action.help, (name, action.dest)
            if action.default not in (None, False) and action.nargs != 0 \
                    and not action.required:
                assert "(default" in formatter._get_help_string(action), (name, action.dest)


def test_version_and_json_only_on_stdout(tmp_path):
    from grader import __version__
    proc = grader("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"grader {__version__}"
    proc = grader("grade", EXAMPLES / "forgets_dout", "--assignment", "hw1_graph", "--json",
                  "--out", tmp_path / "g")
    assert json.loads(proc.stdout)["score"] == 23  # nothing but JSON
    folder = release_copy(tmp_path)
    proc = grader("check", "--json", "--no-timing", cwd=folder)
    assert json.loads(proc.stdout)["score"] == 8
    subs = tmp_path / "subs"
    shutil.copytree(EXAMPLES / "correct", subs / "alice")
    proc = grader("batch", subs, "--assignment", "hw1_graph", "--out", tmp_path / "b",
                  "--json")
    assert json.loads(proc.stdout)["statuses"] == {"ok": 1}


def test_check_of_a_missing_folder_and_of_another_assignment(tmp_path):
    proc = grader("check", tmp_path / "nope")
    assert proc.returncode == 2 and "nope: no such folder" in proc.stderr
    folder = release_copy(tmp_path)
    proc = grader("check", folder, "--assignment", "hw2_mlp")
    assert "grader: warning: this folder is hw1_graph, but --assignment says hw2_mlp" \
        in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_readme_and_help_agree():
    """Every command of `grader --help` is in the README, and every `grader ...` line of the
    README parses with the real parser (its options exist)."""
    import re
    import shlex
    from grader.cli import build_parser
    readme = (REPO_ROOT / "README.md").read_text()
    parser = build_parser()
    for name, _ in _subparsers(parser):
        if " " not in name:
            assert f"grader {name}" in readme, name
    lines = [line.split("#")[0].strip() for line in re.findall(r"^\s*grader [^\n]*", readme,
                                                               re.M)]
    assert len(lines) > 8
    for line in lines:
        words = shlex.split(line.replace("\\", ""))[1:]
        try:
            parser.parse_args(words)
        except SystemExit as e:
            assert e.code == 0, line  # --help/--version exit 0; a parse error exits 2


# --- issue 12: progress a user can see ------------------------------------------------------

def on_a_terminal(*args, cwd=REPO_ROOT) -> str:
    """Run the command line with its stdout (and stderr) on a pseudo-terminal; all it wrote."""
    import pty
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "grader", *map(str, args)], cwd=cwd,
                            env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    proc.wait(timeout=300)
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


PROGRESS_LINE = re.compile(r"^  (\w+) +([\d.]+) / ([\d.]+) +(all \d+ tests passed|its test "
                           r"passed|\d+ of \d+ tests failed)$", re.M)


def test_grade_on_a_terminal_prints_each_problem_then_the_summary():
    text = on_a_terminal("grade", EXAMPLES / "swaps_dx_dy", "--assignment", "hw1_graph")
    lines = PROGRESS_LINE.findall(text)
    assert sorted(p for p, *_ in lines) == ["addnode", "mulnode", "mynetwork",
                                            "numerical_gradient"]
    assert ("mulnode", "2", "11") == lines[[p for p, *_ in lines].index("mulnode")][:3]
    summary = text.index("swaps_dx_dy: 23 / 42")
    assert all(text.index(f"  {p} ") < summary for p, *_ in lines)  # before the summary


def test_grade_and_check_into_a_pipe_print_only_the_summary(tmp_path):
    proc = grader("grade", EXAMPLES / "swaps_dx_dy", "--assignment", "hw1_graph")
    assert "swaps_dx_dy: 23 / 42" in proc.stdout and not PROGRESS_LINE.search(proc.stdout)
    folder = release_copy(tmp_path, example="swaps_dx_dy")
    proc = grader("check", "--no-timing", cwd=folder)
    assert "FAIL mulnode" in proc.stdout and not PROGRESS_LINE.search(proc.stdout)


def test_check_on_a_terminal_prints_each_problem(tmp_path):
    folder = release_copy(tmp_path, example="swaps_dx_dy")
    text = on_a_terminal("check", "--no-timing", cwd=folder)
    lines = PROGRESS_LINE.findall(text)
    assert sorted(p for p, *_ in lines) == ["addnode", "mulnode", "mynetwork",
                                            "numerical_gradient"]
    assert text.index("mulnode: 1/3 public tests passed") > max(text.index(f"  {p} ") for p, *_ in lines)
