"""CUDA problems in the harness (trusted): fixtures ``student_cuda``, ``cuda_build`` and
``gpu_bench``, and the ``gpu`` marker. Registered by the grading plugin when the assignment
has ``cuda.files``.

- ``student_cuda``: the student's CUDA files in a worker of their own (a crash or a broken
  import there costs only the CUDA tests). Without a GPU it runs numba-cuda's simulator
  (``NUMBA_ENABLE_CUDASIM=1`` in its environment, small thread stacks, a GPU's launch limits:
  see ``grader/untrusted/cudasim.py``); with one, the real device.
- ``cuda_build.compile(module, kernel, signature)``: the kernel compiled for a real GPU target
  by a separate process in the same sandbox in which no student code ever runs
  (``grader/gpu/compile_check.py``), from the source read here before any student code ran;
  the result's ``assert_*`` methods check the rules (it compiles, it is tiled, it fits).
- ``@pytest.mark.gpu(module)``: the test needs a GPU. Without one it runs only as a dry run on
  the simulator's tiny inputs (``gpu_bench``'s ``simulate`` arguments, no timing), and whatever
  the student's code does there (right or wrong values, an exception, a crash, a timeout) the
  test gets kind ``needs_gpu``, no score, and its points pending (``grader batch
  --regrade-pending`` on a GPU machine completes them); the dry run's outcome is only a note
  in its message. Nothing is ever scored as passed or lost without a GPU, except where there is
  nothing a GPU could time: the CUDA file is missing or does not import, or the function raises
  ``NotImplementedError`` (the skeleton's).
- ``gpu_bench.compare(name, *args)``: the student's function against the reference's on the
  GPU (see ``grader/harness/gpu_bench.py``).
"""
from __future__ import annotations

import importlib.util
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.gpu import ptx as ptx_mod
from grader.sandbox.local import LocalSandbox, WorkerLimits, job_scratch
from grader.sandbox.worker_kinds import COMPILE_TARGET_VAR, SIMULATOR_ENV
from grader.harness.bench import ReferenceFailed, TooSlow
from grader.harness.gpu_bench import DRY_RUN_TIMEOUT
from grader.wire.bridge import (StudentError, StudentFailure, StudentModules, WorkerSession,
                                WorkerTimeout, WorkerUnavailable)

MAX_SOURCE_BYTES = 1 << 20
# RLIMIT_NPROC counts threads, and the simulator runs each CUDA thread of a block as one: a
# block of the largest size a GPU allows, and some to spare.
SIMULATOR_THREADS = 1024 + 64
GPU_WORKER_EXTRA_MB = 3072
COMPILE_TIMEOUT = 120.0
IMPORT_FAILED = "importing your files failed: "  # how the bridge words a failed import


_DRY_RUN = pytest.StashKey[bool]()


class NeedsGpu(Exception):
    """A GPU-only test on a machine without a GPU: not run, its points pending."""

    kind = "needs_gpu"


class SimulatedGpu:
    """``GRADER_GPU=simulate``: GPU-only tests run on the simulator to exercise their
    plumbing (tiny shapes, times that mean nothing); they still end as ``needs_gpu``."""

    simulated = True
    name = "numba-cuda simulator"

    def describe(self) -> str:
        return "the numba-cuda simulator (GRADER_GPU=simulate: nothing is scored on it)"


@dataclass
class CompiledKernel:
    """What the compile check said about one kernel; ``assert_*`` turn it into test outcomes."""

    module: str
    kernel: str
    ok: bool
    stage: str
    message: str
    figures: ptx_mod.PtxFigures | None
    cc: tuple[int, int]

    def assert_compiles(self) -> None:
        if self.stage == "toolchain":
            raise WorkerUnavailable(self.message)
        if self.stage == "missing":
            raise StudentError("FileNotFoundError", self.message)
        if not self.ok:
            raise AssertionError(self.message)

    def assert_within_limits(self) -> None:
        self.assert_compiles()
        problems = ptx_mod.limit_problems(self.kernel, self.figures)
        if problems:
            raise AssertionError("; ".join(problems))

    def assert_tiled(self) -> None:
        self.assert_compiles()
        problems = ptx_mod.tiling_problems(self.kernel, self.figures)
        if problems:
            raise AssertionError("; ".join(problems))


class KernelBuild:
    """The ``cuda_build`` fixture: compile checks, each result cached for the submission."""

    def __init__(self, support: "CudaSupport"):
        self._support, self._cache = support, support.compiled

    def compile(self, module: str, kernel: str, signature: str, *,
                launched_by: str | None = None) -> CompiledKernel:
        key = (module, kernel, signature, launched_by)
        if key not in self._cache:
            self._cache[key] = self._support.compile(module, kernel, signature, launched_by)
        return self._cache[key]


class CudaSupport:
    """The CUDA side of one submission's grading (a pytest plugin object)."""

    def __init__(self, job: dict, plugin):
        self.job, self.plugin = job, plugin
        cuda = job["cuda"]
        self.modules: list[str] = cuda["modules"]
        self.cc = tuple(cuda["compute_capability"])
        self.speed_ratio = cuda["gpu_speed_ratio"]
        self.gpu = _gpu_from_job(cuda.get("gpu"))
        self.no_gpu_reason = cuda.get("no_gpu_reason") or "no GPU on this machine"
        self._sessions: list[WorkerSession] = []
        self._cleanup: list = []
        self._student: WorkerSession | None = None
        self._reference: WorkerSession | None = None
        self._compiler: WorkerSession | None = None  # the compile check, one per submission
        self.compiled: dict = {}  # (module, kernel, signature, launched_by) -> CompiledKernel
        # Read before any student code has run (``snapshot_sources``): the compile check must
        # see the files as submitted, not as a student's import may have rewritten them.
        if job.get("workdir") and not cuda.get("snapshot"):
            snapshot_sources(job)
        work = Path(cuda["snapshot"]) if cuda.get("snapshot") else None
        self.sources: dict[str, bytes] = {}
        for name in self.modules:
            if work is not None and (work / f"{name}.py").is_file():
                self.sources[name] = (work / f"{name}.py").read_bytes()
        self.present = set(self.sources)
        self._copy = None
        if work is not None:  # the CUDA worker's own working copy (its own uid in uid mode)
            self._copy = Path(tempfile.mkdtemp(prefix="grader-cuda-", dir=job_scratch()))
            for name in self.present:
                (self._copy / f"{name}.py").write_bytes(self.sources[name])
            self._cleanup.append(lambda: shutil.rmtree(self._copy, ignore_errors=True))

    # -- sandboxes --------------------------------------------------------------------------
    def _limits(self) -> WorkerLimits:
        limits = self.job["limits"]
        # On a GPU the driver, the CUDA context and CuPy take a few GB of host memory of their
        # own (limited by a cgroup there, not RLIMIT_AS).
        extra = GPU_WORKER_EXTRA_MB if self._device() is not None else 0
        return WorkerLimits(memory_mb=limits["memory_mb"] + extra,
                            cpu_seconds=int(limits["total_timeout"]) + 5,
                            processes=SIMULATOR_THREADS)

    def _worker_env(self) -> dict:
        """The simulator's switch without a GPU; on one, a writable cache for ``cache=True``."""
        if self._device() is not None:
            return {"NUMBA_CACHE_DIR": "/tmp/numba-cache"}
        return dict(SIMULATOR_ENV)

    def _device(self):
        return self.gpu if self.gpu is not None and not getattr(self.gpu, "simulated", False) \
            else None

    def _session(self, workdir: Path, modules: list[str], *, own_output: bool = True,
                 **kw) -> WorkerSession:
        """A worker session; ``own_output``: what it prints is the student's (shown with the
        test's output), which the compile check's is not."""
        _require_numba()
        sandbox = LocalSandbox(workdir, self._limits(),
                               output_cap=self.job["limits"]["output_kb"] * 1024, **kw)
        session = WorkerSession(sandbox, modules, call_timeout=self.job["limits"]["call_timeout"],
                                load_timeout=60)
        if own_output:
            self._sessions.append(session)
        self._cleanup.append(sandbox.close)
        return session

    def student_session(self) -> WorkerSession:
        if self._student is None:
            if self._copy is None:
                pytest.fail("no submission to test", pytrace=False)
            self._student = self._session(self._copy, self.modules, env=self._worker_env(),
                                          gpu=self._device())
        return self._student

    def reference_session(self) -> WorkerSession:
        """The reference's CUDA files (and ``baselines_cuda.py`` when the course has one: the
        cuBLAS baseline) in a worker of their own, for GPU timing."""
        if self._reference is None:
            ref_dir = self.job.get("reference_dir")
            if not ref_dir:
                pytest.fail("GPU timing needs the reference solution (hidden tests only)",
                            pytrace=False)
            work = Path(tempfile.mkdtemp(prefix="grader-cuda-reference-", dir=job_scratch()))
            self._cleanup.append(lambda: shutil.rmtree(work, ignore_errors=True))
            names = list(self.modules)
            if (Path(ref_dir) / "baselines_cuda.py").is_file():
                names.append("baselines_cuda")
            for name in names:
                shutil.copy(Path(ref_dir) / f"{name}.py", work / f"{name}.py")
            self._reference = self._session(work, names, env=self._worker_env(),
                                            gpu=self._device())
        return self._reference

    def compiler_session(self) -> WorkerSession:
        """The compile check's process (``grader.gpu.compile_check``): one for the submission's
        compiles, in an empty folder of its own. It never runs student code, so it may serve
        all of them; it holds a few hundred MB while it lives, and closes with the grading."""
        if self._compiler is None:
            empty = Path(tempfile.mkdtemp(prefix="grader-compile-", dir=job_scratch()))
            self._cleanup.append(lambda: shutil.rmtree(empty, ignore_errors=True))
            self._compiler = self._session(
                empty, [], own_output=False, entry="grader.gpu.compile_check",
                env={COMPILE_TARGET_VAR: "%d.%d" % self.cc})
        return self._compiler

    def prestart(self, fixtures: set[str]) -> None:
        """Start, while the other tests run, the processes these tests will use: numba-cuda's
        import takes each about half a second, and the compile check's first compile (its
        compiler's set-up) as much again. No student code runs until a test's first call."""
        wanted = []
        if "cuda_build" in fixtures and self.present:
            wanted.append(self.compiler_session)
        if {"student_cuda", "gpu_bench"} & fixtures and self._copy is not None and self.present:
            wanted.append(self.student_session)
        if "gpu_bench" in fixtures and self._device() is not None and self.job.get("reference_dir"):
            wanted.append(self.reference_session)
        for make in wanted:
            try:
                make().prestart()
            except (OSError, WorkerUnavailable):
                return  # the tests that need it report the problem themselves

    def compile(self, module, kernel, signature, launched_by) -> CompiledKernel:
        def result(ok, stage, message, figures=None):
            return CompiledKernel(module, kernel, ok, stage, message, figures, self.cc)

        if module not in self.present:
            return result(False, "missing", f"{module}.py is missing from the submission")
        raw = self.sources[module]
        if len(raw) > MAX_SOURCE_BYTES:
            return result(False, "source", f"{module}.py is larger than {MAX_SOURCE_BYTES} bytes")
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError:
            return result(False, "source", f"{module}.py is not UTF-8 text")
        session = self.compiler_session()
        try:
            report = session.request({"op": "compile", "source": source,
                                      "filename": f"{module}.py", "kernel": kernel,
                                      "signature": signature, "cc": list(self.cc),
                                      "launched_by": launched_by}, timeout=COMPILE_TIMEOUT)
        finally:
            session.take_output()  # what numba printed there is not the student's
        if not isinstance(report, dict) or not isinstance(report.get("ptx"), str):
            raise WorkerUnavailable("the compile check sent an unreadable report")
        figures = ptx_mod.analyze(report["ptx"]) if report.get("ok") else None
        return result(bool(report.get("ok")), str(report.get("stage")),
                      str(report.get("message", "")), figures)

    # -- fixtures (function-scoped over objects made once: see plugin.py) -------------------
    @pytest.fixture
    def student_cuda(self):
        return StudentModules(self.student_session(), self.modules)

    @pytest.fixture
    def cuda_build(self):
        return KernelBuild(self)

    @pytest.fixture
    def gpu_bench(self, request):
        from grader.harness.gpu_bench import GpuBench
        from grader.harness import testing

        dry = request.node.stash.get(_DRY_RUN, False)
        return GpuBench(self.student_session(), self.reference_session(),
                        default_limit=self.speed_ratio,
                        simulated=dry or getattr(self.gpu, "simulated", False), dry=dry,
                        record=testing.record, compare=testing.assert_close_tree)

    # -- the gpu marker ---------------------------------------------------------------------
    def pytest_configure(self, config):
        config.addinivalue_line("markers", "gpu(module): needs a GPU; without one the test is "
                                "not run and its points are pending")

    def pytest_collection_finish(self, session):
        if session.config.option.collectonly:
            return
        self.prestart({name for item in session.items
                       for name in getattr(item, "fixturenames", ())})

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        marker = item.get_closest_marker("gpu")
        if marker is None:
            return
        module = marker.args[0] if marker.args else None
        if module is not None and module not in self.present:
            return  # nothing to run on a GPU: the test fails on the missing file as usual
        if self.gpu is None:
            item.stash[_DRY_RUN] = True  # pending only if it could still earn its points

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        marker = item.get_closest_marker("timeout")
        per_call = float(marker.args[0]) if marker else self.job["limits"]["call_timeout"]
        remaining = max(self.plugin.deadline + self.plugin.machine_time() - time.monotonic(),
                        0.001)
        dry = item.stash.get(_DRY_RUN, False)
        simulated = bool(item.get_closest_marker("gpu")) and getattr(self.gpu, "simulated", False)
        if dry:  # a dry run is information only: it need not wait long
            per_call = min(per_call, DRY_RUN_TIMEOUT)
        for session in self._sessions:
            session.call_timeout = min(per_call, remaining)
        if not (dry or simulated):
            return (yield)  # a failure (wrong answer, error, crash) propagates: scored as usual
        try:
            yield
        except Exception as e:  # noqa: BLE001 (what the dry run saw; judged below)
            outcome = e
        else:
            outcome = None
        if outcome is not None and not leaves_pending(outcome):
            raise outcome
        gpu_marker = item.get_closest_marker("gpu")
        module = gpu_marker.args[0] if gpu_marker and gpu_marker.args else None
        note = dry_run_note(outcome, module)
        if dry:
            raise NeedsGpu(f"needs a GPU, and {self.no_gpu_reason}: no GPU ran, so its points "
                           "are pending a GPU run (grader batch --regrade-pending on a GPU "
                           f"machine), neither lost nor won. {note}")
        raise NeedsGpu("ran on the numba-cuda simulator (GRADER_GPU=simulate), where times "
                       f"mean nothing: its points stay pending a GPU run. {note}")

    def take_output(self) -> str:
        return "".join(s.take_output() for s in self._sessions)

    def close(self) -> None:
        for session in self._sessions + ([self._compiler] if self._compiler else []):
            session.close()
        self._compiler = None
        for step in reversed(self._cleanup):
            step()
        self._sessions, self._cleanup = [], []


def leaves_pending(outcome: BaseException) -> bool:
    """Does this outcome of a GPU-only test's dry run leave its points pending? Anything the
    student's code did on the simulator (a wrong value, an exception, a crash, a timeout): a
    GPU run decides those points, never the simulator. Not so where there is nothing a GPU
    could time (the files do not import; the function raises NotImplementedError, as the
    skeleton does), nor for the grader's own failures (infrastructure, regraded)."""
    if isinstance(outcome, (WorkerUnavailable, ReferenceFailed)) \
            or getattr(outcome, "kind", None) == "infrastructure":
        return False  # the grader's or the machine's fault: its own kind, regraded
    if str(outcome).startswith(IMPORT_FAILED):
        return False
    if isinstance(outcome, StudentError) and outcome.type_name == "NotImplementedError":
        return False
    return isinstance(outcome, (AssertionError, StudentFailure))


def dry_run_note(outcome: BaseException | None, module: str | None = None) -> str:
    """What the dry run on the simulator's tiny inputs saw, as information (never a score)."""
    if outcome is None:
        return "For information: on the simulator's tiny inputs its result was right."
    graders = f"the value tests of {module}.py" if module else "the value tests"
    first = (str(outcome).strip().splitlines() or [type(outcome).__name__])[0][:300]
    if isinstance(outcome, (WorkerTimeout, TooSlow)):
        what = f"it did not finish ({first})"
    elif isinstance(outcome, AssertionError):
        what = f"its result was wrong ({first})"
    else:
        what = f"it failed ({first})"
    return (f"For information, not scored: on the simulator's tiny inputs {what}; {graders} "
            "grade that.")


def snapshot_sources(job: dict) -> None:
    """Copy the submission's CUDA files into the harness's root-only folder, before any worker
    exists: the compile check reads them there (as submitted), and the CUDA worker gets its own
    copy from there (in uid mode the main worker's sandbox gives the working copy to its uid)."""
    cuda, work = job.get("cuda"), job.get("workdir")
    if not cuda or not work or cuda.get("snapshot"):
        return
    dest = Path(job["harness_dir"]) / "cuda-sources"
    dest.mkdir(mode=0o700, exist_ok=True)
    for name in cuda["modules"]:
        path = Path(work) / f"{name}.py"
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as f:
                (dest / f"{name}.py").write_bytes(f.read(MAX_SOURCE_BYTES + 1))
    cuda["snapshot"] = str(dest)


def _gpu_from_job(info):
    if not info:
        return None
    if info.get("simulated"):
        return SimulatedGpu()
    from grader.gpu.device import Gpu
    return Gpu(name=info["name"], compute_capability=tuple(info["compute_capability"]),
               driver_library=info.get("driver_library", ""))


def _require_numba() -> None:
    """numba-cuda missing where the grader runs is the grader's problem, not the student's."""
    if importlib.util.find_spec("numba") is None or importlib.util.find_spec("numba_cuda") is None:
        raise WorkerUnavailable("numba-cuda is not installed where the grader runs "
                                "(pip install 'nn-grader[cuda]')")


def gpu_for_job() -> dict | None:
    """What the supervisor puts in the job: this machine's GPU (or the simulated one)."""
    import os
    from grader.gpu.device import detect

    if os.environ.get("GRADER_GPU", "").lower() == "simulate":
        return {"simulated": True}
    gpu = detect()
    if gpu is None:
        return None
    return {"name": gpu.name, "compute_capability": list(gpu.compute_capability),
            "driver_library": gpu.driver_library}
