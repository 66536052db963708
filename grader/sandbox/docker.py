"""The ``docker`` backend: one hardened container per submission, from the autograder image.

The container gets no network, a read-only root, two sized tmpfs (the student's /tmp, and a
root-only one for the harness's own files), pids/memory/CPU limits, every
capability dropped except the four the harness needs to drop the worker to its uid and kill it
(CHOWN, SETUID, SETGID, KILL), no-new-privileges, an init process and capped logs. Only the
assignment's files of the submission are mounted, read-only (the rest is listed as ignored); the harness leaves its events in a root-only output folder,
and this side builds ``results.json`` from them (read with a size cap, never following links).
A wall-clock limit kills the container; OOM is reported as ``memory``; containers are labelled
and always removed. Each is labelled with its owner (host, pid and start time of the process
that started it): ``reap`` removes only containers whose owner is gone (a crashed or killed
batch), never another live batch's; ``kill_own`` stops this process's (a batch stopped with a
second Ctrl-C). A daemon that is down (``EngineUnavailable``) or an image that is missing is an
``infrastructure`` result, retried by the batch, never a zero.
"""
from __future__ import annotations

import functools
import os
import shutil
import socket
import stat
import tempfile
import time
from pathlib import Path

from grader.harness.working_copy import declared_copy, note_ignored
from grader.intake.expected_files import require_files
from grader.intake.notebook import unpack_with_notebook
from grader.errors import EngineUnavailable, InfrastructureError
from grader.results.scoring import build_results, read_events
from grader.sandbox.local import TRUSTED_TMP_VAR, UidLease

DEFAULT_IMAGE = "nn-grader/autograder:latest"
LABEL = "nn-grader"
EVENTS_CAP = 16 * 1024 * 1024  # bytes of harness events we are willing to read back
CAPABILITIES = ["CHOWN", "SETUID", "SETGID", "KILL"]
GRACE = 30  # seconds beyond the assignment's total timeout before the container is killed
OWNER_LABEL = f"{LABEL}.owner"  # "<host>/<pid>/<start time>" of the process that started it


def _start_time(pid: int) -> str | None:
    """A process's start time (clock ticks since boot): with the pid, it names one process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


@functools.lru_cache(maxsize=None)
def _owner_of_pid(pid: int) -> str:
    return f"{socket.gethostname()}/{pid}/{_start_time(pid)}"


def owner_id() -> str:
    """This process, as the owner label of the containers it starts."""
    return _owner_of_pid(os.getpid())


def _owner_gone(owner: str) -> bool:
    """True when ``owner`` was a process on this host that no longer runs. Owners on other
    hosts (a shared engine) are never taken for gone: we cannot see them."""
    host, _, rest = owner.partition("/")
    pid, _, started = rest.partition("/")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return _start_time(int(pid)) != started

TRUSTED_TMP = "/grader-tmp"


def client():
    """A Docker client, or an InfrastructureError that says what is wrong."""
    try:
        import docker
    except ImportError:
        raise InfrastructureError("the docker backend needs the Docker SDK: "
                                  "pip install 'nn-grader[docker]'") from None
    try:
        c = docker.from_env(timeout=120)
        c.ping()
        return c
    except Exception as e:  # DockerException, connection refused, permission denied...
        raise EngineUnavailable(f"cannot reach the Docker engine ({type(e).__name__}: {e}); "
                                "is dockerd running and is DOCKER_HOST right?") from None


def engine_answers(timeout: float = 5.0) -> bool:
    """Whether the Docker engine answers a ping within ``timeout`` seconds."""
    try:
        import docker
        c = docker.from_env(timeout=timeout)
        try:
            return bool(c.ping())
        finally:
            c.close()
    except Exception:  # noqa: BLE001 (any failure means: not now)
        return False


def _connection_errors() -> tuple:
    """The exceptions that mean the engine went away or hangs (not that a call failed): any
    failed HTTP exchange with it (refused, cut mid-response, timed out)."""
    import requests
    import urllib3
    return (requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
            ConnectionError)


def container_options(spec, *, submission: Path, out: Path, image: str, cpus: float,
                      memory_mb: int, tmp_mb: int, job: str, only=(), uids=(),
                      gpu: bool = False) -> dict:
    """The flags every grading container runs with (one place, so tests can check them).
    ``gpu``: the host's GPUs are passed in (NVIDIA container toolkit) for CUDA problems."""
    from docker.types import DeviceRequest, LogConfig
    extra = {"device_requests": [DeviceRequest(count=-1, capabilities=[["gpu"]])]} if gpu else {}
    command = ["--assignment", spec.id] + [arg for name in only or () for arg in ("--only", name)]
    if uids:
        command += ["--uids", ",".join(str(u) for u in uids)]
    if spec.cuda.files:
        command += ["--cuda"]
    return dict(**extra,
        image=image, command=command, detach=True,
        network_mode="none", read_only=True,
        # /tmp is the student's (and holds its working copy); /grader-tmp is the harness's
        # own, root-only: the reference worker's files, the jail's and the uid leases' folders.
        tmpfs={"/tmp": f"size={tmp_mb}m,mode=1777,nosuid,nodev",
               TRUSTED_TMP: "size=64m,mode=0711,nosuid,nodev"},
        pids_limit=256 + (1100 if spec.cuda.files else 0),  # the CUDA simulator's threads
        mem_limit=f"{memory_mb}m", memswap_limit=f"{memory_mb}m",
        nano_cpus=int(cpus * 1e9), cap_drop=["ALL"], cap_add=CAPABILITIES,
        security_opt=["no-new-privileges"], init=True, user="0",
        log_config=LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
        labels={LABEL: "1", f"{LABEL}.job": job, f"{LABEL}.assignment": spec.id,
                OWNER_LABEL: owner_id()},
        volumes={str(submission): {"bind": "/submission", "mode": "ro"},
                 str(out): {"bind": "/out", "mode": "rw"}},
        environment={TRUSTED_TMP_VAR: TRUSTED_TMP},
    )


def _host_gpu(spec) -> bool:
    """Pass the GPU in when the assignment has CUDA problems and this host has a GPU."""
    if not spec.cuda.files:
        return False
    from grader.gpu.device import detect
    return detect() is not None


def _read_capped(path: Path, cap: int) -> bytes:
    """Read a regular file without following links, at most ``cap`` bytes."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        data = os.read(fd, cap + 1)
    finally:
        os.close(fd)
    if len(data) > cap:
        raise OSError(f"{path.name} exceeds {cap} bytes")
    return data


def grade_in_container(spec, submission: Path, *, image: str | None = None,
                       cpus: float = 1.0, docker_client=None, only=None) -> dict:
    """Grade one submission in a fresh container; return Gradescope-style results."""
    image = image or os.environ.get("GRADER_IMAGE", DEFAULT_IMAGE)
    start = time.monotonic()
    c = docker_client or client()
    limits = spec.limits
    workdir = Path(tempfile.mkdtemp(prefix="grader-docker-"))
    try:
        # A notebook becomes its module files here (parsed, never run): the container gets
        # module files only.
        submitted, notebook = unpack_with_notebook(submission, workdir / "submitted", spec.files)
        sub = workdir / "submission"  # what the container sees: the assignment's files only
        require_files(submitted, spec.files)  # said here: the container would only fail every test
        ignored = [p for p in declared_copy(spec, submitted, sub) if p != notebook]
        shutil.rmtree(submitted)
        os.chmod(workdir, 0o711)
        for root, dirs, files in os.walk(sub):  # readable by the container's harness
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)
            for name in files:
                os.chmod(os.path.join(root, name), 0o644)
        out = workdir / "out"
        out.mkdir(mode=0o700)
        gpu = _host_gpu(spec)
        # CUDA problems add a worker and the compile check; on a GPU, two workers holding CUDA
        # contexts (the student's and the reference's) need a few GB more.
        memory_mb = limits.memory_mb * (3 if spec.cuda.files else 2) + 512 + (6144 if gpu else 0)
        # The worker uids, leased here from the same pool as the local sandbox's, for as long
        # as the container lives: unique across everything on this host.
        try:
            leases = [UidLease(), UidLease()]
        except OSError:  # no lease folder of ours here (not root): the container leases its own
            leases = []
        try:
            opts = container_options(spec, submission=sub, out=out, image=image, cpus=cpus,
                                     memory_mb=memory_mb, tmp_mb=256, job=workdir.name,
                                     only=only, uids=[lease.uid for lease in leases], gpu=gpu)
            import docker
            try:
                # As the supervisor inside: the harness keeps the total limit itself, charged
                # without the machine's time; this one is for a stuck container.
                state = _run(c, opts, timeout=2 * limits.total_timeout + GRACE)
            except _connection_errors() as e:
                raise EngineUnavailable("the Docker engine stopped answering "
                                        f"({type(e).__name__})") from None
            except docker.errors.DockerException as e:  # e.g. the container removed meanwhile
                raise InfrastructureError(f"the Docker engine failed: {e}") from None
        finally:
            for lease in leases:
                lease.release()
        events = out / "harness" / "events.jsonl"
        try:
            raw = _read_capped(events, EVENTS_CAP)
        except FileNotFoundError:
            raw = None
        except OSError as e:
            raise InfrastructureError(f"unusable harness events: {e}") from None
        if raw is None:
            if state["timed_out"] or state["oom"]:
                kind = "timeout" if state["timed_out"] else "memory"
                raise InfrastructureError(f"the container ended ({kind}) before the harness "
                                          "collected the tests")
            raise InfrastructureError(f"the container produced no results (exit "
                                      f"{state['exit_code']}): {state['logs'][-1500:]}")
        tmp_events = workdir / "events.jsonl"
        tmp_events.write_bytes(raw)
        expected, errors, results = read_events(tmp_events)
        kind, reason = "infrastructure", "the grader stopped before this test ran"
        if state["timed_out"]:
            kind, reason = "timeout", "the submission used up its total time limit"
        elif state["oom"]:
            kind, reason = "memory", "the container ran out of memory"
        return note_ignored(build_results(spec, expected, errors, results,
                                          execution_time=time.monotonic() - start,
                                          missing_kind=kind, missing_reason=reason),
                            ignored, spec.provided)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(c, opts: dict, *, timeout: float) -> dict:
    import docker
    import requests

    try:
        c.images.get(opts["image"])  # never let `run` try to pull: grading must be offline
        container = c.containers.run(**opts)
    except docker.errors.ImageNotFound:
        raise InfrastructureError(f"the image {opts['image']} is missing: run "
                                  "`grader image build`") from None
    except docker.errors.DockerException as e:
        raise InfrastructureError(f"could not start a container: {e}") from None
    timed_out = False
    try:
        try:
            status = container.wait(timeout=timeout)
            exit_code = status.get("StatusCode")
        except requests.exceptions.ReadTimeout:  # the wall-clock limit (a lost engine is not)
            timed_out, exit_code = True, None
            container.kill()
            container.wait(timeout=30)
        if exit_code == 0:  # the usual case: skip the extra round trips to the engine
            return {"exit_code": 0, "timed_out": False, "oom": False, "logs": ""}
        container.reload()
        oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        logs = container.logs(stdout=True, stderr=True, tail=50).decode("utf-8", "replace")
        return {"exit_code": exit_code, "timed_out": timed_out, "oom": oom, "logs": logs}
    finally:
        try:
            container.remove(force=True)
        except (docker.errors.DockerException, *_connection_errors()):
            pass  # the engine is away: `reap` removes it once its owner is gone


def _remove(containers) -> int:
    removed = 0
    for container in containers:
        try:
            container.remove(force=True)
            removed += 1
        except Exception:  # noqa: BLE001 (gone already, or being removed by its owner)
            pass
    return removed


def reap(docker_client=None) -> int:
    """Remove grading containers whose owner process is gone (a crashed or killed batch, a
    killed host process), running or not; and unowned ones (older versions) that have exited.
    A live owner's containers are never touched: another batch, or another TA, is using them."""
    c = docker_client or client()
    dead = []
    # ignore_removed: another batch's container removed between the listing and its inspection
    # (it finished meanwhile) is no error of ours.
    for container in c.containers.list(all=True, filters={"label": LABEL}, ignore_removed=True):
        owner = container.labels.get(OWNER_LABEL)
        if (owner and _owner_gone(owner)) or (not owner and container.status != "running"):
            dead.append(container)
    return _remove(dead)


def own_containers(docker_client=None, *, owner: str | None = None) -> list:
    """The grading containers started by ``owner`` (default: this process), any state."""
    c = docker_client or client()
    return c.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={owner or owner_id()}"},
                             ignore_removed=True)


def kill_own(docker_client=None) -> int:
    """Kill and remove every container this process started (a batch stopping at once)."""
    return _remove(own_containers(docker_client))


def leftover_containers(docker_client=None, *, image: str | None = None) -> list:
    """This process's grading containers that still exist (after grading: none); of ``image``
    only, when given."""
    c = docker_client or client()
    filters = {"label": f"{OWNER_LABEL}={owner_id()}", **({"ancestor": image} if image else {})}
    return c.containers.list(all=True, filters=filters, ignore_removed=True)


def image_size_mb(tag: str, docker_client=None) -> float:
    c = docker_client or client()
    return c.images.get(tag).attrs["Size"] / 1e6

