"""The jail-mode worker template (grader/sandbox/template.py): a batch's workers are forked from
it, each fresh, none reused, the template itself never running anything of a student's."""
import concurrent.futures as cf
import multiprocessing
import sys

import pytest

from grader.sandbox import template, worker_kinds
from grader.sandbox.local import LocalSandbox, WorkerLimits, jail_available
from grader.wire.bridge import StudentModules, WorkerSession
from tests.conftest import worker_template, write_files

pytestmark = pytest.mark.skipif(not jail_available(), reason="jail mode needs root")

STUDENT = """
    import sys
    import numpy as np

    def draw():
        return float(np.random.random())

    def taint():
        # what a student could leave behind in the worker's own memory
        sys.modules["grader.untrusted.worker"].TAINTED = True
        return True

    def tainted():
        return getattr(sys.modules["grader.untrusted.worker"], "TAINTED", False)
"""


def _session(tmp_path, name):
    work = write_files(tmp_path / name, {"mod.py": STUDENT})
    sandbox = LocalSandbox(work, WorkerLimits(), mode="jail")
    session = WorkerSession(sandbox, ["mod"], call_timeout=10)
    return sandbox, session, StudentModules(session, ["mod"])


def _close(sandbox, session):
    session.close()
    sandbox.close()


def test_each_worker_is_a_fresh_fork_of_the_template(tmp_path):
    """Two submissions' workers: both forked by the template, different processes; what the
    first did to its own memory is not in the second; each has its own NumPy random state."""
    with worker_template() as started:
        first = _session(tmp_path, "a")
        student = first[2]
        assert student.taint() and student.tainted()
        worker_a = first[1].worker
        assert isinstance(worker_a.proc, template.WorkerChild)
        draw_a = student.draw()
        _close(*first[:2])
        assert worker_a.proc.poll() is not None  # gone with its submission, never reused
        second = _session(tmp_path, "b")
        try:
            assert second[2].tainted() is False
            worker_b = second[1].worker
            assert isinstance(worker_b.proc, template.WorkerChild)
            assert worker_b.proc.pid != worker_a.proc.pid
            assert second[2].draw() != draw_a  # reseeded: not the template's shared state
        finally:
            _close(*second[:2])
        assert started.proc.poll() is None  # the template lives on for the next submission


def test_a_dead_template_means_workers_are_started_directly(tmp_path):
    """Where the template is gone, the sandbox starts its worker itself (unshare, as before)."""
    with worker_template() as started:
        started.proc.kill()
        started.proc.wait()
        sandbox, session, student = _session(tmp_path, "a")
        try:
            assert student.draw() >= 0.0
            assert not isinstance(session.worker.proc, template.WorkerChild)
        finally:
            _close(sandbox, session)


def _pool_state():
    import sys

    from _pytest.config import default_plugins
    plugins = all(f"_pytest.{name}" in sys.modules for name in default_plugins)
    return template.current() is not None, "pytest" in sys.modules and plugins, \
        "numpy" in sys.modules


def test_a_batch_pool_worker_preloads_the_harness_and_starts_the_template(monkeypatch):
    """The process pool's workers import the harness's modules once and (jail mode) start the
    template that their harnesses' workers are forked from."""
    from grader.batch import pools
    monkeypatch.setenv("GRADER_SANDBOX_MODE", "jail")
    context = multiprocessing.get_context("fork")
    assert template.current() is None
    with cf.ProcessPoolExecutor(1, mp_context=context, initializer=pools._pool_worker_init) as p:
        assert p.submit(_pool_state).result(timeout=60) == (True, True, True)
    monkeypatch.setenv("GRADER_SANDBOX_MODE", "plain")  # plain mode: no template
    with cf.ProcessPoolExecutor(1, mp_context=context, initializer=pools._pool_worker_init) as p:
        assert p.submit(_pool_state).result(timeout=60)[0] is False
    assert template.current() is None


# -- the CUDA problems' templates (numba-cuda imported once: the simulator, the compiler) ----

CUDA_STUDENT = """
    import threading
    import numpy as np
    from numba import cuda

    @cuda.jit
    def k(out):
        i = cuda.threadIdx.x
        cuda.syncthreads()
        out[i] = threading.active_count()

    def run():
        out = np.zeros(8)
        k[1, 8](out)
        return out.tolist()
"""
KERNEL_SOURCE = """
from numba import cuda

@cuda.jit
def scale(a):
    i = cuda.grid(1)
    if i < a.shape[0]:
        a[i] = 2.0 * a[i]
"""


@pytest.fixture
def cuda_templates():
    pytest.importorskip("numba_cuda")
    from grader.sandbox.local import PACKAGE_PARENT, clean_environment
    assert not template.WORKER_TEMPLATES
    template.start_for(sys.executable, PACKAGE_PARENT, clean_environment(), cuda=True)
    try:
        yield template.WORKER_TEMPLATES
    finally:
        template.stop()


def test_a_cuda_worker_is_forked_from_the_simulator_template(tmp_path, cuda_templates):
    """The CUDA worker comes from the ``cuda-sim`` template, with the simulator on and the
    worker's own patches applied after the fork (one OS thread: CUDA threads are greenlets)."""
    work = write_files(tmp_path / "s", {"kern.py": CUDA_STUDENT})
    sandbox = LocalSandbox(work, WorkerLimits(processes=1088), mode="jail",
                           env=dict(worker_kinds.SIMULATOR_ENV))
    session = WorkerSession(sandbox, ["kern"], call_timeout=30, load_timeout=60)
    try:
        assert StudentModules(session, ["kern"]).run() == [1.0] * 8
        assert isinstance(session.worker.proc, template.WorkerChild)
    finally:
        _close(sandbox, session)


def test_the_compile_check_is_forked_from_the_compiler_template(tmp_path, cuda_templates):
    work = tmp_path / "empty"
    work.mkdir()
    sandbox = LocalSandbox(work, WorkerLimits(), mode="jail", entry="grader.gpu.compile_check",
                           env={worker_kinds.COMPILE_TARGET_VAR: "7.5"})
    session = WorkerSession(sandbox, [], call_timeout=60, load_timeout=60)
    try:
        report = session.request({"op": "compile", "source": KERNEL_SOURCE,
                                  "filename": "kern.py", "kernel": "scale",
                                  "signature": "void(float64[:])", "cc": [7, 5],
                                  "launched_by": None}, timeout=120)
        assert report["ok"] and ".visible .entry" in report["ptx"], report
        assert isinstance(session.worker.proc, template.WorkerChild)
    finally:
        _close(sandbox, session)


def test_a_template_forks_only_workers_of_its_own_kind(tmp_path, cuda_templates):
    """A request that does not match what a template imported (here the simulator's template
    asked for a compile check, which must never run with the simulator on) gets no worker;
    the sandbox would then start one the usual way."""
    work = tmp_path / "w"
    work.mkdir()
    sandbox = LocalSandbox(work, WorkerLimits(), mode="jail")
    try:
        import os
        import socket
        fds = [socket.socketpair()[0].detach(), *os.pipe()]
        spec = {"entry": "grader.gpu.compile_check", "extra_env": {}, "workdir": str(work),
                "root": str(tmp_path / "root"), "uid": 61999, "limits": {}, "argv": [],
                "env": {}, "package": "", "keep_fds": [], "devices": [], "library_dirs": [],
                "cgroups": []}
        assert cuda_templates["cuda-sim"].spawn(spec, fds) is None
        for fd in fds:
            os.close(fd)
    finally:
        sandbox.close()
    assert worker_kinds.kind_for("grader.gpu.compile_check", dict(worker_kinds.SIMULATOR_ENV)) is None
    assert worker_kinds.kind_for("grader.untrusted.worker", dict(worker_kinds.SIMULATOR_ENV)) == \
        "cuda-sim"
