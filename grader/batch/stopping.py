"""Stopping a batch cleanly: Ctrl-C, a dead parent, a pool that must go at once.

- ``CtrlC`` counts SIGINTs in the batch process. The handler only sets a flag (printing or
  taking locks inside a signal handler can deadlock); the batch loop reads it within a fraction
  of a second: the first press finishes what is running, the second stops at once.
- Pool workers ignore SIGINT (the terminal sends it to the whole process group; only the batch
  process decides), die with their parent (``PR_SET_PDEATHSIG``), and on the first SIGTERM kill
  their harness and its whole tree, let the task's ``finally`` blocks remove its temporary
  folders (further SIGTERMs ignored meanwhile), and exit without reporting back.
"""
from __future__ import annotations

import ctypes
import os
import signal
import threading
from pathlib import Path

from grader.sandbox.local import kill_tree

PR_SET_PDEATHSIG = 1
_busy = False  # in a pool worker: a task is running (SIGTERM must clean up, not just exit)


class CtrlC:
    """SIGINT counter for the duration of a ``with`` block (main thread only; elsewhere it
    counts nothing and Ctrl-C keeps its default behaviour)."""

    def __init__(self):
        self.presses = 0
        self._old = None

    def _handler(self, signum, frame):
        self.presses += 1

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False

    @property
    def finishing(self) -> bool:
        return self.presses >= 1

    @property
    def stop_now(self) -> bool:
        return self.presses >= 2


def _children() -> list[int]:
    pids = []
    for task in Path("/proc/self/task").iterdir():
        try:
            pids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return pids


def _on_sigterm(signum, frame):
    if not _busy:
        os._exit(0)
    # Once: the unwinding below must not itself be interrupted. A second SIGTERM does come: a
    # process pool that finds one worker gone terminates the others (they may be cleaning up).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for pid in _children():  # the harness, its worker and whatever they started
        kill_tree(pid)
    raise KeyboardInterrupt  # unwinds the task: its `finally` blocks remove its temp folders


def worker_init() -> None:
    """Initializer of each pool worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent died before the line above took effect
        os._exit(0)


def run_task(fn, *args):
    """Run one task in a pool worker; when stopped by SIGTERM, clean up and exit quietly."""
    global _busy
    _busy = True
    try:
        return fn(*args)
    except KeyboardInterrupt:
        os._exit(0)
    finally:
        _busy = False


def stop_workers(processes, *, grace: float = 10.0) -> None:
    """SIGTERM each pool worker (a ``multiprocessing.Process``: it kills its harness and removes
    its temp folders), then SIGKILL the tree of any still alive after ``grace`` seconds."""
    import time
    for proc in processes:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, TypeError):
            pass
    deadline = time.monotonic() + grace
    for proc in processes:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            kill_tree(proc.pid)
            proc.join(5)
