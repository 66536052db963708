"""The ``grader`` command: a thin layer over ``grader.api``.

Defaults come from the API functions' own signatures, so the two never disagree. A user's
mistake (bad config, missing folder, unreadable archive) prints one clear line and exits 2.
"""
from __future__ import annotations

import argparse
import inspect
import json
import sys

from grader import api
from grader.results import reports
from grader.errors import GraderError


def _default(fn, name):
    return inspect.signature(fn).parameters[name].default


def cmd_check(args) -> int:
    results = api.check(args.path, assignment=args.assignment)
    print(reports.check_report(results))
    return 0 if results["score"] == results["max_score"] else 1


def cmd_grade(args) -> int:
    results = api.grade(args.submission, assignment=args.assignment, output=args.output,
                        solutions=args.solutions, backend=args.backend, image=args.image)
    print(reports.grade_summary(results))
    if args.output:
        print(f"results written to {args.output}/results.json")
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    return 3 if results["status"] == "infrastructure" else 0


def cmd_demo(args) -> int:
    def progress(r):
        print(f"  graded {r['assignment']}/{r['submission']}: {r['score']:g}/{r['max_score']:g}",
              file=sys.stderr, flush=True)

    graded = api.demo(assignments=tuple(args.assignment) if args.assignment else None,
                      output=args.output, jobs=args.jobs, progress=progress)
    for assignment in dict.fromkeys(r["assignment"] for r in graded):
        print(f"\n{assignment}")
        print(reports.demo_table([r for r in graded if r["assignment"] == assignment]))
    return 0


def cmd_release(args) -> int:
    out = api.release(args.assignment, solutions=args.solutions, out=args.out,
                      notebook=args.notebook)
    print(f"released {args.assignment} to {out}")
    if args.notebook:
        from grader.course.release import notebook_folder
        print(f"notebook release (nbgrader's source/{args.assignment}/): {notebook_folder(out)}")
    return 0


def cmd_validate(args) -> int:
    def progress(check):
        mark = "ok  " if check.ok else "FAIL"
        print(f"{mark} {check.what}: {check.detail}", flush=True)

    checks = api.validate(args.assignment, solutions=args.solutions, progress=progress)
    bad = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(bad)}/{len(checks)} checks passed")
    return 1 if bad else 0


def cmd_batch(args) -> int:
    summary = api.batch(args.submissions, assignment=args.assignment, out=args.out,
                          backend=args.backend, jobs=args.jobs, scheduler=args.scheduler,
                          regrade=args.regrade, image=args.image)
    print(reports.batch_summary(summary), end="")
    print(f"gradebook: {args.out}/gradebook.csv" + (f", picture: {summary['picture']}"
                                                    if summary.get("picture") else ""))
    if summary.get("report"):
        print(f"report: {summary['report']}")
    return 3 if summary["statuses"].get("infrastructure") else 0


def cmd_report(args) -> int:
    print(api.report(args.grades))
    return 0


def cmd_image_build(args) -> int:
    info = api.build_image(assignments=args.assignment, base=args.base, tag=args.tag)
    print(f"built {info['tag']} with {', '.join(info['assignments'])}: "
          f"{info['size_mb']:.0f} MB (target: under 400 MB)")
    return 0


def cmd_export_nbgrader(args) -> int:
    summary = api.export_nbgrader(args.grades, assignment=args.assignment, db=args.db,
                                  course_dir=args.course_dir, course_id=args.course_id,
                                  notebook=args.notebook)
    print(f"exported {len(summary['students'])} students of {args.assignment} to {args.db}"
          + (f"; feedback in {summary['feedback']}" if summary["feedback"] else ""))
    for student, why in summary["skipped"].items():
        print(f"  skipped {student}: {why}")
    return 3 if summary["skipped"] else 0


def cmd_export_gradescope(args) -> int:
    out = api.export_gradescope(args.assignment, out=args.out, solutions=args.solutions,
                                python_version=args.python_version,
                                progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): upload it as the assignment's "
          "autograder (Configure Autograder > Zip file upload)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Sandboxed autograder for the "
                                     "neural-network course.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="run the public tests on your assignment folder")
    p.add_argument("path", nargs="?", default=_default(api.check, "path"),
                   help="your assignment folder, or the assignment's notebook (.ipynb)")
    p.add_argument("--assignment", default=None, help="assignment id (default: from the folder)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("grade", help="grade one submission (folder or .zip) with every test")
    p.add_argument("submission")
    p.add_argument("--assignment", required=True)
    p.add_argument("--output", default=_default(api.grade, "output"),
                   help="folder for results.json")
    p.add_argument("--solutions", default=None, help="solutions folder (default: the repo's)")
    p.add_argument("--backend", default=_default(api.grade, "backend"),
                   choices=["local", "docker"])
    p.add_argument("--image", default=None, help="autograder image (docker backend)")
    p.add_argument("--json", action="store_true", help="also print results.json")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("demo", help="grade the bundled example submissions")
    p.add_argument("--assignment", action="append", help="assignment id (repeatable)")
    p.add_argument("--output", default=None, help="also write each results.json under here")
    p.add_argument("--jobs", type=int, default=_default(api.demo, "jobs"))
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("validate", help="reference full marks, skeleton zero, mutants caught")
    p.add_argument("assignment")
    p.add_argument("--solutions", default=None)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("batch", help="grade a whole class in parallel; write a gradebook")
    p.add_argument("submissions", help="folder of student folders/zips, a zip of those, or an "
                   "nbgrader course folder (submitted/<student>/<assignment>/)")
    p.add_argument("--assignment", required=True)
    p.add_argument("--out", required=True, help="output folder (results, feedback, gradebook)")
    p.add_argument("--backend", default=_default(api.batch, "backend"),
                   choices=["local", "docker"])
    p.add_argument("--jobs", type=int, default=_default(api.batch, "jobs"))
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (multi-machine)")
    p.add_argument("--regrade", action="store_true", help="grade again what is already graded")
    p.add_argument("--image", default=None, help="autograder image (docker backend)")
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("report", help="rebuild a batch's HTML pages (index.html, a "
                       "feedback.html per student) from its stored results")
    p.add_argument("grades", help="the output folder of `grader batch`")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("image", help="the autograder Docker image")
    image_sub = p.add_subparsers(dest="image_command", required=True)
    p = image_sub.add_parser("build", help="build the image (no network needed inside)")
    p.add_argument("--assignment", action="append", help="assignment to include (default: all)")
    p.add_argument("--base", default=_default(api.build_image, "base"),
                   help="base image (ARG BASE_IMAGE)")
    p.add_argument("--tag", default=_default(api.build_image, "tag"))
    p.set_defaults(func=cmd_image_build)

    p = sub.add_parser("export", help="to nbgrader's gradebook, or a Gradescope autograder")
    export_sub = p.add_subparsers(dest="export_command", required=True)
    p = export_sub.add_parser("nbgrader", help="a batch's scores into an nbgrader gradebook")
    p.add_argument("grades", help="the --out folder of `grader batch`")
    p.add_argument("--assignment", required=True)
    p.add_argument("--db", default=_default(api.export_nbgrader, "db"),
                   help="nbgrader's database URL (default: %(default)s)")
    p.add_argument("--course-dir", default=None,
                   help="nbgrader course folder for feedback/ (default: the database's folder)")
    p.add_argument("--course-id", default=_default(api.export_nbgrader, "course_id"),
                   help="nbgrader's CourseDirectory.course_id, if the course sets one")
    p.add_argument("--notebook", default=None,
                   help="the notebook's name in the gradebook (default: the assignment id)")
    p.set_defaults(func=cmd_export_nbgrader)
    p = export_sub.add_parser("gradescope", help="a Gradescope autograder zip")
    p.add_argument("assignment")
    p.add_argument("--out", default=_default(api.export_gradescope, "out"))
    p.add_argument("--solutions", default=None)
    p.add_argument("--python-version", default=None,
                   help="the Python of Gradescope's image, e.g. 3.10 (default: this one's)")
    p.set_defaults(func=cmd_export_gradescope)

    p = sub.add_parser("release", help="generate assignments/<id> from solutions/<id>")
    p.add_argument("assignment")
    p.add_argument("--solutions", default=None)
    p.add_argument("--out", default=None)
    p.add_argument("--notebook", action="store_true", default=_default(api.release, "notebook"),
                   help="also write an nbgrader notebook release to <out>-notebook/")
    p.set_defaults(func=cmd_release)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except GraderError as e:
        print(f"grader: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `grader demo | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
