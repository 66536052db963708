"""Readable terminal output: a student's check report, a grade summary, the demo table."""
from __future__ import annotations

import os
import sys

_KIND_LABEL = {"passed": "ok", "wrong_answer": "wrong answer", "error": "error",
               "timeout": "timeout", "crash": "crash", "memory": "memory", "too_slow": "too slow",
               "infrastructure": "grader problem"}


def _color(text: str, code: str, stream=sys.stdout) -> str:
    if os.environ.get("NO_COLOR") or not getattr(stream, "isatty", lambda: False)():
        return text
    return f"\033[{code}m{text}\033[0m"


def _indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def check_report(results: dict) -> str:
    """For students: per problem, which tests fail and why."""
    lines = [f"{results['output'].splitlines()[0]}  (public tests only; the hidden tests "
             "decide the final grade)", ""]
    by_problem: dict[str, list[dict]] = {}
    for test in results["tests"]:
        by_problem.setdefault(test["problem"], []).append(test)
    shown = set()
    for problem, tests in by_problem.items():
        ok = sum(t["status"] == "passed" for t in tests)
        mark = _color("PASS", "32") if ok == len(tests) else _color("FAIL", "31")
        lines.append(f"{mark} {problem}: {ok}/{len(tests)} tests passed")
        for t in tests:
            if t["status"] != "passed":
                lines.append(f"   - {t['name']} [{_KIND_LABEL.get(t['kind'], t['kind'])}]")
                text = t["output"].rstrip()[:3000]
                if text in shown:  # e.g. one import error failing every test
                    lines.append("      (the same as above)")
                elif text:
                    shown.add(text)
                    lines.append(_indent(text))
    lines.append(_summary_tail(results))
    return "\n".join(lines)


def _summary_tail(results: dict) -> str:
    if results.get("status") == "infrastructure":
        return "\n" + results["output"]
    return ""


def grade_summary(results: dict) -> str:
    """For TAs: one block per submission."""
    lines = [f"{results.get('submission', 'submission')}: {results['score']:g} / "
             f"{results['max_score']:g}  ({results['execution_time']:.1f} s)"]
    for pid, p in results["problems"].items():
        kinds = ", ".join(_KIND_LABEL.get(k, k) for k in p["kinds"]) or "ok"
        lines.append(f"  {pid:<22} {p['score']:>5g} / {p['max_score']:<5g} {kinds}")
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
        rows.append([r.get("submission", "?"), f"{r['score']:g}/{r['max_score']:g}"]
                    + [f"{r['problems'][p]['score']:g}/{r['problems'][p]['max_score']:g}"
                       for p in problems]
                    + [", ".join(_KIND_LABEL.get(k, k) for k in kinds) or "-"])
    widths = [max(len(str(row[i])) for row in rows + [headers]) for i in range(len(headers))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*row) for row in rows]
    return "\n".join(out)


def feedback(results: dict) -> str:
    """A student's feedback file: the score, then every test (hidden ones: kind and hint)."""
    lines = [results.get("output", "").splitlines()[0] if results.get("output") else "", ""]
    for t in results.get("tests", []):
        mark = "ok  " if t["status"] == "passed" else "FAIL"
        lines.append(f"{mark} [{t['problem']}] {t['name']}  {t['score']:g}/{t['max_score']:g}")
        if t["status"] != "passed" and t["output"]:
            lines.append(_indent(t["output"].rstrip()[:2000]))
    if not results.get("tests"):
        lines.append(results.get("output", ""))
    return "\n".join(lines) + "\n"


def batch_summary(summary: dict) -> str:
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(summary["statuses"].items()))
    lines = [f"{summary['assignment']}: {summary['graded']}/{summary['students']} students graded"
             f" ({summary.get('graded_now', 0)} now, {summary.get('skipped', 0)} already done)",
             f"status: {statuses or '-'}",
             f"score: mean {summary['mean']:.2f}, median {summary['median']:g} "
             f"of {summary['max_score']:g}",
             "slowest: " + ", ".join(f"{s['student']} {s['seconds']:.1f} s"
                                     for s in summary["slowest"])]
    return "\n".join(lines) + "\n"


def batch_picture(out, spec, rows: list[dict]):
    """summary.png: the graded students' score distribution (integer bins and counts) and each
    problem's full-marks rate. Submission errors and grader problems are not scores: they are
    left out and counted in the title."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from grader.results.pages import figures
    except ImportError:
        return None
    graded = [r for r in rows if r.get("status") == "ok"]
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
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)
