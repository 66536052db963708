"""The dashboard's plots, drawn with matplotlib and embedded in the page as SVG data URIs.

Colours are the Okabe-Ito palette (distinguishable with every common colour-vision
deficiency); where colour carries a meaning, a marker shape or a label carries it too. Every
count axis has integer ticks. No student text is ever drawn into a plot (names stay in the
page's escaped HTML), so an SVG holds only our own labels.
"""
from __future__ import annotations

import base64
import io
import math

OKABE_ITO = {"blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermillion": "#D55E00",
             "sky": "#56B4E9", "pink": "#CC79A7", "yellow": "#F0E442", "black": "#000000",
             "grey": "#999999"}
KIND_COLORS = {"wrong_answer": OKABE_ITO["vermillion"], "error": OKABE_ITO["orange"],
               "timeout": OKABE_ITO["sky"], "crash": OKABE_ITO["pink"],
               "memory": OKABE_ITO["yellow"], "too_slow": OKABE_ITO["blue"],
               "infrastructure": OKABE_ITO["grey"]}
KIND_LABELS = {"passed": "passed", "wrong_answer": "wrong answer", "error": "error",
               "timeout": "timeout", "crash": "crash", "memory": "memory", "too_slow": "too slow",
               "infrastructure": "grader problem", "submission_error": "submission error",
               "needs_gpu": "pending a GPU run"}

_RC = {"svg.fonttype": "none", "svg.hashsalt": "nn-grader", "font.size": 10,
       "axes.spines.top": False, "axes.spines.right": False}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def available() -> bool:
    try:
        _pyplot()
    except ImportError:
        return False
    return True


def data_uri(fig) -> str:
    """The figure as an SVG data URI (deterministic: no date, fixed ids), then closed."""
    plt = _pyplot()
    buf = io.BytesIO()
    with plt.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _integer_ticks(axis) -> None:
    from matplotlib.ticker import MaxNLocator
    axis.set_major_locator(MaxNLocator(integer=True))


def _legend_above(ax, columns: int) -> None:
    """The legend in a row above the axes, where it never hides a bar or a point."""
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.01), ncols=columns, fontsize=8,
              frameon=False, borderaxespad=0)


def score_bins(max_score: float) -> list[float]:
    """Bin edges on whole points, at most about 25 bins, the last one closed at the maximum."""
    top = max(1, math.ceil(max_score))
    width = max(1, math.ceil((top + 1) / 25))
    edges = list(range(0, top + 1, width))
    return [*edges, edges[-1] + width]  # the last bin holds the maximum


def score_histogram(ax, totals: list[float], max_score: float, *, title: str) -> None:
    """The distribution of the graded students' totals: integer bins, integer counts."""
    ax.hist(totals, bins=score_bins(max_score), color=OKABE_ITO["blue"], edgecolor="white")
    ax.set(title=title, xlabel=f"score (of {max_score:g})", ylabel="students",
           xlim=(0, score_bins(max_score)[-1]))
    _integer_ticks(ax.xaxis)
    _integer_ticks(ax.yaxis)


def score_figure(totals, max_score, *, title):
    plt = _pyplot()
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.4, 3.4))
        score_histogram(ax, totals, max_score, title=title)
        fig.tight_layout()
    return fig


def rates_figure(problems: list[dict]):
    """Per problem: the share of students with full marks and the share of tests passed."""
    plt = _pyplot()
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.4, 0.55 * len(problems) + 1.3))
        y = range(len(problems))
        ax.barh([i - 0.2 for i in y], [p["full_marks_pct"] for p in problems], height=0.38,
                color=OKABE_ITO["green"], label="students with full marks")
        ax.barh([i + 0.2 for i in y], [p["tests_passed_pct"] for p in problems], height=0.38,
                color=OKABE_ITO["sky"], hatch="//", edgecolor="white", label="tests passed")
        ax.set_yticks(list(y), [p["id"] for p in problems])
        ax.invert_yaxis()
        ax.set(xlim=(0, 100), xlabel="% of graded students / of their tests")
        _legend_above(ax, 2)
        fig.tight_layout()
    return fig


def kinds_figure(problems: list[dict], kinds: list[str]):
    """Per problem, the failing tests of the class (student x test) stacked by failure kind."""
    plt = _pyplot()
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.4, 0.55 * len(problems) + 1.5))
        left = [0] * len(problems)
        for kind in kinds:
            counts = [p["failures"].get(kind, 0) for p in problems]
            ax.barh([p["id"] for p in problems], counts, left=left, color=KIND_COLORS.get(kind),
                    edgecolor="white", label=KIND_LABELS.get(kind, kind))
            left = [a + b for a, b in zip(left, counts)]
        ax.invert_yaxis()
        ax.set(xlabel="failing tests, all graded students together")
        _integer_ticks(ax.xaxis)
        if kinds:
            _legend_above(ax, min(4, len(kinds)))
        fig.tight_layout()
    return fig


def speed_figure(timing: list[dict]):
    """Per timing test, each student's ratio (log scale) against the test's limit: circles
    within the limit, crosses over it."""
    plt = _pyplot()
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.4, 0.6 * len(timing) + 1.3))
        for row, test in enumerate(timing):
            ratios = test["ratios"]
            offsets = [row + 0.25 * (((i * 7) % 9) / 8 - 0.5) for i in range(len(ratios))]
            ok = [(r, o) for (r, limit), o in zip(ratios, offsets) if limit is None or r <= limit]
            bad = [(r, o) for (r, limit), o in zip(ratios, offsets)
                   if limit is not None and r > limit]
            if ok:
                ax.scatter(*zip(*ok), marker="o", color=OKABE_ITO["blue"], s=22,
                           label="within the limit" if row == 0 else None)
            if bad:
                ax.scatter(*zip(*bad), marker="x", color=OKABE_ITO["vermillion"], s=30,
                           label="over the limit" if row == 0 else None)
            if test["limit"] is not None:
                ax.plot([test["limit"]] * 2, [row - 0.4, row + 0.4], color=OKABE_ITO["black"],
                        linestyle="--", linewidth=1.2, label="limit" if row == 0 else None)
        ax.set_xscale("log")
        ax.set_yticks(range(len(timing)), [t["name"] for t in timing])
        ax.set_ylim(len(timing) - 0.5, -0.5)
        ax.set(xlabel="student time / reference time (log scale)")
        _legend_above(ax, 3)
        fig.tight_layout()
    return fig
