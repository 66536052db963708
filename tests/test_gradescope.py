"""Gradescope: the ``gradescope:`` options of assignment.yaml in the results, and the autograder
zip run end to end in a container laid out as Gradescope's (setup.sh once, then run_autograder
per submission, no network).

The container tests need a Docker engine and the local base image (``GRADER_BASE_IMAGE``,
default ``nn-grader/base:bookworm``); they are skipped without them, except where
``GRADER_REQUIRE_DOCKER`` is set (CI).
"""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tarfile
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from grader.api import export_gradescope, grade
from grader.course.config import REPO_ROOT, find_assignment, load_assignment
from grader.errors import ConfigError
from grader.export.gradescope import gradescope_results
from tests import notebooks as nbs
from tests.conftest import write_files
from tests.test_bench import REFERENCE, SUBMISSIONS

EXAMPLES = REPO_ROOT / "examples" / "submissions" / "hw1_graph"
PROBE = REPO_ROOT / "tests" / "gradescope_probe"
BASE_IMAGE = os.environ.get("GRADER_BASE_IMAGE", "nn-grader/base:bookworm")
HW1 = find_assignment("hw1_graph")


# -- Gradescope's options ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def timed(tmp_path_factory) -> Path:
    """A two-problem assignment with a timing test and Gradescope options for both."""
    root = tmp_path_factory.mktemp("gradescope") / "solutions"
    write_files(root / "timed", {
        "assignment.yaml": """
            id: timed
            title: Timed
            files: [affine.py]
            limits: {call_timeout: 5, max_speed_ratio: 3}
            problems:
              - {id: shape, title: Shape, points: 1}
              - {id: speed, title: Speed, points: 2}
            gradescope:
              visibility: after_published
              stdout_visibility: visible
              hidden_tests: hidden
              problems:
                shape: {number: "3", visibility: after_due_date}
              leaderboard:
                - {name: "Forward speed (x the reference)", test: test_forward_speed}
                - {name: "Nothing measured", test: test_shape, value: speed_ratio}
        """,
        "affine.py": REFERENCE,
        "tests/public/test_public.py": """
            import numpy as np
            import pytest
            from grader.testing import assert_close

            @pytest.mark.problem("shape")
            def test_shape(student):
                out, _ = student.affine(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4))
                assert_close(out, np.full((2, 4), 3.0))

            @pytest.mark.problem("speed")
            def test_speed_shape(student):
                out, _ = student.affine(np.ones((1, 1)), np.ones((1, 1)), np.zeros(1))
                assert_close(out, np.ones((1, 1)))
        """,
        "tests/hidden/test_speed.py": """
            import pytest
            from grader.testing import Random

            @pytest.mark.problem("speed")
            @pytest.mark.timeout(30)
            def test_forward_speed(bench):
                \"\"\"affine must be vectorized\"\"\"
                bench.compare("affine", Random((200, 64)), Random((64, 32)), Random((32,)),
                              index=0)
        """,
    })
    return root


@pytest.mark.slow
def test_gradescope_options_are_honoured(timed, tmp_path):
    sub = write_files(tmp_path / "vectorized", {"affine.py": SUBMISSIONS["vectorized"]})
    results = grade(sub, assignment="timed", solutions=timed)
    spec = find_assignment("timed", solutions=timed)
    out = gradescope_results(results, spec)
    tests = {t["name"]: t for t in out["tests"]}
    assert [(t["name"], t["number"]) for t in out["tests"]] == [
        ("test_shape", "3.1"), ("test_speed_shape", "2.1"), ("test_forward_speed", "2.2")]
    assert tests["test_shape"]["visibility"] == "after_due_date"      # the problem's
    assert tests["test_speed_shape"]["visibility"] == "visible"       # its own (public)
    assert tests["test_forward_speed"]["visibility"] == "hidden"      # the hidden suite's
    assert out["visibility"] == "after_published" and out["stdout_visibility"] == "visible"
    ratio = next(t for t in results["tests"] if t["name"] == "test_forward_speed")[
        "extra_data"]["speed_ratio"]
    assert out["leaderboard"] == [{"name": "Forward speed (x the reference)", "value": ratio,
                                   "order": "asc"}]  # no entry for a test that measured nothing
    assert out["score"] == results["score"] == 3
    assert tests["test_forward_speed"]["tags"] == ["speed", "passed"]
    assert sum(t["score"] for t in out["tests"]) == out["score"]


def test_defaults_number_problems_in_order_and_keep_visibilities(tmp_path):
    results = {"score": 1.0, "max_score": 2.0, "output": "x", "status": "ok", "tests": [
        {"name": "test_a", "problem": "mulnode", "score": 1.0, "max_score": 1.0,
         "status": "passed", "kind": "passed", "hidden": False, "visibility": "visible"},
        {"name": "test_b", "problem": "addnode", "score": 0.0, "max_score": 1.0,
         "status": "failed", "kind": "wrong_answer", "hidden": True,
         "visibility": "after_due_date", "output": "wrong answer: hint"}]}
    out = gradescope_results(results, HW1)
    assert [(t["number"], t["visibility"]) for t in out["tests"]] == [
        ("1.1", "visible"), ("2.1", "after_due_date")]
    assert out["stdout_visibility"] == "hidden" and "leaderboard" not in out


@pytest.mark.parametrize("section, words", [
    ("{visibility: later}", "`gradescope.visibility` must be one of"),
    ("{stdout: visible}", "unknown key `stdout`"),
    ("{problems: {nope: {number: '1'}}}", "unknown key `nope`"),
    ("{problems: {mul: {number: 'one'}}}", "number` must look like 1 or 2.1"),
    ("{problems: {mul: {number: 1}, double: {number: 1}}}", "two problems have the same number"),
    ("{leaderboard: [{name: Speed}]}", "needs `test`"),
    ("{leaderboard: [{name: Speed, test: speed}]}", "must name a test function"),
    ("{leaderboard: [{name: S, test: test_x, order: up}]}", "`order` must be one of asc, desc"),
])
def test_bad_gradescope_options_are_clear_config_errors(mini_solutions, section, words):
    path = mini_solutions / "mini" / "assignment.yaml"
    path.write_text(path.read_text() + f"gradescope: {section}\n")
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")) as info:
        load_assignment(path)
    assert str(path) in str(info.value)


def test_a_leaderboard_test_that_does_not_exist_stops_the_export(mini_solutions, tmp_path):
    path = mini_solutions / "mini" / "assignment.yaml"
    path.write_text(path.read_text() + "gradescope: {leaderboard: [{name: S, test: test_nope}]}\n")
    with pytest.raises(ConfigError, match="names 'test_nope', which no public or hidden test"):
        export_gradescope("mini", solutions=mini_solutions, out=tmp_path / "a.zip")


# -- the zip -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    return export_gradescope("hw1_graph", out=tmp_path_factory.mktemp("zip") / "autograder.zip")


@pytest.mark.slow
def test_the_zip_has_gradescopes_layout_and_needs_no_network(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        names = zf.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        setup = zf.read("setup.sh").decode()
        requirements = zf.read("wheelhouse/requirements.txt").decode().split()
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert "solutions/hw1_graph/tests/hidden/test_graph_hidden.py" in names
    assert "solutions/hw1_graph/graph.py" in names and not [n for n in names if "mutants" in n]
    wheels = {n.split("/")[1].split("-")[0].lower() for n in names if n.endswith(".whl")}
    assert {"nn_grader", "numpy", "pytest", "pyyaml", "nbformat", "pip"} <= wheels
    assert requirements == ["nn-grader"] and "--no-index" in setup
    assert "index-url" not in setup and "apt-get" not in setup and "curl" not in setup
    # Every dependency the grader declares has its wheel (a new one needs no edit here).
    tomllib = pytest.importorskip("tomllib")
    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    for requirement in declared["dependencies"]:
        name = requirement.split(">")[0].split("=")[0].split("<")[0].strip().lower()
        assert name.replace("-", "_") in wheels, name
    for script in ("setup.sh", "run_autograder"):  # both parse as bash
        with zipfile.ZipFile(autograder_zip) as zf:
            text = zf.read(script).decode()
        proc = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)
        assert proc.returncode == 0, (script, proc.stderr)


# -- end to end, in a container laid out as Gradescope's --------------------------------------

@pytest.fixture(scope="module")
def docker_client():
    from grader.sandbox import docker as backend
    try:
        c = backend.client()
        c.images.get(BASE_IMAGE)
        return c
    except Exception as e:
        if os.environ.get("GRADER_REQUIRE_DOCKER"):
            pytest.fail(f"Docker and the base image {BASE_IMAGE} are required here: {e}")
        pytest.skip(f"no Docker engine or no base image {BASE_IMAGE}: {e}")


def _tar(files: dict[str, tuple[bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _run(container, *cmd, user="root", workdir="/autograder"):
    code, output = container.exec_run(list(cmd), user=user, workdir=workdir)
    return code, output.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def gradescope_image(docker_client, autograder_zip):
    """What Gradescope builds: the zip in /autograder/source, setup.sh run once (no network),
    run_autograder copied to /autograder; committed as an image, removed afterwards."""
    with zipfile.ZipFile(autograder_zip) as zf:
        files = {f"autograder/source/{i.filename}": (zf.read(i), (i.external_attr >> 16) & 0o777
                                                       or 0o644)
                 for i in zf.infolist() if not i.is_dir()}
    container = docker_client.containers.create(BASE_IMAGE, ["sleep", "infinity"],
                                                network_mode="none",
                                                labels={"nn-grader.test": "gradescope"})
    tag = f"nn-grader/gradescope-test:{uuid.uuid4().hex[:12]}"
    try:
        container.start()
        container.put_archive("/", _tar(files))
        code, log = _run(container, "bash", "/autograder/source/setup.sh",
                         workdir="/autograder/source")
        assert code == 0, log[-4000:]
        assert "the reference of hw1_graph scores 42 / 42" in log
        assert _run(container, "cp", "/autograder/source/run_autograder",
                    "/autograder/run_autograder")[0] == 0
        # Root only: the hidden suite and reference, wherever they are.
        for path in ("/opt/nn-grader/solutions/hw1_graph/tests/hidden/test_graph_hidden.py",
                     "/opt/nn-grader/solutions/hw1_graph/graph.py",
                     "/autograder/source/solutions/hw1_graph/graph.py"):
            assert _run(container, "cat", path)[0] == 0
            assert _run(container, "cat", path, user="65534")[0] != 0, path
        image = container.commit(repository=tag.split(":")[0], tag=tag.split(":")[1])
    finally:
        container.remove(force=True)
    yield image.id
    docker_client.images.remove(image.id, force=True)


def run_autograder(docker_client, image, files: dict[str, bytes], *, jail=True) -> tuple[dict, str,
                                                                                         object]:
    """One submission as Gradescope runs it; returns (results.json, the log, the container)."""
    options = dict(cap_add=["SYS_ADMIN"], security_opt=["seccomp=unconfined"]) if jail else {}
    container = docker_client.containers.create(image, ["sleep", "infinity"],
                                                network_mode="none",
                                                labels={"nn-grader.test": "gradescope"},
                                                **options)
    container.start()
    container.put_archive("/", _tar({f"autograder/submission/{n}": (d, 0o644)
                                     for n, d in files.items()}))
    assert _run(container, "mkdir", "-p", "/autograder/results")[0] == 0
    code, log = _run(container, "/autograder/run_autograder")
    assert code == 0, log[-4000:]
    text = _run(container, "cat", "/autograder/results/results.json")[1]
    return json.loads(text), log, container


_LIVE_UIDS = """
import os
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        status = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status") if ":" in l)
    except OSError:
        continue
    if not status["State"].split()[0] in ("Z", "X"):  # zombies are dead, just not reaped
        print(status["Uid"].split()[0])
"""


def _folder_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _same_grades(on_gradescope: dict, local: dict) -> None:
    want = gradescope_results(local, HW1)
    pick = ("name", "number", "score", "status", "visibility", "tags")
    assert [{k: t[k] for k in pick} for t in on_gradescope["tests"]] == \
        [{k: t[k] for k in pick} for t in want["tests"]]
    assert on_gradescope["score"] == want["score"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["correct", "forgets_dout"])
def test_gradescope_grades_as_the_local_grader(docker_client, gradescope_image, name):
    results, log, container = run_autograder(docker_client, gradescope_image,
                                             _folder_files(EXAMPLES / name))
    container.remove(force=True)
    assert "in the jail sandbox" in log
    _same_grades(results, grade(EXAMPLES / name, assignment="hw1_graph"))
    assert results["score"] == {"correct": 42, "forgets_dout": 23}[name]


@pytest.mark.slow
@pytest.mark.parametrize("jail", [True, False], ids=["jail", "uid"])
def test_a_malicious_submission_reaches_nothing_and_forges_nothing(docker_client,
                                                                  gradescope_image, jail):
    results, log, container = run_autograder(docker_client, gradescope_image,
                                             _folder_files(PROBE), jail=jail)
    try:
        assert ("in the jail sandbox" if jail else "in the uid sandbox") in log
        _same_grades(results, grade(PROBE, assignment="hw1_graph"))
        assert results["score"] == 40  # all but the two public tests that call forward(2.0, -3.5)
        text = next(t["output"] for t in results["tests"] if "PROBE {" in t["output"])
        found = json.loads(text[text.index("PROBE {") + 6:].split("\n")[0])
        assert found["uid"] != 0
        for key in ("forged_at_import", "source", "solutions", "hidden_test", "write_results",
                    "network"):
            assert found[key] != "ok" and not isinstance(found[key], list), (key, found)
        time.sleep(2)  # the daemon, were it alive, rewrites results.json ten times a second
        again = json.loads(_run(container, "cat", "/autograder/results/results.json")[1])
        assert again == results and "FORGED" not in json.dumps(again)
        uids = _run(container, "python3", "-c", _LIVE_UIDS)[1].split()
        assert [u for u in uids if 61000 <= int(u) < 61256] == []  # no worker uid lives on
    finally:
        container.remove(force=True)


@pytest.mark.slow
def test_a_notebook_submission_on_gradescope(docker_client, gradescope_image):
    code = {"graph": (EXAMPLES / "correct" / "graph.py").read_text(encoding="utf-8")}
    nb = json.dumps(nbs.student_notebook(code)).encode()
    results, log, container = run_autograder(docker_client, gradescope_image,
                                             {"hw1_graph.ipynb": nb})
    container.remove(force=True)
    assert results["score"] == 42


@pytest.mark.slow
def test_a_submission_that_cannot_be_graded_still_gets_a_results_file(docker_client,
                                                                     gradescope_image):
    results, _log, container = run_autograder(docker_client, gradescope_image,
                                              {"hw1_graph.ipynb": b"{ not json"})
    container.remove(force=True)
    assert results["score"] == 0 and results["extra_data"]["status"] == "submission_error"
    assert "not a notebook: invalid JSON" in results["output"]


# -- run_autograder's work, here -------------------------------------------------------------

def test_run_writes_gradescopes_results_or_the_students_error(mini_solutions, tmp_path,
                                                              monkeypatch):
    from grader.export.gradescope_run import main, pick_sandbox_mode
    monkeypatch.setenv("GRADER_SANDBOX_MODE", pick_sandbox_mode())  # restored afterwards
    good = write_files(tmp_path / "good", {"graph.py": (mini_solutions / "mini" / "graph.py")
                                           .read_text()})
    out = tmp_path / "results" / "results.json"
    assert main(["--assignment", "mini", "--solutions", str(mini_solutions),
                 "--submission", str(good), "--results", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["score"] == 3 and [t["number"] for t in results["tests"]] == ["2.1", "1.1"]
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{")
    assert main(["--assignment", "mini", "--solutions", str(mini_solutions),
                 "--submission", str(bad), "--results", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["extra_data"]["status"] == "submission_error" and results["score"] == 0


def test_the_reference_check_fails_a_broken_autograder(mini_solutions, capsys, monkeypatch):
    from grader.export.gradescope_run import main, pick_sandbox_mode
    monkeypatch.setenv("GRADER_SANDBOX_MODE", pick_sandbox_mode())
    assert main(["--assignment", "mini", "--solutions", str(mini_solutions),
                 "--check-reference"]) == 0
    hidden = mini_solutions / "mini" / "tests" / "hidden" / "test_hidden.py"
    hidden.write_text(hidden.read_text().replace("assert_close(got, want",
                                                 "assert_close(got, 2 * want"))
    assert main(["--assignment", "mini", "--solutions", str(mini_solutions),
                 "--check-reference"]) == 1
    assert "the autograder is broken (3 tries)" in capsys.readouterr().err


def test_hw3_asks_for_a_speed_leaderboard_on_tests_that_exist():
    from grader.export.gradescope import check_options
    spec = find_assignment("hw3_conv")
    check_options(spec)
    assert [e.test for e in spec.gradescope.leaderboard] == ["test_forward_speed",
                                                             "test_backward_speed"]
    assert {e.value for e in spec.gradescope.leaderboard} == {"speed_ratio"}


def test_an_assignment_with_cuda_problems_gets_the_cuda_wheels(tmp_path):
    """hw2's CUDA problems need numba-cuda and NVVM on Gradescope as in the CPU image (before:
    the zip held the core dependencies only, and every CUDA test was an infrastructure error
    there). The grader's own wheel declares them under its `cuda-compile` extra."""
    from grader.course.config import find_assignment
    from grader.export import gradescope

    assert gradescope.extras_for(find_assignment("hw2_mlp")) == ("cuda-compile",)
    assert gradescope.extras_for(find_assignment("hw1_graph")) == ()
    wheel = gradescope._grader_wheel(tmp_path)
    core = gradescope._requirements(wheel)
    with_cuda = gradescope._requirements(wheel, ("cuda-compile",))
    names = {re.split(r"[\s<>=!~\[(]", r, maxsplit=1)[0].lower() for r in with_cuda}
    assert {"numba-cuda", "nvidia-cuda-runtime", "nvidia-nvvm"} <= names
    assert not {"numba-cuda", "cupy-cuda13x"} & {r.split(">")[0].lower() for r in core}
    assert set(core) < set(with_cuda)
