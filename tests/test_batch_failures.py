"""A batch meets a failing environment (issue 10, items 6 and 4): the Docker engine going away
mid-batch (through a socket proxy the test cuts, so the real engine and everyone else's
containers are untouched) and a full output disk (a 120 KB tmpfs)."""
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.course.config import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples" / "submissions" / "hw1_graph"
SCORES = {"correct": 42.0, "forgets_dout": 23.0, "mutates_x": 37.0}


class EngineProxy:
    """A unix socket that forwards to the Docker engine's; ``cut`` closes it and every
    connection through it (the engine seems gone), ``restore`` opens it again."""

    def __init__(self, path: Path, target: str = "/var/run/docker.sock"):
        self.path, self.target = path, target
        self._listener, self._conns, self._lock = None, [], threading.Lock()

    def restore(self):
        self._listener = socket.socket(socket.AF_UNIX)
        self._listener.bind(str(self.path))
        self._listener.listen(64)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self._listener.close()
        self.path.unlink()
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


@pytest.fixture
def engine(tmp_path):
    from grader.sandbox import docker as backend
    if not Path("/var/run/docker.sock").exists():
        if os.environ.get("GRADER_REQUIRE_DOCKER"):
            pytest.fail("Docker is required here but /var/run/docker.sock is missing")
        pytest.skip("no Docker engine socket")
    try:
        backend.client().images.get(os.environ.get("GRADER_IMAGE", backend.DEFAULT_IMAGE))
    except Exception as e:
        if os.environ.get("GRADER_REQUIRE_DOCKER"):
            pytest.fail(f"Docker is required here but unusable: {e}")
        pytest.skip(f"no Docker engine or image: {e}")
    proxy = EngineProxy(tmp_path / "engine.sock")
    proxy.restore()
    yield proxy
    try:
        proxy.cut()
    except (OSError, AttributeError):
        pass


def make_class(root, n):
    examples = list(SCORES)
    expected = {}
    for i in range(n):
        example = examples[i % len(examples)]
        shutil.copytree(EXAMPLES / example, root / f"s{i:02d}")
        expected[f"s{i:02d}"] = SCORES[example]
    return expected


def gradebook(out):
    with open(out / "gradebook.csv", newline="", encoding="utf-8-sig") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def docker_batch(tmp_path, subs, out, engine, *extra):
    from grader.sandbox import docker as backend
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DOCKER_HOST": f"unix://{engine.path}"}
    cmd = [sys.executable, "-m", "grader", "batch", str(subs), "--assignment", "hw1_graph",
           "--out", str(out), "--jobs", "2", "--backend", "docker",
           "--image", os.environ.get("GRADER_IMAGE", backend.DEFAULT_IMAGE), *extra]
    return cmd, env


def count_records(out) -> int:
    """The students' records written so far. Only ``students/<key>/results.json``: the batch
    makes and removes folders of its own beside them (``grader-keep-*``) while it runs, and a
    recursive scan that lists one of those just before it goes raises FileNotFoundError."""
    try:
        return sum(1 for _ in out.glob("students/*/results.json"))
    except FileNotFoundError:  # a student's folder renamed into place while we listed
        return 0


def wait_for_records(out, n, timeout=120):
    deadline = time.monotonic() + timeout
    while count_records(out) < n:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def owner_label(pid: int) -> str:
    """The owner label the batch process ``pid`` puts on its containers."""
    started = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[19].decode()
    return f"nn-grader.owner={socket.gethostname()}/{pid}/{started}"


def test_the_engine_going_away_for_a_few_seconds_is_waited_for(tmp_path, engine):
    import docker
    subs = tmp_path / "subs"
    expected = make_class(subs, 8)
    out = tmp_path / "out"
    cmd, env = docker_batch(tmp_path, subs, out, engine)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    owner = owner_label(proc.pid)
    wait_for_records(out, 1)
    engine.cut()
    time.sleep(3)
    engine.restore()
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "the Docker engine is not answering; waiting up to 60 s" in stderr
    assert "the Docker engine answers again; resuming" in stderr
    assert "Traceback" not in stderr
    rows = gradebook(out)
    assert {n: float(r["total"]) for n, r in rows.items()} == expected
    assert {r["status"] for r in rows.values()} == {"ok"}
    assert not docker.from_env().containers.list(all=True, filters={"label": owner})


def test_an_engine_that_does_not_come_back_stops_the_batch_cleanly(tmp_path, engine):
    subs = tmp_path / "subs"
    expected = make_class(subs, 8)
    out = tmp_path / "out"
    cmd, env = docker_batch(tmp_path, subs, out, engine, "--engine-wait", "4")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_for_records(out, 1)
    engine.cut()
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 3 and "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("grader: the Docker engine went away and did not come back "
                           "within 4 s: ") and "re-run the same command to resume" in last
    rows = gradebook(out)  # written, with what was graded and what was not
    assert "infrastructure" in {r["status"] for r in rows.values()}
    assert len(rows) == 8
    engine.restore()
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert {n: float(r["total"]) for n, r in gradebook(out).items()} == expected


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_output_disk_stops_cleanly_and_resumes_after_space_is_freed(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=120k", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode()}")
    try:
        subs = tmp_path / "subs"
        expected = make_class(subs, 12)
        out = disk / "out"
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        cmd = [sys.executable, "-m", "grader", "batch", str(subs), "--assignment", "hw1_graph",
               "--out", str(out), "--jobs", "2"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        message = proc.stderr.strip().splitlines()[-1]
        assert "the disk is full; about " in message and " more is needed for the " in message
        assert "free some space and re-run the same command to resume" in message
        written = list(out.glob("students/*/results.json"))
        assert 0 < len(written) < 12, proc.stderr
        for path in written:  # every record kept is whole
            json.loads(path.read_text())
            assert (path.parent / "feedback.txt").is_file(), path
        assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temp files
        subprocess.run(["mount", "-o", "remount,size=20m", str(disk)], check=True)
        again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stderr
        rows = gradebook(out)
        assert {n: float(r["total"]) for n, r in rows.items()} == expected, rows
    finally:
        subprocess.run(["umount", "-l", str(disk)])
