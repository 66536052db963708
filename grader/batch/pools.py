"""Where a batch's tasks run, behind one small interface (``submit``, ``wait``, ``result``,
``kill``, ``close``, ``size``): a process pool (local sandbox), threads (docker: the work is in
containers) or a Dask cluster (``--scheduler``).

``kill`` is the second Ctrl-C: nothing of the running tasks may survive it. Process pool:
each worker kills its harness tree and removes its temporary folders (``stopping``). Docker:
this process's containers are killed, and the threads (which then remove their containers and
folders) are waited for. Dask: the futures are cancelled; the cluster's workers are the
cluster's.
"""
from __future__ import annotations

import concurrent.futures as cf
import os
import time

from grader.batch.stopping import run_task, stop_workers, worker_init
from grader.batch.tasks import failed_record, grade_bytes, grade_one, zip_bytes
from grader.errors import GraderError
from grader.harness.supervisor import preload_harness


def make_pool(backend: str, jobs: int, scheduler: str | None, assignment: str, image, *,
              cuda: bool = False, allow_unconfined: bool = False):
    """``cuda``: the assignment has CUDA problems (a process pool's workers then start the
    CUDA templates as well). ``allow_unconfined``: a Dask worker may grade in plain mode
    (the batch checked this machine's own mode already)."""
    if scheduler:
        return DaskPool(scheduler, jobs, assignment, backend, image,
                        allow_unconfined=allow_unconfined)
    if backend == "docker":
        return ThreadPool(jobs, assignment, backend, image)
    return ProcessPool(jobs, assignment, backend, image, cuda=cuda)


class _Pool:
    def __init__(self, jobs: int, assignment: str, backend: str, image):
        self.size, self.assignment, self.backend, self.image = jobs, assignment, backend, image
        # Each container gets its share of the machine's cores (and at least one).
        self.cpus = max(1.0, (os.cpu_count() or 1) / jobs)

    def _args(self, s) -> tuple:
        return (s.name, s.key, str(s.path), self.assignment, self.backend, self.image, self.cpus)

    def wait(self, futures, timeout: float):
        done, _ = cf.wait(list(futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return done

    def result(self, future, student) -> dict:
        """The task's results; a task that died (a broken pool, a bug) is ``infrastructure``."""
        try:
            return future.result()
        except Exception as e:  # noqa: BLE001 (recorded, retried on the next run)
            return failed_record(student.name, student.key, self.assignment, "infrastructure",
                                 f"the grading task failed: {type(e).__name__}: {e}")


class ProcessPool(_Pool):
    def __init__(self, jobs, assignment, backend, image, *, cuda: bool = False):
        super().__init__(jobs, assignment, backend, image)
        self.cuda = cuda
        self._executor = self._new()

    def _new(self):
        import multiprocessing
        return cf.ProcessPoolExecutor(max_workers=self.size, initializer=_pool_worker_init,
                                      initargs=(self.cuda,),
                                      mp_context=multiprocessing.get_context("fork"))

    def submit(self, s):
        try:
            return self._executor.submit(run_task, grade_one, *self._args(s))
        except cf.process.BrokenProcessPool:  # a worker died (e.g. the OOM killer): start over
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new()
            return self._executor.submit(run_task, grade_one, *self._args(s))

    def kill(self) -> None:
        # The executor keeps its worker processes in `_processes` (no public accessor).
        processes = list((getattr(self._executor, "_processes", None) or {}).values())
        self._executor.shutdown(wait=False, cancel_futures=True)
        stop_workers(processes)
        self._killed = True

    def close(self) -> None:
        self._executor.shutdown(wait=not getattr(self, "_killed", False), cancel_futures=True)


def _pool_worker_init(cuda: bool = False) -> None:
    """A pool worker grades one submission after another, each in a harness forked from it:
    it dies with the batch (``worker_init``) and imports the harness's modules once."""
    worker_init()
    preload_harness(cuda)


class ThreadPool(_Pool):
    """Docker: one thread per running container."""

    def __init__(self, jobs, assignment, backend, image):
        super().__init__(jobs, assignment, backend, image)
        self._executor = cf.ThreadPoolExecutor(max_workers=jobs)
        self._futures: set = set()

    def submit(self, s):
        future = self._executor.submit(grade_one, *self._args(s))
        self._futures.add(future)
        return future

    def kill(self, *, grace: float = 20.0) -> None:
        from grader.sandbox.docker import kill_own
        self._executor.shutdown(wait=False, cancel_futures=True)
        running = {f for f in self._futures if not f.done()}
        deadline = time.monotonic() + grace
        while running and time.monotonic() < deadline:
            try:  # again each round: a thread may have been starting its container
                kill_own()
            except GraderError:
                pass  # the engine is away; its containers are reaped once we are gone
            running = {f for f in running if not f.done()}
            cf.wait(running, timeout=1.0)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        if not self._futures:
            return
        try:  # no grading of ours runs now: a container of ours still there was lost with
            from grader.sandbox.docker import kill_own  # an engine connection; remove it
            kill_own()
        except GraderError:
            pass


class DaskPool(_Pool):
    def __init__(self, scheduler, jobs, assignment, backend, image, *,
                 allow_unconfined: bool = False):
        super().__init__(jobs, assignment, backend, image)
        self.allow_unconfined = allow_unconfined
        try:
            from distributed import Client
        except ImportError:
            raise GraderError("--scheduler needs Dask: pip install 'nn-grader[batch]'") from None
        try:
            self._client = Client(scheduler, timeout=15)
        except (OSError, TimeoutError, ValueError, TypeError) as e:
            raise GraderError(f"cannot reach the Dask scheduler at {scheduler!r}: {e}") from None
        threads = sum(self._client.nthreads().values())
        self.size = max(jobs, threads)  # keep every worker thread of the cluster busy
        self._futures: list = []

    def submit(self, s):
        future = self._client.submit(grade_bytes, s.name, s.key, zip_bytes(s.path),
                                     self.assignment, self.backend, self.image,
                                     allow_unconfined=self.allow_unconfined,
                                     key=f"grade-{self.assignment}-{s.key}", pure=False)
        self._futures.append(future)
        return future

    def wait(self, futures, timeout: float):
        from distributed import wait
        try:
            return wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED").done
        except TimeoutError:  # also distributed's (an alias of it)
            return set()

    def kill(self) -> None:
        self._client.cancel([f for f in self._futures if not f.done()], force=True)

    def close(self) -> None:
        self._client.close()
