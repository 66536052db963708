"""Results that outlive what produced them (issue 20, item 2): every results.json records its
provenance; an output folder belongs to one assignment; a stale record (the assignment's tests
changed, another grader, sandbox or image) is regraded and the batch says why; a student whose
submission is gone is said once and left out of every reader of the batch; ``grade --backend
docker`` checks the image as ``batch`` does. Real batches of the hw1 examples throughout."""
import csv
import os
import json
import shutil
import subprocess
import sys

import pytest

from grader import __version__, api
from grader import batch as batch_verb
from grader.course.config import REPO_ROOT, find_assignment
from grader.errors import GraderError, InfrastructureError
from grader.intake.students import content_hash
from grader.sandbox.image import assignment_digest
from grader.sandbox.local import default_mode

EXAMPLES = REPO_ROOT / "examples" / "submissions" / "hw1_graph"
FIELDS = {"submission_sha256", "assignment_digest", "grader_version", "backend",
          "sandbox_mode", "image_digest"}
TESTS_CHANGED = ("the assignment's tests, reference or assignment.yaml changed since they "
                 "were graded")


def make_class(root, students):
    root.mkdir(parents=True, exist_ok=True)
    for name, example in students.items():
        shutil.copytree(EXAMPLES / example, root / name)
    return root


def gradebook(out):
    with open(out / "gradebook.csv", newline="", encoding="utf-8-sig") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def record(out, key):
    return json.loads((out / "students" / key / "results.json").read_text())


@pytest.fixture
def own_solutions(tmp_path, monkeypatch):
    """A copy of the course's hw1_graph that the test may edit (as an instructor would)."""
    root = tmp_path / "solutions"
    shutil.copytree(REPO_ROOT / "solutions" / "hw1_graph", root / "hw1_graph",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    monkeypatch.setenv("GRADER_SOLUTIONS", str(root))
    return root / "hw1_graph"


def test_grade_records_what_produced_the_result(tmp_path):
    sub = EXAMPLES / "correct"
    results = api.grade(sub, assignment="hw1_graph", out=tmp_path / "out")
    stored = json.loads((tmp_path / "out" / "results.json").read_text())
    assert stored["provenance"] == results["provenance"]
    origin = stored["provenance"]
    assert set(origin) == FIELDS
    assert origin["submission_sha256"] == content_hash(sub) == stored["submission_sha256"]
    assert origin["assignment_digest"] == assignment_digest(find_assignment("hw1_graph"))
    assert origin["grader_version"] == __version__
    assert (origin["backend"], origin["sandbox_mode"], origin["image_digest"]) == \
        ("local", default_mode(), None)
    assert stored["score"] == 42


def test_a_submission_error_records_its_provenance_too(tmp_path):
    sub = tmp_path / "alice"
    sub.mkdir()
    (sub / "Graph.py").write_text((EXAMPLES / "correct" / "graph.py").read_text())
    results = api.grade(sub, assignment="hw1_graph")
    assert results["status"] == "submission_error"
    assert set(results["provenance"]) == FIELDS
    assert results["provenance"]["submission_sha256"] == content_hash(sub)


def test_the_image_label_and_the_provenance_share_one_digest():
    from grader.results import provenance
    from grader.sandbox import image
    assert image.assignment_digest is provenance.assignment_digest


def test_a_batch_regrades_stale_records_and_says_why(tmp_path, own_solutions, capsys):
    subs = make_class(tmp_path / "subs", {"alice": "correct", "bob": "forgets_dout"})
    out = tmp_path / "out"
    first = batch_verb.batch(subs, assignment="hw1_graph", out=out, progress=False)
    assert first["graded_now"] == 2
    for key in ("alice", "bob"):
        origin = record(out, key)["provenance"]
        assert set(origin) == FIELDS
        assert origin["submission_sha256"] == content_hash(subs / key)
        assert origin["backend"] == "local" and origin["sandbox_mode"] == default_mode()
    # A re-run with nothing changed keeps both (grading leaves the assignment's digest alone).
    assert batch_verb.batch(subs, assignment="hw1_graph", out=out,
                            progress=False)["graded_now"] == 0
    capsys.readouterr()

    # The instructor edits a hidden test: both grades are stale.
    hidden = sorted((own_solutions / "tests" / "hidden").glob("test_*.py"))[0]
    hidden.write_text(hidden.read_text() + "\n# a hint reworded\n")
    again = batch_verb.batch(subs, assignment="hw1_graph", out=out, progress=False)
    reason = TESTS_CHANGED
    assert again["graded_now"] == 2 and again["skipped"] == 0
    assert again["stale"] == {reason: 2} and again["changed"] == 0
    assert again["regrading"] == f"regrading 2 students: {reason}"
    assert f"grader: regrading 2 students: {reason}" in capsys.readouterr().err
    assert record(out, "alice")["provenance"]["assignment_digest"] == \
        assignment_digest(find_assignment("hw1_graph"))

    # Bob's submission changes too, and alice's record says another grader produced it.
    shutil.copy(EXAMPLES / "correct" / "graph.py", subs / "bob" / "graph.py")
    stored = record(out, "alice")
    stored["provenance"]["grader_version"] = "0.0.1"
    (out / "students" / "alice" / "results.json").write_text(json.dumps(stored))
    mixed = batch_verb.batch(subs, assignment="hw1_graph", out=out, progress=False)
    assert mixed["stale"] == {"their submission changed since they were graded": 1,
                              "they were graded by another version of the grader": 1}
    assert mixed["changed"] == 1 and mixed["graded_now"] == 2
    assert float(gradebook(out)["bob"]["total"]) == 42


def test_stale_reasons_name_each_field():
    from grader.results import provenance
    current = {"submission_sha256": "s", "assignment_digest": "a", "grader_version": "v",
               "backend": "docker", "sandbox_mode": "uid", "image_digest": "sha256:1"}
    stored = {"status": "ok", "provenance": dict(current)}
    assert provenance.stale_reason(stored, current) is None
    for field in provenance.FIELDS:
        assert provenance.stale_reason(stored, {**current, field: "other"}) == \
            provenance.REASONS[field]
    # Records of an older grader: no provenance, so nothing says what produced them.
    assert provenance.stale_reason({"submission_sha256": "s"}, current) == \
        provenance.NO_PROVENANCE
    assert provenance.stale_reason({"submission_sha256": "x"}, current) == \
        provenance.REASONS["submission_sha256"]


def test_an_import_error_counts_as_graded_while_current(tmp_path):
    from grader.batch.run import _to_grade
    from grader.results import provenance
    from grader.intake.students import discover
    from grader.results.gradebook import write_record
    subs = make_class(tmp_path / "subs", {"dave": "syntax_error"})
    out = tmp_path / "out"
    [dave] = discover(subs, "hw1_graph", tmp_path)
    expected = provenance.make(find_assignment("hw1_graph"), submission_sha256=dave.digest,
                               backend="local").to_dict()
    write_record(out, "dave", {"status": "import_error", "score": 0, "max_score": 42,
                               "student": "dave", "key": "dave", "provenance": expected,
                               "tests": [], "output": ""})
    todo, stale = _to_grade(out, [dave], regrade=False, expected=expected)
    assert (todo, dict(stale)) == ([], {})
    todo, _ = _to_grade(out, [dave], regrade=False,
                        expected={**expected, "sandbox_mode": "other"})
    assert todo == [dave]


def test_an_output_folder_belongs_to_one_assignment(tmp_path):
    subs = make_class(tmp_path / "subs", {"alice": "correct"})
    out = tmp_path / "g"
    batch_verb.batch(subs, assignment="hw1_graph", out=out, progress=False)
    assert json.loads((out / "batch.json").read_text()) == {"assignment": "hw1_graph"}
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    with pytest.raises(GraderError) as refused:
        batch_verb.batch(subs, assignment="hw3_conv", out=out, progress=False)
    message = str(refused.value)
    assert refused.value.exit_code == 2
    assert "holds the grades of hw1_graph, not hw3_conv" in message
    assert "--out folder of its own" in message
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # nothing lost, nothing added

    # A folder from before the marker: its records say whose it is.
    (out / "batch.json").unlink()
    proc = subprocess.run([sys.executable, "-m", "grader", "batch", str(subs), "--assignment",
                           "hw3_conv", "--out", str(out)], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "holds the grades of hw1_graph, not hw3_conv" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert float(gradebook(out)["alice"]["total"]) == 42


def test_a_student_whose_submission_is_gone_is_left_out_everywhere(tmp_path, capsys):
    from grader.export.records import student_records
    from grader.similarity.run import similarity
    subs = make_class(tmp_path / "subs", {"alice": "correct", "quincy": "forgets_dout",
                                          "carol": "mutates_x"})
    out = tmp_path / "out"
    batch_verb.batch(subs, assignment="hw1_graph", out=out, progress=False)
    similarity(out, assignment="hw1_graph")
    assert "quincy" in (out / "similarity" / "similarity.csv").read_text()
    capsys.readouterr()

    shutil.rmtree(subs / "quincy")
    summary = batch_verb.batch(subs, assignment="hw1_graph", out=out, progress=False,
                               similarity=True)
    err = capsys.readouterr().err
    assert ("grader: 1 student graded before has no submission any more: quincy — left out"
            in err)
    assert summary["withdrawn"] == ["quincy"] and summary["students"] == 2
    # Kept, not deleted, and out of every reader of the batch.
    assert (out / "withdrawn" / "quincy" / "results.json").is_file()
    assert (out / "withdrawn" / "quincy" / "files" / "graph.py").is_file()
    assert not (out / "students" / "quincy").exists()
    assert set(gradebook(out)) == {"alice", "carol"}
    assert "quincy" not in (out / "index.html").read_text()
    assert "quincy" not in (out / "similarity" / "similarity.csv").read_text()
    assert [r.name for r in student_records(out, "hw1_graph")] == ["alice", "carol"]
    assert summary["graded"] == 2 and summary["graded_now"] == 0

    # Said once: the next run has nothing to say about quincy.
    again = batch_verb.batch(subs, assignment="hw1_graph", out=out, progress=False)
    assert again["withdrawn"] == [] and "quincy" not in capsys.readouterr().err

    # Quincy hands in again: the record comes back (regraded only if stale).
    shutil.copytree(EXAMPLES / "forgets_dout", subs / "quincy")
    back = batch_verb.batch(subs, assignment="hw1_graph", out=out, progress=False)
    assert back["restored"] == ["quincy"] and back["graded_now"] == 0
    assert float(gradebook(out)["quincy"]["total"]) == 23
    assert not (out / "withdrawn" / "quincy").exists()


# -- docker: the image is checked, and recorded ------------------------------------------------


@pytest.fixture(scope="module")
def docker_client():
    """As tests/test_docker.py: skipped without an engine or image, unless
    GRADER_REQUIRE_DOCKER (CI) makes that a failure."""
    from grader.sandbox import docker as backend
    image = os.environ.get("GRADER_IMAGE", backend.DEFAULT_IMAGE)
    try:
        c = backend.client()
        c.images.get(image)
        return c
    except Exception as e:  # noqa: BLE001
        if os.environ.get("GRADER_REQUIRE_DOCKER"):
            pytest.fail(f"Docker is required here but unusable: {e}")
        pytest.skip(f"no Docker engine or no image {image}: {e}")


def test_docker_results_record_the_image_and_the_mode_inside(docker_client):
    from grader.sandbox import docker as backend
    image = os.environ.get("GRADER_IMAGE", backend.DEFAULT_IMAGE)
    before = docker_client.images.get(image).id
    results = api.grade(EXAMPLES / "correct", assignment="hw1_graph", backend="docker")
    origin = results["provenance"]
    assert set(origin) == FIELDS and results["score"] == 42
    assert (origin["backend"], origin["sandbox_mode"]) == ("docker", "uid")
    # (the image's id as it was then: on a shared machine it may be rebuilt meanwhile)
    assert origin["image_digest"] in {before, docker_client.images.get(image).id}
    assert origin["image_digest"].startswith("sha256:")
    assert origin["submission_sha256"] == content_hash(EXAMPLES / "correct")


def test_grade_in_docker_refuses_an_image_with_older_tests_as_batch_does(
        docker_client, own_solutions, tmp_path):
    hidden = sorted((own_solutions / "tests" / "hidden").glob("test_*.py"))[0]
    hidden.write_text(hidden.read_text() + "\n# a hint reworded\n")
    with pytest.raises(InfrastructureError) as graded:
        api.grade(EXAMPLES / "correct", assignment="hw1_graph", backend="docker",
                  out=tmp_path / "one")
    with pytest.raises(InfrastructureError) as batched:
        batch_verb.batch(make_class(tmp_path / "subs", {"alice": "correct"}),
                         assignment="hw1_graph", out=tmp_path / "many", backend="docker",
                         progress=False)
    assert graded.value.exit_code == 3
    assert str(graded.value) == str(batched.value)
    assert "holds an older hw1_graph" in str(graded.value)
    assert "grader image build" in str(graded.value)
    assert not (tmp_path / "one" / "results.json").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="jail mode needs root")
def test_a_record_graded_in_another_sandbox_mode_is_stale(tmp_path, monkeypatch, capsys):
    subs = make_class(tmp_path / "subs", {"alice": "correct"})
    out = tmp_path / "out"
    monkeypatch.setenv("GRADER_SANDBOX_MODE", "jail")
    batch_verb.batch(subs, assignment="hw1_graph", out=out, progress=False)
    assert record(out, "alice")["provenance"]["sandbox_mode"] == "jail"
    monkeypatch.setenv("GRADER_SANDBOX_MODE", "plain")
    capsys.readouterr()
    again = batch_verb.batch(subs, assignment="hw1_graph", out=out, progress=False,
                             allow_unconfined=True)
    assert again["stale"] == {"they were graded in another sandbox mode": 1}
    assert "regrading 1 student: they were graded in another sandbox mode" in \
        capsys.readouterr().err
    assert record(out, "alice")["provenance"]["sandbox_mode"] == "plain"


def test_a_docker_batch_records_the_image_and_regrades_after_a_rebuild(
        docker_client, tmp_path, capsys):
    from grader.sandbox import docker as backend
    image = os.environ.get("GRADER_IMAGE", backend.DEFAULT_IMAGE)
    subs = make_class(tmp_path / "subs", {"alice": "correct"})
    out = tmp_path / "out"
    before = docker_client.images.get(image).id
    batch_verb.batch(subs, assignment="hw1_graph", out=out, backend="docker", progress=False)
    stored = record(out, "alice")
    assert stored["provenance"]["image_digest"] in {before, docker_client.images.get(image).id}
    assert (stored["provenance"]["backend"], stored["provenance"]["sandbox_mode"]) == \
        ("docker", "uid")
    assert batch_verb.batch(subs, assignment="hw1_graph", out=out, backend="docker",
                            progress=False)["graded_now"] == 0
    # As if the image had been rebuilt since: the record names another image.
    stored["provenance"]["image_digest"] = "sha256:" + "0" * 64
    (out / "students" / "alice" / "results.json").write_text(json.dumps(stored))
    capsys.readouterr()
    again = batch_verb.batch(subs, assignment="hw1_graph", out=out, backend="docker",
                             progress=False)
    assert again["stale"] == {"the Docker image changed since they were graded": 1}
    assert again["graded_now"] == 1
    assert "regrading 1 student: the Docker image changed" in capsys.readouterr().err


def test_a_dask_task_on_a_plain_mode_worker_needs_the_flag_too(tmp_path, monkeypatch):
    """On a cluster the batch cannot see the workers' sandbox: each task checks its own."""
    from grader.batch.tasks import grade_bytes, zip_bytes
    monkeypatch.setenv("GRADER_SANDBOX_MODE", "plain")
    monkeypatch.delenv("GRADER_ALLOW_UNCONFINED", raising=False)
    archive = zip_bytes(EXAMPLES / "correct")
    refused = grade_bytes("alice", "alice", archive, "hw1_graph", "local", None)
    assert refused["status"] == "infrastructure" and refused["score"] == 0
    assert "--allow-unconfined" in refused["output"]
    allowed = grade_bytes("alice", "alice", archive, "hw1_graph", "local", None,
                          allow_unconfined=True)
    assert allowed["status"] == "ok" and allowed["score"] == 42
    assert allowed["provenance"]["sandbox_mode"] == "plain"
