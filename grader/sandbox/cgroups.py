"""A control group per worker sandbox (trusted; jail mode, the grader running as root).

Jobs graded side by side (``grader batch --jobs N``) would otherwise share the machine's CPU as
one pool: a submission that starts many busy processes would slow its neighbour's timed calls.
Each sandbox's worker tree goes into a group of its own with a CPU quota (one CPU by default:
a worker is single-threaded, so an honest one never feels it), a higher CPU weight than an
ordinary process (a timed call is not preempted by the rest of the machine) and a process
limit, so whatever a student starts competes only with itself. A GPU worker's group also holds
its memory limit (RLIMIT_AS breaks the CUDA driver, which reserves large virtual ranges).

cgroup v1 (a hierarchy per controller under ``/sys/fs/cgroup/<controller>``: ``cpu`` with
``cpu.cfs_quota_us``, ``pids`` with ``pids.max``) and v2 (one unified hierarchy: ``cpu.max``,
``pids.max``, controllers enabled in the parents' ``cgroup.subtree_control``) are supported.
``available()`` says which one this machine has, or why neither can be used; without one the
sandbox works as before and ``describe()`` says so (the grading process prints it once).
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
# Our groups sit directly under the root, named PREFIX + a unique name. Not under a parent
# group of their own: the CPU scheduler weighs a group like one task against its siblings, so
# all of our workers together would count as one process against everything else on the
# machine; side by side with the other processes, each worker tree counts as one.
PREFIX = "nn-grader-"
PERIOD_US = 100_000
# A worker tree weighs as much as this many ordinary processes when the CPU is contended: a
# timed call then runs nearly undisturbed by the rest of the machine, while the quota keeps the
# whole tree, however many processes it starts, within its one CPU.
WEIGHT = 8


def _writable(path: Path) -> bool:
    return path.exists() and os.access(path, os.W_OK)


def available(root: Path = ROOT) -> str:
    """"v2", "v1", or "" when neither a unified hierarchy with the cpu and pids controllers nor
    writable v1 cpu and pids hierarchies are there (not root, a container, no cgroupfs)."""
    if os.geteuid() != 0:
        return ""
    controllers = root / "cgroup.controllers"
    if controllers.exists():
        try:
            names = controllers.read_text().split()
        except OSError:
            return ""
        return "v2" if {"cpu", "pids"} <= set(names) and _writable(root) else ""
    if _writable(root / "cpu" / "cgroup.procs") and _writable(root / "pids" / "cgroup.procs") \
            and (root / "cpu" / "cpu.cfs_quota_us").exists():
        return "v1"
    return ""


def describe(root: Path = ROOT) -> str:
    version = available(root)
    if version:
        return f"cgroup {version}: each worker gets its own CPU quota and process limit"
    return ("no writable cgroup v1 or v2 hierarchy with the cpu and pids controllers (not root, "
            "or inside a container): jobs graded side by side share the CPU, so a busy "
            "neighbour can disturb timing tests; grade one job at a time or use the docker "
            "backend (--cpus)")


class WorkerCgroup:
    """One sandbox's group, ``nn-grader-<name>``: a CPU quota of ``cpus``, at most ``pids``
    processes and, with ``memory_mb``, a memory limit (without swap). ``enter()`` is called in
    the worker's process before it exec's (so everything it starts is inside from the first
    instruction); ``close()`` kills what is left in the group and removes it. ``how`` says
    what is limited, for reports."""

    def __init__(self, name: str, *, cpus: float = 1.0, pids: int = 128,
                 memory_mb: int | None = None, root: Path = ROOT):
        self.version = available(root)
        if not self.version:
            raise OSError("no usable cgroup hierarchy")
        quota = max(1000, int(cpus * PERIOD_US))
        memory = None if memory_mb is None else str(memory_mb * 1024 * 1024)
        self.dirs = []
        try:
            if self.version == "v2":
                _write(root / "cgroup.subtree_control",
                       "+cpu +pids" + (" +memory" if memory else ""))
                group = root / (PREFIX + name)
                group.mkdir(exist_ok=True)
                self.dirs = [group]
                _write(group / "cpu.max", f"{quota} {PERIOD_US}")
                _write(group / "cpu.weight", str(100 * WEIGHT))
                _write(group / "pids.max", str(pids))
                if memory:
                    _write(group / "memory.max", memory)
                    _write(group / "memory.swap.max", "0", missing_ok=True)
            else:
                controllers = ["cpu", "pids"] + (["memory"] if memory else [])
                # cpuacct, where it is a hierarchy of its own: the tree's CPU time, one read.
                if _writable(root / "cpuacct" / "cgroup.procs") \
                        and not (root / "cpu" / "cpuacct.usage").exists():
                    controllers.append("cpuacct")
                self.dirs = [root / c / (PREFIX + name) for c in controllers]
                for d in self.dirs:
                    d.mkdir(exist_ok=True)
                _write(self.dirs[0] / "cpu.cfs_period_us", str(PERIOD_US))
                _write(self.dirs[0] / "cpu.cfs_quota_us", str(quota))
                _write(self.dirs[0] / "cpu.shares", str(1024 * WEIGHT))
                _write(self.dirs[1] / "pids.max", str(pids))
                if memory:
                    _write(self.dirs[2] / "memory.limit_in_bytes", memory)
                    _write(self.dirs[2] / "memory.memsw.limit_in_bytes", memory, missing_ok=True)
        except OSError:
            self.close()  # nothing half-made is left behind
            raise
        self.how = (f"cgroup {self.version}, {cpus:g} CPU, {pids} processes"
                    + (f", {memory_mb} MB" if memory else ""))

    def enter(self) -> None:
        """Move the calling process into the group (in the child, before exec)."""
        for d in self.dirs:
            _write(d / "cgroup.procs", str(os.getpid()))

    def cpu_seconds(self) -> float | None:
        """CPU time used by every process that was ever in the group, or None if unknown."""
        for d in self.dirs:
            try:
                if self.version == "v2":
                    for line in (d / "cpu.stat").read_text().splitlines():
                        if line.startswith("usage_usec "):
                            return int(line.split()[1]) / 1e6
                elif (d / "cpuacct.usage").exists():
                    return int((d / "cpuacct.usage").read_text()) / 1e9
            except (OSError, ValueError):
                return None
        return None

    def memory_limit_hit(self) -> bool:
        """The group's memory limit was reached (its processes were refused memory, or the
        kernel's OOM killer ran in it): the worker's own doing."""
        for d in self.dirs:
            for name in ("memory.events", "memory.oom_control"):  # v2, v1
                try:
                    counts = dict(line.split()[:2] for line in
                                  (d / name).read_text().splitlines() if line.strip())
                except (OSError, ValueError):
                    continue
                if "oom_kill" in counts:
                    return int(counts["oom_kill"]) > 0
        return False

    def pids(self) -> list[int]:
        found = set()
        for d in self.dirs:
            try:
                found.update(int(p) for p in (d / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return sorted(found)

    def close(self) -> None:
        """Kill whatever is still in the group, then remove it."""
        for _ in range(50):
            left = self.pids()
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                for d in self.dirs:
                    if d.exists():
                        d.rmdir()
                return
            except OSError:  # EBUSY: tasks still exiting
                time.sleep(0.02)


def _write(path: Path, text: str, *, missing_ok: bool = False) -> None:
    if missing_ok and not path.exists():  # e.g. no swap accounting on this kernel
        return
    with open(path, "w") as f:
        f.write(text)
