"""Issue 12: ``grade`` tells its caller of each problem while the harness still runs."""
import os
import time

from grader.api import grade
from grader.course.config import REPO_ROOT
from grader.sandbox.local import _children_of

EXAMPLES = REPO_ROOT / "examples" / "submissions" / "hw1_graph"


def test_problems_are_reported_while_the_harness_still_runs():
    """infinite_loop: addnode's tests time out one after another, seconds during which the
    problems already finished have been reported; the reports match the final results."""
    heard = []

    def progress(finished):
        heard.append((finished, time.monotonic(), bool(_children_of(os.getpid()))))

    results = grade(EXAMPLES / "infinite_loop", assignment="hw1_graph", progress=progress)
    done = time.monotonic()
    assert sorted(f["problem"] for f, _, _ in heard) == sorted(results["problems"])
    for finished, _, _ in heard:
        problem = results["problems"][finished["problem"]]
        assert (finished["score"], finished["max_score"]) == (problem["score"],
                                                              problem["max_score"])
    first, at, harness_running = heard[0]
    assert harness_running and done - at > 1.0, heard
