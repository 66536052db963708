"""Timing a student's CUDA function against the reference kernel on a GPU (trusted).

The ``gpu_bench`` fixture. Like ``bench.py`` it believes no clock of the student's process:

- the student's function runs in the student's CUDA worker, the reference's (and the cuBLAS
  baseline, ``baselines_cuda.py`` of the course, through CuPy) in a second worker holding only
  the reference files; both on the same GPU, in the same run;
- each timed call is ``bench.py``'s: its fresh inputs reach the worker only with the timed
  request (a sealed memfd the harness owns), the result comes back in the same memory and is
  verified in full; the functions take host arrays and return a host array, so each call is
  synchronous and the harness times it from outside, as one request;
- one warm-up call each first (JIT compilation, context creation); then ``reps`` interleaved
  rounds (student, reference, baseline), every result compared with the reference's; the
  **median** per function is graded as ``student / reference`` against the limit
  (``cuda.gpu_speed_ratio`` of assignment.yaml), and cuBLAS's time and ratio are reported
  beside it.

With ``GRADER_GPU=simulate`` the same steps run on the simulator with the test's ``simulate``
arguments (tiny shapes), to exercise this code without a GPU; the plugin then reports the test
as still pending. Without a GPU (``dry``) only the warm-up runs, on those tiny arguments and
within ``DRY_RUN_TIMEOUT``: its points are pending whatever it computes (``cuda.py`` turns its
outcome, right or wrong, into a note on the pending test; the value tests grade values). Its
expected result comes from ``expect`` when the test gives one (the same computation in NumPy,
run here): then no reference worker is started on the simulator just for that (half a second of
numba import).
"""
from __future__ import annotations

import secrets
import statistics

from grader.harness.bench import MAX_RESULT_ROOM, Bench, TooSlow, _ms, _TooLarge
from grader.wire.bridge import StudentError, WorkerTimeout

BASELINES = {"linear_forward_cuda": "cublas_linear"}  # in the course's baselines_cuda.py
# A dry run without a GPU (tiny inputs, about a second on the simulator) is information only:
# a kernel that hangs there costs no more than this of the submission's total time.
DRY_RUN_TIMEOUT = 20.0


class GpuBench:
    def __init__(self, student_session, reference_session, *, default_limit: float,
                 simulated: bool, record, compare, dry: bool = False):
        self._student, self._reference = student_session, reference_session
        self.default_limit, self.simulated, self.dry = default_limit, simulated, dry
        self._record, self._compare = record, compare
        # The timed calls themselves are the CPU bench's (no setup steps here).
        self._bench = Bench(student_session, reference_session, default_limit=default_limit,
                            compare=compare, record=record)

    def compare(self, name: str, *args, simulate=None, expect=None, limit=None, reps: int = 11,
                rtol=1e-9, atol=1e-9, timeout: float = 60.0, **kwargs) -> float:
        """Median time of the student's ``name`` over the reference's, on fresh inputs.
        ``expect(*args, **kwargs)``: the right result of a dry run, computed in the harness."""
        limit = float(limit or self.default_limit)
        if self.simulated:
            args, reps = (simulate if simulate is not None else args), 0 if self.dry else 3
        args, kwargs = list(args), dict(kwargs)
        baseline = BASELINES.get(name)
        check = dict(rtol=rtol, atol=atol)
        what = f"{name} on the timing input"
        where = "on the GPU"
        if self.dry:
            what, where = f"the dry run's {name}(...)", "on the simulator"
            timeout = min(timeout, DRY_RUN_TIMEOUT)
        bench = self._bench

        def student(inputs):
            try:
                return bench._student_call(name, inputs, None, timeout, what)
            except WorkerTimeout:
                raise TooSlow(f"{name} did not finish within {_ms(timeout)} {where}") from None

        def measured_pair(seed):
            inputs = bench._inputs(args, kwargs, seed)
            t_ref, want = bench._reference_call(name, inputs, None)
            t_stu, got = student(inputs)
            self._compare(got, want, name=what, **check)
            return inputs, t_stu, t_ref

        # The student's files first: one that does not import fails here, before the reference
        # spends a warm-up on the large input.
        self._student.request({"op": "release", "ids": []})
        if self.dry and expect is not None:
            inputs = bench._inputs(args, kwargs, secrets.randbits(63))
            want = expect(*inputs.args, **inputs.kwargs)
            bench._room = min(max(bench._room, 2 * int(getattr(want, "nbytes", 0))),
                              MAX_RESULT_ROOM)
            self._compare(student(inputs)[1], want, name=what, **check)
            return None
        inputs, _, _ = measured_pair(secrets.randbits(63))  # warm-up, compared in full
        if not reps:  # a dry run: the results, not the times
            return None
        have_baseline = baseline is not None and self._try_baseline(baseline, inputs, timeout)
        times = {"student": [], "reference": [], "baseline": []}
        for _ in range(reps):
            inputs, t_stu, t_ref = measured_pair(secrets.randbits(63))
            times["reference"].append(t_ref)
            times["student"].append(t_stu)
            if have_baseline:
                times["baseline"].append(self._baseline_call(baseline, inputs, timeout))
        return self._verdict(name, times, limit)

    def _baseline_call(self, baseline, inputs, timeout) -> float:
        seconds, result = self._bench._timed(self._reference, baseline, inputs, None, timeout,
                                             room=self._bench._room)
        if isinstance(result, _TooLarge):
            raise StudentError("BaselineFailed", "the cuBLAS baseline's result did not fit")
        return seconds

    def _try_baseline(self, baseline, inputs, timeout) -> bool:
        """Warm the cuBLAS baseline up; False (and a note) where CuPy is missing."""
        try:
            self._baseline_call(baseline, inputs, timeout)
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
