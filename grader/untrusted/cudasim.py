"""numba-cuda's simulator made to behave like a GPU where it matters for grading (untrusted side).

The worker of a CUDA problem runs with ``NUMBA_ENABLE_CUDASIM=1`` (set by the sandbox before
Python starts, since numba reads it at import) and calls ``prepare()`` before it imports the
student's files. The simulator runs every CUDA thread as an OS thread, so:

- each thread gets a small stack (``threading.stack_size``): with the default 8 MiB a block of
  256 threads already exhausts a 1 GB address-space limit;
- a launch is refused as a GPU would refuse it: more than 1024 threads a block (or a block
  dimension over its limit), an empty or oversized grid, more than 48 KiB of shared memory a
  block (static arrays plus the dynamic size);
- with ``greenlet`` installed (it is wherever the grader installs numba-cuda), a block's CUDA
  threads are greenlets in one OS thread instead of one OS thread each: ``syncthreads()``
  switches back to the block's scheduler, which resumes every live thread in turn and so
  releases the barrier once all of them reached it, with the simulator's rules (a thread that
  returned no longer counts). A thread runs until its barrier or its end, in order, so a
  missing barrier shows the same way on every run; and starting and switching OS threads was
  about three quarters of a launch's cost (a 20x40x18 dense layer: 0.41 s, now 0.12 s).
  Without greenlet, the simulator's threads, its manager pausing 0.5 ms between polls;
- ``cuda.shared.array`` is keyed by its call site (code object and bytecode offset) rather than
  by file and line: the simulator otherwise hands two arrays allocated on one line the same
  memory, which makes correct code fail; and it starts filled with NaN (undefined on a GPU), so
  that reading a tile before every thread wrote it (a missing barrier) shows.

This runs in the student's process, so a student can undo it; it exists so that honest code
sees a GPU's rules early. What decides points lives outside: the compile check
(``grader.gpu.compile_check``) and, on a GPU, the device itself.
"""
from __future__ import annotations

import os
import sys
import threading
import time

STACK_BYTES = 256 * 1024
MAX_THREADS_PER_BLOCK = 1024
MAX_BLOCK_DIM = (1024, 1024, 64)
MAX_GRID_DIM = (2**31 - 1, 65535, 65535)
MAX_SHARED_BYTES = 48 * 1024
POLL_SECONDS = 0.0005


class LaunchError(RuntimeError):
    """A kernel launch that a GPU would refuse (cudaErrorInvalidConfiguration and the like)."""


def enabled() -> bool:
    return os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def prepare() -> None:
    """Small thread stacks, and the GPU's launch rules in the simulator (see the docstring)."""
    threading.stack_size(STACK_BYTES)
    try:
        from numba.cuda.simulator import kernel, kernelapi
    except ImportError:  # numba-cuda is missing: the student's import will say so
        return
    _check_launches(kernel.FakeCUDAKernel)
    kernelapi.FakeCUDAShared.array = _shared_array
    try:
        import greenlet
    except ImportError:
        kernel.BlockManager.run = _run_block_in_threads
        return
    kernel.BlockManager.run = _run_block
    # The simulator finds "this CUDA thread" as threading.current_thread(): inside a block that
    # is the running greenlet.
    kernelapi.threading = _Threading(greenlet.getcurrent)


def check_launch(grid_dim, block_dim, dynamic_shared: int = 0) -> None:
    """Raise LaunchError for a configuration a GPU rejects; dims are 3-tuples of ints."""
    dims = "x".join(str(d) for d in block_dim)
    threads = block_dim[0] * block_dim[1] * block_dim[2]
    if threads > MAX_THREADS_PER_BLOCK:
        raise LaunchError(f"a block of {dims} = {threads} threads: a GPU runs at most "
                          f"{MAX_THREADS_PER_BLOCK} threads per block (too many resources "
                          "requested for launch)")
    for axis, (n, cap) in enumerate(zip(block_dim, MAX_BLOCK_DIM)):
        if n > cap:
            raise LaunchError(f"blockDim.{'xyz'[axis]} = {n}: a GPU allows at most {cap}")
    for axis, (n, cap) in enumerate(zip(grid_dim, MAX_GRID_DIM)):
        if n < 1 or n > cap:
            raise LaunchError(f"gridDim.{'xyz'[axis]} = {n}: a GPU needs 1 to {cap} blocks "
                              "on this axis (invalid configuration argument)")
    if min(block_dim) < 1:
        raise LaunchError(f"a block of {dims} threads: every block dimension must be at least 1")
    if dynamic_shared > MAX_SHARED_BYTES:
        raise LaunchError(f"{dynamic_shared} bytes of dynamic shared memory: a GPU gives a "
                          f"block at most {MAX_SHARED_BYTES} bytes")


def _check_launches(kernel_class) -> None:
    original = kernel_class.__call__
    if getattr(original, "_grader_checked", False):
        return

    def launch(self, *args):
        if not (self._device or _in_kernel()) and None not in (self.grid_dim, self.block_dim):
            check_launch(tuple(self.grid_dim), tuple(self.block_dim), int(self.dynshared_size))
        return original(self, *args)

    launch._grader_checked = True
    kernel_class.__call__ = launch


def _in_kernel() -> bool:
    from numba.cuda.simulator import kernel
    return bool(kernel._kernel_context)


def _shared_array(self, shape, dtype, alignment=None):
    """``cuda.shared.array`` keyed by call site; at most 48 KiB a block, as on a GPU."""
    import numpy as np
    from numba.core import types
    from numba.np import numpy_support

    if alignment is not None:
        raise RuntimeError("Array alignment is not supported in cudasim")
    if isinstance(dtype, types.Type):
        dtype = numpy_support.as_dtype(dtype)
    dtype = np.dtype(dtype)
    if shape == 0:  # dynamic shared memory: one buffer for the whole block
        count = self._dynshared_size // dtype.itemsize
        return np.frombuffer(self._dynshared.data, dtype=dtype, count=count)
    caller = sys._getframe(1)
    site = (caller.f_code, caller.f_lasti)
    found = self._allocations.get(site)
    if found is None:
        with _allocation_lock:
            found = self._allocations.get(site)
            if found is None:
                found = np.empty(shape, dtype)
                _fill_as_garbage(found)
                used = sum(a.nbytes for a in self._allocations.values()) + found.nbytes
                used += self._dynshared_size
                if used > MAX_SHARED_BYTES:
                    raise LaunchError(
                        f"the kernel's shared arrays take {used} bytes: a GPU gives a block at "
                        f"most {MAX_SHARED_BYTES} bytes (48 KiB) of shared memory")
                self._allocations[site] = found
    return found


_allocation_lock = threading.Lock()


def _fill_as_garbage(array) -> None:
    """Shared memory starts undefined on a GPU: NaN (or an integer type's minimum) makes a read
    before any thread wrote there show in the results, rather than an accidental zero."""
    import numpy as np

    if array.dtype.kind in "fc":
        array.fill(np.nan)
    elif array.dtype.kind in "iu":
        array.fill(np.iinfo(array.dtype).min)


class _Threading:
    """What the simulator's kernel API uses of ``threading``, where ``current_thread()`` is the
    CUDA thread (a greenlet) running now."""

    Lock = threading.Lock

    def __init__(self, getcurrent):
        self._getcurrent = getcurrent

    def current_thread(self):
        running = self._getcurrent()
        return running if isinstance(running, _cuda_thread_class()) else threading.current_thread()


_CUDA_THREAD = None


def _cuda_thread_class():
    """``CudaThread``, made on first use (greenlet and numba are imported only then)."""
    global _CUDA_THREAD
    if _CUDA_THREAD is not None:
        return _CUDA_THREAD
    import greenlet
    from numba.cuda.simulator.kernel import BlockThread, Dim3

    class CudaThread(greenlet.greenlet):
        """One CUDA thread of a block: the attributes the simulator reads of its BlockThread."""

        syncthreads_count = BlockThread.syncthreads_count
        syncthreads_and = BlockThread.syncthreads_and
        syncthreads_or = BlockThread.syncthreads_or

        def __init__(self, body, manager, block_idx, thread_idx, scheduler):
            super().__init__(self._body, scheduler)
            self._f, self._manager = body, manager
            self.blockIdx, self.threadIdx = Dim3(*block_idx), Dim3(*thread_idx)
            dim = Dim3(*manager._block_dim)
            self.thread_id = self.threadIdx.x + dim.x * (self.threadIdx.y
                                                         + dim.y * self.threadIdx.z)
            self.exception = None

        def _body(self):
            try:
                if self._manager._debug:
                    import numpy as np
                    np.seterr(divide="raise")
                self._f()
            except Exception as e:  # as BlockThread.run reports it: which thread, which block
                where = f"tid={list(self.threadIdx)} ctaid={list(self.blockIdx)}"
                self.exception = (type(e)(f"{where}: {e}" if str(e) else where),
                                  sys.exc_info()[2])

        def syncthreads(self):
            self.parent.switch()  # back to the scheduler: the barrier is its loop

    _CUDA_THREAD = CudaThread
    return CudaThread


def _run_block(self, grid_point, *args):
    """``BlockManager.run`` with greenlets: resume each live thread until its next barrier (or
    its end); once a round has resumed them all, every live thread is at the same barrier."""
    import greenlet
    import numpy as np

    def body():
        self._f(*args)

    scheduler, make = greenlet.getcurrent(), _cuda_thread_class()
    live = [make(body, self, grid_point, point, scheduler)
            for point in np.ndindex(*self._block_dim)]
    while live:
        waiting = []
        for thread in live:
            thread.switch()
            if thread.exception:
                raise thread.exception[0].with_traceback(thread.exception[1])
            if not thread.dead:
                waiting.append(thread)
        live = waiting


def _run_block_in_threads(self, grid_point, *args):
    """numba-cuda's ``BlockManager.run`` (BSD-2-Clause) with a pause between polls: start one
    thread per CUDA thread, release them all from a barrier once all wait there, re-raise the
    first exception."""
    from numba.cuda.simulator.kernel import BlockThread
    import numpy as np

    threads = []
    for block_point in np.ndindex(*self._block_dim):
        def target():
            self._f(*args)
        thread = BlockThread(target, self, grid_point, block_point, self._debug)
        thread.start()
        threads.append(thread)
    live, blocked = set(threads), set()
    while live:
        for thread in live:
            if thread.syncthreads_blocked:
                blocked.add(thread)
            elif thread.exception:
                for other in threads:  # abort everyone waiting at a barrier
                    other.abort = True
                    other.syncthreads_blocked = False
                    other.syncthreads_event.set()
                raise thread.exception[0].with_traceback(thread.exception[1])
        if live == blocked:
            for thread in blocked:
                thread.syncthreads_blocked = False
                thread.syncthreads_event.set()
            blocked = set()
        else:
            time.sleep(POLL_SECONDS)
        live = {thread for thread in live if thread.is_alive()}
    for thread in threads:
        if thread.exception:
            raise thread.exception[0].with_traceback(thread.exception[1])
