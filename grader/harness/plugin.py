"""The grader's pytest plugin: fixtures ``student``, ``reference`` and ``rng``; markers
``problem``, ``points``, ``visibility`` and ``timeout``; one event per test.

Small hooks, each with one job:
- ``pytest_collection_modifyitems`` orders the tests (``run_order``) and validates markers;
  ``pytest_collection_finish`` writes the list of expected tests before any student code runs
  (a test missing from the results later scores zero).
- ``pytest_runtest_call`` applies the per-test timeout and the total time budget.
- ``pytest_runtest_makereport`` turns each outcome into an event with a failure kind.

What the student controls in an event (its output, its exception messages) is capped on the
bytes that are stored, after JSON escaping (``_fit``): a control character takes six bytes
escaped, so a cap on raw bytes let the events grow six-fold. The whole events file stays under
``EVENTS_BUDGET`` (the docker backend reads at most ``docker.EVENTS_CAP``).
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from grader import testing
from grader.wire.bridge import MachineFault, StudentFailure, StudentModules, WorkerSession
from grader.harness.bench import Bench, ReferenceFailed, TooSlow
from grader.harness.cuda import CudaSupport, NeedsGpu
from grader.sandbox.call_clock import run_queue_wait
from grader.sandbox.local import LocalSandbox, job_scratch

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
EVENTS_BUDGET = 12 * 1024 * 1024  # bytes of events one grading may write, all tests together
MESSAGE_CAP = 8 * 1024  # bytes of one failure message, as stored
MARKERS = {
    "problem(id)": "the problem of assignment.yaml this test belongs to",
    "points(n)": "points this test is worth (default 1)",
    "visibility(v)": "Gradescope visibility: visible, hidden, after_due_date, after_published",
    "timeout(seconds)": "per-call timeout for calls into student code in this test",
}


class TotalTimeExceeded(Exception):
    kind = "timeout"


class GradingPlugin:
    def __init__(self, job: dict, session: WorkerSession | None, events):
        self.job, self.session, self.events = job, session, events
        self.hidden_dirs = [str(Path(d).resolve()) for d in job.get("hidden_dirs", [])]
        self.deadline = time.monotonic() + job["limits"]["total_timeout"]
        self._harness_wait0 = run_queue_wait(os.getpid()) or 0.0
        self.errors: list[str] = []
        self.collection_errors: list[str] = []
        self._student = StudentModules(session, job["modules"]) if session else None
        self._reference = None
        self._ref_session = None
        self._ref_cleanup: list = []
        self._ref_problem = ""
        self._prepare_reference()
        self._written = 0
        self._tests_left = 0
        self.output_cap = job["limits"].get("output_kb", 64) * 1024
        self.cuda = CudaSupport(job, self) if job.get("cuda") else None  # student_cuda, gpu

    def machine_time(self) -> float:
        """Seconds of this grading that were the machine's, not the student's: this harness's
        own wait for a CPU, and its workers' (``sandbox/call_clock.py``). The submission's total
        time limit is charged without them, as each call's limit is."""
        harness = run_queue_wait(os.getpid()) or 0.0
        sessions = [s for s in (self.session, self._ref_session) if s is not None]
        return max(0.0, harness - self._harness_wait0) + sum(s.machine_time for s in sessions)

    # -- configuration ----------------------------------------------------------------------
    def pytest_configure(self, config):
        for spec, help_text in MARKERS.items():
            config.addinivalue_line("markers", f"{spec}: {help_text}")
        if self.cuda is not None:
            config.pluginmanager.register(self.cuda, "grader-cuda")

    def _emit(self, event: dict) -> None:
        line = json.dumps(event, allow_nan=False) + "\n"
        self._written += len(line)
        self.events.write(line)
        self.events.flush()

    def _output_room(self) -> int:
        """Stored bytes this test's output may take: its cap, and what the budget has left
        (keeping room for a small result line for every test still to run)."""
        left = EVENTS_BUDGET - self._written - 2 * MESSAGE_CAP * max(self._tests_left, 1)
        return max(0, min(self.output_cap, left))

    def _meta(self, item) -> dict:
        hidden = any(str(Path(item.path).resolve()).startswith(d + "/") for d in self.hidden_dirs)
        problem = item.get_closest_marker("problem")
        points = item.get_closest_marker("points")
        visibility = item.get_closest_marker("visibility")
        doc = (getattr(item.obj, "__doc__", None) or "").strip().splitlines()
        return {"id": item.nodeid, "name": item.name,
                "problem": problem.args[0] if problem and problem.args else None,
                "points": points.args[0] if points and points.args else 1,
                "visibility": visibility.args[0] if visibility and visibility.args
                else ("after_due_date" if hidden else "visible"),
                "hidden": hidden, "hint": doc[0] if doc else ""}

    # -- collection -------------------------------------------------------------------------
    def pytest_collectreport(self, report):
        """A test file that cannot be collected (a syntax error, a failing import) is named
        with its line: otherwise it would surface only as a points mismatch."""
        if report.failed:
            error = collection_error(report, self.job["test_dirs"])
            self.collection_errors.append(error)
            self.errors.append(error)

    def pytest_collection_modifyitems(self, session, config, items):
        if self.job.get("only"):  # validation of a mutant: just the tests meant to catch it
            wanted = set(self.job["only"])
            deselected = [i for i in items if getattr(i, "originalname", i.name) not in wanted]
            items[:] = [i for i in items if getattr(i, "originalname", i.name) in wanted]
            config.hook.pytest_deselected(items=deselected)
        items.sort(key=run_order)
        problems = {p["id"] for p in self.job["problems"]}
        for item in items:
            meta = self._meta(item)
            where = f"{item.nodeid}"
            if meta["problem"] not in problems:
                self.errors.append(f"{where}: needs @pytest.mark.problem(id) with one of "
                                   f"{sorted(problems)}, got {meta['problem']!r}")
            if not isinstance(meta["points"], (int, float)) or meta["points"] < 0:
                self.errors.append(f"{where}: points must be a non-negative number")
            if meta["visibility"] not in VISIBILITIES:
                self.errors.append(f"{where}: visibility must be one of {VISIBILITIES}")
            item.stash[_META] = meta

    def pytest_collection_finish(self, session):
        metas = [item.stash[_META] for item in session.items if _META in item.stash]
        if self.job.get("check_points") and not self.collection_errors:  # else: a consequence
            for problem in self.job["problems"]:
                total = sum(m["points"] for m in metas if m["problem"] == problem["id"])
                if abs(total - problem["points"]) > 1e-9:
                    self.errors.append(f"problem {problem['id']!r}: its tests' points sum to "
                                       f"{total:g} but assignment.yaml gives {problem['points']:g}")
        if session.config.option.collectonly is False and not metas and not self.errors:
            self.errors.append("no tests were collected")
        self._tests_left = len(metas)
        self._emit({"event": "expected", "tests": metas, "errors": self.errors})
        if self._ref_session is not None and not session.config.option.collectonly and any(
                "bench" in getattr(item, "fixturenames", ()) for item in session.items):
            self._ref_session.prestart()  # its interpreter starts while the other tests run

    # -- fixtures ---------------------------------------------------------------------------
    # Function-scoped, returning objects made once: pytest deprecates wider-scoped fixtures
    # defined as instance methods (of a plugin object, as here).
    @pytest.fixture
    def student(self):
        if self._student is None:
            pytest.fail("no submission to test", pytrace=False)
        return self._student

    @pytest.fixture
    def reference(self):
        if self._reference is None:
            ref_dir = self.job.get("reference_dir")
            if not ref_dir:
                raise RuntimeError("the reference fixture is not available in public tests")
            self._reference = _import_reference(Path(ref_dir), self.job["modules"],
                                                provided=self.job.get("provided", []))
        return self._reference

    @pytest.fixture
    def bench(self):
        if self._student is None or not self.job.get("reference_dir"):
            pytest.fail("timing needs the reference solution (hidden tests only)", pytrace=False)
        return Bench(self.session, self._reference_session(),
                     default_limit=self.job["limits"].get("max_speed_ratio", 3.0),
                     compare=testing.assert_close_tree, record=testing.record)

    def _prepare_reference(self) -> None:
        """The reference worker's own working copy and sandbox, made before any student code
        runs, in the harness's own scratch space (``job_scratch``): nothing the student fills
        later can make it fail. Its interpreter starts once the tests are collected, if any
        of them times (``pytest_collection_finish``)."""
        if not (self.job.get("reference_dir") and self.session is not None):
            return
        try:
            work = Path(tempfile.mkdtemp(prefix="grader-reference-", dir=job_scratch()))
            self._ref_cleanup.append(work)
            for name in self.job["modules"] + self.job.get("provided", []):
                shutil.copy(Path(self.job["reference_dir"]) / f"{name}.py", work / f"{name}.py")
            sandbox = LocalSandbox(work, self.session.sandbox.limits,
                                   output_cap=self.session.sandbox.output_cap,
                                   uid=self.job.get("uids", [None, None])[1])
            self._ref_cleanup.insert(0, sandbox)
            self._ref_session = WorkerSession(sandbox, self.job["modules"],
                                              call_timeout=self.job["limits"]["call_timeout"])
        except OSError as e:  # the message names no grader path
            self._ref_problem = (f"the grader could not prepare its reference worker "
                                 f"({e.strerror or type(e).__name__})")

    def _reference_session(self) -> WorkerSession:
        """The second sandboxed worker, holding only the reference files (for timing)."""
        if self._ref_session is None:
            raise ReferenceFailed(self._ref_problem or "no reference worker")
        return self._ref_session

    def close(self) -> None:
        if self.cuda is not None:
            self.cuda.close()
        if self._ref_session is not None:
            self._ref_session.close()
            self._ref_session = None
        for item in self._ref_cleanup:
            if isinstance(item, Path):
                shutil.rmtree(item, ignore_errors=True)
            else:
                item.close()
        self._ref_cleanup = []

    @pytest.fixture
    def rng(self, request):
        return _seeded_rng(self.job, request.node.nodeid)

    # -- running ----------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        if self.errors:
            raise RuntimeError("the test suite is invalid: " + "; ".join(self.errors))
        remaining = self.deadline + self.machine_time() - time.monotonic()
        if remaining <= 0:
            raise TotalTimeExceeded("the submission used up its total time limit "
                                    f"({self.job['limits']['total_timeout']:g} s)")
        marker = item.get_closest_marker("timeout")
        per_call = float(marker.args[0]) if marker else self.job["limits"]["call_timeout"]
        if self.session is not None:
            self.session.call_timeout = min(per_call, remaining)
        testing.take_recorded()
        try:
            return (yield)
        except (MachineFault, ReferenceFailed):
            # The worker (or the reference's) was killed or stalled from outside the student's
            # code: run the test once more, on a fresh worker and the same inputs. A second fault stays
            # ``infrastructure``: the submission is regraded, never charged for it.
            testing.take_recorded()
            if "rng" in getattr(item, "funcargs", {}):
                item.funcargs["rng"] = _seeded_rng(self.job, item.nodeid)
            return item.runtest()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        meta = item.stash.get(_META, None)
        if meta is None:
            return report
        failed_setup = call.when == "setup" and report.failed
        if call.when == "call" or failed_setup or (call.when == "setup" and report.skipped):
            kind, message = "passed", ""
            if not report.passed:
                kind, message = _classify(call.excinfo, failed_setup)
            output = self.session.take_output() if self.session is not None else ""
            self._tests_left -= 1
            if self.cuda is not None:
                output += self.cuda.take_output()
            self._emit({"event": "result", "id": item.nodeid,
                        "outcome": "passed" if report.passed else "failed", "kind": kind,
                        "message": _fit(message, MESSAGE_CAP),
                        "output": _fit(output, self._output_room()),
                        "duration": round(call.duration, 4),
                        "measured": _finite(testing.take_recorded())})
        return report


def _seeded_rng(job: dict, nodeid: str) -> np.random.Generator:
    """The test's own random generator: the same inputs every run of that test."""
    return np.random.default_rng(zlib.crc32(f"{job.get('seed', 0)}:{nodeid}".encode()))


_META = pytest.StashKey[dict]()
CUDA_FIXTURES = {"student_cuda", "cuda_build", "gpu_bench"}
TIMING_FIXTURES = {"bench", "gpu_bench"}


def run_order(item) -> int:
    """Tests keep their order, in three groups: the rest first, while the CUDA problems'
    processes start beside them (``CudaSupport.prestart``); then the CUDA tests; the timing
    tests last, on a machine no longer busy with those start-ups."""
    fixtures = set(getattr(item, "fixturenames", ()))
    return 2 if fixtures & TIMING_FIXTURES else 1 if fixtures & CUDA_FIXTURES else 0


def collection_error(report, test_dirs) -> str:
    """``cannot collect tests/hidden/test_x.py:30: SyntaxError: invalid syntax``: the file
    (relative to its assignment), the line and the error, from a failed collect report."""
    import re
    given = Path(str(report.fspath))  # relative to the test folder it was found in
    path, shown = given, str(given)
    for folder in map(Path, test_dirs):
        if (folder / given).is_file():
            path = folder / given
            shown = str(path.relative_to(folder.parent.parent))
            break
    try:
        compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    except SyntaxError as e:
        return f"cannot collect {shown}:{e.lineno}: SyntaxError: {e.msg}"
    except OSError:
        pass
    text = str(report.longrepr)
    errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    lines = re.findall(re.escape(path.name) + r":(\d+)", text)
    return (f"cannot collect {shown}" + (f":{lines[-1]}" if lines else "") + ": "
            + (errors[-1] if errors else text.strip().splitlines()[-1] if text.strip()
               else "collection failed"))


def _stored_size(text: str) -> int:
    return len(json.dumps(text)) - 2


def _fit(text: str, cap: int) -> str:
    """``text``, cut so that it takes at most ``cap`` bytes once JSON-escaped (as stored)."""
    if _stored_size(text) <= cap:
        return text
    note = "\n[... the rest was not kept: over its cap once stored]"
    room = max(0, cap - _stored_size(note))
    low, high = 0, min(len(text), room)  # the longest prefix that fits: binary search
    while low < high:
        mid = (low + high + 1) // 2
        if _stored_size(text[:mid]) <= room:
            low = mid
        else:
            high = mid - 1
    return text[:low] + note if room else ""


def _finite(values: dict) -> dict:
    return {k: float(v) for k, v in values.items()
            if isinstance(v, (int, float)) and np.isfinite(v)}


def _classify(excinfo, in_setup: bool) -> tuple[str, str]:
    """Map an exception to (failure kind, message). Anything a student caused is never
    'infrastructure'; a test that skipped is a failure (it did not explicitly pass)."""
    if excinfo is None:
        return "error", "the test did not pass"
    exc = excinfo.value
    if isinstance(exc, NeedsGpu):
        return "needs_gpu", str(exc)
    if isinstance(exc, TooSlow):
        return "too_slow", str(exc)
    if isinstance(exc, ReferenceFailed):
        return "infrastructure", str(exc)
    if isinstance(exc, StudentFailure):
        return exc.kind, str(exc)
    if isinstance(exc, TotalTimeExceeded):
        return "timeout", str(exc)
    if isinstance(exc, AssertionError):
        text = str(exc).strip() or "assertion failed"
        return "wrong_answer", text.split("\nassert ")[0] if "\nassert " in text else text
    if isinstance(exc, pytest.skip.Exception):
        return "error", "the test was skipped, which never counts as passing"
    if in_setup:  # the grader's own fixtures: say what, never where (no grader paths)
        return "infrastructure", ("the grader could not set up this test: "
                                  f"{type(exc).__name__}: {_without_paths(str(exc))}")
    if isinstance(exc, RuntimeError) and str(exc).startswith("the test suite is invalid"):
        return "infrastructure", str(exc)
    return "error", (f"the test could not use what your code returned: "
                     f"{type(exc).__name__}: {exc}")


def _without_paths(text: str) -> str:
    """``text`` with every absolute path replaced by its last component."""
    return re.sub(r"(?<![\w.])/(?:[^\s'\":/]+/)+([^\s'\":/]*)", r"\1", text)


def _import_reference(directory: Path, modules: list[str], *, provided=()):
    """Import the reference files under private names; expose their names like ``student``.
    Provided helper modules load first, so the reference can import them by name."""
    class Reference:
        pass

    ref = Reference()
    loaded = {}
    for name in list(provided) + list(modules):
        spec = importlib.util.spec_from_file_location(f"_reference_{name}",
                                                      directory / f"{name}.py")
        loaded[name] = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = loaded[name]
        # Reference files may import each other by their plain names (sgd.py: `from mlp
        # import ...`), as the student's do in the worker.
        sys.modules.setdefault(name, loaded[name])
    for name, module in loaded.items():
        module.__spec__.loader.exec_module(module)
        setattr(ref, name, module)
        for attr, value in vars(module).items():
            if not attr.startswith("_") and not hasattr(ref, attr):
                setattr(ref, attr, value)
    return ref
