"""The worker behind the bridge: calls, handles, callbacks, failures, and the kill guarantee."""
import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from grader.wire.bridge import (StudentError, StudentModules, WorkerCrashed, WorkerSession,
                           WorkerTimeout)
from grader.sandbox import call_clock, cgroups
from grader.sandbox.local import LocalSandbox, WorkerLimits
from tests.conftest import worker_template, write_files

STUDENT = """
    import os, sys, time

    class Node:
        def __init__(self, scale=1.0):
            self.scale = scale
        def forward(self, x):
            self.x = x
            return self.scale * x

    def call_twice(f, x):
        return f(x) + f(x)

    def mutate(x):
        x[0] = 99.0
        return x.sum()

    def fail():
        helper()

    def helper():
        raise ValueError("bad shape")

    def chatty(n):
        sys.stdout.write("x" * n)
        return n

    def spin():
        while True:
            pass

    def die():
        os._exit(3)

    def objects():
        return [object()]

    def gen(n):
        for i in range(n):
            yield i

    def daemon(token):
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c",
                         "import time; time.sleep(600) # " + token])
            os._exit(0)
        time.sleep(0.5)
        return "started"

    def whoami():
        return os.getuid(), sorted(os.listdir("/"))

    def my_cgroups():
        with open("/proc/self/cgroup") as f:
            return f.read()

    def cpu_of_busy_children(n, seconds):  # CPU seconds of n busy children, all together
        pids = []
        for _ in range(n):
            pid = os.fork()
            if pid == 0:
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    pass
                os._exit(0)
            pids.append(pid)
        for pid in pids:
            os.waitpid(pid, 0)
        t = os.times()
        return t.children_user + t.children_system

    def mutate_nested(pair, d):
        pair[0][0] = 7.0
        pair[1][0][1] = 8.0
        d["k"][2] = 9.0

    def install_liar():
        import copy
        worker = sys.modules["grader.untrusted.worker"]
        serve_one = worker._serve_one
        def lying(reader, wfd, request):
            before = copy.deepcopy(request.get("args"))
            reply = serve_one(reader, wfd, request)
            if request.get("op") == "call":
                reply["args"] = before  # "unmodified": the copies taken before the call
            return reply
        worker._serve_one = lying
        return "installed"
"""


@pytest.fixture
def student(tmp_path, sandbox_mode):
    work = write_files(tmp_path / "work", {"mod.py": STUDENT})
    sandbox = LocalSandbox(work, WorkerLimits(), output_cap=1000, mode=sandbox_mode)
    session = WorkerSession(sandbox, ["mod"], call_timeout=3)
    yield StudentModules(session, ["mod"])
    session.close()
    sandbox.close()


def test_objects_live_in_the_worker(student):
    node = student.Node(scale=2.0)
    assert np.array_equal(node.forward(np.arange(3.0)), [0.0, 2.0, 4.0])
    assert np.array_equal(node.x, np.arange(3.0))
    node.scale = 3.0
    assert node.forward(1.0) == 3.0
    assert student.mod.Node().forward(4) == 4


def test_callbacks_run_in_the_harness(student):
    seen = []
    assert student.call_twice(lambda x: seen.append(x) or x * 10, 2.0) == 40.0
    assert seen == [2.0, 2.0]


def test_inspect_observes_the_arguments_in_the_harness_memory(student):
    x = np.zeros(3)
    call = student.mutate.inspect(x)
    assert call.result == 99.0
    assert call.args[0][0] == 99.0 and x[0] == 0.0  # the harness's own x is untouched
    call = student.mutate_nested.inspect([np.zeros(2), (np.ones(2),)], {"k": np.arange(3.0)})
    assert call.result is None
    (first, (second,)), kwargs = call.args[0], call.args[1]
    assert list(first) == [7.0, 0.0] and list(second) == [1.0, 8.0]
    assert list(kwargs["k"]) == [0.0, 1.0, 9.0]


def test_inspect_ignores_what_the_worker_says_about_the_arguments(student):
    """The worker rewrites its own serving code to send back copies taken before the call (as
    the worker of the old protocol could be made to): the harness reads its shared memory."""
    assert student.install_liar() == "installed"
    x = np.zeros(3)
    call = student.mutate.inspect(x)
    assert call.args[0][0] == 99.0


def test_student_exception_shows_only_student_frames(student):
    with pytest.raises(StudentError) as err:
        student.fail()
    text = str(err.value)
    assert "ValueError: bad shape" in text
    assert "mod.py" in text and "in helper" in text
    assert "worker.py" not in text and "grader" not in text


def test_unsendable_return_is_a_clear_error(student):
    with pytest.raises(StudentError, match="objects returned a list of 1 .*cannot accept"):
        student.objects()


def test_generators_are_iterated_through_handles(student):
    assert list(student.gen(3)) == [0, 1, 2]


def test_output_is_captured_with_a_cap(student):
    session = student._session
    assert student.chatty(5_000_000) == 5_000_000
    out = session.take_output()
    assert out.startswith("x" * 1000) and "4999000 more bytes" in out


def test_timeout_kills_and_the_next_call_gets_a_fresh_worker(student):
    node = student.Node()
    start = time.monotonic()
    with pytest.raises(WorkerTimeout):
        student.spin()
    # Charged in the worker's own time (sandbox/call_clock.py): on a busy machine a 3 s limit
    # takes longer on the wall clock, but never past the backstop.
    assert time.monotonic() - start < 3 * call_clock.BACKSTOP_FACTOR
    assert student.Node(scale=5.0).forward(1.0) == 5.0
    with pytest.raises(StudentError, match="restarted"):
        node.forward(1.0)  # a handle from the dead worker is refused, not misrouted


def test_crash_is_reported_and_recovered(student):
    with pytest.raises(WorkerCrashed, match="status 3"):
        student.die()
    assert student.Node().forward(2.0) == 2.0


def _host_processes_with(token):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if token.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_setsid_daemons_die_with_the_worker(student):
    token = f"grader-test-daemon-{os.getpid()}-{time.monotonic_ns()}"
    assert student.daemon(token) == "started"
    assert _host_processes_with(token), "the daemon should be running during the call"
    student._session.close()
    deadline = time.monotonic() + 5
    while _host_processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _host_processes_with(token)


@pytest.mark.skipif(os.geteuid() != 0, reason="the jail needs root")
def test_jail_hides_everything_but_the_submission(tmp_path, monkeypatch):
    work = write_files(tmp_path / "work", {"mod.py": STUDENT})
    sandbox = LocalSandbox(work, mode="jail")
    session = WorkerSession(sandbox, ["mod"])
    try:
        uid, top = StudentModules(session, ["mod"]).whoami()
    finally:
        session.close()
        sandbox.close()
    assert uid != 0
    # Only the jail's own folders, plus the top folders of the Python prefixes it binds
    # read-only (a virtual environment may live anywhere, e.g. under /work or /home).
    python_tops = {Path(p).parts[1] for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    jail = {"bin", "dev", "lib", "lib32", "lib64", "opt", "proc", "sbin", "submission", "tmp",
            "usr"}
    assert "submission" in top and set(top) <= jail | python_tops, top
    assert not ({"etc", "home", "root"} - python_tops) & set(top)


def test_a_worker_that_cannot_start_is_infrastructure_not_the_students_fault(tmp_path):
    """If the sandbox is broken, no student code ran: the kind must say so."""
    from grader.wire.bridge import WorkerUnavailable

    work = write_files(tmp_path / "work", {"mod.py": STUDENT})
    sandbox = LocalSandbox(work, mode="plain")
    real_start = sandbox.start

    def broken_start():
        worker = real_start()
        worker.kill()  # dies before saying hello, like a jail that failed to mount
        return worker

    sandbox.start = broken_start
    session = WorkerSession(sandbox, ["mod"])
    with pytest.raises(WorkerUnavailable) as err:
        StudentModules(session, ["mod"]).whoami()
    assert err.value.kind == "infrastructure"
    with pytest.raises(WorkerUnavailable):  # and it is not retried for every test
        StudentModules(session, ["mod"]).whoami()
    session.close()


def test_killing_one_worker_leaves_another_live_worker_alone(tmp_path, sandbox_mode):
    """The harness runs two workers at once when timing (student and reference): a timeout in
    one must not take the other down."""
    sessions = []
    for name in ("a", "b"):
        work = write_files(tmp_path / name, {"mod.py": STUDENT})
        sandbox = LocalSandbox(work, WorkerLimits(), mode=sandbox_mode)
        sessions.append((sandbox, WorkerSession(sandbox, ["mod"], call_timeout=2)))
    (_, first), (_, second) = sessions
    a, b = StudentModules(first, ["mod"]), StudentModules(second, ["mod"])
    assert a.Node().forward(1.0) == b.Node().forward(1.0) == 1.0
    with pytest.raises(WorkerTimeout):
        a.spin()
    worker_b = second.worker
    assert b.Node(scale=3.0).forward(1.0) == 3.0
    assert second.worker is worker_b  # the same worker answered: it was not killed
    for sandbox, session in sessions:
        session.close()
        sandbox.close()


def test_the_worker_writes_no_bytecode(tmp_path):
    """The worker runs with -B (-I alone ignores PYTHONDONTWRITEBYTECODE): importing the
    student's files leaves no __pycache__ in its folder (here plain mode, which imports the
    files in place)."""
    work = write_files(tmp_path / "work", {"mod.py": STUDENT})
    sandbox = LocalSandbox(work, mode="plain")
    session = WorkerSession(sandbox, ["mod"])
    try:
        assert StudentModules(session, ["mod"]).Node().forward(2.0) == 2.0
        assert sorted(p.name for p in work.iterdir()) == ["mod.py"]
    finally:
        session.close()
        sandbox.close()


@pytest.mark.skipif(not cgroups.available(), reason="needs root and cgroup v1 or v2")
@pytest.mark.parametrize("from_template", [False, True], ids=["direct", "template"])
def test_a_jailed_worker_tree_has_a_cgroup_with_one_cpu(tmp_path, from_template):
    """Whatever a student starts shares one CPU quota (jobs side by side keep their own CPU);
    the group is gone after the sandbox closes. Also for a worker forked from the template
    (its keeper enters the group before it forks the worker)."""
    with worker_template() if from_template else contextlib.nullcontext():
        _one_cpu_for_the_tree(tmp_path)


def _one_cpu_for_the_tree(tmp_path):
    work = write_files(tmp_path / "work", {"mod.py": STUDENT})
    sandbox = LocalSandbox(work, WorkerLimits(), mode="jail")
    session = WorkerSession(sandbox, ["mod"], call_timeout=20)
    try:
        student = StudentModules(session, ["mod"])
        assert f"/{cgroups.PREFIX}" in student.my_cgroups()
        groups = sandbox._cgroup.dirs
        assert all(d.is_dir() for d in groups)
        cpu = student.cpu_of_busy_children(4, 1.5)
        assert cpu < 1.5 * 1.25, f"{cpu:.2f} s of CPU in 1.5 s: more than one CPU"
    finally:
        session.close()
        sandbox.close()
    assert not any(d.exists() for d in groups)
