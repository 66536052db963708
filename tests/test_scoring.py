"""Scoring: only an explicit pass scores; what did not run scores zero; the file is safe JSON."""
import json

import pytest

from grader.course.config import Assignment, Problem
from grader.results.scoring import build_results, read_events, write_json_atomic

SPEC = Assignment(id="demo", title="Demo", files=("graph.py",),
                  problems=(Problem("p", "P", 3.0),))
EXPECTED = [
    {"id": f"t{i}", "name": f"test_{i}", "problem": "p", "points": 1, "visibility": "visible",
     "hidden": i == 2, "hint": "think about d_out"} for i in range(3)
]


def results_for(events):
    return build_results(SPEC, EXPECTED, [], events, execution_time=1.0)


def test_only_explicit_passes_score():
    res = results_for({
        "t0": {"outcome": "passed", "kind": "passed"},
        "t1": {"outcome": "passed", "kind": "wrong_answer"},  # inconsistent: not a pass
    })
    assert [t["score"] for t in res["tests"]] == [1.0, 0.0, 0.0]
    assert res["tests"][2]["kind"] == "infrastructure"  # never ran
    assert res["score"] == 1.0 and res["max_score"] == 3.0 and res["status"] == "infrastructure"


def test_hidden_failures_show_only_kind_and_hint():
    res = results_for({"t2": {"outcome": "failed", "kind": "wrong_answer",
                              "message": "dx[0] is 0.3; expected 0.6", "output": "secret"}})
    assert res["tests"][2]["output"] == "wrong answer: think about d_out"


def test_unknown_kinds_become_error():
    res = results_for({"t0": {"outcome": "failed", "kind": "made_up", "message": "x"}})
    assert res["tests"][0]["kind"] == "error"


def test_no_collection_means_infrastructure():
    res = build_results(SPEC, None, [], {}, execution_time=0.1)
    assert res["status"] == "infrastructure" and res["score"] == 0


def test_events_cut_short_are_tolerated(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"event": "expected", "tests": EXPECTED}) + "\n"
                    + json.dumps({"event": "result", "id": "t0", "outcome": "passed",
                                  "kind": "passed"}) + "\n{\"event\": \"resu")
    expected, errors, results = read_events(path)
    assert len(expected) == 3 and list(results) == ["t0"]


def test_results_json_is_written_atomically_and_refuses_nan(tmp_path):
    target = tmp_path / "out" / "results.json"
    write_json_atomic(target, {"score": 1.0})
    with pytest.raises(ValueError):
        write_json_atomic(target, {"score": float("nan")})
    assert json.loads(target.read_text()) == {"score": 1.0}  # the good file survives
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]  # no temp left


def test_problem_progress_reports_each_problem_once_when_all_its_tests_have_results():
    """Issue 12 (progress): events arrive in any chunks, a line cut short waits; a problem is
    reported when its last test's result is in, once, with the points of its passed tests."""
    import json as _json

    from grader.results.scoring import ProblemProgress
    expected = {"event": "expected", "errors": [], "tests": [
        {"id": "t1", "problem": "a", "points": 2}, {"id": "t2", "problem": "b", "points": 3},
        {"id": "t3", "problem": "a", "points": 4}]}

    def result(test_id, kind):
        return {"event": "result", "id": test_id, "kind": kind,
                "outcome": "passed" if kind == "passed" else "failed"}

    text = "".join(_json.dumps(e) + "\n" for e in (
        expected, result("t1", "passed"), result("t2", "too_slow"), result("t3", "passed"),
        result("t3", "error")))  # a second result for a test does not count
    data = text.encode()
    cut = data.index(b"\"id\": \"t3\", \"kind\"") + 3  # mid-line: t3's first result
    watcher = ProblemProgress()
    assert watcher.feed(data[:10]) == []  # not even the collection yet
    assert watcher.feed(data[10:cut]) == [
        {"problem": "b", "tests": 1, "failed": 1, "score": 0.0, "max_score": 3.0}]
    assert watcher.feed(data[cut:]) == [
        {"problem": "a", "tests": 2, "failed": 0, "score": 6.0, "max_score": 6.0}]
    assert watcher.feed(b"") == []
