"""Timing a student's CUDA function against the reference kernel on a GPU (trusted).

The ``gpu_bench`` fixture. Like ``bench.py`` it believes no clock of the student's process:

- the student's function runs in the student's CUDA worker, the reference's (and the cuBLAS
  baseline, ``baselines_cuda.py`` of the course, through CuPy) in a second worker holding only
  the reference files; both on the same GPU, in the same run;
- inputs are generated inside each worker from a seed, identical in both (never transferred);
  the functions take host arrays and return a host array, so each call is synchronous: the
  harness times each call from outside, as one request;
- one warm-up call each first (JIT compilation, context creation), compared in full with the
  reference's result; then ``reps`` interleaved rounds (student, reference, baseline), each
  result sampled at random positions and compared at once; the **median** per function is
  graded as ``student / reference`` against the limit (``cuda.gpu_speed_ratio`` of
  assignment.yaml), and cuBLAS's time and ratio are reported beside it.

With ``GRADER_GPU=simulate`` the same steps run on the simulator with the test's ``simulate``
arguments (tiny shapes), to exercise this code without a GPU; the plugin then reports the test
as still pending. Without a GPU (``dry``) only the warm-up runs, on those tiny arguments: a
wrong result fails the test, a right one leaves its points pending.
"""
from __future__ import annotations

import secrets
import statistics
import time

from grader.harness.bench import TooSlow, _ms, _spec
from grader.wire.bridge import StudentError, WorkerTimeout

BASELINES = {"linear_forward_cuda": "cublas_linear"}  # in the course's baselines_cuda.py


class GpuBench:
    def __init__(self, student_session, reference_session, *, default_limit: float,
                 simulated: bool, record, compare, dry: bool = False):
        self._student, self._reference = student_session, reference_session
        self.default_limit, self.simulated, self.dry = default_limit, simulated, dry
        self._record, self._compare = record, compare
        self._slot = 0

    def _timed(self, session, name, args, kwargs, seed, positions, timeout, *, fetch):
        self._slot += 1
        slot = self._slot
        session.request({"op": "prepare", "slot": slot, "seed": seed, "setup": [],
                         "call": {"target": [None, name], "args": args, "kwargs": kwargs}},
                        timeout=max(timeout, 60))
        start = time.perf_counter()
        session.request({"op": "run", "slot": slot, "index": None}, timeout=timeout)
        elapsed = time.perf_counter() - start
        sample = session.request({"op": "sample", "slot": slot, "positions": positions})
        full = session.request({"op": "fetch", "slot": slot}) if fetch else None
        if not fetch:
            session.request({"op": "release_result", "slot": slot})
        return elapsed, sample, full

    def compare(self, name: str, *args, simulate=None, limit=None, reps: int = 11,
                rtol=1e-9, atol=1e-9, timeout: float = 60.0, **kwargs) -> float:
        """Median time of the student's ``name`` over the reference's, on fresh inputs."""
        limit = float(limit or self.default_limit)
        if self.simulated:
            args, reps = (simulate if simulate is not None else args), 0 if self.dry else 3
        args, kwargs = _spec(list(args)), _spec(kwargs)
        baseline = BASELINES.get(name)
        check = dict(rtol=rtol, atol=atol)
        what = f"{name} on the timing input"

        def one(session, fn, seed, positions, *, fetch=False, student=False):
            try:
                return self._timed(session, fn, args, kwargs, seed, positions, timeout,
                                   fetch=fetch)
            except WorkerTimeout:
                if not student:
                    raise
                raise TooSlow(f"{name} did not finish within {_ms(timeout)} on the GPU") from None

        # The student's files first: one that does not import fails here, before the reference
        # spends a warm-up on the large input.
        self._student.request({"op": "release", "ids": []})
        positions = [secrets.randbelow(1 << 30) for _ in range(32)]
        seed = [secrets.randbits(63), 0]
        _, s_ref, f_ref = one(self._reference, name, seed, positions, fetch=True)
        _, s_stu, f_stu = one(self._student, name, seed, positions, fetch=True, student=True)
        self._compare(f_stu, f_ref, name=what, **check)
        if not reps:  # a dry run: the results, not the times
            return None
        have_baseline = baseline is not None and self._try_baseline(baseline, args, kwargs, seed,
                                                                    positions, timeout)
        times = {"student": [], "reference": [], "baseline": []}
        for rep in range(reps):
            seed = [secrets.randbits(63), rep + 1]
            positions = [secrets.randbelow(1 << 30) for _ in range(32)]
            t_ref, s_ref, _ = one(self._reference, name, seed, positions)
            t_stu, s_stu, _ = one(self._student, name, seed, positions, student=True)
            if not isinstance(s_stu, dict) or s_stu.get("shape") != s_ref.get("shape") \
                    or "values" not in s_stu:
                raise AssertionError(f"{what} does not have the shape of the reference's result")
            self._compare(s_stu["values"], s_ref["values"], name=f"{what} (sampled)", **check)
            times["reference"].append(t_ref)
            times["student"].append(t_stu)
            if have_baseline:
                times["baseline"].append(one(self._reference, baseline, seed, positions)[0])
        return self._verdict(name, times, limit)

    def _try_baseline(self, baseline, args, kwargs, seed, positions, timeout) -> bool:
        """Warm the cuBLAS baseline up; False (and a note) where CuPy is missing."""
        try:
            self._timed(self._reference, baseline, args, kwargs, seed, positions, timeout,
                        fetch=False)
            return True
        except StudentError as e:  # the baseline is the course's code: report, do not fail
            self._record(cublas_missing=1.0)
            self._baseline_error = str(e).splitlines()[0][:200]
            return False

    def _verdict(self, name, times, limit) -> float:
        t_stu = statistics.median(times["student"])
        t_ref = statistics.median(times["reference"])
        ratio = t_stu / t_ref
        figures = dict(speed_ratio=ratio, student_seconds=t_stu, reference_seconds=t_ref,
                       speed_limit=limit)
        if times["baseline"]:
            t_blas = statistics.median(times["baseline"])
            figures.update(cublas_seconds=t_blas, cublas_ratio=t_stu / t_blas)
        self._record(**figures)
        if ratio > limit and not self.simulated:
            blas = (f"; cuBLAS takes {_ms(figures['cublas_seconds'])}"
                    if "cublas_seconds" in figures else "")
            raise TooSlow(f"{name} takes {_ms(t_stu)} on the GPU (median of "
                          f"{len(times['student'])}); the reference kernel takes {_ms(t_ref)}: "
                          f"{ratio:.1f}x, the limit is {limit:g}x{blas}")
        return ratio
