"""Runs one submission's harness and supervises it (trusted): the process plumbing behind the
user verbs.

- ``fork_harness`` forks the harness (no interpreter start-up, a clean pytest each time) and
  kills it with its whole tree when it runs past its wall-clock limit.
- ``run_harness`` writes the job, forks, and turns the harness's events into results.
- ``grade_local`` grades a submission with the local sandbox: a private copy of exactly the
  assignment's files (a notebook's assembled first; ``declared_copy``; what else was submitted
  is listed, not graded), the
  course's provided modules laid over it, the harness. ``check_folder`` does the same for a student's
  folder with the public tests only. ``grade_submission`` picks the backend: forked here
  (``local``) or in a hardened container (``docker``).
"""
from __future__ import annotations

import dataclasses
import json
import os
import select
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from grader.errors import GraderError, SubmissionError
from grader.harness.working_copy import declared_copy, note_ignored, overlay_provided
from grader.intake.expected_files import require_files
from grader.intake.notebook import unpack_with_notebook
from grader.results.scoring import ProblemProgress, build_results, parse_events, read_events
from grader.sandbox import cgroups, template
from grader.sandbox.local import (PACKAGE_PARENT, clean_environment, default_mode, kill_tree,
                                  make_undumpable, trusted_tmp)

HARNESS_GRACE = 30.0  # seconds the harness gets beyond the total timeout before it is killed


def preload_harness(cuda: bool = False) -> None:
    """Import what every forked harness needs (pytest, NumPy, the plugin, the bridge, the
    bench) once, in a process that forks one harness per submission (a batch's or the demo's
    pool worker): each harness is still a fresh fork that runs pytest once, it just no longer
    imports it. In jail mode also the templates the workers are forked from
    (``grader.sandbox.template``; with ``cuda`` those of the CUDA worker and the compile check
    too): a fresh fork per worker, never one that ran student code."""
    import importlib

    import numpy  # noqa: F401
    import pytest  # noqa: F401
    from _pytest.config import default_plugins

    from grader.harness import __main__, plugin  # noqa: F401
    for name in default_plugins:  # what each pytest.main would import again (~0.1 s)
        importlib.import_module(f"_pytest.{name}")
    if default_mode() == "jail":  # and the workers' template: a fork per worker
        template.start_for(sys.executable, PACKAGE_PARENT, clean_environment(), cuda=cuda)


def _harness_child(job: dict, log_path: Path) -> None:
    """The forked harness process: pytest output to the log, then the trusted harness."""
    try:
        make_undumpable()
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        from grader.harness.__main__ import run, start_sandbox
        sandbox, worker = start_sandbox(job)  # first, so the worker boots while pytest loads
        code = run(job, sandbox, worker)
        code = 0 if code in (0, 1) else code
    except BaseException:  # report anything, never return into the parent's code
        traceback.print_exc()
        code = 70
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


POLL_EVERY = 0.1  # seconds between looks at the events while the harness runs (progress)


def fork_harness(job: dict, log_path: Path, *, timeout: float, while_running=None) -> int | None:
    """Run the harness in a forked child (no interpreter start-up, a clean pytest each time);
    return its exit code, or None when it ran past ``timeout`` and was killed.
    ``while_running`` (no arguments) is called every ``POLL_EVERY`` seconds until it ends."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _harness_child(job, log_path)
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    deadline = time.monotonic() + timeout
    code = None
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            # The harness and its whole tree (it is the subreaper of its worker's orphans;
            # in jail mode the worker's namespace dies with `unshare`). Nothing else of ours.
            kill_tree(pid)
            os.waitpid(pid, 0)
            break
        if while_running is not None:
            while_running()
            remaining = min(remaining, POLL_EVERY)
        if pidfd is not None:
            select.select([pidfd], [], [], remaining)
        else:
            time.sleep(min(remaining, 0.01))
    if pidfd is not None:
        os.close(pidfd)
    return code


class _EventsWatcher:
    """Reads the harness's events file as it grows (at its own offsets: the harness shares the
    file's position) and tells ``progress`` of each problem that finished."""

    def __init__(self, fd: int, progress):
        self.fd, self.progress, self.offset = fd, progress, 0
        self.problems = ProblemProgress()

    def __call__(self) -> None:
        while True:
            chunk = os.pread(self.fd, 1 << 20, self.offset)
            if not chunk:
                break
            self.offset += len(chunk)
            for finished in self.problems.feed(chunk):
                self.progress(finished)


def run_harness(assignment, *, test_dirs, hidden_dirs=(), workdir=None, reference_dir=None,
                check_points=True, only=None, harness_dir=None, uids=None,
                progress=None) -> dict:
    """Run the trusted harness in its own process on a prepared working copy; return results.
    ``progress``: called with each problem's result as it finishes (``ProblemProgress``).

    The harness is a forked child so that each grading run starts from a clean pytest and a
    clean module cache without paying for a new interpreter; it starts the sandboxed worker
    itself, and kills its worker's whole tree before it exits.
    """
    start = time.monotonic()
    if harness_dir is not None:  # kept for the caller (the Docker backend reads its events)
        job_dir = Path(harness_dir)
        job_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    else:
        job_dir = Path(tempfile.mkdtemp(prefix="grader-harness-"))
    os.chmod(job_dir, 0o700)
    # The harness's scratch (jail mount points, the reference's copy): removed here after the
    # harness, which cannot remove it when it is killed.
    scratch = Path(tempfile.mkdtemp(prefix="grader-scratch-", dir=trusted_tmp()))
    os.chmod(scratch, 0o711)
    try:
        limits = assignment.limits
        job = {
            "harness_dir": str(job_dir), "events": str(job_dir / "events.jsonl"),
            "workdir": str(workdir) if workdir else None, "modules": assignment.host_modules,
            "cuda": _cuda_job(assignment),
            "provided": assignment.provided_modules,
            "test_dirs": [str(d) for d in test_dirs], "hidden_dirs": [str(d) for d in hidden_dirs],
            "reference_dir": str(reference_dir) if reference_dir else None,
            "problems": [{"id": p.id, "points": p.points} for p in assignment.problems],
            "limits": dataclasses.asdict(limits),
            "seed": assignment.seed, "check_points": check_points and not only,
            "only": list(only or []), "uids": list(uids) if uids else [None, None],
            "scratch_dir": str(scratch),
        }
        events = None
        if harness_dir is None:
            # The events go to an unlinked file this process keeps open: in plain mode the
            # worker shares our uid, and a file it could find by path it could also replace.
            events = tempfile.TemporaryFile(dir=job_dir)
            job["events_fd"] = events.fileno()
            make_undumpable()  # nor can it reach the file through /proc/<pid>/fd
        (job_dir / "job.json").write_text(json.dumps(job))
        missing_kind, reason = "infrastructure", "the grader stopped before this test ran"
        watcher = _EventsWatcher(events.fileno(), progress) if progress and events else None
        # The harness keeps the total limit itself, charged without the machine's time
        # (plugin.machine_time), so on a busy machine it may run past it on the wall clock;
        # this outer limit is only for a harness that is stuck.
        code = fork_harness(job, job_dir / "harness.log",
                            timeout=2 * limits.total_timeout + HARNESS_GRACE,
                            while_running=watcher)
        if watcher is not None:
            watcher()  # what the harness wrote last
        failed = code != 0
        if code is None:
            failed, missing_kind = True, "timeout"
            reason = "the submission used up its total time limit"
        if events is not None:
            events.seek(0)
            expected, errors, results = parse_events(events.read().decode("utf-8", "replace"))
            events.close()
        else:
            expected, errors, results = read_events(job_dir / "events.jsonl")
        if failed and expected is None:
            tail = (job_dir / "harness.log").read_text(errors="replace")[-2000:]
            errors = errors + [f"the harness failed:\n{tail}"]
        return build_results(assignment, expected, errors, results,
                             execution_time=time.monotonic() - start,
                             missing_kind=missing_kind, missing_reason=reason)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if harness_dir is None:
            shutil.rmtree(job_dir, ignore_errors=True)


def _cuda_job(assignment) -> dict | None:
    """The CUDA part of a job: its files, the compile target, and this machine's GPU."""
    if not assignment.cuda.files:
        return None
    from grader.gpu.device import why_not
    from grader.harness.cuda import gpu_for_job
    gpu = gpu_for_job()
    return {"modules": assignment.cuda.modules,
            "compute_capability": list(assignment.cuda.compute_capability),
            "gpu_speed_ratio": assignment.cuda.gpu_speed_ratio, "gpu": gpu,
            "no_gpu_reason": None if gpu else why_not()}


def _private_copy(spec, submission: Path, into: Path) -> tuple[Path, str | None]:
    """Extract or copy the submission into a fresh private folder (never graded in place); a
    notebook becomes the module files it holds (parsed, never run). Returns the folder and
    the notebook used (None: the submission had the module files)."""
    if not submission.exists():
        raise SubmissionError(f"{submission}: no such file or folder")
    return unpack_with_notebook(submission, into / "submitted", spec.files)


_said_how_jobs_share_the_cpu = []


def _say_how_jobs_share_the_cpu() -> None:
    """Once per process, on stderr: in jail mode without cgroups, side-by-side jobs share the
    CPU (a TA running a batch should know)."""
    if not _said_how_jobs_share_the_cpu and default_mode() == "jail" and not cgroups.available():
        _said_how_jobs_share_the_cpu.append(True)
        print(f"grader: note: {cgroups.describe()}", file=sys.stderr)


def grade_local(spec, submission: Path, *, only=None, harness_dir=None, uids=None,
                progress=None) -> dict:
    """Grade one submission with the local sandbox: private copy of the assignment's files
    only, harness, results. ``uids``: the (student, reference) worker uids, when the caller
    leased them (the docker backend's host); else the sandbox leases its own."""
    _say_how_jobs_share_the_cpu()
    jobs = Path(tempfile.mkdtemp(prefix="grader-job-"))
    os.chmod(jobs, 0o711)  # the worker's uid must reach work/, nothing else
    try:
        submitted, notebook = _private_copy(spec, Path(submission), jobs)
        require_files(submitted, spec.files)  # a misnamed file: one clear message, no tests run
        work = jobs / "work"
        ignored = [p for p in declared_copy(spec, submitted, work) if p != notebook]
        shutil.rmtree(submitted, ignore_errors=True)
        overlay_provided(spec, spec.root, work)
        results = run_harness(spec, test_dirs=[spec.public_tests, spec.hidden_tests],
                              hidden_dirs=[spec.hidden_tests], workdir=work,
                              reference_dir=spec.root, only=only, harness_dir=harness_dir,
                              uids=uids, progress=progress)
        return note_ignored(results, ignored, spec.provided)
    finally:
        shutil.rmtree(jobs, ignore_errors=True)


def check_folder(spec, folder: Path, *, tests: Path, provided_from: Path, progress=None) -> dict:
    """The public ``tests`` on a copy of the student's files in ``folder`` (the tests and
    everything else of the folder stay out of the worker's reach)."""
    jobs = Path(tempfile.mkdtemp(prefix="grader-check-"))
    os.chmod(jobs, 0o711)
    try:
        require_files(folder, spec.files, recursive=False)
        work = jobs / "work"
        work.mkdir()
        for name in spec.files:
            if (folder / name).is_file():
                shutil.copy2(folder / name, work / name)
        overlay_provided(spec, provided_from, work)
        return run_harness(spec, test_dirs=[tests], workdir=work, check_points=False,
                           progress=progress)
    finally:
        shutil.rmtree(jobs, ignore_errors=True)


def grade_submission(spec, submission: Path, *, backend: str = "local", image=None,
                     cpus: float | None = None, only=None, progress=None) -> dict:
    """Grade with ``backend``: ``local`` (the harness forked here, the worker in the local
    sandbox) or ``docker`` (one hardened container from the autograder ``image``).
    ``progress`` (local only) hears of each problem as it finishes."""
    if backend == "docker":
        from grader.sandbox.docker import grade_in_container
        return grade_in_container(spec, Path(submission), image=image, only=only,
                                  cpus=cpus or min(2, os.cpu_count() or 1))
    if backend == "local":
        return grade_local(spec, Path(submission), only=only, progress=progress)
    raise GraderError(f"unknown backend {backend!r} (use local or docker)")
