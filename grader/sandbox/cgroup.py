"""A memory cgroup for one worker: how GPU workers' memory is limited.

RLIMIT_AS breaks CUDA (the driver reserves large virtual address ranges), so a GPU worker runs
without it, in a cgroup of its own with a memory limit: v2 (``memory.max``) or v1
(``memory.limit_in_bytes``). Where neither can be created (not root, or a sandboxed kernel
such as gVisor that refuses it) the worker runs without a memory limit and ``how`` says so.
"""
from __future__ import annotations

import itertools
import os
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_serial = itertools.count()


class MemoryCgroup:
    def __init__(self, path: Path | None, how: str):
        self.path, self.how = path, how

    @classmethod
    def create(cls, memory_mb: int, root: Path = ROOT) -> "MemoryCgroup":
        name = f"nn-grader-{os.getpid()}-{next(_serial)}"
        limit = str(memory_mb * 1024 * 1024)
        candidates = [(root / name, "memory.max", "cgroup v2"),
                      (root / "memory" / name, "memory.limit_in_bytes", "cgroup v1")]
        if not (root / "cgroup.controllers").exists():  # v1 (or hybrid): try v1 first
            candidates.reverse()
        for path, knob, how in candidates:
            try:
                path.mkdir()
            except OSError:
                continue
            try:
                (path / knob).write_text(limit)
                if knob == "memory.limit_in_bytes" and (path / "memory.memsw.limit_in_bytes").exists():
                    (path / "memory.memsw.limit_in_bytes").write_text(limit)  # no swap escape
                return cls(path, f"{how}, {memory_mb} MB")
            except OSError:
                _rmdir(path)
        return cls(None, "none (no writable memory cgroup here)")

    def enter(self) -> None:
        """Called in the child before exec: it and everything it starts belong to the group."""
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        if self.path is not None:
            _rmdir(self.path)
            self.path = None


def _rmdir(path: Path) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass
