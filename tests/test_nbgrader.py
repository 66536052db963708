"""With real nbgrader: a course folder made by nbgrader's own commands from the notebook
release, notebook submissions in ``submitted/``, a batch, the export to the gradebook, and
nbgrader reading the scores back.

nbgrader is the ``nbgrader`` extra (CI installs it); without it these tests are skipped, except
where ``GRADER_REQUIRE_NBGRADER`` is set.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from grader.api import batch, export_nbgrader, release
from grader.course.config import REPO_ROOT, find_assignment
from grader.course.release import notebook_folder
from grader.errors import GraderError
from tests import notebooks as nbs

if os.environ.get("GRADER_REQUIRE_NBGRADER"):
    import nbgrader.api  # noqa: F401  (fails the run where nbgrader is required)
else:
    pytest.importorskip("nbgrader.api", reason="nbgrader is an optional extra")

pytestmark = pytest.mark.slow
EXAMPLES = REPO_ROOT / "examples" / "submissions" / "hw1_graph"
SPEC = find_assignment("hw1_graph")
COURSE_ID = "nn101"
#: student -> what they submit (an example's code in the released notebook, or a mistake)
CLASS = {"alice": "correct", "bob": "forgets_dout", "carol": "one_sided_difference",
         "dave": "duplicated_grade_id", "erin": "module_file"}
EXPECTED = {"alice": 42, "bob": 23, "carol": 35, "dave": 0, "erin": 23}  # EXPECTED.md


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run nbgrader's command line in the course folder, as an instructor would."""
    bindir = os.path.dirname(sys.executable)
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    proc = subprocess.run([os.path.join(bindir, "nbgrader"), *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def submit(course: Path, student: str, what: str) -> None:
    folder = course / "submitted" / student / "hw1_graph"
    shutil.copytree(course / "release" / "hw1_graph", folder)
    (folder / "timestamp.txt").write_text("2026-03-01 12:00:00.000000 UTC")
    path = folder / "hw1_graph.ipynb"
    released = nbs.read(path)
    if what == "module_file":  # worked in graph.py instead of the notebook
        path.unlink()
        shutil.copy(EXAMPLES / "forgets_dout" / "graph.py", folder / "graph.py")
        return
    if what == "duplicated_grade_id":  # a copied solution cell
        released["cells"].append(next(c for c in released["cells"]
                                      if c["metadata"].get("nbgrader", {}).get("solution")))
        nbs.write(path, released)
        return
    code = {"graph": (EXAMPLES / what / "graph.py").read_text(encoding="utf-8")}
    nbs.write(path, nbs.fill_release(released, code))


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """An nbgrader course: source/ from `grader release --notebook`, release/ made by
    nbgrader's generate_assignment, one submission per student in submitted/."""
    root = tmp_path_factory.mktemp("course")
    (root / "exchange").mkdir(mode=0o777)
    (root / "exchange").chmod(0o777)  # nbgrader wants its exchange writable by all
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.Exchange.root = {str(root / 'exchange')!r}\n")
    staged = release("hw1_graph", out=tmp_path_factory.mktemp("staging") / "hw1_graph",
                     notebook=True)
    shutil.copytree(notebook_folder(staged), root / "source" / "hw1_graph")
    nbgrader(root, "generate_assignment", "hw1_graph")
    for student, what in CLASS.items():
        submit(root, student, what)
    return root


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory) -> Path:
    grades = tmp_path_factory.mktemp("grades")
    summary = batch(course, assignment="hw1_graph", out=grades, jobs=2, progress=False)
    assert summary["students"] == len(CLASS)
    return grades


def test_nbgrader_accepts_the_released_notebook(course):
    """generate_assignment made the student copy: the solution cells hold nbgrader's stubs,
    and the gradebook has one grade cell per problem with its points; release_assignment
    publishes it."""
    student_copy = nbs.read(course / "release" / "hw1_graph" / "hw1_graph.ipynb")
    solution_cells = ["".join(c["source"]) for c in student_copy["cells"]
                      if c["metadata"].get("nbgrader", {}).get("solution")]
    assert len(solution_cells) == 4
    assert all("# YOUR CODE HERE" in s and "BEGIN SOLUTION" not in s for s in solution_cells)
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        cells = {c.name: c.max_score for c in gb.find_notebook("hw1_graph", "hw1_graph").grade_cells}
    assert cells == {p.id: p.points for p in SPEC.problems}
    nbgrader(course, "release_assignment", "hw1_graph")
    outbound = course / "exchange" / COURSE_ID / "outbound" / "hw1_graph"
    assert nbs.read(outbound / "hw1_graph.ipynb") == student_copy
    assert (outbound / "tests" / "test_graph_public.py").is_file()


def test_the_batch_grades_notebooks_as_expected(graded):
    for student, score in EXPECTED.items():
        record = json.loads((graded / "students" / student / "results.json").read_text())
        assert record["score"] == score, (student, record["output"])
    dave = json.loads((graded / "students" / "dave" / "results.json").read_text())
    assert dave["status"] == "submission_error" and "the same grade_id" in dave["output"]


def _exported_csv(course: Path) -> dict[str, dict]:
    out = course / "grades.csv"
    out.unlink(missing_ok=True)
    nbgrader(course, "export", "--to", str(out))
    with open(out, newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0]
                for t in ("student", "assignment", "notebook", "grade_cells",
                          "submitted_assignment", "submitted_notebook", "grade")}


def test_nbgrader_reads_back_the_exported_scores_and_a_rerun_updates(course, graded):
    db = f"sqlite:///{course / 'gradebook.db'}"
    summary = export_nbgrader(graded, assignment="hw1_graph", db=db, course_id=COURSE_ID)
    assert summary["students"] == sorted(CLASS) and summary["skipped"] == {}
    rows = _exported_csv(course)
    assert {s: float(r["score"]) for s, r in rows.items()} == EXPECTED
    assert {r["max_score"] for r in rows.values()} == {"42.0"}
    assert rows["alice"]["timestamp"].startswith("2026-03-01 12:00:00")

    from nbgrader.api import Gradebook
    with Gradebook(db, course_id=COURSE_ID) as gb:  # per problem, as formgrader shows them
        for student in CLASS:
            record = json.loads((graded / "students" / student / "results.json").read_text())
            for problem in SPEC.problems:
                grade = gb.find_grade(problem.id, "hw1_graph", "hw1_graph", student)
                assert grade.auto_score == record["problems"][problem.id]["score"]
                assert grade.max_score == problem.points and not grade.needs_manual_grade

    before = _counts(course / "gradebook.db")
    assert before["student"] == len(CLASS) and before["grade"] == 4 * len(CLASS)
    export_nbgrader(graded, assignment="hw1_graph", db=db, course_id=COURSE_ID)
    assert _counts(course / "gradebook.db") == before
    assert {s: float(r["score"]) for s, r in _exported_csv(course).items()} == EXPECTED

    feedback = course / "feedback" / "bob" / "hw1_graph"
    page = (feedback / "hw1_graph.html").read_text()
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "23 / 42" in text and "mulnode" in text and "Content-Security-Policy" in page
    assert (feedback / "timestamp.txt").read_text().startswith("2026-03-01")


def test_a_regraded_student_is_updated_not_added(course, graded, tmp_path):
    """bob fixes his notebook and is graded again: his scores change in place."""
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    export_nbgrader(graded, assignment="hw1_graph", db=db, course_dir=course)
    again = tmp_path / "course"
    shutil.copytree(course / "submitted", again / "submitted")
    shutil.copytree(course / "release", again / "release")
    shutil.rmtree(again / "submitted" / "bob")
    submit(again, "bob", "correct")
    regrades = tmp_path / "grades"
    shutil.copytree(graded, regrades)
    shutil.rmtree(regrades / "students" / "bob")  # the batch resumes: bob (and dave's error) graded again
    batch(again, assignment="hw1_graph", out=regrades, progress=False)
    assert json.loads((regrades / "students" / "bob" / "results.json").read_text())["score"] == 42
    export_nbgrader(regrades, assignment="hw1_graph", db=db, course_dir=again)
    from nbgrader.api import Gradebook
    with Gradebook(db) as gb:
        assert gb.find_submission("hw1_graph", "bob").score == 42
        assert gb.find_submission("hw1_graph", "alice").score == 42
        assert len(gb.students) == len(CLASS)


def test_grades_are_made_for_a_submission_older_than_the_grade_cells(course, graded, tmp_path,
                                                                     monkeypatch):
    """nbgrader makes a submission's grades when the submission is made: one made before a
    problem's grade cell existed gets that grade from the export."""
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep
                       + os.environ.get("PATH", ""))  # nbgrader runs `alembic` for a new db
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    from nbgrader.api import Gradebook
    with Gradebook(db) as gb:
        gb.add_assignment("hw1_graph")
        gb.add_notebook("hw1_graph", "hw1_graph")
        gb.add_student("alice")
        gb.add_submission("hw1_graph", "alice")
    export_nbgrader(graded, assignment="hw1_graph", db=db, course_dir=course)
    with Gradebook(db) as gb:
        assert gb.find_submission("hw1_graph", "alice").score == 42
        assert len(gb.find_submission_notebook("hw1_graph", "hw1_graph", "alice").grades) == 4


def test_export_errors_are_clear(tmp_path):
    with pytest.raises(GraderError, match="no graded students of 'hw1_graph'"):
        export_nbgrader(tmp_path, assignment="hw1_graph", db=f"sqlite:///{tmp_path}/g.db")
    with pytest.raises(GraderError, match="no such folder"):
        export_nbgrader(tmp_path / "nowhere", assignment="hw1_graph")


def test_nbgrader_validate_runs_the_test_cells_with_grader_check(course, tmp_path):
    """The released notebook's test cells work in a real kernel: nbgrader's validate (which
    executes the notebook) passes once the solution cells hold the reference, and fails on the
    blank student copy."""
    folder = tmp_path / "work"
    shutil.copytree(course / "release" / "hw1_graph", folder)
    blank = nbgrader(folder, "validate", "hw1_graph.ipynb").stdout
    assert "VALIDATION FAILED" in blank or "failed" in blank.lower()
    path = folder / "hw1_graph.ipynb"
    reference = {"graph": (SPEC.root / "graph.py").read_text(encoding="utf-8")}
    nbs.write(path, nbs.fill_release(nbs.read(path), reference))
    solved = nbgrader(folder, "validate", "hw1_graph.ipynb").stdout
    assert "Success! Your notebook passes all the tests." in solved
