"""Run the trusted harness for one job: ``python -I -m grader.harness JOB.json``.

``grader.api`` normally forks into ``run`` directly; this entry point runs the same thing from
a job file (for debugging, and for images that start the harness as a command).

The job names the test folders, the student's private working copy, the limits and the events
file. pytest runs with a config of ours (``-c``), its plugin autoloading off and a root folder
that holds only tests: it never sees the submission folder, so a submitted ``conftest.py``,
``pytest.ini`` or ``sitecustomize.py`` has no effect on it.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from grader.sandbox.local import JOB_SCRATCH_VAR, LocalSandbox, WorkerLimits


# pytest's plugins a grading never uses, not loaded: the cache and stepwise (state between
# runs), doctests (never collected: only test_*.py files are), and the unraisable-exception
# check, which only warns (the harness's own objects; student code runs in the worker) and
# costs a full garbage collection at the end of every run (about 0.03 s a grading).
UNUSED_PLUGINS = ["-p", "no:cacheprovider", "-p", "no:stepwise", "-p", "no:doctest",
                  "-p", "no:unraisableexception"]


def start_sandbox(job: dict):
    """Create the sandbox and start the worker's interpreter right away (it imports NumPy while
    the harness imports pytest and collects). No student code runs until the first call."""
    if job.get("scratch_dir"):  # what this grading makes goes there (see job_scratch)
        os.environ[JOB_SCRATCH_VAR] = job["scratch_dir"]
    if not job.get("workdir"):
        return None, None
    from grader.harness.cuda import snapshot_sources
    snapshot_sources(job)  # before the sandbox makes the working copy its worker's (uid mode)
    limits = job["limits"]
    sandbox = LocalSandbox(Path(job["workdir"]), WorkerLimits(
        memory_mb=limits["memory_mb"], cpu_seconds=int(limits["total_timeout"]) + 5),
        output_cap=limits["output_kb"] * 1024, uid=job.get("uids", [None])[0])
    return sandbox, sandbox.start()


def run(job: dict, sandbox=None, worker=None) -> int:
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    for var in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        os.environ.pop(var, None)
    if sandbox is None:
        sandbox, worker = start_sandbox(job)
    import pytest

    from grader.wire.bridge import WorkerSession
    from grader.harness.plugin import GradingPlugin

    harness_dir = Path(job["harness_dir"])
    ini = harness_dir / "pytest.ini"
    ini.write_text("[pytest]\npython_files = test_*.py\n")
    session = None
    if sandbox is not None:
        session = WorkerSession(sandbox, job["modules"],
                                call_timeout=job["limits"]["call_timeout"], prestarted=worker)
    try:
        events_file = (os.fdopen(os.dup(job["events_fd"]), "w", encoding="utf-8")
                       if "events_fd" in job else open(job["events"], "w", encoding="utf-8"))
        with events_file as events:
            plugin = GradingPlugin(job, session, events)
            args = ["-c", str(ini), "--rootdir", str(harness_dir), *UNUSED_PLUGINS,
                    "--import-mode=importlib", "-q", "--no-header", "--tb=no", *job["test_dirs"]]
            # pytest's rewritten test modules are cached beside the tests (their __pycache__,
            # trusted folders no worker sees) instead of rewritten for every submission (0.1 to
            # 0.2 s); where those are read-only (the image) its build wrote them.
            sys.dont_write_bytecode = False
            try:
                return int(pytest.main(args, plugins=[plugin]))
            finally:
                plugin.close()
    finally:
        if session is not None:
            session.close()
        if sandbox is not None:
            sandbox.close()


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    code = run(job)
    # 0 all passed, 1 some failed: both are a normal grading run.
    sys.exit(0 if code in (0, 1) else code)


if __name__ == "__main__":
    main()
