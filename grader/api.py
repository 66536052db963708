"""The user verbs, as functions with keyword defaults. The command line (``grader.cli``) is a
thin layer over these, so the CLI and the Python API never disagree.

``grade``   one submission, all tests (public + hidden), writes ``results.json``  (TAs)
``check``   a student's folder against the public tests of its release           (students)
``demo``    grade the bundled example submissions and return their results
``release`` generate a student release from ``solutions/<id>``                  (instructors)
``validate`` reference full marks, skeleton zero, every mutant caught          (instructors)
"""
from __future__ import annotations

import dataclasses
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

# One BLAS thread everywhere: the harness is forked from this process, and timing is fair only
# with a single thread. Must happen before anything imports NumPy.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from grader import config as config_mod
from grader.archive import extract_submission
from grader.errors import GraderError, SubmissionError
from grader.sandbox import kill_tree, make_undumpable
from grader.scoring import build_results, parse_events, read_events, write_json_atomic

REPO_ROOT = config_mod.REPO_ROOT
HARNESS_GRACE = 30.0  # seconds the harness gets beyond the total timeout before it is killed


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


def _fork_harness(job: dict, log_path: Path, *, timeout: float) -> int | None:
    """Run the harness in a forked child (no interpreter start-up, a clean pytest each time);
    return its exit code, or None when it ran past ``timeout`` and was killed."""
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
        if pidfd is not None:
            select.select([pidfd], [], [], remaining)
        else:
            time.sleep(min(remaining, 0.01))
    if pidfd is not None:
        os.close(pidfd)
    return code


def run_harness(assignment, *, test_dirs, hidden_dirs=(), workdir=None, reference_dir=None,
                check_points=True, only=None, harness_dir=None) -> dict:
    """Run the trusted harness in its own process on a prepared working copy; return results.

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
    try:
        limits = assignment.limits
        job = {
            "harness_dir": str(job_dir), "events": str(job_dir / "events.jsonl"),
            "workdir": str(workdir) if workdir else None, "modules": assignment.modules,
            "provided": assignment.provided_modules,
            "test_dirs": [str(d) for d in test_dirs], "hidden_dirs": [str(d) for d in hidden_dirs],
            "reference_dir": str(reference_dir) if reference_dir else None,
            "problems": [{"id": p.id, "points": p.points} for p in assignment.problems],
            "limits": dataclasses.asdict(limits),
            "seed": assignment.seed, "check_points": check_points and not only,
            "only": list(only or []),
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
        code = _fork_harness(job, job_dir / "harness.log",
                             timeout=limits.total_timeout + HARNESS_GRACE)
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
        if harness_dir is None:
            shutil.rmtree(job_dir, ignore_errors=True)


def _private_copy(submission: Path, into: Path) -> Path:
    """Extract or copy the submission into a fresh private folder (never graded in place)."""
    if not submission.exists():
        raise SubmissionError(f"{submission}: no such file or folder")
    work = into / "work"
    extract_submission(submission, work)
    return work


def _overlay_provided(spec, source: Path, work: Path) -> None:
    """Put the course's provided helper modules over whatever the submission has under their
    names: students use them, and their edits to them do not count."""
    for name in spec.provided:
        if (source / name).is_file():
            shutil.copyfile(source / name, work / name)


def run_submission(spec, submission: Path, *, only=None, harness_dir=None) -> dict:
    """Grade one submission with the local sandbox: private copy, harness, results."""
    jobs = Path(tempfile.mkdtemp(prefix="grader-job-"))
    os.chmod(jobs, 0o711)  # the worker's uid must reach work/, nothing else
    try:
        work = _private_copy(Path(submission), jobs)
        _overlay_provided(spec, spec.root, work)
        return run_harness(spec, test_dirs=[spec.public_tests, spec.hidden_tests],
                           hidden_dirs=[spec.hidden_tests], workdir=work,
                           reference_dir=spec.root, only=only, harness_dir=harness_dir)
    finally:
        shutil.rmtree(jobs, ignore_errors=True)


def grade(submission, *, assignment: str, output=None, solutions=None, only=None,
          backend: str = "local", image: str | None = None, cpus: float | None = None) -> dict:
    """Grade one submission (a folder or a .zip) with every test of ``assignment``.

    ``backend`` is ``local`` (the embedded sandbox) or ``docker`` (one hardened container from
    the autograder ``image``, limited to ``cpus``). Writes ``output/results.json`` when ``output`` is given and
    returns the results dict. ``only`` restricts grading to the named test functions (used to
    validate mutants).
    """
    spec = config_mod.find_assignment(assignment, solutions=solutions)
    if backend == "docker":
        from grader.backends.docker import grade_in_container
        results = grade_in_container(spec, Path(submission), image=image,
                                     cpus=cpus or min(2, os.cpu_count() or 1))
    elif backend == "local":
        results = run_submission(spec, Path(submission), only=only)
    else:
        raise GraderError(f"unknown backend {backend!r} (use local or docker)")
    results["submission"] = Path(submission).name
    if output is not None:
        write_json_atomic(Path(output) / "results.json", results)
    return results


def check(path=".", *, assignment: str | None = None, solutions=None) -> dict:
    """Run the public tests of a student's assignment folder (what students run locally).

    The folder is a release (``assignments/<id>/``) with the student's work in it; its
    ``assignment.yaml`` names the assignment and ``tests/`` holds the public tests.
    """
    folder = Path(path)
    if assignment:
        spec = config_mod.find_assignment(assignment, solutions=solutions)
    else:
        if not (folder / "assignment.yaml").is_file():
            raise GraderError(f"{folder}: no assignment.yaml here; run `grader check` inside "
                              "your assignment folder, or pass --assignment ID")
        spec = config_mod.load_assignment(folder, require_sources=False)
    tests = spec.public_tests if assignment else folder / "tests"
    if not tests.is_dir():
        raise GraderError(f"{tests}: the public tests are missing from this folder")
    jobs = Path(tempfile.mkdtemp(prefix="grader-check-"))
    os.chmod(jobs, 0o711)
    try:
        work = jobs / "work"
        work.mkdir()
        for name in spec.files:  # only the student's files: the tests stay out of reach
            if (folder / name).is_file():
                shutil.copy2(folder / name, work / name)
        _overlay_provided(spec, spec.root if assignment else folder, work)
        results = run_harness(spec, test_dirs=[tests], workdir=work, check_points=False)
    finally:
        shutil.rmtree(jobs, ignore_errors=True)
    results["submission"] = folder.resolve().name
    return results


def examples_dir(assignment: str) -> Path:
    return REPO_ROOT / "examples" / "submissions" / assignment


def demo(*, assignments: tuple[str, ...] | None = None, output=None, jobs: int = 2,
         progress=None) -> list:
    """Grade every bundled example submission (two at a time); return their results.
    ``assignments`` defaults to every assignment with examples."""
    import concurrent.futures as cf
    import multiprocessing

    root = REPO_ROOT / "examples" / "submissions"
    if assignments is None:
        assignments = tuple(sorted(p.name for p in root.iterdir() if p.is_dir()))
    work = []
    for assignment in assignments:
        folder = examples_dir(assignment)
        if not folder.is_dir():
            raise GraderError(f"{folder}: no example submissions")
        work += [(assignment, sub) for sub in sorted(folder.iterdir()) if sub.is_dir()]
    graded = {}
    context = multiprocessing.get_context("fork")
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(grade, sub, assignment=assignment,
                               output=Path(output) / assignment / sub.name if output else None):
                   (assignment, sub.name) for assignment, sub in work}
        for future in cf.as_completed(futures):
            results = future.result()
            graded[futures[future]] = results
            if progress:
                progress(results)
    return [graded[key] for key in sorted(graded)]


def validate(assignment: str, *, solutions=None, progress=None) -> list:
    """Reference full marks, skeleton zero, every mutant caught; a list of checks."""
    from grader.validate import validate as _validate
    return _validate(assignment, solutions=solutions, progress=progress)


def release(assignment: str, *, solutions=None, out=None) -> Path:
    """Generate ``assignments/<id>/`` from ``solutions/<id>/``."""
    from grader.release import release as _release
    return _release(assignment, solutions_dir=solutions, out_dir=out)
