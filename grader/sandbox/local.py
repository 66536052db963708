"""The local sandbox: starts the untrusted worker and kills it, whole, when asked.

Three modes; ``GRADER_SANDBOX_MODE`` picks one, else jail as root and plain otherwise:

``jail`` (the grader runs as root, the usual case in CI and in the Docker image's harness):
    ``unshare`` gives the worker new mount, PID, network (no interfaces), IPC and UTS namespaces;
    ``grader.sandbox.jail`` then builds a minimal root (read-only system and Python directories, the
    private working copy, a small /tmp), drops to an unprivileged uid of its own, sets
    no-new-privs and exec's the worker. The worker is PID 1 of its namespace, so killing it kills
    every process it started, ``setsid`` daemons included. Hidden tests, reference solutions,
    other submissions and the harness's files are not in its file system at all.
``uid`` (root without namespaces: the harness inside the Docker image, whose container already
    has no network, a read-only root and its own PID namespace): the worker is dropped to a
    leased unprivileged uid with no-new-privs and rlimits; its files are its own, the hidden
    tests and solutions are root-only; killing is by uid.
``plain`` (not root): a subprocess in a new session with a clean environment, ``python -I``,
    rlimits and a private working copy. The harness is a child subreaper, so orphans of the
    worker (double forks, ``setsid``) come back to it and are killed. It runs with the grader's
    own uid, so it could read any file that uid can read and reach the network: see
    docs/architecture.md.

All: rlimits on address space, CPU seconds, file size, open files and processes; one BLAS
thread; stdout and stderr go to a pipe the harness drains with a byte cap. In jail mode the
worker's whole tree also runs in a control group of its own (``grader.sandbox.cgroups``: one
CPU, a process limit), so that jobs side by side cannot take each other's CPU.
"""
from __future__ import annotations

import ctypes
import dataclasses
import fcntl
import itertools
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox import cgroups
from grader.sandbox.worker_kinds import kind_for

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])  # the folder holding grader/
TRUSTED_TMP_VAR = "GRADER_TRUSTED_TMP"
UID_BASE = 61000  # jail mode: worker uids UID_BASE .. UID_BASE + UID_SLOTS - 1
UID_SLOTS = 256
_PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class WorkerLimits:
    memory_mb: int = 1024
    cpu_seconds: int = 600
    file_mb: int = 64
    open_files: int = 256
    processes: int = 64
    tmp_mb: int = 64
    # False for GPU workers: the CUDA driver reserves large virtual ranges, so RLIMIT_AS of a
    # few GB breaks it; their memory is limited by a cgroup instead (sandbox/cgroups.py).
    address_space: bool = True


def trusted_tmp() -> Path:
    """Where the harness keeps its own files (the reference's working copy, the jail's mount
    points, uid leases): ``$GRADER_TRUSTED_TMP`` if set -- in the docker image a root-only
    tmpfs of its own, so that a student who fills /tmp or /dev/shm cannot make a trusted step
    fail -- else the system's temporary folder (in jail mode the student never sees it)."""
    return Path(os.environ.get(TRUSTED_TMP_VAR) or tempfile.gettempdir())


JOB_SCRATCH_VAR = "GRADER_JOB_SCRATCH"


def job_scratch() -> Path:
    """Where a harness puts what it makes for one grading (the jail's mount points, the
    reference's working copy): ``$GRADER_JOB_SCRATCH``, a folder in ``trusted_tmp`` that the
    harness's supervisor made for this run and removes after it, even when the harness was
    killed (a timeout, a batch stopped at once); else ``trusted_tmp``."""
    return Path(os.environ.get(JOB_SCRATCH_VAR) or trusted_tmp())


def clean_environment() -> dict[str, str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "NUMEXPR_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1"}
    # Some CPUs here need these for OpenBLAS to compute correctly; pass them through.
    # (NUMBA_ENABLE_CUDASIM is not passed through: each sandbox sets it for the workers of
    # CUDA problems without a GPU, and a GPU worker or the compile check must not inherit it.)
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def set_limits(limits: WorkerLimits, *, processes: int | None = None) -> None:
    """Apply rlimits to the current process (called in the child before exec)."""
    mb = 1024 * 1024
    infinity = resource.RLIM_INFINITY
    for res, value in ((resource.RLIMIT_AS, limits.memory_mb * mb if limits.address_space
                        else infinity),
                       (resource.RLIMIT_CPU, limits.cpu_seconds),
                       (resource.RLIMIT_FSIZE, limits.file_mb * mb),
                       (resource.RLIMIT_NOFILE, limits.open_files),
                       (resource.RLIMIT_NPROC, processes or limits.processes),
                       (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(res, (value, value))


MODES = ("jail", "uid", "plain")


def default_mode() -> str:
    """GRADER_SANDBOX_MODE if set; else jail as root (when namespaces work), else plain."""
    mode = os.environ.get("GRADER_SANDBOX_MODE", "")
    if mode:
        return mode
    return "jail" if os.geteuid() == 0 and shutil.which("unshare") else "plain"


def jail_available() -> bool:
    return default_mode() == "jail"


def drop_to_uid(limits: WorkerLimits, uid: int, workdir: str) -> None:
    """Become a ``uid``-mode worker: rlimits, the leased uid with no groups, no-new-privs, in
    its working copy (which only that uid may enter). Called in the child before exec, or in a
    worker forked by a template (``sandbox/template.py``), so that both confine it the same way."""
    set_limits(limits)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    no_new_privs()
    os.chdir(workdir)


def no_new_privs() -> None:
    """Neither this process nor what it exec's can gain privileges (setuid bits, caps)."""
    if ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError("prctl(PR_SET_NO_NEW_PRIVS) failed")


def become_subreaper() -> None:
    """Orphaned descendants of this process are reparented to it, so they can be found."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except OSError:
        pass


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        children = [c for p in frontier for c in _children_of(p)]
        found += children
        frontier = children
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and every descendant of it. Everything is stopped first, so that nothing
    forks away or is reparented out of reach while we look; the root dies last."""
    def signal_all(pids, sig):
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass

    seen: set[int] = set()
    signal_all([pid], signal.SIGSTOP)
    for _ in range(20):
        tree = [p for p in _descendants(pid) if p not in seen]
        if not tree:
            break
        signal_all(tree, signal.SIGSTOP)
        seen.update(tree)
    signal_all(sorted(seen), signal.SIGKILL)
    signal_all([pid], signal.SIGKILL)


def make_undumpable() -> None:
    """Keep same-uid processes (a plain-mode worker) out of /proc/<us>/{fd,mem,environ} and
    ptrace: a non-dumpable process's /proc entries belong to root."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    except OSError:
        pass


# Where uid leases live: one folder for the whole host, whatever a grader's temp folder is, so
# that two graders (two TAs with different TMPDIRs, a service beside a batch, Dask workers with
# temp folders of their own) never lease the same uid. Root-only; on a tmpfs, so a reboot frees
# every lease. A grader that is not root (it leases only for docker's containers) keeps its
# leases in its trusted temp folder, as before.
HOST_LEASE_DIR = Path("/run/nn-grader/uids")


def lease_dir() -> Path:
    if os.geteuid() == 0:
        try:
            HOST_LEASE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
            return HOST_LEASE_DIR
        except OSError:  # no writable /run (a minimal container): the trusted temp folder
            pass
    folder = trusted_tmp() / "grader-uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def uids_in_use() -> set[int]:
    """The real uids of every process on the host (that this process can see)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                found.add(os.stat(f"/proc/{entry}").st_uid)
            except OSError:
                pass
    return found


class UidLease:
    """An exclusive worker uid for one job (several jobs may run side by side): a lock held in
    the host's lease folder (``lease_dir``), on a uid no process runs as right now (a grader of
    another installation, whose locks are elsewhere, may be using it)."""

    def __init__(self):
        folder = lease_dir()
        busy = uids_in_use()
        start = os.getpid() % UID_SLOTS
        for i in range(UID_SLOTS):
            uid = UID_BASE + (start + i) % UID_SLOTS
            if uid in busy:
                continue
            fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.uid, self._fd = uid, fd
            return
        raise RuntimeError("no free worker uid: too many jobs at once")

    def release(self):
        os.close(self._fd)


class GivenUid:
    """A uid leased elsewhere (by the host, for a container): used, never released here."""

    def __init__(self, uid: int):
        if not UID_BASE <= uid < UID_BASE + UID_SLOTS:
            raise ValueError(f"worker uid {uid} is outside {UID_BASE}..{UID_BASE + UID_SLOTS - 1}")
        self.uid = uid

    def release(self):
        pass


def kill_uid(uid: int) -> None:
    """Kill every process owned by ``uid`` in this process's PID namespace (a forked helper
    takes that uid and signals -1). Only where that namespace is the sandbox's own: uid mode,
    inside the container. On a host it would reach any process of that uid, another grader's
    worker included, so jail mode never calls it (the worker's PID namespace and cgroup bound
    what a kill reaches there)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(uid)
            os.setuid(uid)
            for _ in range(5):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


class OutputCapture:
    """The worker's stdout/stderr pipe, drained by the harness, keeping at most ``cap`` bytes.

    The harness drains it while it waits for a reply (see ``bridge``) so a chatty submission
    never blocks; the worker flushes before each reply, so a call's output is all here by then.
    """

    def __init__(self, fd: int, cap: int):
        self.fd, self.cap, self._buf, self.dropped = fd, cap, bytearray(), 0
        os.set_blocking(fd, False)

    def drain(self) -> None:
        while self.fd >= 0:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                os.close(self.fd)
                self.fd = -1
                return
            room = max(self.cap - len(self._buf), 0)
            self._buf += chunk[:room]
            self.dropped += len(chunk) - len(chunk[:room])

    def take(self) -> str:
        """Return and clear what was captured since the last call."""
        self.drain()
        text = self._buf.decode("utf-8", "replace")
        if self.dropped:
            text += f"\n[... {self.dropped} more bytes of output not kept]"
        self._buf, self.dropped = bytearray(), 0
        return text

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


_LIVE_WORKERS: set[int] = set()  # pids of the workers this process runs right now
HELPERS: set[int] = set()  # children of ours that are nobody's orphans (the worker template)
# The worker templates of this process, by kind, if it started any (``sandbox/template.py``
# puts them here; forked harnesses inherit them).
WORKER_TEMPLATES: dict = {}


class WorkerProcess:
    """One running worker: its pipes, its output, and how to kill it and everything it started.
    ``proc`` is our ``Popen``, or a ``template.WorkerChild`` (a worker the template forked: not
    our child; its keeper reports how it ended)."""

    def __init__(self, proc, to_worker, from_worker, output, *, student_dir, uid=None,
                 mode: str = "plain", via_unshare: bool = False, cgroup=None):
        self.proc, self.to_worker, self.from_worker = proc, to_worker, from_worker
        self.output, self.student_dir, self.uid = output, student_dir, uid
        # ``via_unshare``: ``proc`` is the ``unshare`` that forked the worker (the worker is
        # its child), not the worker itself.
        self.mode, self.via_unshare, self.cgroup = mode, via_unshare, cgroup
        self.killed_by_us = False
        self._worker_pid: int | None = None if via_unshare else proc.pid
        self.diagnostics: OutputCapture | None = None  # what unshare itself said
        _LIVE_WORKERS.add(proc.pid)

    def died_of_sigkill(self, timeout: float = 2.0) -> bool:
        """Wait up to ``timeout`` for the worker to end; True if SIGKILL ended it."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        if not self.via_unshare:
            return code == -signal.SIGKILL
        # unshare re-raises the signal that killed its child, but it cannot re-raise SIGKILL:
        # it says so on its own stderr (ours alone) and exits with 1.
        said = self.diagnostics.take() if self.diagnostics is not None else ""
        return code == -signal.SIGKILL or (code == 1 and "sigprocmask unblock failed" in said)

    @property
    def namespace_init(self) -> bool:
        """The worker is PID 1 of a PID namespace of its own (jail mode): nothing inside that
        namespace, the worker itself included, can SIGKILL or SIGSTOP it, so a worker that died
        of SIGKILL we did not send was killed from outside (another process, the kernel's OOM
        killer), never by the student's code."""
        return self.mode == "jail"

    def worker_pid(self) -> int | None:
        """The host pid of the worker process itself (for the kernel's accounting of it)."""
        if self._worker_pid is None:
            children = _children_of(self.proc.pid)
            self._worker_pid = children[0] if len(children) == 1 else None
        return self._worker_pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def exit_description(self) -> str:
        code = self.proc.poll()
        if code is None:
            return "still running"
        if code < 0 or code > 128:
            sig = -code if code < 0 else code - 128
            try:
                return f"killed by {signal.Signals(sig).name}"
            except ValueError:
                return f"killed by signal {sig}"
        return f"exited with status {code}"

    def kill(self) -> None:
        """Kill the worker and every process it started, and nothing else; safe to call twice.
        Jail: the worker is PID 1 of its namespace, whose processes all die with it (and its
        cgroup is emptied when the sandbox closes). uid (in the container): by uid, within the
        container's PID namespace. plain: the worker's process group, then orphans reparented
        to us."""
        self.killed_by_us = True
        if self.via_unshare and self.alive():
            self.worker_pid()  # learn it before it goes
        for pid in {self.proc.pid, self._worker_pid} - {None}:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.uid is not None and self.mode == "uid":
            kill_uid(self.uid)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        _LIVE_WORKERS.discard(self.proc.pid)
        # Orphans reparented to us (outside the jail we are a subreaper): kill until none is
        # left. Other live workers are our children too (the bench's reference worker): they
        # are not orphans. A jailed worker's orphans stay in its namespace, which is gone: any
        # child of ours is someone else's, and left alone.
        for _ in range(50 if self.mode != "jail" else 0):
            orphans = [p for p in _children_of(os.getpid())
                       if p != self.proc.pid and p not in _LIVE_WORKERS and p not in HELPERS]
            if not orphans:
                break
            for p in orphans:
                try:
                    os.kill(p, signal.SIGKILL)
                    os.waitpid(p, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
        self.output.drain()
        self.output.close()
        if self.diagnostics is not None:
            self.diagnostics.drain()
            self.diagnostics.close()
        for fd in (self.to_worker, self.from_worker):
            try:
                os.close(fd)
            except OSError:
                pass
        self.to_worker = self.from_worker = -1


class LocalSandbox:
    """Starts workers for one submission's private working copy.

    ``env`` adds variables to the clean environment (the CUDA simulator's switch); ``entry``
    is the module whose ``main()`` the sandboxed interpreter runs (the worker, or the CUDA
    compile check); ``gpu`` gives the worker the GPU's device files and driver libraries and
    limits its memory with a cgroup rather than RLIMIT_AS (see ``grader.gpu.device``).
    """

    def __init__(self, workdir: Path, limits: WorkerLimits = WorkerLimits(), *,
                 output_cap: int = 64 * 1024, mode: str | None = None, uid: int | None = None,
                 env: dict[str, str] | None = None, entry: str = "grader.untrusted.worker",
                 gpu=None):
        """``uid``: the worker uid to use, leased by whoever passes it (the docker backend's
        host, so that uids are unique across containers); by default one is leased here."""
        self.workdir, self.limits, self.output_cap = Path(workdir), limits, output_cap
        self.extra_env, self.entry, self.gpu = dict(env or {}), entry, gpu
        if gpu is not None:  # no RLIMIT_AS (it breaks the CUDA driver): a memory cgroup instead
            self.limits = limits = dataclasses.replace(limits, address_space=False)
            self.extra_env.update(gpu.environment())
        self.mode = mode or default_mode()
        if self.mode not in MODES:
            raise ValueError(f"unknown sandbox mode {self.mode!r} (known: {', '.join(MODES)})")
        self._lease = None
        if self.mode in ("jail", "uid"):
            self._lease = UidLease() if uid is None else GivenUid(uid)
        # The jail's mount point: an empty folder of ours, removed with the sandbox (it is
        # created outside the worker's namespace, so nothing else would remove it).
        self._scratch = Path(tempfile.mkdtemp(prefix="grader-jail-", dir=job_scratch())) \
            if self.mode == "jail" else None
        # The jail's worker tree in a group of its own (CPU quota, process limit, memory for
        # the whole tree: RLIMIT_AS caps each process, not the 64 a tree may have); a GPU
        # worker's in any mode (its memory limit), where the machine lets us make one.
        self._cgroup = _worker_cgroup(limits, memory_mb=limits.memory_mb if gpu is not None
                                      else TREE_MEMORY_FACTOR * limits.memory_mb) \
            if self.mode == "jail" or gpu is not None else None
        if self.mode == "uid":  # the worker reads its files in place: make them its own
            # Root in the container has no CAP_FOWNER/DAC_OVERRIDE: chmod while it still owns
            # the folder, and chown bottom-up so it never needs to enter a folder it gave away.
            os.chmod(self.workdir, 0o700)
            for root, dirs, files in os.walk(self.workdir, topdown=False):
                for name in files + dirs:
                    os.lchown(os.path.join(root, name), self._lease.uid, self._lease.uid)
            os.lchown(self.workdir, self._lease.uid, self._lease.uid)
        if self.mode != "jail":
            become_subreaper()

    @property
    def cgroup(self):
        """The worker tree's control group (``.how`` says what it limits), or None."""
        return self._cgroup

    def start(self) -> WorkerProcess:
        # Requests over a unix socket (it can carry the harness's shared-memory descriptors),
        # replies over a pipe (which cannot carry any back to the harness).
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        req_w, req_r = ours.detach(), theirs.detach()
        rep_r, rep_w = os.pipe()
        out_r, out_w = os.pipe()
        boot = ("import sys; sys.path.insert(0, %r); from %s import main; main()"
                % (PACKAGE_PARENT if self.mode == "plain" else "/opt/grader", self.entry))
        # -I: no user site, no PYTHON* variables, no script folder on the path; -B: no bytecode
        # written (-I ignores PYTHONDONTWRITEBYTECODE).
        worker_argv = [sys.executable, "-I", "-B", "-c", boot, str(req_r), str(rep_w)]
        env = {**clean_environment(), **self.extra_env}
        cgroup = self._cgroup
        student_dir = "/submission" if self.mode == "jail" else str(self.workdir)
        if self.mode in ("jail", "uid"):
            spec = {"mode": self.mode, "workdir": str(self.workdir), "uid": self._lease.uid,
                    "limits": self.limits.__dict__, "env": env}
            if self.mode == "jail":
                spec.update({"root": str(self._scratch / "root"), "argv": worker_argv,
                             "package": str(Path(PACKAGE_PARENT) / "grader"),
                             "keep_fds": [req_r, rep_w],
                             "devices": self.gpu.device_files() if self.gpu else [],
                             "library_dirs": self.gpu.library_dirs() if self.gpu else []})
            forked = self._from_template(spec, [req_r, rep_w, out_w])
            if forked is not None:
                for fd in (req_r, rep_w, out_w):
                    os.close(fd)
                return WorkerProcess(forked, req_w, rep_r, OutputCapture(out_r, self.output_cap),
                                     student_dir=student_dir, uid=self._lease.uid,
                                     mode=self.mode, cgroup=cgroup)
        diagnostics = None
        pass_fds: tuple[int, ...] = (req_r, rep_w)
        if self.mode == "jail":
            # unshare's own stderr is a pipe only we read (the jail moves the worker's output
            # to ``out_w`` before any student code runs): there it says how the worker died
            # when it cannot die the same way itself (SIGKILL), which no student can forge.
            diagnostics = os.pipe()
            spec["output_fd"], pass_fds = out_w, (req_r, rep_w, out_w)
            argv = ["unshare", "--mount", "--net", "--pid", "--ipc", "--uts", "--fork",
                    "--kill-child", "--mount-proc", sys.executable, "-I", "-c",
                    "import sys; sys.path.insert(0, %r); from grader.sandbox.jail import main; main()"
                    % PACKAGE_PARENT, json.dumps(spec)]
            preexec = cgroup.enter if cgroup is not None else None
        elif self.mode == "uid":
            argv, limits, uid, workdir = worker_argv, self.limits, self._lease.uid, self.workdir

            def preexec():  # in the child, before exec: limits, then drop to the worker uid
                if cgroup is not None:
                    cgroup.enter()
                drop_to_uid(limits, uid, str(workdir))
        else:
            argv = worker_argv
            limits = self.limits

            def preexec():
                if cgroup is not None:
                    cgroup.enter()
                set_limits(limits, processes=_count_own_processes() + limits.processes)

        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out_w,
            stderr=diagnostics[1] if diagnostics else out_w,
            pass_fds=pass_fds, cwd=None if self.mode == "uid" else self.workdir,
            env=env,
            start_new_session=True, preexec_fn=preexec)
        for fd in (req_r, rep_w, out_w, *(diagnostics[1:] if diagnostics else ())):
            os.close(fd)
        worker = WorkerProcess(proc, req_w, rep_r, OutputCapture(out_r, self.output_cap),
                               student_dir=student_dir,
                               uid=self._lease.uid if self._lease else None,
                               mode=self.mode, via_unshare=self.mode == "jail", cgroup=cgroup)
        if diagnostics:
            worker.diagnostics = OutputCapture(diagnostics[0], 4096)
        return worker

    def _from_template(self, spec: dict, fds: list[int]):
        """A worker forked by this process's template of its kind (``grader.sandbox.template``:
        a batch starts them per pool worker, the container's entry point forks its own), or
        None: then it is started here."""
        # Templates fork CPU workers only: a GPU worker's devices, libraries and memory cgroup
        # start the usual way, as does a worker no template's imports agree with.
        forked = WORKER_TEMPLATES.get(kind_for(self.entry, self.extra_env))
        if forked is None or self.gpu is not None:
            return None
        cgroups_dirs = [str(d) for d in self._cgroup.dirs] if self._cgroup is not None else []
        return forked.spawn({**spec, "cgroups": cgroups_dirs, "entry": self.entry,
                             "extra_env": self.extra_env}, fds)

    def close(self) -> None:
        if self._lease:
            if self.mode == "uid":  # jail: the namespace and the cgroup below hold its tree
                kill_uid(self._lease.uid)
            self._lease.release()
            self._lease = None
        if self._cgroup is not None:
            self._cgroup.close()
            self._cgroup = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


_cgroup_names = itertools.count()


# A jailed CPU worker's tree may hold this many times one process's memory limit, all its
# processes together: enough for any honest tree, and far from what would starve the machine
# (64 processes of 1 GB each would; the kernel's OOM killer then takes other graders' workers).
TREE_MEMORY_FACTOR = 2


def _worker_cgroup(limits: WorkerLimits, *, memory_mb: int | None = None):
    """A control group of its own for a worker tree (one CPU, a process limit and, with
    ``memory_mb``, a memory limit where the machine has a memory controller), or None where
    none can be made (see grader.sandbox.cgroups.describe)."""
    name = f"{os.getpid()}-{next(_cgroup_names)}-{os.urandom(3).hex()}"
    for memory in ([memory_mb, None] if memory_mb else [None]):
        try:
            return cgroups.WorkerCgroup(name, cpus=1.0, pids=limits.processes + 8,
                                        memory_mb=memory)
        except OSError:
            continue
    return None


def _count_own_processes() -> int:
    uid, count = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count

