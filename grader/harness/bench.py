"""Timing a student's kernel against the reference, fairly and without trusting the worker.

- The reference runs in a second sandboxed worker holding only the reference files, so the
  reference never enters the student's process, and both run under the same limits with one
  BLAS thread.
- Inputs are generated inside each worker from a seed (``Random``), fresh for every call and
  identical in both workers; untimed setup calls (``bench.setup``) run before each timed call.
  Seeds are drawn at random per run, so results cannot be cached or precomputed.
- Each timed call is its own request, timed by the harness from outside (the student's process
  could fake any clock of its own). Its result stays in the worker, so the transfer is not
  timed; right after the reply the harness samples it at random positions and compares them
  with the reference's result for the same seed, every call, and the whole result once per
  repetition: a fast wrong answer, or a result finished later by a background thread, fails.
- Student and reference calls are interleaved; each repetition makes about ``min_time`` worth
  of calls; the minimum per call over all repetitions is compared. A student call far beyond
  the limit stops the measurement early, so a hopeless loop costs seconds, not minutes.
"""
from __future__ import annotations

import math
import secrets
import time

from grader.wire.bridge import WorkerTimeout


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

    def _timed(self, session, name, args, kwargs, index, seed, positions, timeout, *, fetch):
        """One call: prepare (untimed), run (timed from here), then at once a sample of the
        result at random positions; the whole result too when ``fetch``."""
        self._slot += 1
        slot = self._slot
        session.request({"op": "prepare", "slot": slot, "seed": seed, "setup": self._setup,
                         "call": {"target": [None, name], "args": args, "kwargs": kwargs}},
                        timeout=max(timeout, 30))
        start = time.perf_counter()
        session.request({"op": "run", "slot": slot, "index": index}, timeout=timeout)
        elapsed = time.perf_counter() - start
        # Sampled immediately: a result still being filled in by a background thread after
        # the call returned would not match the reference here.
        sample = session.request({"op": "sample", "slot": slot, "positions": positions})
        full = session.request({"op": "fetch", "slot": slot}) if fetch else None
        if not fetch:
            session.request({"op": "release_result", "slot": slot})
        return elapsed, sample, full

    def compare(self, name: str, *args, index=None, limit=None, rtol=1e-6, atol=1e-8,
                reps: int = 5, min_time: float = 0.2, **kwargs) -> float:
        """Time student vs reference on fresh inputs; fail with kind too_slow over ``limit``."""
        limit = float(limit or self.default_limit)
        args, kwargs = _spec(list(args)), _spec(kwargs)
        label = name if index is None else f"{name}(...)[{index}]"
        check = dict(rtol=rtol, atol=atol)

        def pair(seed, student_timeout, fetch=False):
            positions = [secrets.randbelow(1 << 30) for _ in range(32)]
            t_ref, s_ref, f_ref = self._timed(self._reference, name, args, kwargs, index, seed,
                                              positions, 60, fetch=fetch)
            try:
                t_stu, s_stu, f_stu = self._timed(self._student, name, args, kwargs, index,
                                                  seed, positions, student_timeout, fetch=fetch)
            except WorkerTimeout:
                self._record(speed_ratio=student_timeout / t_ref)
                raise TooSlow(f"{name} did not finish within {_ms(student_timeout)}; the "
                              f"reference takes {_ms(t_ref)} on the same input (limit "
                              f"{limit:g}x)") from None
            what = f"{label} on the timing input"
            self._compare_sample(s_stu, s_ref, what, check)
            if fetch:
                self._compare(f_stu, f_ref, name=what, **check)
            return t_stu, t_ref

        # Warm-up (imports, caches, allocator), and the scale of one call.
        pair([secrets.randbits(63), 0], student_timeout=60, fetch=True)
        t_stu, t_ref = pair([secrets.randbits(63), 0], student_timeout=60, fetch=True)
        cap = max(2.0, 20 * limit * t_ref)
        if t_stu > 3 * limit * t_ref:  # hopeless: no noise explains this; do not wait longer
            return self._verdict(name, t_stu, t_ref, limit, reps=1)
        number = max(1, min(1000, math.ceil(min_time / max(t_ref, 1e-6))))
        best_stu = best_ref = math.inf
        for _ in range(reps):
            seed = secrets.randbits(63)
            for j in range(number):  # the minimum per call: the least disturbed measurement
                s, r = pair([seed, j], student_timeout=cap, fetch=(j == 0))
                best_stu, best_ref = min(best_stu, s), min(best_ref, r)
        return self._verdict(name, best_stu, best_ref, limit, reps=reps)

    def _compare_sample(self, got, want, what, check) -> None:
        """Compare two samples (see the worker's ``_sample``), structure first."""
        if not isinstance(got, dict) or set(got) != set(want):
            raise AssertionError(f"{what} does not have the structure of the reference's result")
        if "values" in want:
            if got["shape"] != want["shape"]:
                raise AssertionError(f"{what} has shape {tuple(got['shape'])}; expected "
                                     f"{tuple(want['shape'])}")
            self._compare(got["values"], want["values"], name=f"{what} (sampled)", **check)
        elif "items" in want:
            if len(got["items"]) != len(want["items"]):
                raise AssertionError(f"{what} has {len(got['items'])} items; expected "
                                     f"{len(want['items'])}")
            for i, (g, w) in enumerate(zip(got["items"], want["items"])):
                self._compare_sample(g, w, f"{what}[{i}]", check)
        elif "keys" in want:
            if set(got["keys"]) != set(want["keys"]):
                raise AssertionError(f"{what} has keys {sorted(map(str, got['keys']))}; "
                                     f"expected {sorted(map(str, want['keys']))}")
            for k in want["keys"]:
                self._compare_sample(got["keys"][k], want["keys"][k], f"{what}[{k!r}]", check)
        else:
            self._compare(got["value"], want["value"], name=what, **check)

    def _verdict(self, name, t_stu, t_ref, limit, *, reps) -> float:
        ratio = t_stu / t_ref
        self._record(speed_ratio=ratio, student_seconds=t_stu, reference_seconds=t_ref,
                     speed_limit=limit)
        if ratio > limit:
            raise TooSlow(f"{name} takes {_ms(t_stu)}; the reference takes {_ms(t_ref)} on the "
                          f"same inputs: {ratio:.1f}x slower, the limit is {limit:g}x "
                          "(vectorize: avoid Python loops over samples or pixels)")
        return ratio
