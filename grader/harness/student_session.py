"""Use a student's files from trusted code, outside a test run: ``with_student(spec, folder,
work)`` copies the declared files into a private folder, forks a harness-like child (not
dumpable, the subreaper of the worker's orphans) that starts the sandboxed worker and calls
``work(student)`` with the ``student`` proxy, and returns what ``work`` returned (plain JSON).

For ``grader zip`` (do the files import?) and ``grader check``'s timing (``yardstick.py``).
As everywhere, the student's code runs only in the worker; the child is killed with its whole
tree when it runs past ``timeout``.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from grader.errors import GraderError
from grader.sandbox.local import LocalSandbox, WorkerLimits, kill_tree, make_undumpable


def _copy_work(spec, folder: Path, provided_from: Path, into: Path) -> Path:
    work = into / "work"
    work.mkdir()
    for name in spec.files:
        if (folder / name).is_file():
            shutil.copy2(folder / name, work / name)
    for name in spec.provided:
        if (provided_from / name).is_file():
            shutil.copyfile(provided_from / name, work / name)
    return work


def _child(spec, work: Path, fn, pipe_w: int, timeout: float) -> None:
    code = 0
    try:
        make_undumpable()
        from grader.wire.bridge import StudentModules, WorkerSession
        limits = spec.limits
        sandbox = LocalSandbox(work, WorkerLimits(memory_mb=limits.memory_mb,
                                                  cpu_seconds=int(timeout) + 5),
                               output_cap=limits.output_kb * 1024)
        session = WorkerSession(sandbox, spec.modules, call_timeout=limits.call_timeout)
        try:
            answer = {"ok": fn(session, StudentModules(session, spec.modules))}
        finally:
            session.close()
            sandbox.close()
    except BaseException as e:  # report anything; never return into the parent's code
        answer = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-2000:]}
        code = 1
    data = json.dumps(answer, allow_nan=False).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(pipe_w, view):]
    os.close(pipe_w)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def with_student(spec, folder: Path, fn, *, provided_from: Path | None = None,
                 timeout: float = 120.0):
    """``fn(session, student)`` run against the student's files in ``folder``; its result."""
    jobs = Path(tempfile.mkdtemp(prefix="grader-session-"))
    os.chmod(jobs, 0o711)  # the worker's uid must reach work/, nothing else
    try:
        work = _copy_work(spec, Path(folder), Path(provided_from or folder), jobs)
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _child(spec, work, fn, write_fd, timeout)
        os.close(write_fd)
        chunks, deadline = [], time.monotonic() + timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([read_fd], [], [], remaining)[0]:
                    kill_tree(pid)
                    raise GraderError(f"working with your files took longer than {timeout:g} s")
                chunk = os.read(read_fd, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(read_fd)
            os.waitpid(pid, 0)
        try:
            answer = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            answer = {}
        if "ok" not in answer:
            raise GraderError("the grader could not use your files: "
                              + answer.get("error", "the helper process died"))
        return answer["ok"]
    finally:
        shutil.rmtree(jobs, ignore_errors=True)
