"""Adversarial submissions: each one tries to forge a pass, steal the hidden suite, or take the
grader down, while the functions it attacks return WRONG answers. Every one must gain nothing.

Each folder in ``submissions/`` is a copy of the correct example
(``examples/submissions/hw1_graph/correct``) in which only the parts marked ``ATTACK`` differ;
its header comment says what it does and what it should get. Each is graded once per module
(``graded`` caches), in a private copy whose graph.py holds a random token for this run (the
copy also has it in ``adv_token.txt``, which the grader leaves out of the worker's folder):
the attack puts it into the files it writes and into the names or command lines of the
processes it starts, so that leftovers can be found afterwards.

For every attack we check:
- the grader returned normally with status ``ok`` and the same tests as for the correct example;
- every test of the attacked problems scores zero, with the expected failure kinds;
- problems the attack does not touch score exactly as for the correct example;
- the total is strictly below full marks (``huge_output`` returns correct answers: it must
  score exactly as the correct example);
- no process carrying the token is alive after grading;
- no file carrying the token appeared outside the job (the repository, /tmp, $HOME, the
  submission folder, ...), and the output folder holds only the grader's ``results.json``.

Attacks whose harmlessness rests on the jail (reading the hidden suite, forging the harness's
events, writing outside the working copy) are checked in jail mode only (root); two tests run
them in plain mode as well, to document what plain mode does not prevent.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import pytest

from grader.api import grade
from grader.sandbox.local import jail_available
from tests.conftest import worker_template

HERE = Path(__file__).resolve().parent
SUBMISSIONS = HERE / "submissions"
REPO = HERE.parent.parent
ASSIGNMENT = "hw1_graph"
CORRECT = REPO / "examples" / "submissions" / ASSIGNMENT / "correct"
HIDDEN_TESTS = REPO / "solutions" / ASSIGNMENT / "tests" / "hidden"
REFERENCE = REPO / "solutions" / ASSIGNMENT / "graph.py"
IS_ROOT = os.geteuid() == 0
JAIL = jail_available()
PROBLEMS = ("mulnode", "addnode", "mynetwork", "numerical_gradient")
TEMPLATE = "jail-template"
# Each attack in this machine's default mode, and (as root) with its workers forked from a
# template, as a batch starts them (grader/sandbox/template.py).
WAYS = [None, TEMPLATE] if JAIL else [None]

pytestmark = pytest.mark.skipif(not (REPO / "solutions" / ASSIGNMENT / "assignment.yaml").is_file(),
                                reason="the hw1_graph assignment is missing")


@dataclass(frozen=True)
class Attack:
    target: tuple[str, ...]  # problems in which every test must score zero
    kinds: frozenset[str]  # failure kinds allowed in the target problems
    collateral: tuple[str, ...] = ()  # problems that use the attacked code: may lose points
    required: frozenset[str] = frozenset()  # kinds that must show up in the target problems
    jail_only: bool = False  # harmless only inside the jail
    slow: bool = False
    # tests of the target problems that judge something the attack does not touch (the
    # in-place tests judge only whether the arguments changed): they score as for the correct
    # example
    untouched_tests: tuple[str, ...] = ()

    @property
    def untouched(self) -> tuple[str, ...]:
        return tuple(p for p in PROBLEMS if p not in self.target + self.collateral)


WRONG, ERROR, TIMEOUT = frozenset({"wrong_answer"}), frozenset({"error"}), frozenset({"timeout"})
NG = ("numerical_gradient",)

ATTACKS = {
    "monkeypatch_numpy_testing": Attack(NG, WRONG, collateral=("mulnode", "mynetwork")),
    "os_exit_zero": Attack(("mulnode",), frozenset({"crash"}), collateral=("mynetwork",)),
    "pytest_exit": Attack(NG, ERROR),
    "pytest_skip": Attack(("addnode",), ERROR, collateral=("mynetwork",)),
    "sys_exit": Attack(NG, ERROR),
    "fake_results_stdout": Attack(NG, WRONG),
    "results_in_workdir": Attack(NG, WRONG, jail_only=True),
    "ships_conftest": Attack(NG, WRONG),
    "read_hidden_tests": Attack(("mulnode",) + NG, frozenset({"error", "wrong_answer"}),
                                collateral=("mynetwork",), jail_only=True),
    "forge_events_file": Attack(NG, WRONG, jail_only=True),
    "fork_bomb": Attack(NG, frozenset({"timeout", "wrong_answer"}), required=TIMEOUT,
                        jail_only=True),  # plain mode as root has no process limit
    "memory_bomb": Attack(NG, frozenset({"memory"})),
    "setsid_daemon": Attack(NG, WRONG),
    "huge_output": Attack((), frozenset()),
    "lying_eq": Attack(NG, WRONG, collateral=("mulnode", "mynetwork")),
    "nan_results": Attack(("mulnode",), WRONG, collateral=("mynetwork",),
                          untouched_tests=("test_mulnode_does_not_modify_inputs",)),
    "wrong_shape_broadcasts": Attack(("addnode",), WRONG, collateral=("mynetwork",),
                                     untouched_tests=("test_addnode_does_not_modify_inputs",)),
    "infinite_loop_at_import": Attack(PROBLEMS, TIMEOUT, slow=True),
    "import_error": Attack(PROBLEMS, ERROR),
    "sleep_ignores_sigterm": Attack(NG, frozenset({"timeout", "wrong_answer"}), required=TIMEOUT),
}


def attack_params(names=None):
    params = []
    for name in names or ATTACKS:
        attack, marks = ATTACKS[name], []
        if attack.slow:
            marks.append(pytest.mark.slow)
        if attack.jail_only and not JAIL:
            marks.append(pytest.mark.skip(reason="harmless only in jail mode (root + unshare)"))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def test_every_submission_folder_is_covered():
    folders = {p.name for p in SUBMISSIONS.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert folders == set(ATTACKS)


# --- grading, once per attack and mode --------------------------------------------------------

@dataclass
class Graded:
    name: str
    mode: str
    token: str
    results: dict | None
    error: BaseException | None
    seconds: float
    since: float  # time.time() when grading started
    finished: float  # time.monotonic() when it ended
    survivors: list[str]
    written: list[str]
    out_dir: Path
    submission: Path
    by_name: dict = field(default_factory=dict)

    def tests_of(self, problem: str) -> list[dict]:
        return [t for t in self.results["tests"] if t["problem"] == problem]

    def outputs(self) -> str:
        """Everything the student is shown."""
        return "\n".join([self.results.get("output", "")]
                         + [t.get("output", "") for t in self.results["tests"]])


def token_processes(token: str) -> list[str]:
    """Live processes (not zombies) whose command line or name holds ``token``."""
    found, needle = [], token.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/comm", "rb") as f:
                comm = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmdline + comm and state != b"Z":
            shown = comm.strip() + b" " + cmdline.replace(bytes(1), b" ")
            found.append(f"{entry}: {shown[:200]!r}")
    return found


SKIP_DIRS = {".git", ".venv", "node_modules", "proc", "sys"}


def _write_scan_roots(extra: list[Path]) -> list[tuple[Path, int]]:
    """(folder, how many levels below it to look): where a forged file could end up."""
    roots = [(REPO, 12), (Path("/tmp"), 5), (Path("/var/tmp"), 3), (Path("/dev/shm"), 3),
             (Path.home(), 2), (Path("/"), 0)]
    for p in (Path("/autograder"), Path("/results"), Path("/out"), Path("/output")):
        if p.is_dir():
            roots.append((p, 3))
    return roots + [(p, 4) for p in extra]


def files_with_token(token: str, since: float, extra_roots: list[Path],
                     exclude: set[Path]) -> list[str]:
    """Files modified since ``since`` whose name or first 4 MB hold ``token``."""
    hits, needle = set(), token.encode()
    for root, max_depth in _write_scan_roots(extra_roots):
        base_depth = len(root.parts)
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            if len(here.parts) - base_depth >= max_depth:
                dirnames[:] = []
            else:
                dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            for name in filenames:
                path = here / name
                if path in exclude:
                    continue
                try:
                    st = path.lstat()
                    if not path.is_file() or path.is_symlink() or st.st_mtime < since:
                        continue
                    if token in name or (st.st_size <= 4 << 20 and needle in path.read_bytes()):
                        hits.add(str(path))
                except OSError:
                    continue
    return sorted(hits)


def embed_token(submission: Path, token: str) -> None:
    """Only the assignment's files reach the worker, so adv_token.txt stays outside it: the
    token is also written into graph.py, where the attacks' ``_token()`` falls back to it."""
    graph = submission / "graph.py"
    graph.write_text(graph.read_text().replace('"advnotoken"', repr(token)))


def _run(name: str, source: Path, base: Path, mode: str | None) -> Graded:
    token = "adv" + secrets.token_hex(5)  # 13 characters: also fits a process name (15)
    submission = base / "submission"
    shutil.copytree(source, submission)
    (submission / "adv_token.txt").write_text(token + "\n")
    embed_token(submission, token)
    out_dir = base / "out"
    template = mode == TEMPLATE  # jail mode, the workers forked from a template (a batch's way)
    env = {"GRADER_SANDBOX_MODE": "jail" if template else mode} if mode else {}
    time.sleep(0.02)  # mtimes before this instant are the test's own files
    since = time.time()
    start = time.monotonic()
    results = error = None
    with mock.patch.dict(os.environ, env), \
            (worker_template() if template else contextlib.nullcontext()):
        try:  # no mode: this machine's default (see JAIL)
            results = grade(submission, assignment=ASSIGNMENT, output=out_dir,
                            allow_unconfined=True)  # plain mode too, on purpose
        except BaseException as e:  # the grader must not raise for any submission
            error = e
    finished = time.monotonic()
    seconds = finished - start
    survivors = token_processes(token)
    written = files_with_token(token, since, [base], exclude={out_dir / "results.json"})
    graded = Graded(name, mode or ("jail" if JAIL else "plain"), token, results, error, seconds,
                    since, finished, survivors, written, out_dir, submission)
    if results is not None:
        graded.by_name = {t["name"]: t for t in results["tests"]}
    return graded


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """``graded(name, mode=None)``: grade a submission once per module and mode."""
    cache: dict[tuple[str, str | None], Graded] = {}

    def get(name: str, mode: str | None = None) -> Graded:
        key = (name, mode)
        if key not in cache:
            source = CORRECT if name == "correct" else SUBMISSIONS / name
            base = tmp_path_factory.mktemp(f"{name}-{mode or 'default'}")
            cache[key] = _run(name, source, base, mode)
        return cache[key]

    yield get
    # Leftovers would already have failed a test; still, do not let them outlive the suite.
    for result in cache.values():
        for line in token_processes(result.token):
            try:
                os.kill(int(line.split(":")[0]), signal.SIGKILL)
            except (ProcessLookupError, PermissionError, ValueError):
                pass


@pytest.fixture(scope="module")
def baseline(graded) -> Graded:
    result = graded("correct")
    assert result.error is None and result.results["status"] == "ok", result.error
    return result


# --- the invariants, for every attack ----------------------------------------------------------

# Attacks whose files never finish importing: graded, with a status of their own.
IMPORT_FAILS = {"import_error", "infinite_loop_at_import"}


@pytest.mark.parametrize("way", WAYS, ids=lambda w: w or "default")
@pytest.mark.parametrize("name", attack_params())
def test_grader_survives(name, way, graded, baseline):
    result = graded(name, way)
    assert result.error is None, f"grade() raised {result.error!r}"
    res = result.results
    # graded: a submission whose files do not import has a status of its own
    assert res["status"] == ("import_error" if name in IMPORT_FAILS else "ok"), res["output"]
    assert [t["name"] for t in res["tests"]] == [t["name"] for t in baseline.results["tests"]]
    assert not any(t["kind"] == "infrastructure" for t in res["tests"])
    # the output folder holds the grader's results.json and nothing else, and it is the result
    assert sorted(p.name for p in result.out_dir.iterdir()) == ["results.json"]
    assert json.loads((result.out_dir / "results.json").read_text()) == res


@pytest.mark.parametrize("way", WAYS, ids=lambda w: w or "default")
@pytest.mark.parametrize("name", attack_params())
def test_attack_gains_nothing(name, way, graded, baseline):
    attack, result = ATTACKS[name], graded(name, way)
    assert result.error is None
    res = result.results
    seen_kinds = set()
    for problem in attack.target:
        for t in result.tests_of(problem):
            if t["name"] in attack.untouched_tests:
                want = baseline.by_name[t["name"]]
                assert (t["status"], t["score"]) == (want["status"], want["score"]), t
                continue
            assert t["score"] == 0 and t["status"] == "failed", f"{t['name']} passed: {t}"
            assert t["kind"] in attack.kinds, f"{t['name']}: kind {t['kind']}: {t['output']}"
            seen_kinds.add(t["kind"])
        assert res["problems"][problem]["score"] == sum(
            baseline.by_name[name]["score"] for name in attack.untouched_tests
            if baseline.by_name[name]["problem"] == problem)
    assert attack.required <= seen_kinds, f"expected kinds {set(attack.required)}, saw {seen_kinds}"
    for problem in attack.untouched:
        for t in result.tests_of(problem):
            want = baseline.by_name[t["name"]]
            assert (t["status"], t["score"]) == (want["status"], want["score"]), (
                f"{t['name']} is not affected by this attack but got {t['kind']}: {t['output']}")
    if attack.target:
        assert res["score"] < res["max_score"]
        assert res["score"] < baseline.results["score"]
    else:
        assert res["score"] == baseline.results["score"]


@pytest.mark.parametrize("way", WAYS, ids=lambda w: w or "default")
@pytest.mark.parametrize("name", attack_params())
def test_no_process_survives(name, way, graded):
    assert graded(name, way).survivors == []


@pytest.mark.parametrize("way", WAYS, ids=lambda w: w or "default")
@pytest.mark.parametrize("name", attack_params())
def test_nothing_written_outside_the_job(name, way, graded):
    result = graded(name, way)
    assert result.written == []
    # the submission folder that was graded is untouched (the grader works on a private copy)
    assert sorted(p.name for p in result.submission.iterdir()) == sorted(
        [p.name for p in (SUBMISSIONS / name).iterdir()] + ["adv_token.txt"])


# --- what individual attacks must show ---------------------------------------------------------

def test_huge_output_still_passes_and_is_capped(graded):
    result = graded("huge_output")
    # 100 MB printed while loading (the first test loads the module), 30 MB in AddNode.forward
    for name in ("test_mulnode_forward_scalars", "test_addnode_forward_backward"):
        t = result.by_name[name]
        assert t["status"] == "passed" and t["kind"] == "passed", (name, t["output"][-300:])
        assert "spam spam" in t["output"], f"{name}: the attack did not run"
        assert len(t["output"].encode()) < 100_000, name
        assert "not kept" in t["output"] or "truncated" in t["output"], name
        assert "END OF SPAM" not in t["output"], name  # the tail was dropped, not kept
    assert len(json.dumps(result.results)) < 1_000_000


def test_fake_results_are_only_the_students_output(graded):
    result = graded("fake_results_stdout")
    t = result.by_name["test_numerical_gradient_sum_of_squares"]  # public: shows the output
    assert t["kind"] == "wrong_answer"
    assert '"score": 42.0' in t["output"] and "PASSED" in t["output"], "the attack did not run"
    assert result.results["score"] != 42.0


def test_setsid_daemon_was_running_and_is_gone(graded):
    result = graded("setsid_daemon")
    shown = result.by_name["test_numerical_gradient_sum_of_squares"]["output"]
    assert "setsid daemon running" in shown and result.token in shown, "the daemon did not start"
    assert result.survivors == []
    # past the daemon's 3 s sleep: had it survived, it would have rewritten results by now
    time.sleep(max(0.0, 4.0 - (time.monotonic() - result.finished)))
    assert token_processes(result.token) == []
    assert files_with_token(result.token, result.since, [result.out_dir.parent],
                            exclude={result.out_dir / "results.json"}) == []


def test_skips_and_exits_are_reported_as_errors(graded):
    for name in ("pytest_skip", "pytest_exit", "sys_exit"):
        result = graded(name)
        kinds = {t["kind"] for t in result.results["tests"] if t["status"] == "failed"}
        assert kinds == {"error"}, (name, kinds)


def test_shipped_config_and_shadow_modules_never_run_in_the_grader(graded):
    result = graded("ships_conftest")
    assert result.written == []  # each shipped file writes <token>-<file>-ran when executed
    assert not list(Path("/tmp").glob(f"{result.token}-*"))
    assert not list(Path.home().glob(f"{result.token}-*"))
    # the grader ran the real tests: the wrong numerical_gradient failed them
    assert result.results["problems"]["numerical_gradient"]["score"] == 0


def _hidden_test_names() -> set[str]:
    names = set()
    for path in HIDDEN_TESTS.glob("test_*.py"):
        names.update(re.findall(r"def (test_\w+)", path.read_text()))
    return names


def _leaks(text: str, *, names: bool = True) -> list[str]:
    """What of the hidden suite or the reference solution ``text`` gives away (``names``: also
    the hidden tests' function names, which results.json itself lists as test names)."""
    found = [marker for marker in ("BEGIN SOLUTION", "END SOLUTION", "test_graph_hidden",
                                   "tests/hidden", str(HIDDEN_TESTS), str(REFERENCE))
             if marker in text]
    public = set()
    for path in (REPO / "solutions" / ASSIGNMENT / "tests" / "public").glob("test_*.py"):
        public.update(re.findall(r"def (test_\w+)", path.read_text()))
    if names:
        found += sorted(n for n in _hidden_test_names() - public if n in text)
    return found


@pytest.mark.skipif(not JAIL, reason="the hidden suite is out of reach only in jail mode (root)")
def test_read_hidden_tests_finds_nothing_in_the_jail(graded):
    result = graded("read_hidden_tests")
    shown = result.outputs()
    assert "EXFIL-START" in shown, "the attack's findings are not in the feedback: it did not run"
    assert _hidden_test_names(), "no hidden test names to look for"
    assert _leaks(shown) == []
    assert _leaks(json.dumps(result.results), names=False) == []


@pytest.mark.skipif(not IS_ROOT, reason="compares with jail mode; as non-root everything is plain")
def test_read_hidden_tests_in_plain_mode_can_read_them(graded):
    """Documents the limitation stated in docs/architecture.md: plain mode runs the worker with
    the grader's own uid, so a submission reads the hidden tests and the reference solution
    (here found through /tmp/grader-harness-*/job.json or a walk of the file system) and shows
    them in its feedback. Plain mode is for checking one's own work, never for grading others'.
    If this starts failing, plain mode got stricter: update this test and the docs."""
    result = graded("read_hidden_tests", mode="plain")
    assert result.error is None and result.results["status"] == "ok"
    assert result.results["problems"]["mulnode"]["score"] == 0  # still no points for it
    assert _leaks(result.outputs()) != [], "plain mode no longer leaks the hidden suite"


@pytest.mark.skipif(not JAIL, reason="needs the jail sandbox (root)")
def test_forge_events_file_finds_no_job_in_the_jail(graded):
    shown = graded("forge_events_file").by_name["test_numerical_gradient_sum_of_squares"]["output"]
    assert "forge_events_file: no job file found" in shown


@pytest.mark.skipif(not IS_ROOT, reason="compares with jail mode; as non-root everything is plain")
def test_forge_events_file_in_plain_mode(graded):
    result = graded("forge_events_file", mode="plain")
    assert result.error is None
    assert result.results["problems"]["numerical_gradient"]["score"] == 0
    assert result.results["score"] < result.results["max_score"]


@pytest.mark.skipif(not JAIL, reason="fork_bomb runs in jail mode only")
def test_output_printed_before_a_timeout_is_shown(graded):
    t = graded("fork_bomb").by_name["test_numerical_gradient_sum_of_squares"]
    assert t["kind"] == "timeout"
    assert "fork bomb starting" in t["output"]  # printed (and flushed) before the loop


# --- the grader and its caller ------------------------------------------------------------------

def test_grading_leaves_the_callers_other_processes_alone(tmp_path):
    import subprocess
    import sys

    token = "adv" + secrets.token_hex(5)
    bystander = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep(60)  # {token}"])
    try:
        res = grade(CORRECT, assignment=ASSIGNMENT)
        assert res["status"] == "ok"
        assert bystander.poll() is None, "grade() killed a child process of its caller"
    finally:
        bystander.kill()
        bystander.wait()


def test_two_gradings_in_threads_do_not_interfere(graded, baseline):
    import threading

    results, errors = {}, {}

    def run(key, path):
        try:
            results[key] = grade(path, assignment=ASSIGNMENT)
        except Exception as e:  # e.g. ChildProcessError: the other call reaped our harness
            errors[key] = e

    # the correct example (fast) next to a submission with a 1 s timeout in it (slower)
    threads = [threading.Thread(target=run, args=(key, path)) for key, path in
               (("correct", CORRECT), ("slow", SUBMISSIONS / "sleep_ignores_sigterm"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == {}, errors
    assert results["correct"]["score"] == baseline.results["score"]
    alone = graded("sleep_ignores_sigterm").results
    assert results["slow"]["status"] == "ok", results["slow"]["output"]
    assert results["slow"]["score"] == alone["score"]
