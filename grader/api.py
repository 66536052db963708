"""The user verbs, as functions with keyword defaults. The command line (``grader.cli``) is a
thin layer over these, so the CLI and the Python API never disagree.

``grade``   one submission, all tests (public + hidden), writes ``results.json``  (TAs)
``check``   a student's folder against the public tests of its release           (students)
``batch``   a whole class in parallel, resumable, with a gradebook              (TAs)
``demo``    grade the bundled example submissions and return their results
``release`` generate a student release from ``solutions/<id>``                  (instructors)
``validate`` reference full marks, skeleton zero, every mutant caught          (instructors)
``build_image`` the autograder Docker image, built without network access       (instructors)

The work behind them lives in the folders of the package: ``harness/supervisor.py`` runs and
supervises one submission's harness, ``batch/`` schedules a class, ``course/`` authors.
"""
from __future__ import annotations

import os
from pathlib import Path

# One BLAS thread everywhere: the harness is forked from this process, and timing is fair only
# with a single thread. Must happen before anything imports NumPy.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from grader.batch import batch  # noqa: E402,F401  (a user verb: grade a whole class)
from grader.course import config as config_mod  # noqa: E402
from grader.errors import GraderError  # noqa: E402
from grader.harness.supervisor import check_folder, grade_submission  # noqa: E402
from grader.results.scoring import write_json_atomic  # noqa: E402
from grader.sandbox.image import DEFAULT_BASE  # noqa: E402

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
    ``assignment.yaml`` names the assignment and ``tests/`` holds the public tests.
    """
    folder = Path(path)
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
    results = check_folder(spec, folder, tests=tests,
                           provided_from=spec.root if assignment else folder)
    results["submission"] = folder.resolve().name
    return results


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


def release(assignment: str, *, solutions=None, out=None) -> Path:
    """Generate ``assignments/<id>/`` from ``solutions/<id>/``."""
    from grader.course.release import release as _release
    return _release(assignment, solutions_dir=solutions, out_dir=out)


def build_image(*, assignments=None, base: str = DEFAULT_BASE, tag: str | None = None,
                gpu: bool = False, progress=print) -> dict:
    """Build the autograder image with ``assignments`` (default: all); ``gpu`` builds the GPU
    image (Dockerfile.gpu). ``tag`` defaults to nn-grader/autograder(-gpu):latest. Returns its
    tag, size and assignments."""
    from grader.sandbox.image import build
    return build(assignments=assignments, base=base, tag=tag, gpu=gpu, progress=progress)
