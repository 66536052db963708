"""The jail stage (trusted): runs as root inside fresh namespaces, then becomes the worker.

``unshare`` has already given this process new mount, PID (we are PID 1), network, IPC and UTS
namespaces. Here we build a minimal root on a tmpfs: read-only binds of the system and Python
directories and of the grader package, a copy of the private working copy at /submission (on a
sized tmpfs owned by the worker uid), a small /tmp, /dev with a few character devices, and a
fresh /proc.
Then chroot, drop to the worker uid with no groups and no capabilities, set no-new-privs and
rlimits, and exec the worker. What is not bound does not exist for the student: the hidden tests,
the reference solutions, other submissions and the harness's files.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import site
import sys

from grader.sandbox.local import WorkerLimits, no_new_privs, set_limits

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18

_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source, target, fstype, flags, data=None):
    if _libc.mount(source.encode() if source else None, target.encode(),
                   fstype.encode() if fstype else None, flags,
                   data.encode() if data else None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _bind(root, path, *, writable=False, target=None, device=False):
    dest = root + (target or path)
    if os.path.isdir(path):
        os.makedirs(dest, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
        open(dest, "a").close()
    _mount(path, dest, None, MS_BIND | MS_REC)
    flags = (MS_BIND | MS_REMOUNT | MS_NOSUID | (0 if device else MS_NODEV)
             | (0 if writable else MS_RDONLY))
    _mount(None, dest, None, flags)


def _python_dirs():
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
            os.path.dirname(os.path.realpath(sys.executable))}
    dirs.update(p for p in site.getsitepackages() if os.path.isdir(p))
    # Keep the outermost directories only.
    return sorted(d for d in dirs if not any(d != o and d.startswith(o + os.sep) for o in dirs))


def build_root(spec, root):
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    os.makedirs(root, mode=0o755, exist_ok=True)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID, "size=1m,mode=0755")
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.islink(top):
            os.symlink(os.readlink(top), root + top)
        elif os.path.isdir(top):
            _bind(root, top)
    mb = spec["limits"].get("tmp_mb", 64)
    for tmp in ("/tmp", "/dev/shm"):  # before the binds below, which may live under /tmp
        os.makedirs(root + tmp, exist_ok=True)
        _mount("tmpfs", root + tmp, "tmpfs", MS_NOSUID | MS_NODEV,
               f"size={mb}m,nr_inodes=4096,mode=1777")
    for d in _python_dirs():
        if not os.path.isdir(root + d) or not os.listdir(root + d):
            _bind(root, d)
    _bind(root, spec["package"], target="/opt/grader/grader")
    # The working copy lives on a sized tmpfs: the student can fill it, not the host's disk.
    os.makedirs(root + "/submission")
    _mount("tmpfs", root + "/submission", "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={mb}m,nr_inodes=4096,mode=0700")
    shutil.copytree(spec["workdir"], root + "/submission", symlinks=False, dirs_exist_ok=True)
    for where, dirs, files in os.walk(root + "/submission"):
        for name in [""] + dirs + files:
            os.lchown(os.path.join(where, name), spec["uid"], spec["uid"])
    for dev in ("null", "zero", "urandom", "random"):
        _bind(root, f"/dev/{dev}", writable=True, device=True)
    # A GPU worker: the GPU's device nodes, the driver's libraries where they live outside
    # the binds above, and /sys read-only (the driver reads the PCI topology there).
    for dev in spec.get("devices", []):
        _bind(root, dev, writable=True, device=True)
    for lib in spec.get("library_dirs", []):
        if not os.path.exists(root + lib):
            _bind(root, lib)
    if spec.get("devices"):
        _bind(root, "/sys")
    os.makedirs(root + "/proc", exist_ok=True)
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(None, root, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def enter(spec: dict) -> None:
    """Become the jailed worker: the jail's root built and entered, the worker's uid with no
    groups, no-new-privs, its rlimits. Used by ``main`` (then exec) and by a template-forked
    worker (``sandbox/template.py``), so that both confine the worker the same way."""
    root = spec["root"]  # an empty folder the sandbox made, and removes (LocalSandbox.close)
    build_root(spec, root)
    os.chroot(root)
    os.chdir("/submission")
    uid = spec["uid"]
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    no_new_privs()
    set_limits(WorkerLimits(**spec["limits"]))


def main():
    spec = json.loads(sys.argv[1])
    output = spec.get("output_fd")
    if output is not None:  # the worker's output pipe; unshare's own stderr stays unshare's
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
    enter(spec)
    argv = spec["argv"]
    os.execve(argv[0], argv, spec["env"])


if __name__ == "__main__":
    main()
