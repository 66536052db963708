"""Readable terminal output: a student's check report, a grade summary, the demo table.

Every piece of student text (output, exception messages, names of folders) goes through
``safe_text.visible`` before it reaches a terminal or a feedback file.
"""
from __future__ import annotations

import os
import sys

from grader.results.safe_text import visible

_KIND_LABEL = {"passed": "ok", "wrong_answer": "wrong answer", "error": "error",
               "timeout": "timeout", "crash": "crash", "memory": "memory", "too_slow": "too slow",
               "infrastructure": "grader problem", "needs_gpu": "pending a GPU"}


def _color(text: str, code: str, stream=sys.stdout) -> str:
    if os.environ.get("NO_COLOR") or not getattr(stream, "isatty", lambda: False)():
        return text
    return f"\033[{code}m{text}\033[0m"


def _indent(text: str, prefix: str = "      ") -> str:
    """Student text, made visible, indented under its test."""
    return "\n".join(prefix + line for line in visible(text).split("\n"))


def _import_failure(results: dict) -> list[str]:
    """When the student's files did not import, that is the one thing to say, first, once."""
    if not results.get("import_error"):
        return []
    return ["Your files could not be imported, so no test could use them. Fix this first:",
            _indent(results["import_error"].rstrip()[:4000]), ""]


def _cuda_import_failure(results: dict) -> list[str]:
    """The CUDA file alone did not import: its tests could not use it; the others ran."""
    if not results.get("cuda_import_error"):
        return []
    return ["Your CUDA file could not be imported, so its tests could not use it. Fix this "
            "first:", _indent(str(results["cuda_import_error"]).rstrip()[:4000]), ""]


def _pending(results: dict) -> list[str]:
    """GPU points not graded yet, in the words a student reads."""
    from grader.results.scoring import pending_sentence
    pending = results.get("pending_gpu")
    points = pending.get("points") if isinstance(pending, dict) else None
    if not isinstance(points, (int, float)) or not points:
        return []
    return [pending_sentence(float(points)), ""]


def check_report(results: dict) -> str:
    """For students: every problem of the assignment, what its public tests say (which fail
    and why), how many points only the hidden tests grade, and, for a timed problem, how fast
    the student's code is where the hidden test times it."""
    lines = [f"{results['output'].splitlines()[0]}  (public tests only; the hidden tests "
             "decide the final grade)", ""]
    failed_import = bool(results.get("import_error"))
    lines += _import_failure(results)
    by_problem: dict[str, list[dict]] = {}
    for test in results["tests"]:
        by_problem.setdefault(test["problem"], []).append(test)
    points = results.get("problem_points") or {p: None for p in by_problem}
    timing: dict[str, list[dict]] = {}
    for entry in results.get("timing", []):
        timing.setdefault(entry["problem"], []).append(entry)
    shown: set[str] = set()
    for problem, total in points.items():
        tests = by_problem.get(problem, [])
        public = sum(t["max_score"] for t in tests)
        hidden = (total - public) if total is not None else 0
        if not tests:
            lines.append(f"{_color('HIDDEN', '33')} {problem}: graded only by hidden tests "
                         f"({total:g} point{'s' * (total != 1)})")
        else:
            ok = sum(t["status"] == "passed" for t in tests)
            mark = _color("PASS", "32") if ok == len(tests) else _color("FAIL", "31")
            more = f"; {hidden:g} more points in hidden tests" if hidden > 0 else ""
            lines.append(f"{mark} {problem}: {ok}/{len(tests)} public tests passed{more}")
        if not failed_import:  # else every failure is that one error, said above
            lines += _failures(tests, shown)
        lines += [_timing_line(e) for e in timing.get(problem, [])]
    lines.append(_summary_tail(results))
    return "\n".join(lines)


def _failures(tests: list[dict], shown: set[str]) -> list[str]:
    lines = []
    for t in tests:
        if t["status"] != "passed":
            lines.append(f"   - {t['name']} [{_KIND_LABEL.get(t['kind'], t['kind'])}]")
            text = t["output"].rstrip()[:3000]
            if text in shown:  # e.g. one error failing several tests
                lines.append("      (the same as above)")
            elif text:
                shown.add(text)
                lines.append(_indent(text))
    return lines


def _timing_line(entry: dict) -> str:
    """``conv2d_forward(2x16x32x32, ...) on the hidden test's shape: about 40x a good
    implementation; the hidden limit is 3x (too slow: it would lose these points)``."""
    head = f"   timed on the hidden test's shape: {visible(entry['call'])}: "
    if "estimate" not in entry:
        return head + f"not timed ({visible(entry.get('error', 'no result'))})"
    estimate, limit = entry["estimate"], entry["limit"]
    shown = f"{estimate:.1f}" if estimate < 10 else f"{estimate:.0f}"
    if estimate <= limit:
        verdict = "within it"
    elif estimate <= 2 * limit:  # an estimate: a busy machine reads high
        verdict = "close to it or over: check again when the machine is idle"
    else:
        verdict = "too slow: the hidden timing test would fail"
    busy = "; the machine was busy, so this reads high" if entry.get("busy") else ""
    return (head + f"about {shown}x a good implementation; the hidden limit is {limit:g}x "
            f"({verdict}{busy})")


def _summary_tail(results: dict) -> str:
    if results.get("status") == "infrastructure":
        return "\n" + visible(results["output"])
    return ""


def problem_line(finished: dict) -> str:
    """One problem as it finishes (``scoring.ProblemProgress``), for a terminal."""
    failed, pending = finished["failed"], finished.get("pending", 0)
    tests = finished["tests"]
    how = (f"{failed} of {tests} tests failed" if failed else
           "its test passed" if tests == 1 and not pending else
           f"all {tests} tests passed" if not pending else
           "pending a GPU run" if pending == tests else
           f"{pending} of {tests} tests pending a GPU run, the others passed")
    if failed and pending:
        how += f", {pending} pending a GPU run"
    return (f"  {visible(str(finished['problem'])):<22} {finished['score']:>5g} / "
            f"{finished['max_score']:<5g} {how}")


def grade_summary(results: dict) -> str:
    """For TAs: one block per submission."""
    lines = [f"{visible(results.get('submission', 'submission'))}: {results['score']:g} / "
             f"{results['max_score']:g}  ({results['execution_time']:.1f} s)"]
    for pid, p in results["problems"].items():
        kinds = ", ".join(_KIND_LABEL.get(k, k) for k in p["kinds"]) or "ok"
        lines.append(f"  {pid:<22} {p['score']:>5g} / {p['max_score']:<5g} {kinds}")
    if results.get("import_error"):
        lines.append("  the files do not import: "
                     + visible(results["import_error"].splitlines()[0])[:300])
    if results.get("cuda_import_error"):
        lines.append("  the CUDA file does not import: "
                     + visible(str(results["cuda_import_error"]).splitlines()[0])[:300])
    pending = results.get("pending_gpu")
    if isinstance(pending, dict) and pending.get("points"):
        lines.append(f"  {pending['points']:g} points pending a GPU run (not counted; "
                     "`grader batch ... --regrade-pending` on a GPU machine grades them)")
    if results.get("status") == "infrastructure":
        lines.append(_indent(results["output"], "  "))
    return "\n".join(lines)


def demo_table(all_results: list[dict]) -> str:
    """One row per submission: score, per-problem results, failure kinds."""
    if not all_results:
        return "(nothing graded)"
    problems = list(all_results[0]["problems"])
    headers = ["submission", "score"] + problems + ["failure kinds"]
    rows = []
    for r in all_results:
        kinds = sorted({t["kind"] for t in r["tests"]} - {"passed"})
        rows.append([visible(r.get("submission", "?")), f"{r['score']:g}/{r['max_score']:g}"]
                    + [f"{r['problems'][p]['score']:g}/{r['problems'][p]['max_score']:g}"
                       for p in problems]
                    + [", ".join(_KIND_LABEL.get(k, k) for k in kinds) or "-"])
    widths = [max(len(str(row[i])) for row in rows + [headers]) for i in range(len(headers))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*row) for row in rows]
    return "\n".join(out)


def feedback(results: dict) -> str:
    """A student's feedback file: the score, then every test (hidden ones: kind and hint).
    A submission that could not be graded gets only the reason; one whose files do not import
    gets that error once, first, instead of one line per failed test."""
    score = f"{results.get('score', 0):g} / {results.get('max_score', 0):g} points"
    if results.get("status") == "submission_error":
        return f"Your submission could not be graded ({score}):\n" \
               f"{_indent(results.get('output', ''), '  ')}\n"
    first = results.get("output", "").splitlines()
    lines = [visible(first[0]) if first else score, ""]
    tests = results.get("tests", [])
    if results.get("import_error"):
        failed = sum(t["status"] != "passed" for t in tests)
        lines += _import_failure(results)
        lines.append(f"{failed} of {len(tests)} tests failed; they run once your files import.")
        return "\n".join(lines) + "\n"
    lines += _cuda_import_failure(results) + _pending(results)
    for t in tests:
        mark = "ok  " if t["status"] == "passed" else "PEND" if t["kind"] == "needs_gpu" \
            else "FAIL"
        lines.append(f"{mark} [{t['problem']}] {t['name']}  {t['score']:g}/{t['max_score']:g}")
        if t["status"] != "passed" and t["output"]:
            lines.append(_indent(t["output"].rstrip()[:2000]))
    if not tests:
        lines.append(visible(results.get("output", "")))
    return "\n".join(lines) + "\n"


def batch_summary(summary: dict) -> str:
    """summary.txt, and what ``grader batch`` prints: the class as its records stand (counts
    per status, the labelled statistics of ``gradebook.class_statistics``, the slowest), and,
    where the summary is of a run (``graded_now``: the console), what this run did."""
    stats = summary.get("statistics") or {}
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(summary["statuses"].items()))
    lines = [f"{summary['assignment']}: {summary['graded']} of {summary['students']} students "
             "have a result"]
    if "graded_now" in summary:
        changed = summary.get("changed", 0)
        lines.append(f"this run: {summary['graded_now']} now, {summary.get('skipped', 0)} "
                     "already done"
                     + (f", {changed} regraded because their submission changed" if changed
                        else ""))
    lines.append(f"status: {statuses or '-'}")
    if stats.get("label"):
        lines.append(f"score: {stats['label']}")
    else:  # a summary from before the statistics were labelled
        lines.append(f"score: mean {summary['mean']:.2f}, median {summary['median']:g} "
                     f"of {summary['max_score']:g}")
    if stats.get("pending_points"):
        lines.append(f"pending a GPU run: {stats['pending_points']:g} points of "
                     f"{stats['pending']} student{'s' * (stats['pending'] != 1)} (status "
                     "needs_gpu; `grader batch ... --regrade-pending` on a GPU machine)")
    sandboxes = stats.get("sandboxes") or {}
    if sandboxes:
        lines.append("sandbox: " + ", ".join(f"{mode} {n}" for mode, n in sorted(
            sandboxes.items())) + (" (plain: NOT CONFINED, file access unchecked)"
                                   if sandboxes.get("plain") else ""))
    lines.append("slowest: " + ", ".join(f"{visible(s['student'])} {s['seconds']:.1f} s"
                                         for s in summary["slowest"]))
    return "\n".join(lines) + "\n"


def batch_picture(out, spec, rows: list[dict]):
    """summary.png: the graded students' score distribution (integer bins and counts) and each
    problem's full-marks rate, over the graded students as ``gradebook.class_statistics``
    counts them. Submission errors and grader problems are not scores: they are left out and
    counted in the title."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from grader.results.pages import figures
    except ImportError:
        return None
    from grader.results.scoring import GRADED
    graded = [r for r in rows if r.get("status") in GRADED]
    if not rows:
        return None
    totals = [float(r["total"]) for r in graded]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    apart = len(rows) - len(graded)
    figures.score_histogram(left, totals, spec.max_score,
                            title=f"{spec.id}: score distribution (n={len(graded)}"
                                  + (f"; {apart} not graded)" if apart else ")"))
    rates = [100 * sum(float(r[p.id]) >= p.points for r in graded) / len(graded) if graded
             else 0.0 for p in spec.problems]
    right.barh([p.id for p in spec.problems], rates, color=figures.OKABE_ITO["green"])
    right.set(title="full marks per problem", xlabel="% of graded students", xlim=(0, 100))
    right.invert_yaxis()
    fig.tight_layout()
    path = out / "summary.png"
    tmp = out / ".summary.png.tmp"
    try:  # whole or not at all (a full disk must not leave half a picture)
        fig.savefig(tmp, dpi=100, format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return str(path)
