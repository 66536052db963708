"""``grader check``'s timing: how fast is the student's function where the hidden tests time
it, without the reference (which never ships)?

For each ``timing:`` entry of the public assignment.yaml (see ``course.config.Timing``) the
student's function is called through the bridge on random inputs of the hidden test's shape,
timed from outside, and compared with a *yardstick* timed here, in trusted code: one plain
square matmul with the same number of multiply-adds, which a good convolution runs within a
small factor of. The entry's ``good`` is that factor for a good implementation (the
reference, measured the same way: ``benchmarks/bench_yardstick.py``), so

    estimate = (student time / yardstick time) / good     ~ student time / reference time

which is what the hidden test compares with its ``limit``. An estimate, said as one: "about
40x a good implementation; the hidden limit is 3x". The call, the moving of its values and
the yardstick are timed in turns and the minimum of each is kept, so that a busy moment of the
machine slows them alike.

A call through the bridge also moves its arguments and its result through the pipes; the
hidden tests do not time that, so neither does this: the cost of moving exactly those values
the same way (stored in the worker as an attribute of the student's function and read back,
nothing called) is taken off the call's time. Where moving the values costs far more than
computing them (an MLP whose cache holds every activation), no estimate would be honest and
none is given: a ``timing:`` entry suits calls whose arithmetic outweighs their data. A
submission can only fool its own estimate: ``grader check`` decides no grade.
"""
from __future__ import annotations

import os
import time

import numpy as np

MIN_ROUNDS, MAX_ROUNDS, BUDGET = 5, 300, 1.5  # timed rounds per entry; seconds per entry
TRANSFER_DOMINATES = 3.0  # no estimate when moving the data costs this many times computing
PROBE = "_grader_transfer_probe"  # attribute of the student's function used to move values


def _inputs(value, rng, setup_result=None):
    """Turn an entry's argument tree into values (random arrays, the setup's result)."""
    if isinstance(value, list):
        return [_inputs(v, rng, setup_result) for v in value]
    if isinstance(value, dict) and "random" in value:
        return rng.standard_normal(tuple(value["random"])) * float(value.get("scale", 1.0))
    if isinstance(value, dict) and "setup" in value:
        index = value["setup"]
        return setup_result if index is None else setup_result[index]
    return value


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


class Yardstick:
    """One square float64 matmul with ``multiply_adds`` multiply-adds (the side rounded, the
    time scaled back), timed in blocks of several so that one block is measurable."""

    def __init__(self, multiply_adds: float):
        side = max(8, round(multiply_adds ** (1 / 3)))
        rng = np.random.default_rng(0)
        self.a, self.b = rng.standard_normal((side, side)), rng.standard_normal((side, side))
        self.scale = side ** 3 / multiply_adds
        once = min(_timed(self._one) for _ in range(3))
        self.loops = max(1, int(0.005 / max(once, 1e-7)))

    def _one(self):
        self.a @ self.b

    def seconds(self) -> float:
        """One timed block, per matmul of exactly ``multiply_adds``."""
        def block():
            for _ in range(self.loops):
                self._one()
        return _timed(block) / self.loops / self.scale


def interleaved(measurements: dict, *, budget: float = BUDGET) -> dict:
    """The minimum of each measurement (a callable returning seconds), taken in turns, at
    least MIN_ROUNDS rounds, within about ``budget`` seconds."""
    best = {name: float("inf") for name in measurements}
    start, rounds = time.perf_counter(), 0
    while rounds < MIN_ROUNDS or (rounds < MAX_ROUNDS and time.perf_counter() - start < budget):
        for name, measure in measurements.items():
            best[name] = min(best[name], measure())
        rounds += 1
    return best


def time_entry(session, student, entry, seed: int = 0) -> dict:
    """Measure one ``Timing`` entry against the student's functions (the ``student`` proxy
    of ``session``). Returns the figures, with ``estimate`` or ``error``."""
    from grader.wire.bridge import StudentFailure
    rng = np.random.default_rng(seed)
    result = {"problem": entry.problem, "call": entry.describe(), "limit": entry.limit}
    target = [None, entry.function]
    try:
        setup_result = None
        if entry.setup:
            setup_result = getattr(student, entry.setup["function"])(
                *_inputs(entry.setup["args"], rng), **_inputs(entry.setup["kwargs"], rng))
        args = _inputs(entry.args, rng, setup_result)
        kwargs = _inputs(entry.kwargs, rng, setup_result)
        function = getattr(student, entry.function)
        returned = function(*args, **kwargs)  # a warm-up, and the result whose moving is timed
        session.setattr(target, PROBE, returned)
        yardstick = Yardstick(entry.multiply_adds)
        best = interleaved({
            "call": lambda: _timed(lambda: function(*args, **kwargs)),
            "in": lambda: _timed(lambda: session.setattr(target, PROBE + "_in",
                                                         [list(args), kwargs])),
            "out": lambda: _timed(lambda: session.getattr(target, PROBE)),
            "yardstick": yardstick.seconds,
        })
        session.setattr(target, PROBE, None)
        session.setattr(target, PROBE + "_in", None)
    except StudentFailure as e:
        result["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
        return result
    moving = best["in"] + best["out"]
    computing = max(best["call"] - moving, 0.02 * best["call"])
    result.update(seconds=computing, transfer_seconds=moving,
                  yardstick_seconds=best["yardstick"])
    if moving > TRANSFER_DOMINATES * computing:
        result["error"] = ("not measurable here: moving its inputs and results costs far more "
                           "than computing them")
        return result
    result["estimate"] = computing / best["yardstick"] / entry.good
    result["busy"] = _busy()
    return result


def _busy() -> bool:
    """More runnable processes than cores: calls into the worker wait for a core, and read
    slow where the yardstick (timed in this process) does not."""
    try:
        return os.getloadavg()[0] > (os.cpu_count() or 1)
    except OSError:
        return False


def measure(spec, folder, *, provided_from=None) -> list[dict]:
    """Every timing entry of ``spec`` against the student's files in ``folder``."""
    from grader.harness.student_session import with_student
    if not spec.timing:
        return []

    def work(session, student):
        session.call_timeout = max(session.call_timeout, 30.0)
        return [time_entry(session, student, entry, seed=spec.seed + i)
                for i, entry in enumerate(spec.timing)]

    return with_student(spec, folder, work, provided_from=provided_from,
                        timeout=60.0 + 15.0 * len(spec.timing))
