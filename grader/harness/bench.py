"""Timing a student's kernel against the reference, fairly and without trusting the worker.

- The reference runs in a second sandboxed worker holding only the reference files, so the
  reference never enters the student's process, and both run under the same limits with one
  BLAS thread.
- Inputs are generated inside each worker from a seed (``Random``), fresh for every call and
  identical in both workers; untimed setup calls (``bench.setup``) run before each timed call.
  Seeds are drawn at random per run, so results cannot be cached or precomputed.
- Each timed call is its own request, timed by the harness from outside (the student's process
  could fake any clock of its own). Its result comes back and is compared with the reference's
  result for the same seed, every time: a fast wrong answer or a result finished later by a
  background thread fails.
- Student and reference repetitions are interleaved; each repetition repeats the call until it
  lasts about ``min_time``; the minimum per repetition is compared. A student call far beyond the
  limit stops the measurement early, so a hopeless loop costs seconds, not minutes.
"""
from __future__ import annotations

import math
import secrets
import time

from grader.bridge import WorkerTimeout


class TooSlow(AssertionError):
    """The student's function is correct but slower than the limit allows."""

    kind = "too_slow"


class Random:
    """A fresh random array for every timed call: normal(0, scale) or uniform[low, high)."""

    def __init__(self, shape, scale=1.0, low=None, high=None, dtype="float64"):
        self.spec = {"shape": [int(n) for n in shape], "scale": float(scale), "dtype": dtype,
                     "low": low, "high": high, "high_int": None}


class RandomInt(Random):
    """Fresh random integers in [0, high), e.g. class labels."""

    def __init__(self, shape, high):
        super().__init__(shape, dtype="int64")
        self.spec["high_int"] = int(high)


class Step:
    """The result of an untimed setup call; ``step[i]`` is element ``i`` of it."""

    def __init__(self, number: int):
        self.number = number

    def __getitem__(self, index):
        return {"$$step": [self.number, index]}


def _spec(value):
    """Arguments with placeholders, as plain data the worker can materialize."""
    if isinstance(value, Random):
        return {"$$random": value.spec}
    if isinstance(value, Step):
        return {"$$step": [value.number, None]}
    if isinstance(value, list):
        return [_spec(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_spec(v) for v in value)
    if isinstance(value, dict):
        return {k: _spec(v) for k, v in value.items()}
    return value


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


class Bench:
    """The ``bench`` fixture. See docs/authoring.md for how tests use it."""

    def __init__(self, student_session, reference_session, *, default_limit: float, compare,
                 record):
        self._student, self._reference = student_session, reference_session
        self.default_limit, self._compare, self._record = default_limit, compare, record
        self._setup: list[dict] = []
        self._slot = 0

    def setup(self, name: str, *args, **kwargs) -> Step:
        self._setup.append({"target": [None, name], "args": _spec(list(args)),
                            "kwargs": _spec(kwargs)})
        return Step(len(self._setup) - 1)

    def _timed(self, session, name, args, kwargs, index, seed, timeout):
        self._slot += 1
        session.request({"op": "prepare", "slot": self._slot, "seed": seed, "setup": self._setup,
                         "call": {"target": [None, name], "args": args, "kwargs": kwargs}},
                        timeout=max(timeout, 30))
        start = time.perf_counter()
        result = session.request({"op": "run", "slot": self._slot, "index": index},
                                 timeout=timeout)
        return time.perf_counter() - start, result

    def compare(self, name: str, *args, index=None, limit=None, rtol=1e-6, atol=1e-8,
                reps: int = 5, min_time: float = 0.2, **kwargs) -> float:
        """Time student vs reference on fresh inputs; fail with kind too_slow over ``limit``."""
        limit = float(limit or self.default_limit)
        args, kwargs = _spec(list(args)), _spec(kwargs)
        label = name if index is None else f"{name}(...)[{index}]"

        def pair(seed, student_timeout):
            t_ref, expected = self._timed(self._reference, name, args, kwargs, index, seed, 60)
            try:
                t_stu, got = self._timed(self._student, name, args, kwargs, index, seed,
                                         student_timeout)
            except WorkerTimeout:
                self._record(speed_ratio=student_timeout / t_ref)
                raise TooSlow(f"{name} did not finish within {_ms(student_timeout)}; the "
                              f"reference takes {_ms(t_ref)} on the same input (limit "
                              f"{limit:g}x)") from None
            self._compare(got, expected, name=f"{label} on the timing input", rtol=rtol,
                          atol=atol)
            return t_stu, t_ref

        # Warm-up (imports, caches, allocator), and the scale of one call.
        pair([secrets.randbits(63), 0], student_timeout=60)
        t_stu, t_ref = pair([secrets.randbits(63), 0], student_timeout=60)
        cap = max(2.0, 20 * limit * t_ref)
        if t_stu > 3 * limit * t_ref:  # hopeless: no noise explains this; do not wait longer
            return self._verdict(name, t_stu, t_ref, limit, reps=1)
        number = max(1, min(1000, math.ceil(min_time / max(t_ref, 1e-6))))
        best_stu = best_ref = math.inf
        for _ in range(reps):
            seed = secrets.randbits(63)
            total_stu = total_ref = 0.0
            for j in range(number):
                s, r = pair([seed, j], student_timeout=cap)
                total_stu, total_ref = total_stu + s, total_ref + r
            best_stu = min(best_stu, total_stu / number)
            best_ref = min(best_ref, total_ref / number)
        return self._verdict(name, best_stu, best_ref, limit, reps=reps)

    def _verdict(self, name, t_stu, t_ref, limit, *, reps) -> float:
        ratio = t_stu / t_ref
        self._record(speed_ratio=ratio, student_seconds=t_stu, reference_seconds=t_ref)
        if ratio > limit:
            raise TooSlow(f"{name} takes {_ms(t_stu)}; the reference takes {_ms(t_ref)} on the "
                          f"same inputs: {ratio:.1f}x slower, the limit is {limit:g}x "
                          "(vectorize: avoid Python loops over samples or pixels)")
        return ratio
