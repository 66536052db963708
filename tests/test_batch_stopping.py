"""Stopping a batch: the first Ctrl-C finishes what runs and says so; the second stops at once
and leaves nothing behind; re-running resumes (issue 10, item 2). Plain sandbox mode and a
private TMPDIR, so that every process and folder the batch makes can be found afterwards."""
import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from grader.course.config import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples" / "submissions" / "hw1_graph"


def slow_correct(folder: Path, seconds: float) -> None:
    """The correct solution, with a pause when its file is imported (a slow grading)."""
    folder.mkdir(parents=True)
    code = (EXAMPLES / "correct" / "graph.py").read_text()
    (folder / "graph.py").write_text(f"import time\ntime.sleep({seconds})\n" + code)


def start_batch(tmp_path, subs, out):
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TMPDIR": str(tmp),
           "GRADER_SANDBOX_MODE": "plain"}
    cmd = [sys.executable, "-m", "grader", "batch", str(subs), "--assignment", "hw1_graph",
           "--out", str(out), "--jobs", "2", "--allow-unconfined"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    return proc, cmd, env, tmp


def processes_under(root: Path) -> list[int]:
    """Processes whose working folder or command line points into ``root``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(root)) or str(root) in cmdline:
            found.append(int(entry.name))
    return found


def wait_for_workers(tmp: Path, n: int, timeout: float = 60) -> None:
    """Until ``n`` sandboxed workers run (their working folder is in the private TMPDIR)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = [p for p in processes_under(tmp)
                   if os.readlink(f"/proc/{p}/cwd").startswith(str(tmp))]
        if len(workers) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} workers started")


def read_line_with(stream, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        seen.append(line)
        if text in line:
            return line
        if not line:
            break
    raise AssertionError(f"no line with {text!r} in {seen}")


def gradebook(out):
    with open(out / "gradebook.csv", newline="", encoding="utf-8-sig") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def test_first_ctrl_c_finishes_the_running_submissions_then_a_rerun_resumes(tmp_path):
    subs = tmp_path / "subs"
    for name in ("a_slow", "b_slow"):
        slow_correct(subs / name, 4)
    for name in ("c", "d", "e"):
        shutil.copytree(EXAMPLES / "forgets_dout", subs / name)
    out = tmp_path / "out"
    proc, cmd, env, tmp = start_batch(tmp_path, subs, out)
    wait_for_workers(tmp, 2)
    proc.send_signal(signal.SIGINT)
    start = time.monotonic()
    line = read_line_with(proc.stderr, "finishing", timeout=5)
    assert time.monotonic() - start < 2
    assert "finishing the 2 submissions being graded; press Ctrl-C again to stop at once" in line
    rest = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "re-run the same command to resume" in rest[1] and "Traceback" not in rest[1]
    rows = gradebook(out)
    assert {n: float(r["total"]) for n, r in rows.items()} == {"a_slow": 42, "b_slow": 42}
    assert not processes_under(tmp_path) and not list(tmp.iterdir())
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert {n: float(r["total"]) for n, r in gradebook(out).items()} == {
        "a_slow": 42, "b_slow": 42, "c": 23, "d": 23, "e": 23}


def test_second_ctrl_c_stops_at_once_and_leaves_nothing_behind(tmp_path):
    subs = tmp_path / "subs"
    for name in ("a_slow", "b_slow", "c_slow"):
        slow_correct(subs / name, 60)
    out = tmp_path / "out"
    proc, cmd, env, tmp = start_batch(tmp_path, subs, out)
    wait_for_workers(tmp, 2)
    proc.send_signal(signal.SIGINT)
    read_line_with(proc.stderr, "finishing", timeout=5)
    proc.send_signal(signal.SIGINT)
    start = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - start < 10
    assert proc.returncode == 130 and "Traceback" not in err
    assert "stopped: 2 gradings killed" in err and "re-run the same command to resume" in err
    assert not processes_under(tmp_path)  # no harness, no worker
    assert not list(tmp.iterdir())        # no temporary folder
    assert not list(out.glob("students/*/results.json"))  # nothing of the killed gradings


def test_second_ctrl_c_in_a_docker_batch_kills_its_containers_and_nothing_else(tmp_path):
    """Docker: the batch's own containers are killed and removed, its folders removed; a
    container another batch owns (here: one labelled with this test's process) lives on."""
    from grader.sandbox import docker as backend
    client = docker_or_skip()
    image = os.environ.get("GRADER_IMAGE", backend.DEFAULT_IMAGE)
    bystander = client.containers.run(image, entrypoint=["sleep", "120"], detach=True,
                                      network_mode="none",
                                      labels={backend.LABEL: "1",
                                              backend.OWNER_LABEL: backend.owner_id()})
    try:
        subs = tmp_path / "subs"
        for name in ("a_slow", "b_slow", "c_slow"):
            slow_correct(subs / name, 60)
        out = tmp_path / "out"
        tmp = tmp_path / "tmp"
        tmp.mkdir()
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TMPDIR": str(tmp)}
        proc = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(subs),
                                 "--assignment", "hw1_graph", "--out", str(out), "--jobs", "2",
                                 "--backend", "docker", "--image", image], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        owner = f"{socket.gethostname()}/{proc.pid}/{backend._start_time(proc.pid)}"
        deadline = time.monotonic() + 60
        while len([c for c in backend.own_containers(client, owner=owner)
                   if c.status == "running"]) < 2:
            assert time.monotonic() < deadline, "the batch started no containers"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        read_line_with(proc.stderr, "finishing the 2 submissions", timeout=5)
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        _, err = proc.communicate(timeout=60)
        assert time.monotonic() - start < 20
        assert proc.returncode == 130 and "Traceback" not in err
        assert "stopped: 2 gradings killed" in err and "re-run the same command" in err
        assert not backend.own_containers(client, owner=owner)
        # Only the host's shared uid-lease folder (lock files, kept by design: uids leased to
        # containers must stay unique across every grading process on the host).
        assert [p.name for p in tmp.iterdir()] in ([], ["grader-uids"])
        assert not processes_under(tmp_path)
        bystander.reload()
        assert bystander.status == "running"
    finally:
        bystander.remove(force=True)


def docker_or_skip():
    import pytest
    from grader.sandbox import docker as backend
    try:
        client = backend.client()
        client.images.get(os.environ.get("GRADER_IMAGE", backend.DEFAULT_IMAGE))
        return client
    except Exception as e:
        if os.environ.get("GRADER_REQUIRE_DOCKER"):
            pytest.fail(f"Docker is required here but unusable: {e}")
        pytest.skip(f"no Docker engine or image: {e}")


def _task_with_slow_cleanup(marks: Path) -> None:
    try:
        (marks / "started").touch()
        time.sleep(60)
    finally:
        (marks / "cleaning").touch()
        time.sleep(1.0)
        (marks / "cleaned").touch()


def _pool_worker(marks: Path) -> None:
    from grader.batch.stopping import run_task, worker_init
    worker_init()
    run_task(_task_with_slow_cleanup, marks)


def _wait_for(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.01)


def test_a_second_sigterm_does_not_cut_a_workers_cleanup_short(tmp_path):
    """A killed batch SIGTERMs each pool worker, and the executor, finding one worker gone,
    SIGTERMs the others again: the second must not interrupt the first's `finally` blocks
    (seen in CI as a harness's folders left behind after a second Ctrl-C)."""
    import multiprocessing
    proc = multiprocessing.get_context("fork").Process(target=_pool_worker, args=(tmp_path,))
    proc.start()
    _wait_for(tmp_path / "started")
    os.kill(proc.pid, signal.SIGTERM)
    _wait_for(tmp_path / "cleaning")
    os.kill(proc.pid, signal.SIGTERM)
    proc.join(20)
    assert (tmp_path / "cleaned").exists()
    assert proc.exitcode == 0
