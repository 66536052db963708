"""Timing a student's kernel against the reference, fairly and without trusting the worker.

- The reference runs in a second sandboxed worker holding only the reference files, so the
  reference never enters the student's process, and both run under the same limits with one
  BLAS thread.
- Untimed setup calls (``bench.setup``) run first, in a request of their own, on fresh inputs.
- The timed call's inputs do not exist in the worker before its timed request: the harness draws
  them (fresh random arrays, ``Random``) into shared memory it owns, a new ``memfd`` per call
  (``grader.wire.shared``), and passes it only with the timed request. The clock runs from
  sending that request to its reply, so the transfer (a descriptor), mapping it, the call and
  writing the result into the same shared memory are all timed, identically for both workers;
  nothing a worker does before or between requests can prepare a later call.
- As soon as the reply arrives, the harness copies the result out of its own mapping and
  verifies all of it against the reference's result for the same inputs, every call: a fast
  wrong answer, or a result finished later by a background thread, fails.
- Student and reference calls are interleaved; each repetition lasts about ``min_time`` (wall
  time, setup and checks included), the first being the few calls that size the others; the
  minimum per call over all repetitions is compared. A student whose best of the first two
  calls after the warm-up is beyond three times the limit is too slow at once (one call may be
  held up; two that slow, no noise explains), so a hopeless loop costs seconds, not minutes.
- Sequential decisions (``_decide_early``): after each repetition from the second on, the
  verdict is given at once when it is clear with margin: pass when an upper bound of the ratio
  is under ``limit / MARGIN``, fail when a lower bound is over ``MARGIN * limit``. The bounds
  widen the minimum-based ratio by the spread of the last two repetitions' minima (the
  reference's for the upper bound, the student's for the lower). Only ratios near the limit
  get the full ``reps`` repetitions, and the verdict there is the steady-round rule below.
- Noise: no verdict rests on a disturbed measurement. An early one needs the reference's own
  last two repetitions within ``NOISE`` of each other; a full one a round of repetitions that
  was itself steady (the reference's and the student's per-repetition minima within ``NOISE``).
  A round disturbed by a neighbour is measured again, up to ``ROUNDS`` rounds, and the minimum
  over all of them decides: a burst of load can neither fail an honest student nor pass a slow
  one.

Each verdict records how it was reached (``speed_repetitions``: repetitions of ``min_time``, 0
when the first calls were already hopeless; ``speed_calls``: timed calls of the student's
function, warm-up included), beside both times, the ratio and the limit.
"""
from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass, field

import numpy as np

from grader.wire.bridge import StudentFailure, WorkerTimeout
from grader.wire.shared import SharedMemory

NOISE = 1.25  # per-repetition minima further apart than this: the round was disturbed
ROUNDS = 3  # rounds of ``reps`` repetitions at most before a disturbed verdict stands
MARGIN = 1.5  # an early verdict needs the ratio's bound this far on its side of the limit
EARLY_AFTER = 2  # repetitions before an early verdict may be given (a spread needs two)
SCALE_PAIRS = 3  # calls after the warm-up that size a repetition (and are the first one)
HOPELESS_AFTER = 2  # scale calls whose best decides "hopeless" (stop early): one may be disturbed
RESULT_ROOM_MIN = 64 * 1024  # bytes of shared memory for a timed call's result, at least
MAX_RESULT_ROOM = 256 * 1024 * 1024


class TooSlow(AssertionError):
    """The student's function is correct but slower than the limit allows."""

    kind = "too_slow"


class ReferenceFailed(Exception):
    """The reference worker failed: the grader's problem, never the student's."""

    kind = "infrastructure"


class Random:
    """A fresh random array for every timed call: normal(0, scale) or uniform[low, high)."""

    def __init__(self, shape, scale=1.0, low=None, high=None, dtype="float64"):
        self.shape, self.scale, self.dtype = tuple(int(n) for n in shape), float(scale), dtype
        self.low, self.high = low, high

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        if self.low is not None:
            out = rng.uniform(self.low, self.high, size=self.shape)
        else:
            out = rng.standard_normal(self.shape) * self.scale
        return out.astype(self.dtype)


class RandomInt(Random):
    """Fresh random integers in [0, high), e.g. class labels."""

    def __init__(self, shape, high):
        super().__init__(shape, dtype="int64")
        self.high_int = int(high)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, self.high_int, size=self.shape)


class Step:
    """The result of an untimed setup call; ``step[i]`` is element ``i`` of it."""

    def __init__(self, number: int):
        self.number = number

    def __getitem__(self, index):
        return {"$$step": [self.number, index]}


def _draw(value, rng):
    """Arguments with every ``Random`` replaced by a fresh array (in a fixed order)."""
    if isinstance(value, Random):
        return value.draw(rng)
    if isinstance(value, Step):
        return {"$$step": [value.number, None]}
    if isinstance(value, list):
        return [_draw(v, rng) for v in value]
    if isinstance(value, tuple):
        return tuple(_draw(v, rng) for v in value)
    if isinstance(value, dict):
        return {k: _draw(v, rng) for k, v in value.items()}
    return value


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


@dataclass(frozen=True)
class _TooLarge:
    """A timed call's result did not fit the room made for it; it needs ``nbytes``."""

    nbytes: int


@dataclass
class _Inputs:
    """One timed call's inputs: the setup calls' arguments and the timed call's own."""

    setup: list
    args: list
    kwargs: dict


@dataclass
class _Round:
    """Per-repetition minima of one round of measurements."""

    student: list = field(default_factory=list)
    reference: list = field(default_factory=list)

    def steady(self) -> bool:
        return all(max(t) <= NOISE * min(t) for t in (self.student, self.reference) if t)


class Bench:
    """The ``bench`` fixture. See docs/authoring.md for how tests use it."""

    def __init__(self, student_session, reference_session, *, default_limit: float, compare,
                 record):
        self._student, self._reference = student_session, reference_session
        self.default_limit, self._compare, self._record = default_limit, compare, record
        self._setup: list[tuple[str, list, dict]] = []
        self._room = RESULT_ROOM_MIN

    def setup(self, name: str, *args, **kwargs) -> Step:
        self._setup.append((name, list(args), dict(kwargs)))
        return Step(len(self._setup) - 1)

    # -- one timed call ---------------------------------------------------------------------
    def _inputs(self, args, kwargs, seed) -> _Inputs:
        rng = np.random.default_rng(seed)
        setup = [{"target": [None, name], "args": _draw(a, rng), "kwargs": _draw(k, rng)}
                 for name, a, k in self._setup]
        return _Inputs(setup, _draw(args, rng), _draw(kwargs, rng))

    def _timed(self, session, name, inputs: _Inputs, index, timeout, *, room):
        """Setup (untimed), then the timed call with fresh shared memory: (seconds, result), or
        (seconds, _TooLarge) when the worker says the result did not fit ``room``."""
        if inputs.setup:
            session.request({"op": "bench_setup", "steps": inputs.setup},
                            timeout=max(timeout, 30))
        session.ensure()
        size = SharedMemory.bytes_for(inputs.args, inputs.kwargs) + room + 64
        with SharedMemory(size, name="grader-bench") as memory:
            message = {"op": "bench_call", "target": [None, name],
                       "args": memory.place(inputs.args), "kwargs": memory.place(inputs.kwargs),
                       "index": index, "result": memory.result_room(room)}
            start = time.perf_counter()
            length = session.request(message, timeout=timeout, fds=[memory.fd])
            elapsed = time.perf_counter() - start
            if type(length) is int and length < 0:
                return elapsed, _TooLarge(-length)
            return elapsed, memory.read_frame(message["result"], length)

    def _reference_call(self, name, inputs, index):
        """The reference's time and result; its result size sets the student's room."""
        try:
            for _ in range(3):
                seconds, result = self._timed(self._reference, name, inputs, index, 60,
                                              room=self._room)
                if not isinstance(result, _TooLarge):
                    return seconds, result
                self._room = min(max(2 * result.nbytes, RESULT_ROOM_MIN), MAX_RESULT_ROOM)
        except StudentFailure as e:
            raise ReferenceFailed(f"the reference solution failed while timing "
                                  f"({type(e).__name__})") from None
        raise ReferenceFailed("the reference's result does not fit the room made for it")

    def _student_call(self, name, inputs, index, timeout, what):
        seconds, result = self._timed(self._student, name, inputs, index, timeout,
                                      room=self._room)
        if isinstance(result, _TooLarge):
            raise AssertionError(f"{what} is far larger than the reference's result")
        return seconds, result

    # -- the measurement --------------------------------------------------------------------
    def compare(self, name: str, *args, index=None, limit=None, rtol=1e-6, atol=1e-8,
                reps: int = 5, min_time: float = 0.2, **kwargs) -> float:
        """Time student vs reference on fresh inputs; fail with kind too_slow over ``limit``."""
        limit = float(limit or self.default_limit)
        args, kwargs = list(args), dict(kwargs)
        label = name if index is None else f"{name}(...)[{index}]"
        what = f"{label} on the timing input"
        check = dict(rtol=rtol, atol=atol)
        rounds: list[_Round] = []
        calls = [0]  # timed calls of the student's function so far

        def pair(student_timeout):
            inputs = self._inputs(args, kwargs, secrets.randbits(63))
            t_ref, want = self._reference_call(name, inputs, index)
            calls[0] += 1
            try:
                t_stu, got = self._student_call(name, inputs, index, student_timeout, what)
            except WorkerTimeout:
                self._record(speed_ratio=student_timeout / t_ref,
                             **self._how_decided(rounds, calls[0]))
                raise TooSlow(f"{name} did not finish within {_ms(student_timeout)}; the "
                              f"reference takes {_ms(t_ref)} on the same input (limit "
                              f"{limit:g}x)") from None
            self._compare(got, want, name=what, **check)
            return t_stu, t_ref

        # Warm-up (imports, caches, allocator), then the scale of one call: the best of a few,
        # since one call may be disturbed.
        pair(student_timeout=60)
        started, scale = time.perf_counter(), []
        for _ in range(SCALE_PAIRS):
            scale.append(pair(student_timeout=60))
            t_stu, t_ref = min(s for s, _ in scale), min(r for _, r in scale)
            if len(scale) >= HOPELESS_AFTER and t_stu > 3 * limit * t_ref:
                # hopeless: no noise explains two calls this slow; do not wait longer
                return self._verdict(name, t_stu, t_ref, limit,
                                     self._how_decided(rounds, calls[0]))
        pair_wall = (time.perf_counter() - started) / SCALE_PAIRS
        cap = max(2.0, 20 * limit * t_ref)
        # Each repetition lasts about min_time of wall time (both calls, setup and checks). The
        # scale's calls, interleaved and timed the same way, are the first one.
        number = max(1, min(1000, math.ceil(min_time / max(pair_wall, 1e-6))))
        first = _Round(student=[t_stu], reference=[t_ref])
        while True:
            measured, first = first or _Round(), None
            rounds.append(measured)
            while len(measured.student) < reps:
                times = [pair(student_timeout=cap) for _ in range(number)]
                measured.student.append(min(s for s, _ in times))
                measured.reference.append(min(r for _, r in times))
                if self._decide_early(rounds, limit) is not None:
                    return self._verdict(name, *self._minima(rounds), limit,
                                         self._how_decided(rounds, calls[0]))
            decision = self._decide(rounds, limit)
            if decision is not None:
                return self._verdict(name, *decision, limit, self._how_decided(rounds, calls[0]))

    @staticmethod
    def _how_decided(rounds: list[_Round], calls: int) -> dict:
        """What the verdict took: repetitions of ``min_time``, and timed calls of the student's
        function (warm-up and scale included)."""
        return {"speed_repetitions": sum(len(r.student) for r in rounds), "speed_calls": calls}

    @staticmethod
    def _minima(rounds: list[_Round]) -> tuple[float, float]:
        """(student, reference): the minimum per call over every repetition so far."""
        return (min(min(r.student) for r in rounds if r.student),
                min(min(r.reference) for r in rounds if r.reference))

    @staticmethod
    def _decide_early(rounds: list[_Round], limit: float):
        """``"pass"`` or ``"fail"`` when the verdict is clear with margin after the repetitions
        so far, else None (measure on). The ratio of the minima is widened by the spread of the
        last ``EARLY_AFTER`` repetitions: the reference's for the upper bound (its minimum may
        still sit that far above its true time), the student's for the lower. No early verdict
        while the reference's own last repetitions disagree by more than ``NOISE``."""
        student = [t for r in rounds for t in r.student]
        reference = [t for r in rounds for t in r.reference]
        if len(student) < EARLY_AFTER or len(reference) < EARLY_AFTER:
            return None
        last_s, last_r = student[-EARLY_AFTER:], reference[-EARLY_AFTER:]
        spread_s, spread_r = max(last_s) / min(last_s), max(last_r) / min(last_r)
        if spread_r > NOISE:  # the measurement was disturbed: repeat it rather than decide
            return None
        ratio = min(student) / min(reference)
        if ratio * spread_r < limit / MARGIN:
            return "pass"
        if ratio / spread_s > MARGIN * limit:
            return "fail"
        return None

    @staticmethod
    def _decide(rounds: list[_Round], limit: float):
        """(student, reference) seconds to judge by, or None to measure another round: a
        verdict waits for a steady round (or ``ROUNDS`` disturbed ones), and rests on the
        minima over every round so far."""
        if not rounds[-1].steady() and len(rounds) < ROUNDS:
            return None
        return Bench._minima(rounds)

    def _verdict(self, name, t_stu, t_ref, limit, how: dict) -> float:
        ratio = t_stu / t_ref
        self._record(speed_ratio=ratio, student_seconds=t_stu, reference_seconds=t_ref,
                     speed_limit=limit, **how)
        if ratio > limit:
            raise TooSlow(f"{name} takes {_ms(t_stu)}; the reference takes {_ms(t_ref)} on the "
                          f"same inputs: {ratio:.1f}x slower, the limit is {limit:g}x "
                          "(vectorize: avoid Python loops over samples or pixels)")
        return ratio
