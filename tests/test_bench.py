"""The bench fixture: too slow is caught with both times and the ratio; cheats do not help."""
from textwrap import dedent

import pytest

from grader.api import grade
from tests.conftest import write_files

REFERENCE = """
    import numpy as np

    def affine(x, w, b):
        return x @ w + b, (x, w)

    def affine_backward(d_out, cache):
        x, w = cache
        return d_out @ w.T, x.T @ d_out, d_out.sum(axis=0)
"""

SUBMISSIONS = {
    "vectorized": """
        import numpy as np

        def affine(x, w, b):
            out = np.dot(x, w) + b
            return out, (x, w)

        def affine_backward(d_out, cache):
            x, w = cache
            return np.dot(d_out, w.T), np.dot(x.T, d_out), np.sum(d_out, axis=0)
    """,
    "per_sample_loop": """
        import numpy as np

        def affine(x, w, b):
            out = np.zeros((x.shape[0], w.shape[1]))
            for n in range(x.shape[0]):
                for j in range(w.shape[1]):
                    out[n, j] = float(np.sum(x[n] * w[:, j])) + b[j]
            return out, (x, w)

        def affine_backward(d_out, cache):
            x, w = cache
            return d_out @ w.T, x.T @ d_out, d_out.sum(axis=0)
    """,
    # Cheat 1: fake the clock in its own process. The harness times from outside.
    "fakes_the_clock": """
        import time, numpy as np
        time.perf_counter = lambda: 0.0
        time.monotonic = lambda: 0.0
        def affine(x, w, b):
            out = np.zeros((x.shape[0], w.shape[1]))
            for n in range(x.shape[0]):
                for j in range(w.shape[1]):
                    out[n, j] = float(np.sum(x[n] * w[:, j])) + b[j]
            return out, (x, w)
        def affine_backward(d_out, cache):
            x, w = cache
            return d_out @ w.T, x.T @ d_out, d_out.sum(axis=0)
    """,
    # Cheat 2: return at once and fill the result from a background thread.
    "fills_later": """
        import threading, numpy as np
        def affine(x, w, b):
            out = np.zeros((x.shape[0], w.shape[1]))
            def work():
                out[...] = x @ w + b
            threading.Timer(0.05, work).start()
            return out, (x, w)
        def affine_backward(d_out, cache):
            x, w = cache
            return d_out @ w.T, x.T @ d_out, d_out.sum(axis=0)
    """,
    # Cheat 3: fast and wrong.
    "fast_but_wrong": """
        import numpy as np
        def affine(x, w, b):
            return x @ w, (x, w)
        def affine_backward(d_out, cache):
            x, w = cache
            return d_out @ w.T, x.T @ d_out, d_out.sum(axis=0)
    """,
}


@pytest.fixture(scope="module")
def timing_solutions(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench") / "solutions"
    write_files(root / "timed", {
        "assignment.yaml": """
            id: timed
            title: Timed
            files: [affine.py]
            limits: {call_timeout: 5, max_speed_ratio: 3}
            problems:
              - {id: speed, title: Speed, points: 2}
        """,
        "affine.py": REFERENCE,
        "tests/public/test_public.py": """
            import pytest
            from grader.testing import assert_close
            import numpy as np

            @pytest.mark.problem("speed")
            def test_shape(student):
                out, _ = student.affine(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4))
                assert_close(out, np.full((2, 4), 3.0))
        """,
        "tests/hidden/test_speed.py": """
            import pytest
            from grader.testing import Random

            @pytest.mark.problem("speed")
            @pytest.mark.timeout(30)
            def test_forward_speed(bench):
                \"\"\"affine must be vectorized\"\"\"
                bench.compare("affine", Random((200, 64)), Random((64, 32)), Random((32,)),
                              index=0)
        """,
    })
    return root


def graded(timing_solutions, tmp_path, name):
    sub = write_files(tmp_path / name, {"affine.py": SUBMISSIONS[name]})
    results = grade(sub, assignment="timed", solutions=timing_solutions)
    return next(t for t in results["tests"] if t["name"] == "test_forward_speed"), results


def test_vectorized_passes_and_reports_the_ratio(timing_solutions, tmp_path):
    test, _ = graded(timing_solutions, tmp_path, "vectorized")
    assert test["kind"] == "passed", test["output"]


@pytest.mark.parametrize("name", ["per_sample_loop", "fakes_the_clock"])
def test_loops_are_too_slow_with_both_times_and_the_ratio(timing_solutions, tmp_path, name):
    test, results = graded(timing_solutions, tmp_path, name)
    assert test["kind"] == "too_slow" and test["score"] == 0
    assert results["score"] == 1  # the public test still passes


@pytest.fixture
def sessions(tmp_path):
    """A student and a reference worker over the same two functions: ``double`` (the same
    code in both) and ``affine`` (a Python loop in the student's, vectorized in the
    reference's), and a Bench over them."""
    from grader.harness import testing
    from grader.harness.bench import Bench
    from grader.sandbox.local import LocalSandbox
    from grader.wire.bridge import WorkerSession

    opened = []
    for name, source, hiccup in (("student", SUBMISSIONS["per_sample_loop"], STUDENT_HICCUP),
                                 ("reference", REFERENCE, REFERENCE_HICCUP)):
        work = write_files(tmp_path / name, {"affine.py": dedent(source) + dedent(DOUBLE)
                                             + dedent(hiccup)})
        sandbox = LocalSandbox(work)
        opened.append((sandbox, WorkerSession(sandbox, ["affine"], call_timeout=10)))
    recorded = {}
    yield Bench(opened[0][1], opened[1][1], default_limit=3, compare=testing.assert_close_tree,
                record=recorded.update), recorded
    for sandbox, session in opened:
        session.close()
        sandbox.close()


DOUBLE = """
    def double(x, *, times=2):
        return times * x
"""
# The same code on both sides, except that the student's second call (the first scale call
# after the warm-up) is held up once, as a busy machine may hold up any one call.
STUDENT_HICCUP = """
    _calls = [0]

    def hiccup(x):
        _calls[0] += 1
        if _calls[0] == 2:
            import time
            time.sleep(0.3)
        return 2 * x
"""
REFERENCE_HICCUP = """
    def hiccup(x):
        return 2 * x
"""


def test_too_slow_message_gives_times_and_ratio(sessions):
    from grader.harness.bench import Random, TooSlow

    bench, recorded = sessions
    with pytest.raises(TooSlow, match=r"takes \d+(\.\d+)? ms; the reference takes \d+(\.\d+)? "
                                      r"(ms|us) .*\d+\.\dx slower, the limit is 3x"):
        bench.compare("affine", Random((200, 64)), Random((64, 32)), Random((32,)), index=0)
    assert recorded["speed_ratio"] > 3 and recorded["speed_limit"] == 3


def test_same_code_passes_with_keyword_arguments_and_a_large_result(sessions):
    """The same function in both workers is within the limit; its result (8 MB, far more than
    the first room made for it) is verified whole every call."""
    from grader.harness.bench import Random

    bench, recorded = sessions
    ratio = bench.compare("double", Random((1000, 1000)), times=3, reps=2, min_time=0.05)
    assert ratio <= 3 and recorded["speed_ratio"] == ratio


@pytest.mark.parametrize("name", ["fills_later", "fast_but_wrong"])
def test_fast_wrong_results_fail_as_wrong_answers(timing_solutions, tmp_path, name):
    test, _ = graded(timing_solutions, tmp_path, name)
    assert test["kind"] == "wrong_answer" and test["score"] == 0


def test_a_disturbed_round_is_measured_again_before_any_verdict():
    """The noise rule on its own: a verdict waits for a round whose per-repetition minima
    agree within NOISE (or ROUNDS rounds), and uses the minima over every round."""
    from grader.harness.bench import NOISE, ROUNDS, Bench, _Round

    steady = _Round(student=[1.0, 1.1, 1.05], reference=[1.0, 1.02, 1.1])
    disturbed = _Round(student=[9.0, 1.0, 1.2], reference=[1.0, 3.0, 1.1])
    assert max(disturbed.reference) > NOISE * min(disturbed.reference)
    assert Bench._decide([steady], limit=3) == (1.0, 1.0)
    assert Bench._decide([disturbed], limit=3) is None
    assert Bench._decide([disturbed, steady], limit=3) == (1.0, 1.0)
    rounds = [disturbed] * ROUNDS
    assert Bench._decide(rounds, limit=3) == (1.0, 1.0)  # out of rounds: decide anyway
    best = _Round(student=[0.5, 0.55], reference=[0.9, 0.95])
    assert Bench._decide([disturbed, best], limit=3) == (0.5, 0.9)


def test_a_clear_verdict_is_given_after_two_repetitions_and_only_then():
    """Sequential decisions on their own: pass when the ratio's upper bound (widened by the
    reference's spread) is under limit / MARGIN, fail when its lower bound (widened by the
    student's spread) is over MARGIN x limit; near the limit, or with one repetition, none."""
    from grader.harness.bench import EARLY_AFTER, MARGIN, Bench, _Round

    decide = Bench._decide_early
    assert EARLY_AFTER == 2 and MARGIN == 1.5
    assert decide([_Round(student=[1.0], reference=[1.0])], limit=3) is None  # one repetition
    assert decide([_Round(student=[1.0, 1.05], reference=[1.0, 1.02])], limit=3) == "pass"
    assert decide([_Round(student=[5.0, 5.1], reference=[1.0, 1.01])], limit=3) == "fail"
    # Near the limit: the full repetitions decide.
    assert decide([_Round(student=[2.5, 2.5], reference=[1.0, 1.0])], limit=3) is None
    assert decide([_Round(student=[4.0, 4.0], reference=[1.0, 1.0])], limit=3) is None
    # The reference's spread widens the upper bound: 1.8 x 1.2 is over 3 / 1.5.
    assert decide([_Round(student=[1.8, 1.8], reference=[1.0, 1.2])], limit=3) is None
    # The student's spread widens the lower bound: 5 / 1.2 is under 1.5 x 3.
    assert decide([_Round(student=[5.0, 6.0], reference=[1.0, 1.0])], limit=3) is None
    # The minima over every repetition, the spread of the last two (across rounds too).
    rounds = [_Round(student=[9.0, 8.0, 1.0, 1.0, 1.0], reference=[1.0, 1.0, 1.0, 1.0, 1.0]),
              _Round(student=[1.01], reference=[1.0])]
    assert decide(rounds, limit=3) == "pass"


def test_a_disturbed_reference_is_measured_again_rather_than_decided():
    """However far the ratio is from the limit, no early verdict while the reference's own
    last repetitions disagree by more than NOISE."""
    from grader.harness.bench import NOISE, Bench, _Round

    disturbed = [1.0, NOISE * 1.05]
    assert Bench._decide_early([_Round(student=[0.1, 0.1], reference=disturbed)], 3) is None
    assert Bench._decide_early([_Round(student=[90., 90.], reference=disturbed)], 3) is None
    once_more = _Round(student=[0.1, 0.1, 0.1], reference=disturbed + [1.0])
    assert Bench._decide_early([once_more], 3) is None  # the last two still disagree
    steady_again = _Round(student=[0.1] * 4, reference=disturbed + [1.0, 1.0])
    assert Bench._decide_early([steady_again], 3) == "pass"


def test_the_verdict_records_how_many_repetitions_it_took(sessions):
    """The same code in both workers is decided long before the full repetitions (here 40),
    and the result says how many repetitions and timed calls that took."""
    from grader.harness.bench import Random

    bench, recorded = sessions
    bench.compare("double", Random((200, 200)), reps=40, min_time=0.02)
    assert 2 <= recorded["speed_repetitions"] < 40
    # The warm-up, then the first repetition's three calls (they also size the others), then
    # at least one call a repetition.
    assert recorded["speed_calls"] >= 3 + recorded["speed_repetitions"]


def test_a_hopeless_or_clearly_slow_loop_stops_early(sessions):
    """A Python loop far over the limit never waits for the full repetitions (here 40)."""
    from grader.harness.bench import Random, TooSlow

    bench, recorded = sessions
    with pytest.raises(TooSlow):
        bench.compare("affine", Random((200, 64)), Random((64, 32)), Random((32,)), index=0,
                      reps=40, min_time=0.02)
    assert recorded["speed_repetitions"] < 40 and recorded["speed_ratio"] > 4.5


def test_a_hopeless_loop_is_decided_after_the_warm_up_and_two_calls(sessions):
    """Over 3x the limit on the best of two calls after the warm-up: too slow at once."""
    from grader.harness.bench import HOPELESS_AFTER, Random, TooSlow

    bench, recorded = sessions
    with pytest.raises(TooSlow):
        bench.compare("affine", Random((200, 64)), Random((64, 32)), Random((32,)), index=0)
    assert HOPELESS_AFTER == 2
    assert recorded["speed_calls"] == 1 + HOPELESS_AFTER
    assert recorded["speed_repetitions"] == 0 and recorded["speed_ratio"] > 9


def test_one_held_up_call_is_not_taken_for_a_hopeless_student(sessions):
    """A single call slowed a hundredfold (the machine's doing) does not decide: the next one
    does, and the same code as the reference's passes."""
    from grader.harness.bench import Random

    bench, recorded = sessions
    ratio = bench.compare("hiccup", Random((100, 100)), reps=3, min_time=0.02)
    assert ratio < 3 and recorded["speed_calls"] > 1 + 2
