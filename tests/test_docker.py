"""The docker backend: same grades as the local sandbox, and a container that gives nothing away.

Skipped when no Docker engine or image is available, except where GRADER_REQUIRE_DOCKER is set
(CI): there a missing engine fails the run.
"""
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from grader.api import grade
from grader.sandbox import docker as backend
from grader.sandbox.local import clean_environment
from grader.sandbox import image as backend_image
from grader.course.config import REPO_ROOT, find_assignment
from grader.errors import InfrastructureError
from tests.adversarial.test_attacks import embed_token

EXAMPLES = REPO_ROOT / "examples" / "submissions" / "hw1_graph"
ATTACKS = REPO_ROOT / "tests" / "adversarial" / "submissions"
IMAGE = os.environ.get("GRADER_IMAGE", backend.DEFAULT_IMAGE)


@pytest.fixture(scope="module")
def docker_client():
    try:
        c = backend.client()
        c.images.get(IMAGE)
        return c
    except Exception as e:
        if os.environ.get("GRADER_REQUIRE_DOCKER"):
            pytest.fail(f"Docker is required here but unusable: {e}")
        pytest.skip(f"no Docker engine or no image {IMAGE}: {e}")


def scores(results):
    return [(t["name"], t["score"], t["kind"]) for t in results["tests"]]


@pytest.mark.parametrize("example", ["correct", "forgets_dout", "syntax_error", "mutates_x"])
def test_docker_grades_like_the_local_sandbox(docker_client, example):
    local = grade(EXAMPLES / example, assignment="hw1_graph")
    in_docker = grade(EXAMPLES / example, assignment="hw1_graph", backend="docker")
    assert in_docker["status"] == local["status"] == (
        "import_error" if example == "syntax_error" else "ok")
    assert scores(in_docker) == scores(local)
    assert not backend.leftover_containers(docker_client, image=IMAGE)


def test_the_container_gives_the_student_nothing(docker_client):
    results = grade(REPO_ROOT / "tests" / "docker_probe", assignment="hw1_graph",
                    backend="docker")
    text = next(t["output"] for t in results["tests"] if "PROBE {" in t["output"])
    found = json.loads(text[text.index("PROBE {") + 6:].split("\n")[0])
    assert found["uid"] != 0 and int(found["cap_eff"], 16) == 0
    assert found["solutions"] == "PermissionError"       # hidden tests and references
    assert found["out"] == "PermissionError"             # where the harness writes
    assert found["harness_environ"] == "PermissionError"
    assert found["network"] != "ok" and found["dns"] != "ok" and not isinstance(found["dns"], list)
    assert found["write_root"] != "ok" and found["write_grader"] != "ok"
    assert found["write_tmp"] == "ok"                    # its tmpfs is the only writable place
    assert found["docker_socket"] == "FileNotFoundError"
    # forked from the container's worker template (not an interpreter of its own), whose
    # keeper process it can neither signal nor read
    assert "grader.sandbox.container" in found["cmdline"], found["cmdline"]
    assert found["signal_parent"] == found["parent_memory"] == "PermissionError"
    assert found["parent_environ"] == found["own_environ"] == "PermissionError"
    assert found["environ"] == clean_environment()  # its own, not the container's
    assert results["score"] == 0 and not backend.leftover_containers(docker_client, image=IMAGE)


@pytest.mark.parametrize("attack", ["read_hidden_tests", "setsid_daemon", "fork_bomb",
                                    "memory_bomb", "ships_conftest", "os_exit_zero"])
def test_attacks_score_the_same_in_docker(docker_client, attack, tmp_path):
    sub = tmp_path / attack
    shutil.copytree(ATTACKS / attack, sub)
    embed_token(sub, "advdockertoken")
    local = grade(sub, assignment="hw1_graph")
    in_docker = grade(sub, assignment="hw1_graph", backend="docker")
    assert in_docker["status"] == "ok"
    assert in_docker["score"] == local["score"] < in_docker["max_score"]
    shown = "\n".join(t["output"] for t in in_docker["tests"])
    assert not [line for line in _solution_lines() if line in shown]
    assert not [name for name in _hidden_test_names() if name in shown]
    assert not backend.leftover_containers(docker_client, image=IMAGE)


def _solution_lines():
    """Distinctive lines of the reference's solution regions (what a leak would contain)."""
    text = (find_assignment("hw1_graph").root / "graph.py").read_text()
    lines, inside = [], False
    for line in text.splitlines():
        if "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
            inside = "BEGIN" in line
        elif inside and len(line.strip()) > 20:
            lines.append(line.strip())
    assert lines
    return lines


def _hidden_test_names():
    import re
    spec = find_assignment("hw1_graph")
    public = "".join(p.read_text() for p in spec.public_tests.glob("test_*.py"))
    hidden = "".join(p.read_text() for p in spec.hidden_tests.glob("test_*.py"))
    return {n for n in re.findall(r"def (test_\w+)", hidden) if n not in public}


def test_a_missing_image_is_an_infrastructure_error(docker_client):
    with pytest.raises(InfrastructureError,
                       match="is missing: build it with `grader image build`"):
        grade(EXAMPLES / "correct", assignment="hw1_graph", backend="docker",
              image="nn-grader/no-such-image:0")


def test_an_unreachable_engine_is_an_infrastructure_error(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(InfrastructureError, match="cannot reach the Docker engine"):
        backend.client()


def test_container_flags():
    """The hardening flags every grading container gets (checked on the options we pass)."""
    pytest.importorskip("docker")
    spec = find_assignment("hw1_graph")
    opts = backend.container_options(spec, submission=Path("/s"), out=Path("/o"), image="i",
                                     cpus=1, memory_mb=1024, tmp_mb=64, job="j")
    assert opts["network_mode"] == "none" and opts["read_only"] is True
    assert opts["cap_drop"] == ["ALL"] and set(opts["cap_add"]) == {"CHOWN", "SETUID",
                                                                      "SETGID", "KILL"}
    assert opts["security_opt"] == ["no-new-privileges"] and opts["init"] is True
    assert opts["pids_limit"] and opts["mem_limit"] == opts["memswap_limit"]
    assert opts["volumes"]["/s"]["mode"] == "ro" and opts["labels"][backend.LABEL] == "1"
    assert "size=64m" in opts["tmpfs"]["/tmp"]
    # the harness's own scratch: a root-only tmpfs of its own, named to the harness
    assert "mode=0711" in opts["tmpfs"][backend.TRUSTED_TMP]
    assert opts["environment"] == {"GRADER_TRUSTED_TMP": backend.TRUSTED_TMP}
    with_uids = backend.container_options(spec, submission=Path("/s"), out=Path("/o"), image="i",
                                          cpus=1, memory_mb=1024, tmp_mb=64, job="j",
                                          uids=[61010, 61011])
    assert with_uids["command"][-2:] == ["--uids", "61010,61011"]
    # the CUDA problems' templates are forked only for an assignment that has some
    assert "--cuda" not in opts["command"]
    cuda = backend.container_options(find_assignment("hw2_mlp"), submission=Path("/s"),
                                     out=Path("/o"), image="i", cpus=1, memory_mb=1024,
                                     tmp_mb=64, job="j")
    assert "--cuda" in cuda["command"]


def test_a_class_with_malicious_submissions_grades_every_honest_one_as_alone(
        docker_client, tmp_path):
    """50 submissions, a tenth of them attacks, two at a time: the honest 45 get exactly the
    grades they get alone, and no container is left."""
    from grader import batch

    honest = ["correct", "forgets_dout", "mutates_x", "one_sided_difference", "swaps_dx_dy"]
    attacks = ["fork_bomb", "memory_bomb", "setsid_daemon", "read_hidden_tests",
               "results_in_workdir"]
    subs = tmp_path / "class"
    expected = {}
    alone = {e: scores(grade(EXAMPLES / e, assignment="hw1_graph")) for e in honest}
    for i in range(45):
        example = honest[i % len(honest)]
        shutil.copytree(EXAMPLES / example, subs / f"student{i:02d}")
        expected[f"student{i:02d}"] = alone[example]
    for attack in attacks:
        shutil.copytree(ATTACKS / attack, subs / f"attacker_{attack}")
        embed_token(subs / f"attacker_{attack}", "advbatchtoken")
    summary = batch.batch(subs, assignment="hw1_graph", out=tmp_path / "out", backend="docker",
                          jobs=2, progress=False)
    assert summary["graded"] == 50 and summary["statuses"] == {"ok": 50}
    for name, want in expected.items():
        got = json.loads((tmp_path / "out" / "students" / name / "results.json").read_text())
        assert scores(got) == want, name
    assert not backend.leftover_containers(docker_client, image=IMAGE)


def test_a_batch_checks_the_image_before_the_first_student(docker_client, tmp_path,
                                                            monkeypatch):
    """A missing image, an image without the assignment, an image with an older copy of it:
    one clear message before anyone is graded, and no record or feedback written."""
    from grader import batch

    subs = tmp_path / "class"
    for name in ("alice", "bob"):
        shutil.copytree(EXAMPLES / "correct", subs / name)
    out = tmp_path / "out"
    empty = f"nn-grader/autograder:empty-{os.getpid()}"  # the image, holding no assignment
    source = docker_client.containers.create(IMAGE)
    source.commit(*empty.split(":"), changes=[f"LABEL {backend_image.ASSIGNMENTS_LABEL}={{}}"])
    source.remove()
    cases = [("nn-grader/no-such-image:0", "is missing: build it with `grader image build` "
              "(with `--base IMAGE` where no registry answers)"),
             (empty, "does not hold the assignment hw1_graph: rebuild with "
              "`grader image build`")]
    try:
        for image, message in cases:
            with pytest.raises(InfrastructureError) as error:
                batch.batch(subs, assignment="hw1_graph", out=out, backend="docker",
                            image=image, progress=False)
            assert message in str(error.value)
    finally:
        docker_client.images.remove(empty, force=True)
    solutions = tmp_path / "solutions"
    shutil.copytree(REPO_ROOT / "solutions" / "hw1_graph", solutions / "hw1_graph")
    hidden = solutions / "hw1_graph" / "tests" / "hidden" / "test_graph_hidden.py"
    hidden.write_text(hidden.read_text() + "\n# changed after the image was built\n")
    monkeypatch.setenv("GRADER_SOLUTIONS", str(solutions))
    with pytest.raises(InfrastructureError, match="holds an older hw1_graph .* rebuild with "
                                                  "`grader image build`"):
        batch.batch(subs, assignment="hw1_graph", out=out, backend="docker", image=IMAGE,
                    progress=False)
    assert not list(out.rglob("results.json")) and not list(out.rglob("feedback.txt"))


def test_an_image_build_without_its_base_says_to_pass_base(docker_client):
    with pytest.raises(InfrastructureError, match="pass it with `--base IMAGE`"):
        backend_image.build(base="nn-grader/no-such-base:0", tag="nn-grader/autograder:never",
                            progress=lambda *_: None)


def test_a_misnamed_file_is_a_submission_error_in_docker_too(docker_client, tmp_path):
    sub = tmp_path / "alice"
    sub.mkdir()
    shutil.copy(EXAMPLES / "correct" / "graph.py", sub / "Graph.py")
    results = grade(sub, assignment="hw1_graph", backend="docker")
    assert results["status"] == "submission_error"
    assert results["output"] == "found Graph.py; the file must be named graph.py"


def _run_sleeper(docker_client, owner: str):
    return docker_client.containers.run(
        IMAGE, entrypoint=["sleep", "120"], detach=True, network_mode="none",
        labels={backend.LABEL: "1", backend.OWNER_LABEL: owner})


def test_reap_removes_only_containers_whose_owner_is_gone(docker_client):
    """Another live batch's containers (here: this process's) are never touched; a dead
    batch's are removed, running or not; an unowned exited one too."""
    gone = subprocess.Popen(["true"])
    gone.wait()  # a process that has exited: its pid no longer names it
    dead_owner = f"{socket.gethostname()}/{gone.pid}/1"
    live = _run_sleeper(docker_client, backend.owner_id())
    dead = _run_sleeper(docker_client, dead_owner)
    elsewhere = _run_sleeper(docker_client, "another-host/1/1")
    unowned = docker_client.containers.create(IMAGE, labels={backend.LABEL: "1"},
                                              entrypoint=["/bin/true"])
    try:
        assert backend.reap(docker_client) == 2
        remaining = {c.id for c in docker_client.containers.list(
            all=True, filters={"label": backend.LABEL})}
        assert live.id in remaining and elsewhere.id in remaining
        assert dead.id not in remaining and unowned.id not in remaining
        live.reload()
        assert live.status == "running"
    finally:
        for c in (live, dead, elsewhere, unowned):
            try:
                c.remove(force=True)
            except Exception:
                pass
