"""hw1_graph end to end: reference full marks, skeleton zero, every example as EXPECTED.md says."""
import shutil

import pytest

from grader.api import check, grade
from grader.course.config import REPO_ROOT, find_assignment

SPEC = find_assignment("hw1_graph")
EXAMPLES = REPO_ROOT / "examples" / "submissions" / "hw1_graph"
RELEASE = REPO_ROOT / "assignments" / "hw1_graph"

# example -> (score, {problem: (score, kinds lost)})
EXPECTED = {
    "correct": (42, {}),
    "forgets_dout": (23, {"mulnode": (2, {"wrong_answer"}), "mynetwork": (2, {"wrong_answer"})}),
    "swaps_dx_dy": (23, {"mulnode": (2, {"wrong_answer"}), "mynetwork": (2, {"wrong_answer"})}),
    "one_sided_difference": (35, {"numerical_gradient": (6, {"wrong_answer"})}),
    "mutates_x": (37, {"numerical_gradient": (8, {"wrong_answer"})}),
    "syntax_error": (0, {p.id: (0, {"error"}) for p in SPEC.problems}),
    "infinite_loop": (25, {"addnode": (0, {"timeout"}), "mynetwork": (1, {"timeout"})}),
}

_cache = {}


def graded(name):
    if name not in _cache:
        _cache[name] = grade(EXAMPLES / name, assignment="hw1_graph")
    return _cache[name]


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_scores_as_expected(name):
    results = graded(name)
    score, lost = EXPECTED[name]
    # A file that does not import is graded (zero) with a status of its own.
    assert results["status"] == ("import_error" if name == "syntax_error" else "ok")
    assert results["score"] == score
    for pid, problem in results["problems"].items():
        if pid in lost:
            assert (problem["score"], set(problem["kinds"])) == lost[pid], pid
        else:
            assert problem["score"] == problem["max_score"] and not problem["kinds"], pid


def test_reference_scores_full_marks():
    results = grade(SPEC.root, assignment="hw1_graph")
    assert results["score"] == results["max_score"] == SPEC.max_score == 42
    assert all(t["kind"] == "passed" for t in results["tests"])


def test_generated_skeleton_scores_zero():
    results = grade(RELEASE, assignment="hw1_graph")
    assert results["score"] == 0 and results["status"] == "ok"
    assert {t["kind"] for t in results["tests"]} == {"error"}
    assert "NotImplementedError" in next(t for t in results["tests"] if not t["hidden"])["output"]


def test_grading_is_deterministic():
    again = grade(EXAMPLES / "mutates_x", assignment="hw1_graph")
    first = graded("mutates_x")
    assert [(t["name"], t["score"], t["kind"]) for t in again["tests"]] == \
           [(t["name"], t["score"], t["kind"]) for t in first["tests"]]


def test_hidden_tests_reveal_only_kind_and_hint():
    for test in graded("forgets_dout")["tests"]:
        if test["hidden"] and test["status"] == "failed":
            assert test["output"].startswith("wrong answer: ")
            assert "expected" not in test["output"] and "[" not in test["output"]



def test_release_has_no_hidden_tests_or_solutions():
    text = "".join(p.read_text() for p in RELEASE.rglob("*.py"))
    assert "BEGIN SOLUTION" not in text
    names = [line.split("(")[0][4:] for line in
             (SPEC.hidden_tests / "test_graph_hidden.py").read_text().splitlines()
             if line.startswith("def test_")]
    assert names and not any(name in text for name in names)


def test_check_on_a_students_folder(tmp_path):
    folder = tmp_path / "hw1_graph"
    shutil.copytree(RELEASE, folder)
    skeleton = check(folder)
    assert skeleton["score"] == 0 and skeleton["tests"]
    assert all(not t["hidden"] for t in skeleton["tests"])
    shutil.copy(EXAMPLES / "forgets_dout" / "graph.py", folder / "graph.py")
    partial = check(folder)
    failing = {t["problem"] for t in partial["tests"] if t["status"] == "failed"}
    assert failing == {"mulnode", "mynetwork"}
    message = next(t["output"] for t in partial["tests"] if t["status"] == "failed")
    assert "expected" in message  # public tests explain what is wrong
