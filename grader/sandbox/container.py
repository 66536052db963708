"""Inside the autograder image: grade /submission and leave the harness's events in /out.

The container's harness runs as root with only the capabilities it needs to drop the worker to
an unprivileged uid and to kill it (``uid`` sandbox mode). The two worker uids (the student's
and the reference's) are leased by the host and passed with ``--uids``: every container on a
host would otherwise pick the same ones, and share their per-uid process limit. The host builds ``results.json`` from
``/out/harness/events.jsonl`` itself (see ``grader.sandbox.docker``), so nothing the student
could influence is taken as a score. The workers are forked from templates this process forks
first thing (``fork_templates``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.course.config import find_assignment
from grader.errors import GraderError
from grader.harness.supervisor import grade_local


def fork_templates(*, cuda: bool) -> None:
    """The workers' templates, forked from this process before it reads anything of the
    assignment's or the submission's (so that none holds any of it), once NumPy is imported:
    each worker is then a fork of a fork, not an interpreter that imports NumPy again (about
    0.15 s of CPU a worker). What a worker inherits of this process is its
    imported modules, its arguments and its environment block (the image's variables, the
    scratch folder's name: nothing secret); its ``os.environ`` is the clean one.
    ``grader.sandbox.template`` says the rest."""
    import numpy  # noqa: F401  (shared with the harness forked from here later)

    from grader.sandbox import template
    from grader.sandbox.local import PACKAGE_PARENT, clean_environment, default_mode
    if default_mode() == "uid":
        template.start_for(sys.executable, PACKAGE_PARENT, clean_environment(), cuda=cuda,
                           fork=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="grader.sandbox.container")
    parser.add_argument("--assignment", required=True)
    parser.add_argument("--submission", default="/submission")
    parser.add_argument("--out", default="/out")
    parser.add_argument("--only", action="append", default=None,
                        help="grade only the named test functions (repeatable)")
    parser.add_argument("--uids", default=None,
                        help="STUDENT,REFERENCE: the worker uids the host leased for this "
                             "container (unique across everything running on the host)")
    parser.add_argument("--cuda", action="store_true",
                        help="the assignment has CUDA problems: fork the CUDA worker's and the "
                             "compile check's templates too")
    args = parser.parse_args(argv)
    fork_templates(cuda=args.cuda)
    try:
        spec = find_assignment(args.assignment)
        uids = [int(u) for u in args.uids.split(",")] if args.uids else None
        results = grade_local(spec, Path(args.submission), only=args.only, uids=uids,
                              harness_dir=Path(args.out) / "harness")
    except GraderError as e:
        print(f"grader: {e}", file=sys.stderr)
        return e.exit_code
    print(results["output"])
    return 3 if results["status"] == "infrastructure" else 0


if __name__ == "__main__":
    sys.exit(main())
