"""A sandbox that silently is not one (issue 20, item 3): in plain mode (the local backend as a
normal user) a submission can read the reference solution, so ``grade`` and ``batch`` refuse
to grade there unless the TA passes ``--allow-unconfined``, and then say so loudly; the mode is
recorded in results.json. ``check`` (a student's own files) is unchanged.

Plain mode is forced with GRADER_SANDBOX_MODE=plain, which is what a normal user gets."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from grader import api
from grader import batch as batch_verb
from grader.course.config import REPO_ROOT
from grader.errors import InfrastructureError

EXAMPLES = REPO_ROOT / "examples" / "submissions" / "hw1_graph"
IS_ROOT = os.geteuid() == 0

# Four lines that find the course's reference solution and run it as the student's module.
STEALS_THE_REFERENCE = """\
import os, sys
for _d in sys.path:
    if os.path.isfile(os.path.join(_d, "solutions", "hw1_graph", "graph.py")):
        exec(open(os.path.join(_d, "solutions", "hw1_graph", "graph.py")).read()); break
"""


@pytest.fixture
def plain(monkeypatch):
    monkeypatch.setenv("GRADER_SANDBOX_MODE", "plain")
    monkeypatch.delenv("GRADER_ALLOW_UNCONFINED", raising=False)


def _cli(*args, mode="plain"):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "GRADER_SANDBOX_MODE": mode}
    env.pop("GRADER_ALLOW_UNCONFINED", None)
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], env=env,
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)


def _thief(tmp_path):
    sub = tmp_path / "thief"
    sub.mkdir()
    (sub / "graph.py").write_text(STEALS_THE_REFERENCE)
    return sub


def test_grade_refuses_plain_mode_and_says_what_to_do(plain, tmp_path):
    with pytest.raises(InfrastructureError) as refused:
        api.grade(EXAMPLES / "correct", assignment="hw1_graph", out=tmp_path / "out")
    message = str(refused.value)
    assert refused.value.exit_code == 3
    for advice in ("plain sandbox mode", "does not confine file access", "as root",
                   "--backend docker", "--allow-unconfined"):
        assert advice in message
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_batch_refuses_plain_mode(plain, tmp_path):
    subs = tmp_path / "subs"
    shutil.copytree(EXAMPLES / "correct", subs / "alice")
    with pytest.raises(InfrastructureError) as refused:
        batch_verb.batch(subs, assignment="hw1_graph", out=tmp_path / "out", progress=False)
    assert "`grader batch` would grade in plain sandbox mode" in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_the_command_line_refuses_then_grades_unconfined_with_a_banner(tmp_path):
    thief = _thief(tmp_path)
    refused = _cli("grade", thief, "--assignment", "hw1_graph", "--out", tmp_path / "no")
    assert refused.returncode == 3, refused.stderr
    assert refused.stderr.startswith("grader: `grader grade` would grade in plain sandbox mode")
    assert "Traceback" not in refused.stderr and not (tmp_path / "no").exists()
    batch_refused = _cli("batch", tmp_path, "--assignment", "hw1_graph", "--out",
                         tmp_path / "nob")
    assert batch_refused.returncode == 3 and "--allow-unconfined" in batch_refused.stderr

    # What the refusal protects against: unconfined, the four lines score full marks.
    allowed = _cli("grade", thief, "--assignment", "hw1_graph", "--out", tmp_path / "yes",
                   "--allow-unconfined")
    assert allowed.returncode == 0, allowed.stderr
    assert "WARNING: grading UNCONFINED" in allowed.stderr
    results = json.loads((tmp_path / "yes" / "results.json").read_text())
    assert results["provenance"]["sandbox_mode"] == "plain"
    assert results["score"] == 42


@pytest.mark.skipif(not IS_ROOT, reason="jail mode needs root")
def test_the_same_submission_scores_nothing_in_the_jail(tmp_path):
    graded = _cli("grade", _thief(tmp_path), "--assignment", "hw1_graph", "--out",
                  tmp_path / "jail", mode="jail")
    assert graded.returncode == 0, graded.stderr
    assert "UNCONFINED" not in graded.stderr
    results = json.loads((tmp_path / "jail" / "results.json").read_text())
    assert results["provenance"]["sandbox_mode"] == "jail"
    assert results["score"] == 0


def test_the_api_flag_grades_and_warns(plain, tmp_path, capsys):
    results = api.grade(EXAMPLES / "forgets_dout", assignment="hw1_graph",
                        allow_unconfined=True)
    assert results["provenance"]["sandbox_mode"] == "plain"
    assert results["score"] == 23
    assert "WARNING: grading UNCONFINED" in capsys.readouterr().err


def test_check_stays_as_it_is_in_plain_mode(plain, tmp_path, capsys):
    """A student checking their own files: no flag, no banner."""
    folder = tmp_path / "hw1_graph"
    shutil.copytree(REPO_ROOT / "assignments" / "hw1_graph", folder)
    shutil.copy(EXAMPLES / "correct" / "graph.py", folder / "graph.py")
    results = api.check(folder, timing=False)
    assert results["score"] == results["max_score"] > 0
    assert "UNCONFINED" not in capsys.readouterr().err


def test_the_demo_stays_as_it_is_in_plain_mode(plain, capsys):
    """The bundled examples are the course's own code: graded without the flag."""
    graded = api.demo(assignments=("hw1_graph",))
    assert {r["submission"]: r["score"] for r in graded}["correct"] == 42
    assert {r["provenance"]["sandbox_mode"] for r in graded} == {"plain"}
    assert "UNCONFINED" not in capsys.readouterr().err
