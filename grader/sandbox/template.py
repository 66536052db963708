"""A template for jail-mode workers, and for uid-mode ones in the container (trusted): one
interpreter that has imported NumPy and the worker's code, and forks a fresh worker from itself
for each request, so that a worker costs a fork instead of two interpreter starts and NumPy's
import. A batch's pool worker starts its templates as interpreters of their own; the
container's entry point forks them from itself, before it has read anything of the assignment's
or the submission's (``grader.sandbox.container.fork_templates``).

The template never runs student code and never holds any: it receives only what a jail needs
(the working copy's path, the jail's mount point, a uid, limits, the cgroup's folders) and the
worker's descriptors. Each worker is a fresh fork, used for one submission's worker once and
never again; what a worker then does happens in its own process, jail and namespaces exactly as
with ``unshare`` and ``grader.sandbox.jail``:

    template (root, outside any jail; one per batch pool worker, per harness, or per container)
     └─ keeper: enters the sandbox's cgroup, unshare(mount, net, pid, ipc, uts), forks;
        reports the worker's pid, then its exit status, on a socket the harness holds;
        kills the worker when that socket closes (the harness is gone)
         └─ worker: PID 1 of its namespace, own session; the jail's root (jail.build_root),
            chroot, the worker uid, no-new-privs, rlimits, descriptors 0-2 and its two
            channels only, NumPy's global random state reseeded; then ``worker.main``.
            In uid mode (the container is the namespace): no unshare, no jail; the uid,
            rlimits and no-new-privs as ``LocalSandbox`` gives an exec'd worker
            (``local.drop_to_uid``)

A worker gets no descriptor of the template's, the keeper's socket or any other worker's
(all are closed before anything else runs). The template is made non-dumpable, dies with the
process that started it, and answers nothing but spawn requests. Where it cannot be used
(not started here, dead, a refused request), ``LocalSandbox`` starts the worker as before.

Three kinds (``KINDS``), each its own template process, since numba reads the simulator's
switch once, at import: ``worker`` (NumPy and the worker), ``cuda-sim`` (the CUDA problems'
worker: numba-cuda's simulator imported, half a second a worker) and ``compile`` (the compile
check, ``grader.gpu.compile_check``: numba-cuda and its compiler set up, a second a
submission). The last two start only for assignments with CUDA problems (``start_for``).
"""
from __future__ import annotations

import array
import ctypes
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

from grader.sandbox.local import HELPERS, WORKER_TEMPLATES
from grader.sandbox.worker_kinds import KINDS, kind_for

PR_SET_PDEATHSIG = 1
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MAX_REQUEST = 64 * 1024
SPAWN_TIMEOUT = 20.0  # seconds a spawn may take before the direct way is used instead

_BOOT = ("import sys; sys.path.insert(0, %r); from grader.sandbox.template import serve; "
         "serve(int(sys.argv[1]), sys.argv[2])")


# -- the trusted side: whoever starts the template, and the harnesses forked from it ---------

class WorkerChild:
    """A worker forked by the template, as its harness sees it (the subset of ``Popen`` that
    ``WorkerProcess`` uses): its pid, and its exit status as reported by its keeper."""

    def __init__(self, pid: int, status: socket.socket):
        self.pid, self._status, self._buffer, self.returncode = pid, status, b"", None

    def _read(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self._status], [], [], remaining)[0]:
                return
            chunk = self._status.recv(256)
            if not chunk:  # the keeper is gone without a word: count it as killed
                self.returncode = -signal.SIGKILL
                break
            self._buffer += chunk
            for line in self._buffer.split(b"\n")[:-1]:
                if line.startswith(b"exit "):
                    self.returncode = int(line[5:])
        if self.returncode is not None and self._status.fileno() >= 0:
            self._status.close()

    def poll(self):
        self._read(0)
        return self.returncode

    def wait(self, timeout: float | None = None):
        self._read(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired("worker", timeout)
        return self.returncode


class Template:
    """The template process and the control socket to it (inherited by forked harnesses).

    ``fork``: the template is a fork of this process instead of a new interpreter (no start-up,
    and what this process imported is shared). Only for a process that has read nothing of a
    submission's or of the hidden tests yet: the container's entry point, first thing."""

    def __init__(self, python: str, package_parent: str, env: dict, kind: str = "worker", *,
                 fork: bool = False):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._control, self.kind = ours, kind
        env = {**env, **KINDS[kind][1]}  # numba reads the simulator's switch at import
        if fork:
            self.proc = _ForkedTemplate(theirs.fileno(), env, kind)
        else:
            self.proc = subprocess.Popen(
                [python, "-I", "-B", "-c", _BOOT % package_parent, str(theirs.fileno()), kind],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),), env=env,
                start_new_session=True, preexec_fn=_die_with_parent)
        theirs.close()
        self.owner = os.getpid()
        HELPERS.add(self.proc.pid)  # not an orphan of a worker: killing workers spares it

    def spawn(self, spec: dict, fds: list[int]) -> WorkerChild | None:
        """A fresh jailed worker for ``spec`` with ``fds`` (request, reply, output), or None
        where the template cannot give one (then the caller starts the worker itself)."""
        if self.owner == os.getpid() and self.proc.poll() is not None:
            return None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            message = json.dumps(spec).encode()
            rights = array.array("i", list(fds) + [theirs.fileno()])
            self._control.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])
            theirs.close()
            child = _read_pid(ours)
        except (OSError, ValueError):
            ours.close()
            theirs.close()
            return None
        if child is None:
            ours.close()
        return child

    def close(self) -> None:
        if self.owner == os.getpid():
            self._control.close()
            self.proc.kill()
            self.proc.wait()
            HELPERS.discard(self.proc.pid)


class _ForkedTemplate:
    """A template forked from this process (the subset of ``Popen`` that ``Template`` uses)."""

    def __init__(self, control_fd: int, env: dict, kind: str):
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid, self.returncode = os.fork(), None
        if self.pid == 0:
            try:
                _die_with_parent()
                os.setsid()
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                _close_all_but({control_fd})
                os.environ.clear()  # the template's own, as a started template's would be
                os.environ.update(env)
                serve(control_fd, kind)
            finally:
                os._exit(0)

    def poll(self):
        if self.returncode is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # a forked harness: not its child, so not its to tell
                return None
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self):
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode


def _read_pid(status: socket.socket) -> WorkerChild | None:
    deadline, data = time.monotonic() + SPAWN_TIMEOUT, b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([status], [], [], remaining)[0]:
            return None
        chunk = status.recv(256)
        if not chunk:
            return None
        data += chunk
    line, rest = data.split(b"\n", 1)
    if not line.startswith(b"pid "):
        return None
    child = WorkerChild(int(line[4:]), status)
    child._buffer = rest
    return child


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_current = WORKER_TEMPLATES  # kind -> this process's template (and its forked harnesses')


def start(python: str, package_parent: str, env: dict, kind: str = "worker", *,
          fork: bool = False) -> Template:
    """Start this process's template of ``kind`` (once); harnesses forked from here use it.
    ``fork``: see ``Template``."""
    if kind not in _current:
        # numba reads the simulator's switch at import: a fork of a process that imported it
        # would keep this process's setting, so such a template is started afresh.
        fork = fork and (kind == "worker" or "numba" not in sys.modules)
        _current[kind] = Template(python, package_parent, env, kind, fork=fork)
    return _current[kind]


def start_for(python: str, package_parent: str, env: dict, *, cuda: bool,
              fork: bool = False) -> None:
    """The templates a pool's gradings use: the worker's; with ``cuda`` (and numba-cuda
    installed) the CUDA worker's and the compile check's as well."""
    import importlib.util

    start(python, package_parent, env, fork=fork)
    if cuda and importlib.util.find_spec("numba") and importlib.util.find_spec("numba_cuda"):
        start(python, package_parent, env, "cuda-sim", fork=fork)
        start(python, package_parent, env, "compile", fork=fork)


def current(kind: str = "worker") -> Template | None:
    return _current.get(kind)


def stop() -> None:
    while _current:
        _current.popitem()[1].close()


# -- the template process ---------------------------------------------------------------------

def _preload(kind: str) -> None:
    """What every worker of ``kind`` imports, imported once here (no student code: none is
    here to run)."""
    import numpy.random  # noqa: F401

    from grader.sandbox import jail  # noqa: F401
    if kind == "compile":
        from grader.gpu import compile_check
        compile_check.set_up_compiler()
        return
    import grader.untrusted.worker  # noqa: F401
    if kind == "cuda-sim":
        from numba import cuda  # noqa: F401  (the simulator: the switch is in our environment)
        import greenlet  # noqa: F401
        from grader.untrusted import cudasim  # noqa: F401


def serve(control_fd: int, kind: str = "worker") -> None:
    """The template's loop: one fork per request, until the control socket closes."""
    try:
        _preload(kind)
    except ImportError:  # numba-cuda or greenlet missing: workers start the usual way
        os._exit(0)
    _libc().prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0: no ptrace, no /proc/<us>/mem
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # keepers are reaped by the kernel
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the grading process
    control = socket.socket(fileno=control_fd)
    while True:
        try:
            message, ancillary, _, _ = control.recvmsg(MAX_REQUEST, socket.CMSG_SPACE(16 * 4))
        except InterruptedError:
            continue
        fds = _descriptors(ancillary)
        if not message:
            os._exit(0)  # whoever started us is gone
        if len(fds) != 4:
            _close(fds)
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            control.close()
            _keeper(message, fds, kind)
        _close(fds)


def _descriptors(ancillary) -> list[int]:
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    return list(fds)


def _close(fds) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _close_all_but(keep) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _keeper(message: bytes, fds: list[int], kind: str) -> None:
    """The worker's parent, outside its PID namespace (never returns)."""
    status = fds[3]
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        spec = json.loads(message)
        _close_all_but(set(fds))
        if kind_for(spec["entry"], spec["extra_env"]) != kind:
            raise ValueError(f"a {kind} template does not start {spec['entry']}")
        for folder in spec.get("cgroups", []):
            with open(os.path.join(folder, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        if spec.get("mode", "jail") == "jail":  # uid mode: the container is the namespace
            flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
            if _libc().unshare(flags) != 0:
                raise OSError(ctypes.get_errno(), "unshare failed")
        pid = os.fork()
        if pid == 0:
            os.close(status)
            _worker(spec, fds[:3], KINDS[kind][0])
        _close(fds[:3])
        os.write(status, f"pid {pid}\n".encode())
        code = _wait_for(pid, status)
        os.write(status, f"exit {code}\n".encode())
    except BaseException:  # noqa: BLE001 (no worker: the harness falls back, or sees it exit)
        pass
    os._exit(0)


def _wait_for(pid: int, status: int) -> int:
    """The worker's exit code (negative: the signal that killed it); kill it first if the
    harness goes away (its end of ``status`` closes)."""
    pidfd = os.pidfd_open(pid)
    while True:
        ready = select.select([pidfd, status], [], [])[0]
        if status in ready and pidfd not in ready:
            try:
                gone = os.read(status, 1) == b""
            except OSError:
                gone = True
            if gone:
                os.kill(pid, signal.SIGKILL)
        if pidfd in ready or status in ready:
            done, wait_status = os.waitpid(pid, os.WNOHANG)
            if done:
                os.close(pidfd)
                return os.waitstatus_to_exitcode(wait_status)


def _worker(spec: dict, fds: list[int], entry: str) -> None:
    """PID 1 of the new namespaces (jail mode; in uid mode the container's process like any
    other): the jail or the uid, then the worker's own code (never returns)."""
    request_fd, reply_fd, output_fd = fds
    try:
        _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        os.setsid()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL if sig != signal.SIGINT else
                          signal.default_int_handler)
        os.environ.clear()  # the worker's own environment, as an exec'd worker would get
        os.environ.update(spec["env"])
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(output_fd)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        if spec.get("mode", "jail") == "jail":
            from grader.sandbox import jail
            jail.enter(spec)
            _as_in_the_jail()
        else:
            from grader.sandbox.local import WorkerLimits, drop_to_uid
            drop_to_uid(WorkerLimits(**spec["limits"]), spec["uid"], spec["workdir"])
        _as_a_fresh_worker()
    except BaseException as e:  # noqa: BLE001 (the harness sees a worker that never said hello)
        os.write(2, f"the jail could not be made: {type(e).__name__}: {e}\n".encode())
        os._exit(70)
    sys.argv = ["-c", str(request_fd), str(reply_fd)]
    if entry == "grader.gpu.compile_check":
        from grader.gpu import compile_check
        compile_check.main()
    else:
        from grader.untrusted import worker
        worker.main()
    os._exit(0)


def _as_in_the_jail() -> None:
    """What a worker started in the jail would see: the grader package at /opt/grader."""
    import grader
    here = os.path.dirname(os.path.dirname(grader.__file__))
    sys.path[:] = ["/opt/grader" if p == here else p for p in sys.path]
    grader.__path__[:] = ["/opt/grader/grader"]


def _as_a_fresh_worker() -> None:
    """What a started worker would have: NumPy's global random state from fresh entropy (a
    fork would share the template's), no bytecode written (``python -B``)."""
    import numpy as np
    np.random.seed()
    sys.dont_write_bytecode = True
