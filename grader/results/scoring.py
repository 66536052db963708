"""From harness events to ``results.json`` (Gradescope's schema plus ``problem`` and ``kind``).

The expected tests come from the harness's collection, before any student code ran. A test
scores its points only with an explicit ``passed`` result; a test with no result (the harness
stopped, the total time ran out) scores zero with a kind saying why. A GPU-only test on a
machine without a GPU has kind ``needs_gpu`` and status ``pending`` (neither passed nor failed):
it scores nothing yet, its points are listed under ``pending_gpu`` and the submission's status is
``needs_gpu`` until a GPU run completes it. Student files that do not import give the
submission the status ``import_error`` (and ``import_error`` / ``cuda_import_error``, the
message, said once): graded, and the first thing to fix.
"""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
from pathlib import Path

# How the harness words a failure to import the student's files (wire/bridge.py); such a
# failure fails every test the same way, so the results say it once (``import_error``).
IMPORT_FAILED = "importing your files failed: "

SUITE_INVALID = "the test suite is invalid"  # how the plugin fails each test of a bad suite

# A submission's status: graded (its score is a grade: pending GPU points count as not yet won),
# or not (a submission error: nothing gradable; infrastructure: the grader failed, retried).
GRADED = ("ok", "needs_gpu", "import_error")

KINDS = ("passed", "wrong_answer", "error", "timeout", "crash", "memory", "too_slow",
         "infrastructure", "needs_gpu")


def read_events(path: Path) -> tuple[list[dict] | None, list[str], dict[str, dict]]:
    """Return (expected tests or None, suite errors, results by test id)."""
    if not path.exists():
        return None, [], {}
    return parse_events(path.read_text(encoding="utf-8", errors="replace"))


def parse_events(text: str) -> tuple[list[dict] | None, list[str], dict[str, dict]]:
    expected, errors, results = None, [], {}
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed harness
        if event.get("event") == "expected" and expected is None:
            expected, errors = event["tests"], event.get("errors", [])
        elif event.get("event") == "result":
            results.setdefault(event["id"], event)
    return expected, errors, results


class ProblemProgress:
    """Per-problem results as the events come in (``grader grade``/``check`` on a terminal):
    ``feed`` it the events file's bytes as they are written (any chunks); it returns the
    problems that finished since the last call, each ``{"problem", "score", "max_score",
    "tests", "failed"}`` (and ``"pending"``: GPU-only tests waiting for a GPU, where any), a
    problem finishing when each of its collected tests has a result."""

    def __init__(self):
        self._pending = b""  # the start of a line still being written
        self._expected, self._done, self._reported = None, {}, set()

    def feed(self, data: bytes) -> list[dict]:
        lines, _, self._pending = (self._pending + data).rpartition(b"\n")
        expected, _, results = parse_events(lines.decode("utf-8", "replace"))
        if self._expected is None and expected is not None:
            self._expected = expected
        for test_id, result in results.items():
            self._done.setdefault(test_id, result)  # the first result counts (parse_events)
        return self._finished() if self._expected is not None else []

    def _finished(self) -> list[dict]:
        by_problem: dict[str, list[dict]] = {}
        for meta in self._expected:
            by_problem.setdefault(meta["problem"], []).append(meta)
        finished = []
        for problem, metas in by_problem.items():
            if problem in self._reported or any(m["id"] not in self._done for m in metas):
                continue
            self._reported.add(problem)
            passed = [m for m in metas if _passed(self._done[m["id"]])]
            pending = sum(self._done[m["id"]].get("kind") == "needs_gpu" for m in metas)
            finished.append({"problem": problem, "tests": len(metas),
                             "failed": len(metas) - len(passed) - pending,
                             "score": float(sum(m["points"] for m in passed)),
                             "max_score": float(sum(m["points"] for m in metas)),
                             **({"pending": pending} if pending else {})})
        return finished


def _passed(result: dict) -> bool:
    return result.get("outcome") == "passed" and result.get("kind") == "passed"


def pending_sentence(points: float) -> str:
    """What a student reads about GPU points not yet graded: neutral, and true."""
    if points == 1:
        return "1 point waits for a GPU run; it is not counted as lost."
    return f"{points:g} points wait for a GPU run; they are not counted as lost."


# The TA's command the harness may add to a pending test's message: students do not run it.
_TA_COMMAND = re.compile(r"\s*\([^()]*--regrade-pending[^()]*\)")


def _test_output(meta: dict, result: dict) -> str:
    """What the student sees. Hidden tests: only the kind and the instructor's hint."""
    kind = result["kind"]
    if result["outcome"] == "passed":
        return "" if meta["hidden"] else result.get("output", "")
    if kind == "needs_gpu":
        why = _TA_COMMAND.sub("", str(result.get("message", ""))).strip()
        return "\n".join(p for p in (pending_sentence(float(meta["points"])), why) if p)
    if meta["hidden"] and kind not in ("infrastructure", "needs_gpu"):
        hint = meta.get("hint") or "a hidden test"
        return f"{kind.replace('_', ' ')}: {hint}{_speed(result.get('measured', {}))}"
    parts = [result.get("message", "")]
    if result.get("output"):
        parts.append("Your code printed:\n" + result["output"])
    return "\n".join(p for p in parts if p)


def _speed(measured: dict) -> str:
    """Timing figures are safe to show even for hidden tests: both times and the ratio."""
    ratio = measured.get("speed_ratio")
    if not ratio:
        return ""
    mine, ref = measured.get("student_seconds"), measured.get("reference_seconds")
    limit = measured.get("speed_limit")
    times = (f"yours {mine * 1e3:.3g} ms, the reference's {ref * 1e3:.3g} ms: "
             if mine and ref else "")
    return f" ({times}{ratio:.1f}x" + (f", the limit is {limit:g}x)" if limit else ")")


def build_results(assignment, expected, suite_errors, results, *, execution_time: float,
                  missing_kind: str = "infrastructure", missing_reason: str = "") -> dict:
    tests = []
    if expected is None:
        expected = []
        suite_errors = suite_errors or ["the grader could not collect the tests"]
    for number, meta in enumerate(expected, 1):
        result = results.get(meta["id"])
        if result is None:
            result = {"outcome": "failed", "kind": missing_kind,
                      "message": missing_reason or "this test did not run"}
        passed = _passed(result)
        kind = "passed" if passed else (result.get("kind") if result.get("kind") in KINDS
                                        and result.get("kind") != "passed" else "error")
        entry = {
            "name": meta["name"], "number": str(number),
            "score": float(meta["points"]) if passed else 0.0,
            "max_score": float(meta["points"]),
            "status": "passed" if passed else "pending" if kind == "needs_gpu" else "failed",
            "output": _test_output(meta, {**result, "kind": kind}),
            "visibility": meta["visibility"], "problem": meta["problem"], "kind": kind,
            "hidden": meta["hidden"],
        }
        measured = {k: v for k, v in result.get("measured", {}).items()
                    if isinstance(v, (int, float)) and math.isfinite(v)}
        if measured:  # numbers only (ratios, gradient errors): nothing of the test's data
            entry["extra_data"] = measured
        tests.append(entry)
    score = sum(t["score"] for t in tests)
    problems = {}
    for problem in assignment.problems:
        mine = [t for t in tests if t["problem"] == problem.id]
        problems[problem.id] = {"score": sum(t["score"] for t in mine),
                                "max_score": sum(t["max_score"] for t in mine),
                                "kinds": sorted({t["kind"] for t in mine} - {"passed"})}
    pending = [t for t in tests if t["kind"] == "needs_gpu"]
    # Normally the assignment's total (checked against the tests' points at collection); for
    # `grader check`, which runs the public tests only, the total of those tests.
    max_score = sum(t["max_score"] for t in tests) if tests else assignment.max_score
    output = f"{assignment.title}: {score:g} / {max_score:g} points"
    pending_points = sum(t["max_score"] for t in pending)
    if pending:
        output += f" ({pending_points:g} points pending a GPU run)"
    if suite_errors:
        output += "\nThe grader could not grade this submission:\n" + "\n".join(suite_errors)
    # The CUDA files load in a worker of their own: their import failing stops only their tests.
    failed_imports = [r["message"][len(IMPORT_FAILED):] for r in results.values()
                      if str(r.get("message", "")).startswith(IMPORT_FAILED)]
    cuda_files = tuple(getattr(getattr(assignment, "cuda", None), "files", ()))
    cuda_error = next((m for m in failed_imports if any(f in m for f in cuda_files)), "")
    import_error = next((m for m in failed_imports if m != cuda_error), "")
    if import_error:
        output += ("\nYour files could not be imported, so no test could use them:\n"
                   + import_error)
    if cuda_error:
        output += ("\nYour CUDA file could not be imported, so its tests could not use it:\n"
                   + cuda_error)
    status = "import_error" if import_error or cuda_error else "needs_gpu" if pending else "ok"
    if suite_errors or not tests or any(t["kind"] == "infrastructure" for t in tests):
        status = "infrastructure"
    graded = {"score": score, "max_score": max_score,
              "execution_time": round(execution_time, 3), "output": output,
              "visibility": "visible", "stdout_visibility": "hidden",
              "tests": tests, "assignment": assignment.id, "status": status,
              "problems": problems}
    if pending:
        graded["pending_gpu"] = {"points": pending_points, "tests": [t["name"] for t in pending]}
    if suite_errors:  # said once here; each test only points at it
        graded["suite_errors"] = list(suite_errors)
        for t in tests:
            if t["output"].startswith(SUITE_INVALID):
                t["output"] = "not run: the test suite is invalid (see above)"
    if import_error:
        graded["import_error"] = import_error
    if cuda_error:
        graded["cuda_import_error"] = cuda_error
    return graded


def failure_results(assignment, status: str, message: str) -> dict:
    """Results for a submission that could not be graded at all: ``submission_error`` (the
    student's to fix: a missing file, an unreadable archive) or ``infrastructure`` (the
    grader's: retried). Zero points; ``message`` is the output, and no test is listed."""
    return {"score": 0.0, "max_score": assignment.max_score, "execution_time": 0.0,
            "output": message, "visibility": "visible", "stdout_visibility": "hidden",
            "tests": [], "assignment": assignment.id, "status": status,
            "problems": {p.id: {"score": 0.0, "max_score": p.points, "kinds": [status]}
                         for p in assignment.problems}}


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` as JSON, atomically."""
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)
    write_text_atomic(path, text + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file in the same folder, then rename): a
    reader, or a batch killed meanwhile, sees the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
