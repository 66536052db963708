"""The user verbs, as functions with keyword defaults. The command line (``grader.cli``) is a
thin layer over these, so the CLI and the Python API never disagree.

``grade``   one submission, all tests (public + hidden), writes ``results.json``  (TAs)
``check``   a student's folder (or notebook) against the public tests of its release (students)
``check_notebook`` the same from a notebook's test cell, for one problem            (students)
``batch``   a whole class in parallel, resumable, with a gradebook              (TAs)
``report``  rebuild a batch's HTML pages from its stored results                (TAs)
``demo``    grade the bundled example submissions and return their results
``release`` generate a student release from ``solutions/<id>``                  (instructors)
``validate`` reference full marks, skeleton zero, every mutant caught          (instructors)
``build_image`` the autograder Docker image, built without network access       (instructors)
``export_nbgrader`` a batch's scores into an nbgrader gradebook, feedback to its folder (TAs)
``export_gradescope`` a Gradescope autograder zip for an assignment             (instructors)

The work behind them lives in the folders of the package: ``harness/supervisor.py`` runs and
supervises one submission's harness, ``batch/`` schedules a class, ``course/`` authors.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

# One BLAS thread everywhere: the harness is forked from this process, and timing is fair only
# with a single thread. Must happen before anything imports NumPy.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from grader.batch import batch  # noqa: E402,F401  (a user verb: grade a whole class)
from grader.course import config as config_mod  # noqa: E402
from grader.errors import GraderError  # noqa: E402
from grader.harness.supervisor import check_folder, grade_submission  # noqa: E402
from grader.intake.notebook import checkout_for_check  # noqa: E402
from grader.results.scoring import write_json_atomic  # noqa: E402
from grader.sandbox.image import DEFAULT_BASE, DEFAULT_TAG  # noqa: E402

REPO_ROOT = config_mod.REPO_ROOT


def grade(submission, *, assignment: str, output=None, solutions=None, only=None,
          backend: str = "local", image: str | None = None, cpus: float | None = None) -> dict:
    """Grade one submission (a folder or a .zip) with every test of ``assignment``.

    ``backend`` is ``local`` (the embedded sandbox) or ``docker`` (one hardened container from
    the autograder ``image``, limited to ``cpus``). Writes ``output/results.json`` when ``output`` is given and
    returns the results dict. ``only`` restricts grading to the named test functions (used to
    validate mutants).
    """
    spec = config_mod.find_assignment(assignment, solutions=solutions)
    results = grade_submission(spec, Path(submission), backend=backend, image=image, cpus=cpus,
                               only=only)
    results["submission"] = Path(submission).name
    if output is not None:
        write_json_atomic(Path(output) / "results.json", results)
    return results


def check(path=".", *, assignment: str | None = None, solutions=None) -> dict:
    """Run the public tests of a student's assignment folder (what students run locally).

    The folder is a release (``assignments/<id>/``) with the student's work in it; its
    ``assignment.yaml`` names the assignment and ``tests/`` holds the public tests. ``path``
    may also be a notebook in such a folder (``grader release --notebook``): its code cells
    are what is checked.
    """
    folder = Path(path)
    notebook = folder if folder.suffix == ".ipynb" else None
    if notebook is not None:
        if not notebook.is_file():
            raise GraderError(f"{notebook}: no such notebook")
        folder = notebook.parent
    if assignment:
        spec = config_mod.find_assignment(assignment, solutions=solutions)
    else:
        if not (folder / "assignment.yaml").is_file():
            raise GraderError(f"{folder}: no assignment.yaml here; run `grader check` inside "
                              "your assignment folder, or pass --assignment ID")
        spec = config_mod.load_assignment(folder, require_sources=False)
    tests = spec.public_tests if assignment else folder / "tests"
    if not tests.is_dir():
        raise GraderError(f"{tests}: the public tests are missing from this folder")
    with tempfile.TemporaryDirectory(prefix="grader-check-notebook-") as tmp:
        cells = checkout_for_check(notebook or folder, spec.files, Path(tmp) / "work")
        results = check_folder(spec, cells or folder, tests=tests,
                               provided_from=spec.root if assignment else folder)
    results["submission"] = (notebook or folder.resolve()).name
    return results


def check_notebook(notebook, *, problem: str | None = None) -> dict:
    """For a notebook's test cells: the public tests (of ``problem``, default all) on the
    saved ``notebook``; prints the report and raises AssertionError when one fails, so the
    cell fails as a test cell should."""
    from grader.results import reports
    results = check(notebook)
    tests = [t for t in results["tests"] if problem is None or t["problem"] == problem]
    if problem is not None and not tests:
        raise GraderError(f"no public tests for problem {problem!r} in this assignment")
    print(reports.check_report({**results, "tests": tests}))
    failed = [t["name"] for t in tests if t["status"] != "passed"]
    if failed or results["status"] != "ok":
        raise AssertionError(f"{len(failed)} of {len(tests)} public tests fail: "
                             + ", ".join(failed) if failed else results["output"])
    return results


def report(grades) -> Path:
    """Rebuild the HTML pages of a batch's output folder ``grades`` from its stored results
    (also after a resumed or interrupted batch): each student's ``feedback.html`` and the class
    dashboard ``index.html``, whose path is returned."""
    from grader.results.pages.build import write_pages
    return write_pages(Path(grades))


def examples_dir(assignment: str) -> Path:
    return REPO_ROOT / "examples" / "submissions" / assignment


def demo(*, assignments: tuple[str, ...] | None = None, output=None, jobs: int = 2,
         progress=None) -> list:
    """Grade every bundled example submission (two at a time); return their results.
    ``assignments`` defaults to every assignment with examples."""
    import concurrent.futures as cf
    import multiprocessing

    root = REPO_ROOT / "examples" / "submissions"
    if assignments is None:
        assignments = tuple(sorted(p.name for p in root.iterdir() if p.is_dir()))
    work = []
    for assignment in assignments:
        folder = examples_dir(assignment)
        if not folder.is_dir():
            raise GraderError(f"{folder}: no example submissions")
        work += [(assignment, sub) for sub in sorted(folder.iterdir()) if sub.is_dir()]
    graded = {}
    context = multiprocessing.get_context("fork")
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(grade, sub, assignment=assignment,
                               output=Path(output) / assignment / sub.name if output else None):
                   (assignment, sub.name) for assignment, sub in work}
        for future in cf.as_completed(futures):
            results = future.result()
            graded[futures[future]] = results
            if progress:
                progress(results)
    return [graded[key] for key in sorted(graded)]


def validate(assignment: str, *, solutions=None, progress=None) -> list:
    """Reference full marks, skeleton zero, every mutant caught; a list of checks."""
    from grader.course.validate import validate as _validate
    return _validate(assignment, solutions=solutions, progress=progress)


def release(assignment: str, *, solutions=None, out=None, notebook: bool = False) -> Path:
    """Generate ``assignments/<id>/`` from ``solutions/<id>/``; with ``notebook``, also the
    nbgrader notebook release ``assignments/<id>-notebook/``."""
    from grader.course.release import release as _release
    return _release(assignment, solutions_dir=solutions, out_dir=out, notebook=notebook)


def build_image(*, assignments=None, base: str = DEFAULT_BASE, tag: str = DEFAULT_TAG,
                progress=print) -> dict:
    """Build the autograder image with ``assignments`` (default: all); return its tag, size
    and assignments."""
    from grader.sandbox.image import build
    return build(assignments=assignments, base=base, tag=tag, progress=progress)


def export_nbgrader(grades, *, assignment: str, db: str = "sqlite:///gradebook.db",
                    course_dir=None, course_id: str = "", notebook: str | None = None,
                    feedback: bool = True) -> dict:
    """Write the scores of a batch (its ``--out`` folder ``grades``) into the nbgrader
    gradebook ``db``: one grade cell per problem, auto scores; feedback to
    ``<course_dir>/feedback/<student>/<assignment>/`` (course_dir: the gradebook's folder).
    Re-running updates. Returns the students exported and those skipped."""
    from grader.export.nbgrader import export
    return export(grades, assignment=assignment, db=db, course_dir=course_dir,
                  course_id=course_id, notebook=notebook, feedback=feedback)


def export_gradescope(assignment: str, *, out="autograder.zip", solutions=None,
                      python_version: str | None = None, progress=None) -> Path:
    """Write a Gradescope autograder zip (setup.sh, run_autograder, a wheelhouse, the
    assignment) for ``python_version`` (default: this Python's); return its path."""
    from grader.export.gradescope import build_zip
    return build_zip(assignment, out=out, solutions=solutions, python_version=python_version,
                     progress=progress)
