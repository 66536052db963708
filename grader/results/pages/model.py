"""From stored results to what the pages show: plain numbers and strings, no markup.

Student text (names, messages, output) stays raw here; the templates escape it. Measured values
come from each test's ``extra_data`` (``speed_ratio``, ``speed_limit``, ``student_seconds``,
``reference_seconds``, ``repetitions``, ``gradient_error_<name>``, ``gradient_tolerance_<name>``)
and are read defensively: a missing or non-numeric value is simply not shown.
"""
from __future__ import annotations

import math
import statistics
from collections import Counter
from urllib.parse import quote

from grader.results.gradebook import GRADED, class_statistics, pending_points, sandbox_mode
from grader.results.pages.figures import KIND_LABELS
from grader.results.pages.records import StudentRecord
from grader.results.scoring import pending_sentence

PENDING = "needs_gpu"  # a test's kind, and a submission's status, while GPU points wait
SHOWN_CHARS = 4000  # of one test's message, traceback or output


def fmt(x) -> str:
    """A score as gradebook.csv writes it."""
    return f"{float(x):g}"


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _cut(text: str) -> str:
    text = text.rstrip()
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "\n... (cut)"


def split_output(text: str) -> dict:
    """A visible test's output as the harness writes it: the message, then the student's own
    traceback after "In your code:", then what their code printed after "Your code printed:"."""
    message, _, printed = text.partition("\nYour code printed:\n")
    if text.startswith("Your code printed:\n"):
        message, printed = "", text[len("Your code printed:\n"):]
    message, _, traceback = message.partition("\nIn your code:\n")
    return {"message": _cut(message), "traceback": _cut(traceback), "printed": _cut(printed)}


def speed(extra: dict) -> dict | None:
    """A timing test's figures, and where its bar and limit sit on a log scale (0..1)."""
    ratio = _number(extra.get("speed_ratio"))
    if ratio is None or ratio <= 0:
        return None
    limit = _number(extra.get("speed_limit"))
    limit = limit if limit and limit > 0 else None
    lo, hi = 0.25, min(1000.0, max(4 * (limit or 1.0), 1.25 * ratio))

    def position(r):
        return min(1.0, max(0.0, (math.log(r) - math.log(lo)) / (math.log(hi) - math.log(lo))))

    reps = extra.get("repetitions")
    return {"ratio": ratio, "limit": limit, "over": limit is not None and ratio > limit,
            "student_ms": _ms(extra.get("student_seconds")),
            "reference_ms": _ms(extra.get("reference_seconds")),
            "repetitions": reps if isinstance(reps, int) and not isinstance(reps, bool) else None,
            "bar": position(ratio), "limit_at": position(limit) if limit else None,
            "one_at": position(1.0)}


def _ms(seconds) -> str | None:
    """A measured time: milliseconds below a second, seconds above."""
    value = _number(seconds)
    if value is None or value < 0:
        return None
    return f"{value * 1e3:.3g} ms" if value < 1 else f"{value:.3g} s"


def gradients(extra: dict) -> list[dict]:
    """Each gradient check of a test: its name, the relative error and the tolerance."""
    rows = []
    for key, value in sorted(extra.items()):
        if not key.startswith("gradient_error_") or _number(value) is None:
            continue
        name = key[len("gradient_error_"):]
        tol = _number(extra.get(f"gradient_tolerance_{name}"))
        rows.append({"name": name, "error": float(value), "tolerance": tol,
                     "ok": None if tol is None else float(value) <= tol})
    return rows


def _tests(results: dict) -> list[dict]:
    return [t for t in results.get("tests", []) if isinstance(t, dict)]


GRADER_PROBLEM = "The grader could not run this test; it is not your fault, and it is retried."


def _hint(output: str, kind: str) -> str:
    """A hidden test's output is "<kind>: <the instructor's hint>"; the page shows the kind
    apart, so only the hint here. A hidden test the grader failed to run says only that."""
    if kind == "infrastructure":
        return GRADER_PROBLEM
    if kind == PENDING:  # scoring's neutral sentence and why, no hint: nothing failed
        return output
    prefix = f"{kind.replace('_', ' ')}: "
    return output[len(prefix):] if output.startswith(prefix) else output


def test_view(test: dict) -> dict:
    """One test for the student: hidden tests carry only their name, kind and the hint the
    scoring put in their output; visible ones their message, traceback and output."""
    extra = test.get("extra_data") if isinstance(test.get("extra_data"), dict) else {}
    output = test.get("output") if isinstance(test.get("output"), str) else ""
    hidden = bool(test.get("hidden"))
    kind = test.get("kind") if isinstance(test.get("kind"), str) else "error"
    return {"name": str(test.get("name", "?")), "kind": kind,
            "label": KIND_LABELS.get(kind, kind), "hidden": hidden,
            "passed": test.get("status") == "passed",
            "pending": test.get("status") != "passed" and kind == PENDING,
            "score": fmt(_number(test.get("score")) or 0),
            "max_score": fmt(_number(test.get("max_score")) or 0),
            "parts": ({"message": _cut(_hint(output, kind)), "traceback": "", "printed": ""}
                      if hidden else split_output(output)),
            "speed": speed(extra), "gradients": gradients(extra)}


def student_view(record: StudentRecord, spec) -> dict:
    """Everything a student's feedback page shows."""
    res = record.results
    tests = [test_view(t) for t in _tests(res)]
    problems, seen = [], {}
    for p in spec.problems:
        stored = res.get("problems", {}).get(p.id, {}) if isinstance(res.get("problems"), dict) \
            else {}
        mine = [t for t, raw in zip(tests, _tests(res)) if raw.get("problem") == p.id]
        failing = [t for t in mine if not t["passed"] and not t["pending"]]
        pending = [t for t in mine if t["pending"]]
        for t in failing:  # one import error fails every test: show its text once
            text = (t["parts"]["message"], t["parts"]["traceback"], t["parts"]["printed"])
            t["same_as"] = seen.setdefault(text, t["name"]) if any(text) else None
            if t["same_as"] == t["name"]:
                t["same_as"] = None
        problems.append({
            "id": p.id, "title": p.title, "score": fmt(stored.get("score", 0)),
            "max_score": fmt(stored.get("max_score", p.points)), "full": _full(stored, p.points),
            "passed": sum(t["passed"] for t in mine), "count": len(mine), "failing": failing,
            "pending": pending,
            "pending_points": fmt(sum(_number(raw.get("max_score")) or 0
                                      for t, raw in zip(tests, _tests(res))
                                      if raw.get("problem") == p.id and t["pending"])),
            "passed_names": [t["name"] for t in mine if t["passed"]],
            "timed": [t for t in mine if t["speed"]],
            "gradient_tests": [t for t in mine if t["gradients"]]})
    ignored = res.get("ignored_files", [])
    waiting = pending_points(res)
    return {"name": record.name, "assignment": spec.id, "title": spec.title,
            "score": fmt(res.get("score", 0)), "max_score": fmt(res.get("max_score",
                                                                        spec.max_score)),
            "status": str(res.get("status", "?")), "summary": _first_line(res),
            "message": str(res.get("output", "")) if res.get("status") not in GRADED else "",
            "import_error": _cut(str(res.get("import_error") or "")),
            "cuda_import_error": _cut(str(res.get("cuda_import_error") or "")),
            "pending_sentence": pending_sentence(waiting) if waiting else "",
            "seconds": _number(res.get("execution_time")),
            "ignored": [str(f) for f in ignored] if isinstance(ignored, list) else [],
            "problems": problems}


def _full(stored: dict, points: float) -> bool:
    score, top = _number(stored.get("score")), _number(stored.get("max_score")) or points
    return score is not None and score >= top


def _first_line(res: dict) -> str:
    output = res.get("output") if isinstance(res.get("output"), str) else ""
    return output.splitlines()[0] if output else ""


def page_path(record: StudentRecord, out) -> str:
    """The student page's address relative to the dashboard, percent-encoded."""
    rel = (record.folder / "feedback.html").relative_to(out)
    return "/".join(quote(part, safe="") for part in rel.parts)


def class_view(records: list[StudentRecord], spec, out) -> dict:
    """Everything the class dashboard shows (numbers as in gradebook.csv; the statistics and
    their label as ``gradebook.class_statistics`` gives them to summary.txt and the console)."""
    graded = [r for r in records if r.results.get("status") in GRADED]
    apart = [r for r in records if r.results.get("status") not in GRADED]
    totals = [float(r.results.get("score", 0)) for r in graded]
    stats = class_statistics([r.results for r in records], spec.max_score)
    return {
        "assignment": spec.id, "title": spec.title, "max_score": fmt(spec.max_score),
        "students": len(records), "graded": len(graded),
        "mean": stats["mean_text"], "median": stats["median_text"],
        "statistics": stats["label"],
        "pending": [_pending(r, out) for r in graded if r.results.get("status") == PENDING],
        "pending_points": fmt(stats["pending_points"]),
        "import_errors": [_apart(r, out, error=str(r.results.get("import_error")
                                                   or r.results.get("cuda_import_error") or ""))
                          for r in graded if r.results.get("status") == "import_error"],
        "sandboxes": sorted(stats["sandboxes"].items()),
        "plain": [{"name": r.name, "href": page_path(r, out)} for r in records
                  if sandbox_mode(r.results) == "plain"],
        "totals": totals, "problems": _problem_stats(graded, spec),
        "kinds": _kinds_present(graded), "most_failed": _most_failed(graded),
        "timing": _timing(graded),
        "submission_errors": [_apart(r, out) for r in apart
                              if r.results.get("status") == "submission_error"],
        "infrastructure": [_apart(r, out) for r in apart
                           if r.results.get("status") != "submission_error"],
        "slowest": [_row(r, spec, out) for r in sorted(
            records, key=lambda r: -(_number(r.results.get("execution_time")) or 0))[:10]],
        "rows": [_row(r, spec, out) for r in records],
        "problem_ids": [p.id for p in spec.problems],
        "similarity": _similarity(out)}


def _similarity(out) -> dict | None:
    """The link to ``grader similarity``'s report in ``out``, if it has one."""
    from grader.similarity.summary import dashboard_link
    return dashboard_link(out)


def _decided(test: dict) -> bool:
    """Passed or failed: a test pending a GPU run is neither, and is left out of the rates."""
    return test.get("status") == "passed" or test.get("kind") != PENDING


def _problem_stats(graded, spec) -> list[dict]:
    stats = []
    for p in spec.problems:
        tests = [t for r in graded for t in _tests(r.results)
                 if t.get("problem") == p.id and _decided(t)]
        failures = Counter(t.get("kind", "error") for t in tests if t.get("status") != "passed")
        full = sum(_full(r.results.get("problems", {}).get(p.id, {}), p.points) for r in graded)
        stats.append({"id": p.id, "title": p.title, "points": fmt(p.points),
                      "full_marks": full,
                      "full_marks_pct": 100 * full / len(graded) if graded else 0.0,
                      "tests_passed_pct": (100 * sum(t.get("status") == "passed" for t in tests)
                                           / len(tests)) if tests else 0.0,
                      "failures": dict(failures)})
    return stats


def _kinds_present(graded) -> list[str]:
    kinds = {t.get("kind") for r in graded for t in _tests(r.results)
             if t.get("status") != "passed" and _decided(t)}
    return [k for k in KIND_LABELS if k in kinds]


def _most_failed(graded, limit: int = 15) -> list[dict]:
    """The tests most of the class fails: where teaching or the handout needs work."""
    by_test: dict[tuple, Counter] = {}
    for r in graded:
        for t in _tests(r.results):
            if t.get("status") != "passed" and _decided(t):
                key = (str(t.get("problem")), str(t.get("name")), bool(t.get("hidden")))
                by_test.setdefault(key, Counter())[t.get("kind", "error")] += 1
    ranked = sorted(by_test.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:limit]
    return [{"problem": p, "name": n, "hidden": h, "failing": sum(kinds.values()),
             "pct": 100 * sum(kinds.values()) / len(graded),
             "kinds": ", ".join(f"{KIND_LABELS.get(k, k)} {c}" for k, c in kinds.most_common())}
            for (p, n, h), kinds in ranked]


def _timing(graded) -> list[dict]:
    """Per timing test: every graded student's ratio and the test's limit."""
    tests: dict[str, dict] = {}
    for r in graded:
        for t in _tests(r.results):
            figures = speed(t.get("extra_data") if isinstance(t.get("extra_data"), dict) else {})
            if figures:
                entry = tests.setdefault(str(t.get("name")), {"name": str(t.get("name")),
                                                              "ratios": [], "limit": None})
                entry["ratios"].append((figures["ratio"], figures["limit"]))
                entry["limit"] = entry["limit"] or figures["limit"]
    for entry in tests.values():
        ratios = [r for r, _ in entry["ratios"]]
        entry.update(n=len(ratios), median=statistics.median(ratios), worst=max(ratios),
                     over=sum(limit is not None and r > limit for r, limit in entry["ratios"]))
    return sorted(tests.values(), key=lambda e: e["name"])


def _apart(record, out, error: str | None = None) -> dict:
    """A student listed apart; with ``error`` (an import error), its last line, which says
    what failed, instead of the record's output."""
    message = str(record.results.get("output", "")) if error is None else \
        (error.strip().splitlines() or [""])[-1]
    return {"name": record.name, "href": page_path(record, out), "message": _cut(message),
            "status": str(record.results.get("status", "?"))}


def _pending(record, out) -> dict:
    """A student whose GPU points wait: counted among the graded, on their points so far."""
    res = record.results
    return {"name": record.name, "href": page_path(record, out),
            "total": fmt(res.get("score", 0)), "max_score": fmt(res.get("max_score", 0)),
            "points": fmt(pending_points(res)),
            "tests": ", ".join(str(t) for t in (res.get("pending_gpu") or {}).get("tests", [])
                               if isinstance(t, str))}


def _row(record, spec, out) -> dict:
    res = record.results
    stored = res.get("problems", {}) if isinstance(res.get("problems"), dict) else {}
    return {"name": record.name, "key": record.key, "href": page_path(record, out),
            "scores": [fmt(stored.get(p.id, {}).get("score", 0)) for p in spec.problems],
            "total": fmt(res.get("score", 0)), "max_score": fmt(res.get("max_score", 0)),
            "status": str(res.get("status", "?")), "sandbox": sandbox_mode(res),
            "seconds": _number(res.get("execution_time")) or 0.0}
