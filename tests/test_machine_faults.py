"""A worker that dies or stalls for a reason outside its own code is the machine's fault, never
the student's (issue 20, item 1): uid leases that hold across graders whatever their temp
folders, kills that reach only the caller's own sandbox, a call's limit charged in the time the
worker had (not the time it waited for a CPU), and a worker killed or frozen from outside its
jail reported as ``infrastructure`` and its test run again.

Each test carries the attack or the accident that the old code graded wrong."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.sandbox import call_clock, cgroups
from grader.sandbox.local import UID_BASE, UID_SLOTS, LocalSandbox, UidLease, WorkerLimits
from grader.wire.bridge import (MachineFault, StudentModules, WorkerCrashed, WorkerSession,
                                WorkerTimeout)
from tests.conftest import worker_template, write_files

ROOT = Path(__file__).resolve().parents[1]
needs_jail = pytest.mark.skipif(os.geteuid() != 0, reason="the jail needs root")
needs_cgroups = pytest.mark.skipif(not cgroups.available(), reason="needs root and cgroups")

STUDENT = """
    import os, signal, time

    def sleep(seconds):
        time.sleep(seconds)
        return "slept"

    def work(cpu_seconds):  # computes for cpu_seconds of its own CPU time
        end = time.process_time() + cpu_seconds
        n = 0
        while time.process_time() < end:
            n += 1
        return n > 0

    def spin():
        while True:
            pass

    def kill_myself():  # SIGKILL to itself, then SIGABRT: the student's own crash
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.2)
        os.abort()

    def hold_memory(children, mb):  # children that each touch mb MB, then wait
        pids = []
        for _ in range(children):
            pid = os.fork()
            if pid == 0:
                try:
                    import mmap
                    block = mmap.mmap(-1, mb << 20)
                    for i in range(0, mb << 20, 4096):
                        block[i] = 1
                    time.sleep(1)
                finally:
                    os._exit(0)
            pids.append(pid)
        return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]

    def stop_myself():
        os.kill(os.getpid(), signal.SIGSTOP)
        return "not stopped"
"""


@contextlib.contextmanager
def jailed(tmp_path, *, call_timeout=1.0, template=False):
    with worker_template() if template else contextlib.nullcontext():
        work = write_files(tmp_path / "work", {"mod.py": STUDENT})
        sandbox = LocalSandbox(work, WorkerLimits(), mode="jail")
        session = WorkerSession(sandbox, ["mod"], call_timeout=call_timeout)
        try:
            yield sandbox, session, StudentModules(session, ["mod"])
        finally:
            session.close()
            sandbox.close()


def later(seconds, action):
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


# -- uid leases: one pool for the whole host --------------------------------------------------

LEASE_HOLDER = """
import sys
sys.path.insert(0, %r)
from grader.sandbox.local import UidLease
lease = UidLease()
print(lease.uid, flush=True)
sys.stdin.read()
""" % str(ROOT)


@needs_jail
def test_graders_with_different_temp_folders_never_lease_the_same_uid(tmp_path, monkeypatch):
    """Two TAs with different TMPDIRs (a service beside a batch, Dask workers with temp folders
    of their own) shared no lease folder: both could lease one uid, and each killed the
    other's workers. Another grader holds a lease; this one, with another temp folder, takes
    every uid it can get, and never gets that one."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", LEASE_HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, env={**os.environ, "TMPDIR": str(tmp_path / "a"),
                        "GRADER_TRUSTED_TMP": str(tmp_path / "a")})
    leases = []
    try:
        theirs = int(holder.stdout.readline())
        monkeypatch.setenv("TMPDIR", str(tmp_path / "b"))
        monkeypatch.setenv("GRADER_TRUSTED_TMP", str(tmp_path / "b"))
        with contextlib.suppress(RuntimeError):  # "no free worker uid": all taken
            for _ in range(UID_SLOTS):
                leases.append(UidLease())
        ours = {lease.uid for lease in leases}
        assert ours and theirs not in ours
    finally:
        for lease in leases:
            lease.release()
        holder.communicate("")


@needs_jail
def test_a_uid_some_process_runs_as_is_not_leased(tmp_path):
    """A grader of another installation (its locks elsewhere) may be running a worker as a uid:
    a lease skips any uid that owns a live process."""
    first = UidLease()
    uid = first.uid
    first.release()
    squatter = _process_as(uid)
    try:
        lease = UidLease()
        assert lease.uid != uid
        lease.release()
    finally:
        squatter.kill()
        squatter.wait()


def _process_as(uid: int) -> subprocess.Popen:
    def become():
        os.setgid(uid)
        os.setuid(uid)
    return subprocess.Popen(["sleep", "120"], preexec_fn=become)


# -- kills reach only the caller's own sandbox -----------------------------------------------

@needs_jail
@pytest.mark.parametrize("template", [False, True], ids=["direct", "template"])
def test_killing_a_jailed_worker_spares_every_process_outside_its_jail(tmp_path, template):
    """A worker was killed by uid, kernel-wide: any process of that uid outside the sandbox
    (another grader's worker on a uid it leased from another folder) died with it. Now a
    timeout's kill and the sandbox's close reach only the jail's own processes."""
    with jailed(tmp_path, template=template) as (sandbox, session, student):
        assert student.sleep(0) == "slept"
        outsider = _process_as(sandbox._lease.uid)
        try:
            with pytest.raises(WorkerTimeout):
                student.spin()
            session.close()
            sandbox.close()
            time.sleep(0.2)
            assert outsider.poll() is None, "a process outside the sandbox was killed"
        finally:
            outsider.kill()
            outsider.wait()


# -- killed or frozen from outside: infrastructure, not the student's -------------------------

@needs_jail
@pytest.mark.parametrize("template", [False, True], ids=["direct", "template"])
def test_a_worker_killed_from_outside_is_a_machine_fault(tmp_path, template):
    """SIGKILL from outside the jail (another process, the OOM killer) used to read as "your
    code ended the worker process": a crash, points lost."""
    with jailed(tmp_path, call_timeout=10, template=template) as (_, session, student):
        assert student.sleep(0) == "slept"
        pid = session.worker.worker_pid()
        timer = later(0.5, lambda: os.kill(pid, signal.SIGKILL))
        with pytest.raises(MachineFault) as err:
            student.sleep(5)
        timer.cancel()
        assert err.value.kind == "infrastructure"
        assert "from outside its sandbox" in str(err.value)
        assert student.sleep(0) == "slept"  # a fresh worker for the next call


@needs_jail
def test_a_student_cannot_make_its_own_crash_look_like_an_outside_kill(tmp_path):
    """The jailed worker is PID 1 of its namespace: its own SIGKILL is ignored, and its own
    death (here SIGABRT) stays a crash, the student's."""
    with jailed(tmp_path, call_timeout=10) as (_, _session, student):
        with pytest.raises(WorkerCrashed) as err:
            student.kill_myself()
        assert err.value.kind == "crash"
        assert student.stop_myself() == "not stopped"  # nor can it freeze itself


@needs_jail
def test_a_worker_frozen_from_outside_is_a_machine_fault(tmp_path):
    """A worker stopped from outside (SIGSTOP, a frozen cgroup) ran none of its code: that was
    a timeout, points lost."""
    with jailed(tmp_path, call_timeout=1) as (_, session, student):
        assert student.sleep(0) == "slept"
        pid = session.worker.worker_pid()
        timer = later(0.3, lambda: os.kill(pid, signal.SIGSTOP))
        with pytest.raises(MachineFault) as err:
            student.sleep(3)
        timer.cancel()
        assert "frozen" in str(err.value)


# -- a call's limit is charged in the time the worker had -------------------------------------

@contextlib.contextmanager
def cpu_hog(cpu: int, *, weight_over_worker: int = 32):
    """A busy loop on ``cpu`` in a control group that outweighs a worker's by
    ``weight_over_worker``: a worker on that CPU gets about 1/(1 + weight_over_worker) of it
    (what other graders' weighted workers do to one another on a busy machine)."""
    group = cgroups.WorkerCgroup(f"test-hog-{os.getpid()}-{os.urandom(3).hex()}", cpus=1.0)
    if group.version == "v2":
        (group.dirs[0] / "cpu.weight").write_text(str(min(10000, 100 * cgroups.WEIGHT
                                                          * weight_over_worker)))
    else:
        (group.dirs[0] / "cpu.shares").write_text(str(1024 * cgroups.WEIGHT * weight_over_worker))
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                           preexec_fn=lambda: (os.sched_setaffinity(0, {cpu}), group.enter()))
    try:
        yield hog
    finally:
        hog.kill()
        hog.wait()
        group.close()


def pin(pid: int, cpu: int) -> None:
    for task in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(task), {cpu})


@needs_cgroups
def test_a_call_starved_of_cpu_is_not_charged_for_the_wait(tmp_path):
    """The cause of CI's lost points: beside other gradings, whose workers weigh 8 ordinary
    processes each, a worker waited seconds for a CPU and a 1 s wall-clock limit fired on
    correct code. Here a call that needs 0.3 s of CPU waits behind a heavier group for 3 s:
    charged 0.3 s, it passes (the old wall clock said "no answer within 1 s")."""
    with jailed(tmp_path, call_timeout=1) as (_, session, student):
        assert student.sleep(0) == "slept"
        pin(session.worker.worker_pid(), 0)
        with cpu_hog(0) as hog:
            timer = later(3.0, hog.kill)
            started = time.monotonic()
            assert student.work(0.3) is True
            elapsed = time.monotonic() - started
            timer.cancel()
        assert elapsed > 1.5, f"the call took {elapsed:.2f} s: it was never starved"


@needs_cgroups
def test_an_infinite_loop_starved_for_a_while_is_still_a_timeout(tmp_path):
    """The charge is not a way out: a loop that never ends is charged its CPU once it runs."""
    with jailed(tmp_path, call_timeout=1) as (_, session, student):
        assert student.sleep(0) == "slept"
        pin(session.worker.worker_pid(), 0)
        with cpu_hog(0) as hog:
            timer = later(2.0, hog.kill)
            with pytest.raises(WorkerTimeout):
                student.spin()
            timer.cancel()


@needs_jail
def test_sleeping_is_charged(tmp_path):
    """Only waiting for a CPU is not charged: a call that sleeps past its limit times out."""
    with jailed(tmp_path, call_timeout=1) as (_, _session, student):
        started = time.monotonic()
        with pytest.raises(WorkerTimeout):
            student.sleep(5)
        assert time.monotonic() - started < 3


@needs_cgroups
def test_a_call_starved_past_its_backstop_is_infrastructure(tmp_path, monkeypatch):
    """Kept from a CPU until the wall-clock backstop, a call is undecidable: ``infrastructure``
    (regraded), never a timeout the student is charged for."""
    monkeypatch.setattr(call_clock, "BACKSTOP_FACTOR", 2.0)
    monkeypatch.setattr(call_clock, "BACKSTOP_MIN_S", 1.0)
    with jailed(tmp_path, call_timeout=1) as (_, session, student):
        assert student.sleep(0) == "slept"
        pin(session.worker.worker_pid(), 0)
        with cpu_hog(0, weight_over_worker=64):
            with pytest.raises(MachineFault) as err:
                student.spin()
        assert "too busy" in str(err.value)


@needs_jail
def test_a_reply_waiting_in_the_pipe_is_read_however_late_the_harness_looks(tmp_path):
    """A harness that was itself kept from a CPU past the deadline found the reply waiting
    and still said "no answer within 1 s"."""
    with jailed(tmp_path, call_timeout=1) as (_, session, student):
        assert student.sleep(0) == "slept"
        import grader.wire.bridge as bridge
        real = bridge.select.select
        calls = []

        def late_harness(r, w, x, timeout=None):
            if not calls:  # the first wait: the harness is descheduled for 1.5 s
                calls.append(1)
                time.sleep(1.5)
            return real(r, w, x, timeout)
        bridge.select.select = late_harness
        try:
            assert student.sleep(0.01) == "slept"
        finally:
            bridge.select.select = real


# -- a whole grading: a worker killed from outside costs no point -----------------------------

SLOW_CORRECT = (ROOT / "examples/submissions/hw1_graph/correct/graph.py").read_text().replace(
    "class AddNode:", "import time as _time\n\nclass AddNode:").replace(
    "    def forward(self, x, y):", "    def forward(self, x, y):\n        _time.sleep(0.05)", 1)


@needs_jail
def test_a_grading_whose_worker_is_killed_from_outside_loses_no_point(tmp_path):
    """Another process kills the grading's worker once, mid-grading (as another grader's
    kill by uid did): the test it was in runs again on a fresh worker, and the correct
    submission keeps 42/42 (it lost a test to a "crash" before)."""
    sub = write_files(tmp_path / "sub", {"graph.py": SLOW_CORRECT})
    assert "_time.sleep" in SLOW_CORRECT
    proc = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(sub),
                             "--assignment", "hw1_graph", "--json"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = _kill_a_worker_once(proc, after=1.0)
    stdout, stderr = proc.communicate(timeout=300)
    assert killed, "no worker was seen to kill"
    results = json.loads(stdout)
    lost = [(t["name"], t["kind"]) for t in results["tests"] if t["status"] != "passed"]
    assert results["score"] == 42 and not lost, lost
    assert results["status"] == "ok"


def _kill_a_worker_once(proc, *, after: float) -> bool:
    """SIGKILL the first process running as a worker uid once it has lived ``after`` seconds."""
    seen: dict[int, float] = {}
    while proc.poll() is None:
        now = time.monotonic()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                uid = os.stat(f"/proc/{entry}").st_uid
            except OSError:
                continue
            if UID_BASE <= uid < UID_BASE + UID_SLOTS:
                first = seen.setdefault(int(entry), now)
                if now - first >= after:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(entry), signal.SIGKILL)
                    return True
        time.sleep(0.05)
    return False


# -- one tree's memory is bounded, so it cannot starve the machine ----------------------------

@needs_cgroups
def test_a_worker_tree_cannot_hold_more_than_its_memory_limit(tmp_path):
    """RLIMIT_AS caps each process at 1 GB, but a tree of 64 could hold 64 GB and make the
    kernel's OOM killer take other graders' workers. Four children of 900 MB each (3.6 GB, the
    attack seen beside CI): the tree's memory cgroup (2 GB) kills some of them."""
    with jailed(tmp_path, call_timeout=30) as (sandbox, _session, student):
        codes = student.hold_memory(4, 900)
        assert -signal.SIGKILL in codes, f"every child held 900 MB: {codes}"
        assert sandbox.cgroup.memory_limit_hit()
