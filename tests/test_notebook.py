"""Notebook submissions (``grader.intake.notebook``): the student's cells become the module
files, graded as usual; nothing in the notebook runs on the host; bad notebooks are clear
submission errors.
"""
from __future__ import annotations

import ast
import json
import zipfile
from pathlib import Path

import pytest

from grader.api import batch, check, check_notebook, grade, release
from grader.course.config import REPO_ROOT, find_assignment
from grader.course.release import notebook_folder
from grader.course.release.strip_solutions import strip_solutions
from grader.errors import SubmissionError
from grader.intake.notebook import assemble, notebook_modules, student_cells, unpack_submission
from tests import notebooks as nbs

EXAMPLES = REPO_ROOT / "examples" / "submissions"
HW1 = find_assignment("hw1_graph")


def example(assignment: str, name: str) -> dict[str, str]:
    folder = EXAMPLES / assignment / name
    spec = find_assignment(assignment)
    return {Path(f).stem: (folder / f).read_text(encoding="utf-8") for f in spec.files
            if (folder / f).is_file()}


def comparable(results: dict) -> dict:
    """results.json without what differs between two runs of the same code (and between a
    notebook and its module files: the submission's name and content hash)."""
    provenance = {k: v for k, v in results.get("provenance", {}).items()
                  if k != "submission_sha256"}
    return {**{k: v for k, v in results.items()
               if k not in ("submission", "execution_time", "submission_sha256", "provenance")},
            "provenance": provenance}


def modules_of(path: Path, spec) -> dict[str, str]:
    return notebook_modules(path, spec.modules)


# -- a notebook grades as its module files do --------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", ["correct", "forgets_dout", "syntax_error"])
def test_a_notebook_and_its_module_files_get_identical_results(tmp_path, name):
    nb = nbs.write(tmp_path / f"{name}.ipynb", nbs.student_notebook(example("hw1_graph", name)))
    folder = tmp_path / name
    folder.mkdir()
    for module, text in modules_of(nb, HW1).items():  # what the notebook holds, as files
        (folder / f"{module}.py").write_text(text, encoding="utf-8")
    from_notebook = grade(nb, assignment="hw1_graph")
    from_files = grade(folder, assignment="hw1_graph")
    assert comparable(from_notebook) == comparable(from_files)
    assert from_notebook["submission"] == f"{name}.ipynb"
    # ... and the module file is the student's code, none of the notebook's other cells.
    assembled, original = modules_of(nb, HW1)["graph"], example("hw1_graph", name)["graph"]
    assert "a scratch cell" not in assembled and "a test cell" not in assembled
    if name != "syntax_error":
        assert ast.dump(ast.parse(assembled)) == ast.dump(ast.parse(original))


@pytest.mark.slow
def test_cells_tagged_with_the_module_grade_without_nbgrader(tmp_path):
    nb = nbs.write(tmp_path / "alice.ipynb",
                   nbs.student_notebook(example("hw1_graph", "correct"), nbgrader=False))
    results = grade(nb, assignment="hw1_graph")
    assert results["score"] == results["max_score"] == 42 and results["status"] == "ok"


def test_only_the_students_cells_are_assembled_in_order(tmp_path):
    cells = [nbs.markdown_cell("x = 'markdown'"),
             nbs.code_cell("A = 1", grade_id="graph-a", solution=True),
             nbs.code_cell("B = 'scratch'"),  # untagged, no nbgrader metadata
             nbs.code_cell("C = 'test'", grade_id="t", grade=True, locked=True, points=1,
                           tags=["graph"]),  # a test cell, even when tagged
             nbs.code_cell("D = 2", tags=["graph.py"]),
             nbs.code_cell("E = 'read-only, not in a module'", grade_id="r", locked=True),
             nbs.code_cell("F = 3", grade_id="graph-f", solution=True)]
    path = nbs.write(tmp_path / "n.ipynb", nbs.notebook(cells))
    assert modules_of(path, HW1) == {"graph": "A = 1\n\n\nD = 2\n\n\nF = 3\n"}


def test_cells_go_to_the_module_their_tag_or_grade_id_names(tmp_path):
    modules = ["perceptron", "mlp", "sgd"]
    cells = [nbs.code_cell("P = 1", grade_id="perceptron-x", solution=True),
             nbs.code_cell("S = 1", grade_id="anything", solution=True, tags=["sgd"]),
             nbs.code_cell("M = 1", tags=["mlp"]),
             nbs.code_cell("P2 = 2", grade_id="perceptron-y", solution=True)]
    nb = nbs.notebook(cells)
    texts = assemble(student_cells(nb, modules, "n.ipynb"), modules)
    assert texts == {"perceptron": "P = 1\n\n\nP2 = 2\n", "mlp": "M = 1\n", "sgd": "S = 1\n"}
    unplaced = nbs.notebook([nbs.code_cell("X = 1", grade_id="mine", solution=True)])
    with pytest.raises(SubmissionError, match="cell 1 .*does not say which file.*perceptron, "
                                              "mlp, sgd"):
        student_cells(unplaced, modules, "n.ipynb")
    two = nbs.notebook([nbs.code_cell("X = 1", tags=["mlp", "sgd.py"])])
    with pytest.raises(SubmissionError, match="cell 1 is tagged with two files"):
        student_cells(two, modules, "n.ipynb")


def test_ipython_magics_are_left_out_when_they_stop_the_cell_compiling(tmp_path):
    cells = [nbs.code_cell("%matplotlib inline\nimport numpy as np\n!ls\nx = 5 % 3",
                           grade_id="graph-a", solution=True),
             nbs.code_cell("y = (2\n     % 3)", grade_id="graph-b", solution=True)]
    text = modules_of(nbs.write(tmp_path / "n.ipynb", nbs.notebook(cells)), HW1)["graph"]
    assert text.splitlines()[:4] == ["# %matplotlib inline", "import numpy as np", "# !ls",
                                     "x = 5 % 3"]
    assert "y = (2\n     % 3)" in text  # a continuation line, not a magic
    compile(text, "graph.py", "exec")


# -- what is never done with a notebook --------------------------------------------------------

@pytest.mark.slow
def test_no_cell_of_the_notebook_runs_on_the_host(tmp_path):
    """Cells that are not the student's code are never run: not while reading the notebook,
    not in the sandbox. (The student's own cells run only in the sandbox, as module files.)"""
    marker = tmp_path / "ran"
    payload = f"open({str(marker)!r}, 'w').write('ran')"
    nb = nbs.student_notebook(example("hw1_graph", "correct"))
    nb["cells"] += [nbs.code_cell(payload),
                    nbs.code_cell(payload, grade_id="hidden-payload", grade=True, locked=True,
                                  points=0, tags=["graph"]),
                    nbs.markdown_cell(payload)]
    nb["cells"][1]["outputs"] = [{"output_type": "execute_result", "execution_count": 1,
                                  "metadata": {}, "data": {"text/plain": payload}}]
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": payload}
    path = nbs.write(tmp_path / "alice.ipynb", nb)
    results = grade(path, assignment="hw1_graph")
    assert results["score"] == 42
    assert not marker.exists()
    assert payload not in modules_of(path, HW1)["graph"]


# -- bad notebooks are the student's clear errors ----------------------------------------------

def _unpack_error(tmp_path, name: str, data) -> str:
    src = tmp_path / name
    src.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    with pytest.raises(SubmissionError) as info:
        unpack_submission(src, tmp_path / "work", HW1.files)
    assert not (tmp_path / "work").exists()
    return str(info.value)


def test_invalid_json_says_where(tmp_path):
    text = json.dumps(nbs.student_notebook(example("hw1_graph", "correct")), indent=1)
    message = _unpack_error(tmp_path, "cut.ipynb", text[: len(text) // 2])
    assert message.startswith("cut.ipynb: not a notebook: invalid JSON at line")


def test_a_notebook_without_student_cells_says_so(tmp_path):
    nb = nbs.notebook([nbs.markdown_cell("# nothing"), nbs.code_cell("print(1)")])
    message = _unpack_error(tmp_path, "empty.ipynb", nb)
    assert message.startswith("empty.ipynb: no cells with your code") and "graph" in message


def test_duplicated_grade_ids_name_the_cells(tmp_path):
    nb = nbs.student_notebook(example("hw1_graph", "correct"))
    nb["cells"].append(json.loads(json.dumps(nb["cells"][3])))  # a copied solution cell
    grade_id = nb["cells"][3]["metadata"]["nbgrader"]["grade_id"]
    message = _unpack_error(tmp_path, "dup.ipynb", nb)
    assert f"cells 4 and {len(nb['cells'])} have the same grade_id {grade_id!r}" in message


@pytest.mark.parametrize("data, words", [
    ({"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}, "cells": []},
     "notebook format 3 is not supported"),
    ([1, 2], "no list of cells"),
    ({"nbformat": 4, "cells": 7}, "`cells` is not a list"),
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
])
def test_what_is_not_a_notebook_is_a_clear_error(tmp_path, data, words):
    assert words in _unpack_error(tmp_path, "bad.ipynb", data)


@pytest.mark.parametrize("cell", [
    {"cell_type": "code", "metadata": [], "source": "x = 1", "outputs": []},
    {"cell_type": "code", "metadata": {"nbgrader": "solution"}, "source": "x"},
    {"cell_type": "code", "metadata": {"tags": {"graph": 1}}, "source": "x"},
    {"cell_type": "code", "metadata": {"tags": ["graph"]}, "source": 17},
    {"cell_type": "code", "metadata": {"nbgrader": {"solution": True, "grade_id": ["g"]}}},
    "not a cell", None, 3,
    {"cell_type": "code", "metadata": {"tags": ["graph"]}, "source": "not " * 100_000 + "x"},
    {"cell_type": "code", "metadata": {"tags": ["graph"]}, "source": "x" + ".a" * 300_000},
    {"cell_type": "code", "metadata": {"tags": ["graph"]}, "source": "%magic\n" + "-" * 10**6},
    {"cell_type": "code", "metadata": {"tags": ["graph"]}, "source": "x = 1\0"},
])
def test_odd_cells_never_crash_the_grader(tmp_path, cell):
    """Whatever the cell, the result is a module or a SubmissionError, never a traceback."""
    nb = nbs.notebook([cell, nbs.code_cell("Y = 1", tags=["graph"])])
    src = nbs.write(tmp_path / "odd.ipynb", nb)
    try:
        unpack_submission(src, tmp_path / "work", HW1.files)
    except SubmissionError:
        return
    text = (tmp_path / "work" / "graph.py").read_text()
    assert text.endswith("Y = 1\n")


def test_a_submission_error_in_a_batch_is_a_record_that_says_which(tmp_path):
    klass = tmp_path / "class"
    nbs.write(klass / "bob.ipynb", nbs.notebook([nbs.code_cell("print(1)")]))
    (klass / "carol.ipynb").write_text("{ not json", encoding="utf-8")
    summary = batch(klass, assignment="hw1_graph", out=tmp_path / "grades", jobs=1,
                    progress=False)
    assert summary["statuses"] == {"submission_error": 2}
    bob = json.loads((tmp_path / "grades" / "students" / "bob" / "results.json").read_text())
    carol = json.loads((tmp_path / "grades" / "students" / "carol" / "results.json").read_text())
    assert "bob.ipynb: no cells with your code" in bob["output"]
    assert "carol.ipynb: not a notebook: invalid JSON at line 1" in carol["output"]


# -- which files a submission is graded from ---------------------------------------------------

def test_the_notebook_used_is_not_listed_as_not_graded(tmp_path):
    folder = tmp_path / "sub"
    nbs.write(folder / "hw1_graph.ipynb", nbs.student_notebook(example("hw1_graph", "correct")))
    nbs.write(folder / "scratch.ipynb", nbs.notebook([nbs.code_cell("print('hi')")]))
    results = grade(folder, assignment="hw1_graph")
    assert results["score"] == results["max_score"]
    assert results["ignored_files"] == ["scratch.ipynb"]  # the other notebook was not graded


@pytest.mark.slow
def test_a_batch_keeps_the_files_a_notebook_held_for_similarity(tmp_path):
    """The batch keeps each student's files as graded; for a notebook, the module files it
    held (what `grader similarity` compares), also read from the submissions folder."""
    from grader.similarity.sources import load_submissions
    klass = tmp_path / "class"
    for name in ("alice", "bob"):
        nbs.write(klass / f"{name}.ipynb", nbs.student_notebook(example("hw1_graph", "correct")))
    summary = batch(klass, assignment="hw1_graph", out=tmp_path / "grades", jobs=1,
                    progress=False)
    assert summary["statuses"] == {"ok": 2}
    kept = tmp_path / "grades" / "students" / "alice" / "files" / "graph.py"
    assert kept.read_text() == modules_of(klass / "alice.ipynb", HW1)["graph"]
    for loaded in (load_submissions(tmp_path / "grades", HW1),
                   load_submissions(tmp_path / "grades", HW1, submissions=klass)):
        assert [s.label for s in loaded] == ["alice", "bob"]
        assert all(s.files["graph.py"] == kept.read_text() for s in loaded)


def test_module_files_win_over_a_notebook(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "graph.py").write_text("X = 'the file'\n")
    nbs.write(folder / "hw1_graph.ipynb", nbs.student_notebook({"graph": "X = 'notebook'\n"}))
    work = unpack_submission(folder, tmp_path / "work", HW1.files)
    assert (work / "graph.py").read_text() == "X = 'the file'\n"


def test_of_several_notebooks_the_one_with_code_is_used(tmp_path):
    folder = tmp_path / "sub"
    nbs.write(folder / "scratch.ipynb", nbs.notebook([nbs.code_cell("print('hi')")]))
    nbs.write(folder / "work.ipynb", nbs.student_notebook({"graph": "X = 1\n"}))
    work = unpack_submission(folder, tmp_path / "work", HW1.files)
    assert (work / "graph.py").read_text() == "X = 1\n"
    nbs.write(folder / "also.ipynb", nbs.student_notebook({"graph": "X = 2\n"}))
    with pytest.raises(SubmissionError, match="the notebooks also.ipynb, work.ipynb hold code"):
        unpack_submission(folder, tmp_path / "work2", HW1.files)


@pytest.mark.slow
def test_a_zip_holding_a_notebook_in_a_folder_is_graded(tmp_path):
    nb = json.dumps(nbs.student_notebook(example("hw1_graph", "forgets_dout")))
    archive = tmp_path / "dave.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("hw1_graph/hw1_graph.ipynb", nb)
        zf.writestr("hw1_graph/.ipynb_checkpoints/hw1_graph-checkpoint.ipynb", "{}")
    assert grade(archive, assignment="hw1_graph")["score"] == 23  # as EXPECTED.md says


# -- the released notebook ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """Every assignment released with --notebook: assignment id -> notebook folder."""
    root = tmp_path_factory.mktemp("release")
    return {spec_id: notebook_folder(release(spec_id, out=root / spec_id, notebook=True))
            for spec_id in ("hw1_graph", "hw2_mlp", "hw3_conv", "hw4_autoencoder", "hw5_rnn")}


@pytest.mark.parametrize("assignment", ["hw1_graph", "hw2_mlp", "hw3_conv", "hw4_autoencoder",
                                        "hw5_rnn"])
def test_the_released_notebook_is_the_skeleton_and_no_solution(released, assignment):
    spec = find_assignment(assignment)
    folder = released[assignment]
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert f"{assignment}.ipynb" in names and "assignment.yaml" in names
    assert not [n for n in names if n.endswith(".py") and Path(n).name in spec.files]
    assert not [n for n in names if "hidden" in n]
    path = folder / f"{assignment}.ipynb"
    nb = nbs.read(path)
    texts = modules_of(path, spec)
    assert sorted(texts) == sorted(spec.modules)
    for module, assembled in texts.items():
        reference = (spec.root / f"{module}.py").read_text(encoding="utf-8")
        skeleton = strip_solutions(reference)[0]
        # The cells hold the skeleton (markers are comments, blank lines do not count) ...
        assert ast.dump(ast.parse(assembled)) == ast.dump(ast.parse(skeleton))
        # ... and not one line of a solution.
        solution_lines = set(reference.splitlines()) - set(skeleton.splitlines())
        cell_lines = {line for c in nb["cells"] if module in c["metadata"].get("tags", [])
                      for line in "".join(c["source"]).splitlines()}
        leaked = [line for line in solution_lines & cell_lines
                  if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
        assert leaked == []
    tests = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    assert [(c["metadata"]["nbgrader"]["grade_id"], c["metadata"]["nbgrader"]["points"])
            for c in tests] == [(p.id, p.points) for p in spec.problems]
    assert all(c["metadata"]["nbgrader"]["locked"] for c in tests)


def test_the_released_notebook_passes_nbformat_and_nbgraders_schema(released):
    nbformat = pytest.importorskip("nbformat")
    from nbgrader.nbgraderformat import MetadataValidator

    for folder in released.values():
        node = nbformat.read(next(folder.glob("*.ipynb")), as_version=4)
        nbformat.validate(node)
        MetadataValidator().validate_nb(node)


def test_the_notebook_release_is_reproducible(released, tmp_path):
    again = notebook_folder(release("hw1_graph", out=tmp_path / "hw1_graph", notebook=True))
    assert (again / "hw1_graph.ipynb").read_bytes() == \
        (released["hw1_graph"] / "hw1_graph.ipynb").read_bytes()


@pytest.mark.slow
def test_grader_check_reads_the_notebook(released, tmp_path):
    folder = tmp_path / "hw1_graph-notebook"
    import shutil
    shutil.copytree(released["hw1_graph"], folder)
    path = folder / "hw1_graph.ipynb"
    blank = check(path)
    assert blank["score"] == 0 and blank["submission"] == "hw1_graph.ipynb"
    assert check(folder)["score"] == 0  # the folder's notebook, as it has no graph.py
    with pytest.raises(AssertionError, match="of 3 public tests fail"):
        check_notebook(path, problem="mulnode")
    reference = {"graph": (HW1.root / "graph.py").read_text(encoding="utf-8")}
    nbs.write(path, nbs.fill_release(nbs.read(path), reference))
    solved = check_notebook(path, problem="mulnode")
    assert solved["score"] == solved["max_score"] > 0


@pytest.mark.slow
def test_the_released_notebook_filled_in_gets_full_marks(released, tmp_path):
    nb = nbs.read(released["hw1_graph"] / "hw1_graph.ipynb")
    filled = nbs.fill_release(nb, example("hw1_graph", "correct"))
    results = grade(nbs.write(tmp_path / "hw1_graph.ipynb", filled), assignment="hw1_graph")
    assert results["score"] == 42 and results["status"] == "ok"


@pytest.mark.slow
def test_the_docker_backend_grades_a_notebook_as_the_local_sandbox(tmp_path):
    """Notebooks are assembled on the host: the container gets module files only."""
    import os
    from grader.sandbox import docker as backend
    image = os.environ.get("GRADER_IMAGE", backend.DEFAULT_IMAGE)
    try:
        backend.client().images.get(image)
    except Exception as e:
        if os.environ.get("GRADER_REQUIRE_DOCKER"):
            pytest.fail(f"Docker is required here but unusable: {e}")
        pytest.skip(f"no Docker engine or no image {image}: {e}")
    nb = nbs.write(tmp_path / "bob.ipynb", nbs.student_notebook(example("hw1_graph",
                                                                        "forgets_dout")))
    local = grade(nb, assignment="hw1_graph")
    in_docker = grade(nb, assignment="hw1_graph", backend="docker", image=image)
    assert in_docker["status"] == "ok" and in_docker["score"] == local["score"] == 23
    assert [(t["name"], t["kind"]) for t in in_docker["tests"]] == \
        [(t["name"], t["kind"]) for t in local["tests"]]
