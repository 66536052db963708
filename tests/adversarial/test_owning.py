"""Owning the worker (the section of that name in ATTACKS.md): once the student's files are
imported, every instruction in the worker may be the student's, its serving code included. The
harness must believe nothing the worker says about itself, and one student must not change
another's grade nor make their own failure look like the grader's.

Each attack is a snippet ``owning/<name>.py`` appended to one file of an example submission
(or, for ``shadows_provided_module``, a folder of extra files). The snippets print
``ATTACK installed: <name>`` at import time; each test runs one public test among the ones it
grades, whose output shows that line, so an attack that silently did nothing cannot pass.
Where a class of attack applies to the docker backend, the test runs there too (skipped
without an engine and the image named by GRADER_IMAGE, except where GRADER_REQUIRE_DOCKER is
set). README.md lists the guarantee each test checks.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from grader.api import grade
from grader.sandbox.local import jail_available
from tests.conftest import worker_template

HERE = Path(__file__).resolve().parent
SNIPPETS = HERE / "owning"
REPO = HERE.parent.parent
EXAMPLES = REPO / "examples" / "submissions"
JAIL = jail_available()


# --- the docker backend, where it applies -------------------------------------------------------

@pytest.fixture(scope="module")
def docker_ready():
    from grader.sandbox import docker as backend

    image = os.environ.get("GRADER_IMAGE", backend.DEFAULT_IMAGE)
    try:
        backend.client().images.get(image)
    except Exception as e:
        if os.environ.get("GRADER_REQUIRE_DOCKER"):
            pytest.fail(f"Docker is required here but unusable: {e}")
        pytest.skip(f"no Docker engine or no image {image}: {e}")
    return backend


# "local-template": the local backend with its workers forked from a template (jail mode, as
# a batch starts them: grader/sandbox/template.py).
BACKENDS = ["local", "local-template", "docker"] if JAIL else ["local", "docker"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param == "docker":
        request.getfixturevalue("docker_ready")
    if request.param == "local-template":
        with worker_template():
            yield "local"
        return
    yield request.param


# --- building and grading an attacked submission ------------------------------------------------

def attacked(tmp: Path, assignment: str, example: str, into: str, snippet: str) -> Path:
    """A copy of ``example`` with ``owning/<snippet>.py`` appended to its file ``into``."""
    sub = tmp / f"{snippet}-{example}"
    shutil.copytree(EXAMPLES / assignment / example, sub)
    with open(sub / into, "a", encoding="utf-8") as f:
        f.write("\n\n" + (SNIPPETS / f"{snippet}.py").read_text(encoding="utf-8"))
    return sub


def by_name(results: dict) -> dict:
    return {t["name"]: t for t in results["tests"]}


def assert_attack_ran(results: dict, name: str) -> None:
    shown = "\n".join(t["output"] for t in results["tests"])
    assert f"ATTACK installed: {name}" in shown, "the attack did not run: " + shown[:500]


def test_every_snippet_is_used():
    used = {"untimed_work", "in_place_lie", "slows_the_reference", "forged_reply",
            "output_grows_when_escaped", "fills_scratch", "burns_every_core",
            "holds_processes"}
    assert {p.stem for p in SNIPPETS.glob("*.py")} == used


# --- 1. timing: nothing a timed call needs exists before its timer starts ------------------------

SPEED = ("test_dense_forward_small", "test_mlp_forward_speed", "test_mlp_backward_speed")


def test_untimed_work_does_not_make_slow_code_fast(tmp_path, backend):
    """The worker's serving code is replaced so that it runs each timed call's target during
    the untimed requests before it and answers the timed one from a cache (before the fix:
    full marks for a loop over samples)."""
    sub = attacked(tmp_path, "hw2_mlp", "slow_loop", "mlp.py", "untimed_work")
    results = grade(sub, assignment="hw2_mlp", only=list(SPEED), backend=backend)
    assert_attack_ran(results, "untimed_work")
    tests = by_name(results)
    for name in SPEED[1:]:
        assert tests[name]["kind"] == "too_slow", tests[name]
    assert results["score"] == 1


def test_burning_the_reference_s_time_does_not_make_slow_code_fast(tmp_path):
    """Busy processes that spin only while the student's code is idle, that is while the
    reference is timed. (The minimum over many interleaved calls resisted this before the fix
    too; the job's CPU quota now confines them to the student's own share.)"""
    sub = attacked(tmp_path, "hw2_mlp", "slow_loop", "mlp.py", "slows_the_reference")
    results = grade(sub, assignment="hw2_mlp", only=list(SPEED))
    assert_attack_ran(results, "slows_the_reference")
    for name in SPEED[1:]:
        assert by_name(results)[name]["kind"] == "too_slow"


# --- 2. in-place checks observe memory the harness owns ----------------------------------------

IN_PLACE = ("test_dense_forward_small", "test_activation_does_not_modify_inputs",
            "test_mlp_forward_does_not_modify_inputs")


def test_reporting_copies_does_not_hide_an_in_place_change(tmp_path, backend):
    """The worker's serving code is replaced so that it reports copies of the arguments taken
    before the call as the arguments after it (before the fix: relu_in_place scored 127)."""
    sub = attacked(tmp_path, "hw2_mlp", "relu_in_place", "mlp.py", "in_place_lie")
    results = grade(sub, assignment="hw2_mlp", only=list(IN_PLACE), backend=backend)
    assert_attack_ran(results, "in_place_lie")
    tests = by_name(results)
    assert tests["test_activation_does_not_modify_inputs"]["kind"] == "wrong_answer"
    # mlp_forward applies the in-place relu to its own pre-activations, not to x: it passes
    assert tests["test_mlp_forward_does_not_modify_inputs"]["kind"] == "passed"


@pytest.mark.parametrize("assignment, example, in_place_test, passes", [
    # wrong values, arguments untouched: the in-place test passes (before: failed, saying the
    # arguments were changed in place)
    ("hw5_rnn", "time_from_zero", "test_rnn_forward_does_not_modify_inputs", True),
    ("hw5_rnn", "sigmoid_grad_wrong", "test_step_backward_does_not_modify_inputs", True),
    ("hw5_rnn", "sigmoid_grad_wrong", "test_rnn_backward_does_not_modify_inputs", True),
    ("hw5_rnn", "column_form_W_h", "test_step_forward_does_not_modify_inputs", True),
    ("hw4_autoencoder", "element_mean_loss", "test_mse_does_not_modify_inputs", True),
    ("hw4_autoencoder", "tanh_on_code", "test_loss_and_grads_does_not_modify_inputs", True),
    ("hw1_graph", "forgets_dout", "test_mulnode_does_not_modify_inputs", True),
    # right values, arguments changed: it fails
    ("hw5_rnn", "modifies_d_hs", "test_rnn_backward_does_not_modify_inputs", False),
    ("hw1_graph", "mutates_x", "test_numerical_gradient_leaves_x_unchanged", False),
])
def test_in_place_tests_judge_only_in_place_changes(assignment, example, in_place_test, passes):
    results = grade(EXAMPLES / assignment / example, assignment=assignment, only=[in_place_test])
    (test,) = results["tests"]
    assert (test["status"] == "passed") == passes, test


# --- 3. a forged reply costs the harness little (see also test_protocol_attacks.py) ------------

def test_a_forged_reply_is_refused_cheaply(tmp_path, backend):
    """A frame just under the frame cap whose header is nothing but empty lists (before the
    fix: 7.4 GB and 287 s in the harness; the container was killed for memory)."""
    sub = attacked(tmp_path, "hw1_graph", "correct", "graph.py", "forged_reply")
    alone = grade(EXAMPLES / "hw1_graph" / "correct", assignment="hw1_graph")
    results = grade(sub, assignment="hw1_graph", backend=backend)
    assert_attack_ran(results, "forged_reply")
    assert results["status"] == "ok"
    forged = by_name(results)["test_numerical_gradient_sum_of_squares"]
    assert forged["kind"] == "error" and "malformed reply" in forged["output"], forged
    want = by_name(alone)
    for name, test in by_name(results).items():
        if name != forged["name"]:
            assert (test["status"], test["score"]) == (want[name]["status"], want[name]["score"])


# --- 4. caps apply to what is stored ------------------------------------------------------------

def test_output_that_grows_when_escaped_stays_within_its_cap(tmp_path, backend):
    """A correct submission that floods every call with control characters (six bytes each
    once JSON-escaped; before the fix: each test stored 384 KB for a 64 KB cap, and in docker
    the events outgrew 16 MB: no results at all). It scores full marks; each test's output
    takes at most its cap as stored (hidden tests' output is in the events only)."""
    sub = tmp_path / "noisy"
    shutil.copytree(EXAMPLES / "hw2_mlp" / "correct", sub)
    for name in ("perceptron.py", "sgd.py"):  # ~45 tests print; the timed kernels do not
        with open(sub / name, "a", encoding="utf-8") as f:
            f.write("\n\n" + (SNIPPETS / "output_grows_when_escaped.py").read_text())
    results = grade(sub, assignment="hw2_mlp", backend=backend)
    assert_attack_ran(results, "output_grows_when_escaped")
    # Full marks, but for the GPU-only test: without a GPU its points wait for a GPU run.
    missed = [(t["name"], t["kind"]) for t in results["tests"] if t["status"] != "passed"]
    assert results["status"] in ("ok", "needs_gpu") and all(
        kind == "needs_gpu" for _, kind in missed), missed
    assert results["score"] == results["max_score"] - sum(
        t["max_score"] for t in results["tests"] if t["kind"] == "needs_gpu")
    noisy = [t for t in results["tests"] if "\x01" in t["output"]]  # the public tests
    assert len(noisy) >= 5
    for t in noisy:
        assert len(json.dumps(t["output"])) <= 64 * 1024 + 2, t["name"]


def test_the_events_budget_fits_what_the_docker_backend_reads():
    from grader.harness import plugin
    from grader.sandbox import docker

    assert plugin.EVENTS_BUDGET + plugin.MESSAGE_CAP * 4 < docker.EVENTS_CAP


# --- 5. what the student fills cannot fail a trusted step ----------------------------------------

def _grader_paths(text: str) -> list[str]:
    marks = ["/opt/grader", "/solutions/", "grader-reference-", "grader-harness-", "grader-jail-",
             str(REPO)]
    return [m for m in marks if m in text]


def test_filling_scratch_space_does_not_fail_the_reference(tmp_path, backend):
    """At import, the student fills /tmp, /dev/shm, the temporary folder and its working copy
    (space and inodes); the timing tests still measure (too_slow for this loop), never read as
    the grader's fault, and no message shows a grader path (before the fix, in docker: both
    timing tests `infrastructure`, the message naming the solution's path)."""
    sub = attacked(tmp_path, "hw2_mlp", "slow_loop", "mlp.py", "fills_scratch")
    results = grade(sub, assignment="hw2_mlp", only=list(SPEED), backend=backend)
    assert_attack_ran(results, "fills_scratch")
    tests = by_name(results)
    for name in SPEED[1:]:
        assert tests[name]["kind"] == "too_slow", tests[name]
    assert results["status"] == "ok"
    assert _grader_paths(json.dumps(results)) == []


# --- 8. nothing is left behind -------------------------------------------------------------------

@pytest.mark.skipif(not JAIL, reason="the jail's mount points exist in jail mode only")
def test_grading_leaves_no_folders_behind(tmp_path, monkeypatch):
    """Every reference-worker start in jail mode used to leave an empty root-owned
    grader-reference-*.root folder in the temporary folder; restarts of the student's worker
    must not leave any either."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("GRADER_TRUSTED_TMP", str(scratch))
    results = grade(EXAMPLES / "hw2_mlp" / "pla_ignores_max_epochs", assignment="hw2_mlp",
                    only=["test_pla_train_small", "test_pla_respects_max_epochs",
                          "test_mlp_forward_speed"])
    assert [t["kind"] for t in results["tests"]].count("timeout") >= 2  # workers restarted
    assert by_name(results)["test_mlp_forward_speed"]["kind"] == "passed"
    # nothing stays (the uid leases' lock files, shared by every grader on the host, are in
    # one host-wide folder, not in a grader's temp folder: sandbox/local.py HOST_LEASE_DIR)
    assert sorted(p.name for p in scratch.iterdir()) == []


# --- 6. only the assignment's files reach the worker ---------------------------------------------

def test_a_package_cannot_shadow_a_provided_module(tmp_path, backend):
    """A folder ``layers/`` (a package) next to the course's overlaid layers.py, plus stray
    files; before the fix the package won and a correct autoencoder.py scored 16/54."""
    sub = tmp_path / "shadow"
    shutil.copytree(SNIPPETS / "shadows_provided_module", sub)
    spec_root = REPO / "solutions" / "hw4_autoencoder"
    shutil.copy(spec_root / "autoencoder.py", sub / "autoencoder.py")
    results = grade(sub, assignment="hw4_autoencoder", backend=backend)
    assert results["score"] == results["max_score"], [
        (t["name"], t["output"][:200]) for t in results["tests"] if t["status"] != "passed"]
    assert "ATTACK" not in json.dumps(results)  # none of the shipped files ever ran
    ignored = ["NOTES.txt", "evil.pth", "layers/__init__.py", "sitecustomize.py"]
    assert results["ignored_files"] == ignored
    assert "Not graded" in results["output"] and "layers/__init__.py" in results["output"]


# --- 7. jobs side by side are isolated from each other -------------------------------------------

def _batch(tmp_path, subs: dict, assignment: str, backend: str) -> dict:
    from grader import batch

    folder = tmp_path / "class"
    for name, source in subs.items():
        shutil.copytree(source, folder / name)
    summary = batch.batch(folder, assignment=assignment, out=tmp_path / "out", jobs=2,
                          backend=backend, progress=False)
    assert summary["statuses"] == {"ok": len(subs)}, summary
    return {name: json.loads((tmp_path / "out" / "students" / name / "results.json").read_text())
            for name in subs}


def _side_by_side(runs: dict) -> dict:
    """Grade several submissions at once (one thread each); their results by name."""
    import threading

    results, errors = {}, {}

    def run(name, kwargs):
        try:
            results[name] = grade(**kwargs)
        except Exception as e:
            errors[name] = e

    threads = [threading.Thread(target=run, args=item) for item in runs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == {}, errors
    return results


def test_a_neighbour_burning_every_core_does_not_fail_an_honest_timing(tmp_path, backend):
    """Graded at the same time as an honest submission, another starts as many busy processes
    as it may at import; the honest vectorized kernels still pass their timing tests (each
    jail-mode worker tree has its own CPU quota; a container its --cpus; the bench measures
    again when a round is disturbed)."""
    attacker = attacked(tmp_path, "hw2_mlp", "slow_loop", "mlp.py", "burns_every_core")
    results = _side_by_side({
        "attacker": dict(submission=attacker, assignment="hw2_mlp", backend=backend,
                         only=["test_dense_forward_small", "test_mlp_forward_speed"]),
        "honest": dict(submission=EXAMPLES / "hw2_mlp" / "correct", assignment="hw2_mlp",
                       backend=backend, only=list(SPEED))})
    assert_attack_ran(results["attacker"], "burns_every_core")
    honest = results["honest"]
    assert honest["score"] == honest["max_score"], [
        (t["name"], t["kind"], t.get("extra_data")) for t in honest["tests"]
        if t["status"] != "passed"]


def test_worker_uids_are_unique_across_containers(tmp_path, docker_ready):
    """Two containers at once, each holding as many processes as its worker may: each worker
    has a uid of its own, so neither takes the other's process limit (before the fix both
    containers leased 61007 or 61008, and the per-uid limit was shared between them)."""
    subs = {name: attacked(tmp_path / name, "hw1_graph", "correct", "graph.py",
                           "holds_processes") for name in ("first", "second")}
    results = _batch(tmp_path, subs, "hw1_graph", "docker")
    seen = {}
    for name, res in results.items():
        assert_attack_ran(res, "holds_processes")
        text = next(t["output"] for t in res["tests"] if "holds_processes (" in t["output"])
        held, uid = re.search(r"\((\d+) held, uid (\d+)\)", text).groups()
        seen[name] = (int(held), int(uid))
        assert res["score"] == res["max_score"]
    assert seen["first"][1] != seen["second"][1], seen
    assert min(held for held, _ in seen.values()) >= 50, seen
