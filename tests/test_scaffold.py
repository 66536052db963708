"""`grader new ID` scaffolds an assignment that releases and validates as it is, wherever the
solutions live (--solutions or GRADER_SOLUTIONS) (issue 10, item 16)."""
import os
import subprocess
import sys

from grader.course.config import REPO_ROOT


def grader(*args, cwd, env=None):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_new_assignment_releases_and_validates_as_it_is(tmp_path):
    proc = grader("new", "hw9_layer", "--solutions", "course/solutions", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    source = tmp_path / "course" / "solutions" / "hw9_layer"
    for part in ("assignment.yaml", "layer.py", "tests/public/test_layer_public.py",
                 "tests/hidden/test_layer_hidden.py", "handout/README.en.md",
                 "handout/README.zh.md", "mutants/relu_grad_wrong_side.yaml"):
        assert (source / part).is_file(), part
    assert "### BEGIN SOLUTION" in (source / "layer.py").read_text()
    env = {"GRADER_SOLUTIONS": str(tmp_path / "course" / "solutions")}
    proc = grader("release", "hw9_layer", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    release = tmp_path / "course" / "assignments" / "hw9_layer"  # beside the solutions
    assert (release / "README.zh.md").is_file() and "{{" not in (release / "README.md").read_text()
    assert "| `relu` |" in (release / "README.md").read_text()
    proc = grader("validate", "hw9_layer", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4/4 checks passed" in proc.stdout
    assert "mutant relu_grad_wrong_side is caught" in proc.stdout
    proc = grader("check", "--no-timing", cwd=release)  # the skeleton: fails, clearly
    assert proc.returncode == 1 and "FAIL relu: 0/1 public tests passed" in proc.stdout


def test_new_never_overwrites_and_refuses_a_bad_id(tmp_path):
    assert grader("new", "hw9", "--solutions", tmp_path, cwd=tmp_path).returncode == 0
    again = grader("new", "hw9", "--solutions", tmp_path, cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = grader("new", "HW-9", "--solutions", tmp_path, cwd=tmp_path)
    assert bad.returncode == 2 and "is not an assignment id" in bad.stderr
    assert "Traceback" not in again.stderr + bad.stderr


def test_the_authoring_guide_says_what_the_code_does():
    """The guide's Handouts section names every placeholder the release fills, its layout of
    mutants is the one `validate` reads, and it tells where GRADER_SOLUTIONS points."""
    from grader.course.release.handout import placeholders
    guide = (REPO_ROOT / "docs" / "authoring.md").read_text()
    assert "## Handouts" in guide
    handouts = guide.split("## Handouts")[1].split("\n## ")[0]
    for name in placeholders({}, "en", path="assignment.yaml"):
        assert "{{%s}}" % name in handouts, name
    assert "README.zh.md" in handouts and "optional" in handouts
    assert "mutants/<name>.yaml" in guide and "mutants/<name>/" not in guide
    assert "GRADER_SOLUTIONS" in guide and "grader new" in guide
