"""``run_autograder``'s work inside Gradescope's container (as root): grade one submission and
always leave a valid ``results.json``.

The submission (``/autograder/submission``: module files, a zip or a notebook) is graded by the
local sandbox in **jail** mode: the student's code sees none of ``/autograder`` nor the root-only
solutions, and has no network. Where the container cannot make namespaces (no
``CAP_SYS_ADMIN``), it falls back to **uid** mode: an unprivileged uid for the student, the
solutions and ``/autograder/source`` closed to it by permissions, but the container's network
reachable; the mode used is printed for the staff. ``setup.sh`` calls this with
``--check-reference`` to grade the reference once when the image is built.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # as grader.api does: before NumPy is imported

from grader.course.config import find_assignment  # noqa: E402
from grader.errors import GraderError, SubmissionError  # noqa: E402
from grader.export.gradescope import failure_results, gradescope_results  # noqa: E402
from grader.harness.supervisor import grade_submission  # noqa: E402
from grader.results.scoring import write_json_atomic  # noqa: E402

_JAIL_PROBE = ["unshare", "--mount", "--net", "--pid", "--ipc", "--uts", "--fork",
               "--kill-child", "--mount-proc", "true"]


def pick_sandbox_mode() -> str:
    """jail when this container lets root make the jail's namespaces, else uid."""
    if os.geteuid() != 0:
        return "plain"
    if shutil.which("unshare"):
        try:
            if subprocess.run(_JAIL_PROBE, capture_output=True, timeout=30).returncode == 0:
                return "jail"
        except (OSError, subprocess.TimeoutExpired):
            pass
    return "uid"


def grade(spec, submission: Path) -> dict:
    """The grader's results.json for ``submission`` (nothing Gradescope-specific yet)."""
    results = grade_submission(spec, submission, backend="local")
    results["submission"] = submission.name
    return results


def run(assignment: str, solutions: Path, submission: Path, results_path: Path) -> int:
    mode = os.environ.setdefault("GRADER_SANDBOX_MODE", pick_sandbox_mode())
    print(f"nn-grader: grading {assignment} in the {mode} sandbox", flush=True)
    try:
        spec = find_assignment(assignment, solutions=solutions)
        results = grade(spec, submission)
    except SubmissionError as e:  # the student's files: their zero, with the reason
        write_json_atomic(results_path, failure_results(f"Your submission could not be graded: "
                                                        f"{e}", status="submission_error"))
        print(f"submission error: {e}")
        return 0
    except GraderError as e:
        write_json_atomic(results_path, failure_results(_grader_problem(str(e))))
        print(f"grader problem: {e}", file=sys.stderr)
        return 3
    if results.get("status") == "infrastructure":
        write_json_atomic(results_path, failure_results(_grader_problem(results["output"])))
        print(results["output"], file=sys.stderr)
        return 3
    write_json_atomic(results_path, gradescope_results(results, spec))
    print(results["output"])
    return 0


def _grader_problem(detail: str) -> str:
    return ("The grader could not grade this submission (a problem on our side, not in your "
            "code). Please tell the course staff; a regrade will fix it.\n\n" + detail)


def check_reference(assignment: str, solutions: Path, *, attempts: int = 3) -> int:
    """Grade the reference as a submission: full marks, or the image is not fit to grade.
    A busy build machine can make one call miss its time limit: up to ``attempts`` tries."""
    spec = find_assignment(assignment, solutions=solutions)
    mode = os.environ.setdefault("GRADER_SANDBOX_MODE", pick_sandbox_mode())
    for attempt in range(1, attempts + 1):
        with tempfile.TemporaryDirectory(prefix="grader-reference-check-") as tmp:
            copy = Path(tmp) / "reference"
            copy.mkdir()
            for name in spec.files:
                shutil.copy(spec.root / name, copy / name)
            results = grade(spec, copy)
        print(f"nn-grader: the reference of {assignment} scores {results['score']:g} / "
              f"{results['max_score']:g} in the {mode} sandbox", flush=True)
        # Gradescope has no GPU: the GPU-only tests' points are pending there, not lost.
        if results["status"] in ("ok", "needs_gpu") and all(
                t["status"] in ("passed", "pending") for t in results["tests"]):
            return 0
        for test in results["tests"]:
            if test["status"] not in ("passed", "pending"):
                print(f"  {test['name']}: {test['kind']}: {test['output'][:300]}", flush=True)
    print(f"nn-grader: the autograder is broken ({attempts} tries)\n{results['output']}",
          file=sys.stderr)
    return 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="grader.export.gradescope_run")
    parser.add_argument("--assignment", required=True)
    parser.add_argument("--solutions", required=True, type=Path)
    parser.add_argument("--submission", type=Path, default=Path("/autograder/submission"))
    parser.add_argument("--results", type=Path,
                        default=Path("/autograder/results/results.json"))
    parser.add_argument("--check-reference", action="store_true")
    args = parser.parse_args(argv)
    if args.check_reference:
        return check_reference(args.assignment, args.solutions)
    try:
        return run(args.assignment, args.solutions, args.submission, args.results)
    except BaseException as e:  # never leave Gradescope without a results.json
        write_json_atomic(args.results, failure_results(_grader_problem(
            f"{type(e).__name__}: {e}")))
        raise


if __name__ == "__main__":
    sys.exit(main())
