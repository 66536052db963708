"""How much of a call's time limit the worker has used, measured from outside (trusted).

A per-call limit read off the wall clock charges the student for the machine being busy: beside
other gradings, a cheap call that waited seconds for a CPU, or a reply that sat in the pipe
while the harness itself waited for one, was graded "no answer within 1 s". The kernel keeps
the numbers that tell these apart, for every process, whatever the process says:

- ``/proc/PID/schedstat``: the time the worker's main thread spent *waiting on a run queue*
  (runnable, but another process had the CPU). That time is the machine's, not the student's.
- ``/proc/PID/stat``: the CPU time of the worker's tree (every live process of its uid, and
  the children each has reaped). A tree that burns its CPU is charged for it, whatever its
  main thread's run queue says (helpers that throttle their own group's quota included).

- ``/proc/pressure/memory``: the time in which the machine was short of memory. A worker
  whose pages were reclaimed waits for them in the kernel, not on a run queue.

A call is **over its limit** when the time charged to it reaches the limit:

    charged = wall time since the request was sent
              - the main thread's run-queue wait in that time
              - the machine's memory-stall time in that time
              - the time the harness's callbacks waited for a CPU

or when its tree's CPU time alone reaches the limit. Sleeping, blocking and computing are all
charged; only waiting for a CPU is not. Wall time is a **backstop**: a call that is not over its
limit after ``BACKSTOP_FACTOR`` times the limit (at least ``BACKSTOP_MIN_S`` more) and that spent
most of that time waiting for a CPU or memory was kept from running by the machine, and is
undecidable: ``infrastructure``, regraded, never a lost point; one that mostly ran is a
timeout. Where the kernel does not keep these numbers (no schedstat), the wall clock alone
decides, as before.
"""
from __future__ import annotations

import os
import time

BACKSTOP_FACTOR = 10.0
BACKSTOP_MIN_S = 30.0
_TICK = os.sysconf("SC_CLK_TCK")


def run_queue_wait(pid: int | None) -> float | None:
    """Seconds ``pid``'s main thread has spent runnable but waiting for a CPU, or None."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            fields = f.read().split()
        return int(fields[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def memory_stall() -> float:
    """Seconds in which some task on this machine was stalled on memory (reclaim, thrashing:
    the kernel's pressure-stall information), or 0 where the kernel keeps none."""
    try:
        with open("/proc/pressure/memory") as f:
            for line in f:
                if line.startswith("some "):
                    return int(line.rsplit("total=", 1)[1]) / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def _stat_fields(entry: str) -> list[bytes] | None:
    try:
        with open(f"/proc/{entry}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2:].split()


def tree_cpu(pid: int | None, uid: int | None) -> float:
    """CPU seconds of the worker's tree: with ``uid`` (a uid leased to this worker alone),
    every live process of that uid, each with the children it has reaped; else ``pid`` and
    its reaped children."""
    total = 0
    if uid is None:
        fields = _stat_fields(str(pid)) if pid is not None else None
        if fields:
            total = sum(int(x) for x in fields[11:15])
        return total / _TICK
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
        except OSError:
            continue
        fields = _stat_fields(entry)
        if fields:  # utime, stime, cutime, cstime
            total += sum(int(x) for x in fields[11:15])
    return total / _TICK


def frozen(pid: int | None) -> bool:
    """The process is stopped (state T or t): frozen by someone, not running its code."""
    fields = _stat_fields(str(pid)) if pid is not None else None
    return bool(fields) and fields[0] in (b"T", b"t")


class CallClock:
    """The charge of one call against ``limit`` seconds (see the module's docstring)."""

    def __init__(self, limit: float, pid: int | None, uid: int | None, cgroup=None, *,
                 namespace_init: bool = False):
        """``namespace_init``: the worker is PID 1 of its own PID namespace (jail mode), so it
        cannot stop itself: stopped, it was frozen from outside."""
        self.limit, self.pid, self.uid = limit, pid, uid
        self.namespace_init = namespace_init
        self.started = time.monotonic()
        self.backstop = self.started + max(limit * BACKSTOP_FACTOR, limit + BACKSTOP_MIN_S)
        # Seconds the harness's callbacks spent waiting for a CPU (their computing is charged:
        # the student's code chose to call them).
        self.callbacks = 0.0
        self._wait0 = run_queue_wait(pid)
        self._stall0 = memory_stall()
        # The tree's CPU time: its cgroup's count (one read) where it has one, else the kernel's
        # accounting of each process of its uid (a scan of /proc).
        self._group = cgroup if cgroup is not None and cgroup.cpu_seconds() is not None \
            else None
        self._cpu0 = self._tree_cpu() if self._wait0 is not None else 0.0

    def _tree_cpu(self) -> float:
        if self._group is not None:
            return self._group.cpu_seconds() or 0.0
        return tree_cpu(self.pid, self.uid)

    @property
    def measured(self) -> bool:
        """False where the kernel keeps no run-queue times: then the wall clock decides."""
        return self._wait0 is not None

    def waited(self) -> float:
        """Seconds of this call the worker spent waiting for a CPU."""
        now = run_queue_wait(self.pid) if self.measured else None
        return 0.0 if now is None or self._wait0 is None else max(0.0, now - self._wait0)

    def stalled(self) -> float:
        """Seconds of this call in which the machine was short of memory (a worker whose pages
        were reclaimed waits for them to come back; that is not its doing)."""
        return max(0.0, memory_stall() - self._stall0)

    def charged(self) -> float:
        wall = time.monotonic() - self.started
        return wall - self.waited() - self.stalled() - self.callbacks

    def cpu(self) -> float:
        return self._tree_cpu() - self._cpu0 if self.measured else 0.0

    def over_limit(self) -> bool:
        return self.charged() >= self.limit or self.cpu() >= self.limit

    def past_backstop(self) -> bool:
        return self.measured and time.monotonic() >= self.backstop

    def kept_from_running(self) -> bool:
        """Most of the call went to waiting for a CPU or for memory: the machine's doing. (At
        the backstop a call that mostly ran, slowly, is the student's: a timeout.)"""
        wall = time.monotonic() - self.started
        return self.waited() + self.stalled() >= 0.5 * wall

    def machine_time(self) -> float:
        """The part of this call that was the machine's (waiting for a CPU or for memory)."""
        return self.waited() + self.stalled() if self.measured else 0.0

    def verdict(self) -> str | None:
        """None while the call may go on; else "timeout" (the student's), "frozen" or
        "undecidable" (the machine's)."""
        if not self.measured:
            return "timeout" if time.monotonic() - self.started >= self.limit else None
        if self.over_limit():
            return "frozen" if self.namespace_init and frozen(self.pid) else "timeout"
        if self.past_backstop():
            return "undecidable" if self.kept_from_running() else "timeout"
        return None

    def next_check(self) -> float:
        """How long to wait before the charge could reach the limit (it grows no faster than
        the wall clock)."""
        if not self.measured:
            return max(0.0, self.started + self.limit - time.monotonic())
        return max(0.01, min(self.limit - self.charged(), self.backstop - time.monotonic()))
