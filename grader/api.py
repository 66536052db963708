"""The user verbs, as functions with keyword defaults. The command line (``grader.cli``) is a
thin layer over these, so the CLI and the Python API never disagree.

``grade``   one submission, all tests (public + hidden), writes ``results.json``  (TAs)
``check``   a student's folder (or notebook) against the public tests of its release (students)
``check_notebook`` the same from a notebook's test cell, for one problem            (students)
``zip_submission`` the submission zip of a student's folder, checked first           (students)
``batch``   a whole class in parallel, resumable, with a gradebook              (TAs)
``report``  rebuild a batch's HTML pages from its stored results                (TAs)
``similarity`` which submissions of a batch share code, ranked, with pages    (TAs)
``demo``    grade the bundled example submissions and return their results
``new``     scaffold ``solutions/<id>`` that releases and validates as it is      (instructors)
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
import warnings
from pathlib import Path

# One BLAS thread everywhere: the harness is forked from this process, and timing is fair only
# with a single thread. Must happen before anything imports NumPy.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from grader.batch import batch  # noqa: E402,F401  (a user verb: grade a whole class)
from grader.course import config as config_mod  # noqa: E402
from grader.errors import (GraderError, GraderWarning, ResultsNotWritten,  # noqa: E402
                           SubmissionError)
from grader.harness.supervisor import (check_folder, grade_submission,  # noqa: E402
                                       preload_harness)
from grader.intake.notebook import checkout_for_check  # noqa: E402
from grader.results import provenance  # noqa: E402
from grader.results.outputs import prepare_folder  # noqa: E402
from grader.results.scoring import failure_results, write_json_atomic  # noqa: E402
from grader.sandbox.confinement import require_confinement  # noqa: E402
from grader.sandbox.image import DEFAULT_BASE  # noqa: E402

REPO_ROOT = config_mod.REPO_ROOT


def grade(submission, *, assignment: str, out=None, solutions=None, only=None,
          backend: str = "local", image: str | None = None, cpus: float | None = None,
          output=None, progress=None, allow_unconfined: bool = False) -> dict:
    """Grade one submission (a folder or a .zip) with every test of ``assignment``.

    ``backend`` is ``local`` (the embedded sandbox) or ``docker`` (one hardened container from
    the autograder ``image``, limited to ``cpus``; the image is checked first, as ``batch``
    does: it must hold the assignment as it is now). Writes ``out/results.json`` when ``out``
    is given (checked before grading starts) and returns the results dict; ``output`` is an
    older name of ``out``. ``only`` restricts grading to the named test functions (used to
    validate mutants). A submission that cannot be graded at all (a misnamed file, an
    unreadable zip) has status ``submission_error`` and the reason as output. ``progress``
    (local backend) is called with each problem's result as it finishes (a dict: ``problem``,
    ``score``, ``max_score``, ``tests``, ``failed``). The results' ``provenance`` says what
    produced them (``grader.results.provenance``).

    The local backend as a normal user runs in plain mode, which does not confine file access:
    refused (``UnconfinedSandbox``) unless ``allow_unconfined``, which prints a warning.
    """
    out = out if out is not None else output
    if backend not in ("local", "docker"):
        raise GraderError(f"unknown backend {backend!r} (use local or docker)")
    spec = config_mod.find_assignment(assignment, solutions=solutions)
    if not os.path.lexists(submission):
        raise GraderError(f"{submission}: no such file or folder")
    require_confinement(backend, allow_unconfined, command="grade")
    if out is not None:
        out = prepare_folder(out)
    facts = None
    if backend == "docker":
        facts = _checked_image(spec, image)
    results = _grade(spec, submission, only=only, backend=backend, image=image, cpus=cpus,
                     progress=progress, facts=facts)
    if out is not None:
        try:
            write_json_atomic(out / "results.json", results)
        except OSError as e:
            raise ResultsNotWritten(f"{out / 'results.json'}: cannot write it "
                                    f"({e.strerror or e})", results=results) from None
    return results


def _checked_image(spec, image: str | None):
    """The docker ``image`` (default ``$GRADER_IMAGE``, else the autograder's) holds ``spec``
    as it is now (else the InfrastructureError ``batch`` gives); its id and sandbox mode, for
    the provenance."""
    from grader.sandbox.docker import DEFAULT_IMAGE, client
    from grader.sandbox.image import check_image
    image = image or os.environ.get("GRADER_IMAGE", DEFAULT_IMAGE)
    c = client()
    check_image(spec, image, c)
    return provenance.image_facts(image, c)


def _grade(spec, submission, *, only=None, backend="local", image=None, cpus=None,
           progress=None, facts=None) -> dict:
    """Grade one submission, unchecked (``grade`` checks first; the demo grades the bundled
    examples as they are); the results carry their provenance."""
    stamp = provenance.make(spec, submission_sha256=provenance.submission_digest(submission),
                            backend=backend, image=facts)
    try:
        results = grade_submission(spec, Path(submission), backend=backend, image=image,
                                   cpus=cpus, only=only, progress=progress)
    except SubmissionError as e:  # the student's to fix (a misnamed file, a broken zip)
        results = failure_results(spec, "submission_error", str(e))
    results["submission"] = Path(submission).name
    return provenance.stamp(results, stamp)


def check(path=".", *, assignment: str | None = None, solutions=None,
          timing: bool = True, progress=None) -> dict:
    """Run the public tests of a student's assignment folder (what students run locally).

    The folder is a release (``assignments/<id>/``) with the student's work in it; its
    ``assignment.yaml`` names the assignment and ``tests/`` holds the public tests. ``path``
    may also be a notebook in such a folder (``grader release --notebook``): its code cells
    are what is checked. The results also say, per problem, how many points only the hidden
    tests grade (``problem_points``: each problem's total), and, with ``timing``, how fast the
    student's timed functions are on the hidden timing tests' shapes (``timing``: see
    ``harness/yardstick.py``). ``warnings`` lists what the student should know (e.g. an
    ``assignment`` other than the folder's). ``progress``: as for ``grade``.
    """
    folder = Path(path)
    notebook = folder if folder.suffix == ".ipynb" else None
    if notebook is not None:
        if not notebook.is_file():
            raise GraderError(f"{notebook}: no such notebook")
        folder = notebook.parent
    if not folder.is_dir():
        raise GraderError(f"{folder}: no such folder" if not folder.exists() else
                          f"{folder}: not a folder; give `grader check` your assignment folder")
    own = folder / "assignment.yaml"
    if assignment:
        spec = config_mod.find_assignment(assignment, solutions=solutions)
        if own.is_file():
            mine = config_mod.load_assignment(folder, require_sources=False).id
            if mine != spec.id:
                warnings.warn(f"this folder is {mine}, but --assignment says {spec.id}: "
                              f"checking {spec.id}'s public tests on it", GraderWarning,
                              stacklevel=2)
    else:
        if not own.is_file():
            raise GraderError(f"{folder}: no assignment.yaml here; run `grader check` inside "
                              "your assignment folder, or pass --assignment ID")
        spec = config_mod.load_assignment(folder, require_sources=False)
    tests = spec.public_tests if assignment else folder / "tests"
    if not tests.is_dir():
        raise GraderError(f"{tests}: the public tests are missing from this folder")
    provided_from = spec.root if assignment else folder
    with tempfile.TemporaryDirectory(prefix="grader-check-notebook-") as tmp:
        cells = checkout_for_check(notebook or folder, spec.files, Path(tmp) / "work")
        results = check_folder(spec, cells or folder, tests=tests, provided_from=provided_from,
                               progress=progress)
        results["submission"] = (notebook or folder.resolve()).name
        results["problem_points"] = {p.id: p.points for p in spec.problems}
        if timing and spec.timing and not results.get("import_error"):
            from grader.harness.yardstick import measure
            results["timing"] = measure(spec, cells or folder, provided_from=provided_from)
    return results


def check_notebook(notebook, *, problem: str | None = None) -> dict:
    """For a notebook's test cells: the public tests (of ``problem``, default all) on the
    saved ``notebook``; prints the report and raises AssertionError when one fails, so the
    cell fails as a test cell should."""
    from grader.results import reports
    results = check(notebook, timing=False)
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


def demo(*, assignments: tuple[str, ...] | None = None, out=None, jobs: int = 2,
         progress=None, output=None) -> list:
    """Grade every bundled example submission (``jobs`` at a time); return their results.
    ``assignments`` defaults to every assignment with examples; with ``out`` (``output``: its
    older name) each results.json is also written under ``out/<assignment>/<example>/``."""
    out = out if out is not None else output
    if not isinstance(jobs, int) or jobs < 1:
        raise GraderError(f"jobs must be a whole number of at least 1, not {jobs!r}")
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
    cuda = any(config_mod.find_assignment(a).cuda.files for a in assignments)
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                                initializer=preload_harness, initargs=(cuda,)) as pool:
        futures = {pool.submit(_demo_one, sub, assignment,
                               Path(out) / assignment / sub.name if out else None):
                   (assignment, sub.name) for assignment, sub in work}
        for future in cf.as_completed(futures):
            results = future.result()
            graded[futures[future]] = results
            if progress:
                progress(results)
    return [graded[key] for key in sorted(graded)]


def _demo_one(submission: Path, assignment: str, out) -> dict:
    """One bundled example, graded with this machine's local sandbox whatever its mode (the
    examples are the course's own code: nothing to confine them from)."""
    results = _grade(config_mod.find_assignment(assignment), submission)
    if out is not None:
        write_json_atomic(prepare_folder(out) / "results.json", results)
    return results


def zip_submission(path=".", *, out=None) -> dict:
    """In a student's assignment folder: check the declared files (there, compiling, importing
    in the sandbox) and write the submission zip with exactly those files (default:
    ``<folder>/<id>.zip``). Returns ``{"zip": path, "files": [[name, bytes], ...]}``."""
    from grader.intake.packaging import make_zip
    folder = Path(path)
    if not folder.is_dir():
        raise GraderError(f"{folder}: no such folder")
    if not (folder / "assignment.yaml").is_file():
        raise GraderError(f"{folder}: no assignment.yaml here; run `grader zip` inside your "
                          "assignment folder")
    spec = config_mod.load_assignment(folder, require_sources=False)
    archive, files = make_zip(spec, folder, out)
    return {"zip": str(archive), "files": [list(f) for f in files]}


def similarity(grades, *, assignment: str | None = None, submissions=None, release=None,
               out=None, threshold: float = 0.6, min_match: int = 100, pages: int = 50) -> dict:
    """Rank every pair of the batch in ``grades`` by how much code they share; write
    ``grades/similarity/`` (``index.html``, a page per pair, ``similarity.csv``). A high score
    is a reason to look, not a verdict. See ``grader.similarity.run.similarity``."""
    from grader.similarity.run import similarity as _similarity
    return _similarity(grades, assignment=assignment, submissions=submissions, release=release,
                       out=out, threshold=threshold, min_match=min_match, pages=pages)


def validate(assignment: str, *, solutions=None, progress=None) -> list:
    """Reference full marks, skeleton zero, every mutant caught; a list of checks."""
    from grader.course.validate import validate as _validate
    return _validate(assignment, solutions=solutions, progress=progress)


def new(assignment: str, *, solutions=None) -> Path:
    """Scaffold ``<solutions>/<id>/``: an assignment that releases and validates as it is."""
    from grader.course.scaffold import scaffold
    return scaffold(assignment, solutions=solutions)


def release(assignment: str, *, solutions=None, out=None, notebook: bool = False) -> Path:
    """Generate ``assignments/<id>/`` (beside the solutions folder, unless ``out``) from
    ``<solutions>/<id>/``; with ``notebook``, also the nbgrader notebook release
    ``assignments/<id>-notebook/``."""
    from grader.course.release import release as _release
    return _release(assignment, solutions_dir=solutions, out_dir=out, notebook=notebook)


def build_image(*, assignments=None, base: str = DEFAULT_BASE, tag: str | None = None,
                gpu: bool = False, progress=print) -> dict:
    """Build the autograder image with ``assignments`` (default: all); ``gpu`` builds the GPU
    image (Dockerfile.gpu). ``tag`` defaults to nn-grader/autograder(-gpu):latest. Returns its
    tag, size and assignments."""
    from grader.sandbox.image import build
    return build(assignments=assignments, base=base, tag=tag, gpu=gpu, progress=progress)


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
