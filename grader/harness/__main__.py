"""Run the trusted harness for one job: ``python -I -m grader.harness JOB.json``.

The job file (written by ``grader.api``) names the test folders, the student's private working
copy, the limits and the events file. pytest runs with a config of ours (``-c``), its plugin
autoloading off and a root folder that holds only tests: it never sees the submission folder, so
a submitted ``conftest.py``, ``pytest.ini`` or ``sitecustomize.py`` has no effect on it.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from grader.bridge import WorkerSession
from grader.harness.plugin import GradingPlugin
from grader.sandbox import LocalSandbox, WorkerLimits


def run(job: dict) -> int:
    harness_dir = Path(job["harness_dir"])
    ini = harness_dir / "pytest.ini"
    ini.write_text("[pytest]\npython_files = test_*.py\nconsider_namespace_packages = false\n")
    limits = job["limits"]
    session = sandbox = None
    if job.get("workdir"):
        sandbox = LocalSandbox(Path(job["workdir"]), WorkerLimits(
            memory_mb=limits["memory_mb"], cpu_seconds=int(limits["total_timeout"]) + 5),
            output_cap=limits["output_kb"] * 1024)
        session = WorkerSession(sandbox, job["modules"], call_timeout=limits["call_timeout"])
        session.prestart()  # the interpreter starts while pytest collects; no student code yet
    with open(job["events"], "w", encoding="utf-8") as events:
        plugin = GradingPlugin(job, session, events)
        args = ["-c", str(ini), "--rootdir", str(harness_dir), "-p", "no:cacheprovider",
                "-p", "no:stepwise", "--import-mode=importlib", "-q", "--no-header",
                "-o", "console_output_style=classic", "-W", "ignore::pytest.PytestUnraisableExceptionWarning",
                *job["test_dirs"]]
        try:
            code = pytest.main(args, plugins=[plugin])
        finally:
            if session is not None:
                session.close()
            if sandbox is not None:
                sandbox.close()
    return int(code)


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    code = run(job)
    # 0 all passed, 1 some failed: both are a normal grading run.
    sys.exit(0 if code in (0, 1) else code)


if __name__ == "__main__":
    main()
