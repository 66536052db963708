"""The ``grader`` command: a thin layer over ``grader.api``.

Defaults come from the API functions' own signatures, so the two never disagree, and every
option shows its default in ``--help``. One name per option across verbs: ``--out`` (also
accepted as ``--output``) is where results go. A user's mistake (a bad argument, a bad config,
a missing folder, an unreadable archive) prints one clear line and exits 2; a bad argument
also prints the subcommand's usage. ``--json`` prints only JSON on stdout.

See ``EXIT_CODES``.
"""
from __future__ import annotations

import argparse
import inspect
import json
import sys
import warnings

from grader import __version__, api
from grader.errors import BatchStopped, GraderError, GraderWarning, ResultsNotWritten
from grader.results import reports
from grader.results.safe_text import visible


EXIT_CODES = """exit codes:
  0    done
  1    check: a public test fails; validate: a check fails; export nbgrader: a student
       was skipped
  2    a mistake in the command, or a submission that cannot be graded
  3    the grader's environment failed (Docker engine, image), or cannot confine a
       submission (plain mode without --allow-unconfined)
  130  interrupted (Ctrl-C); re-running a batch resumes it"""


def _default(fn, name):
    return inspect.signature(fn).parameters[name].default


def _whole(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value
    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, at least 0, not {text}")
    return value


def _print_json(data) -> None:
    # ensure_ascii: exact JSON whose strings cannot carry terminal control characters raw
    print(json.dumps(data, indent=2, ensure_ascii=True))


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, GraderWarning):
        print(f"grader: warning: {visible(str(message))}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


# --------------------------------------------------------------------------------- verbs

def _progress(args):
    """Print each problem as it finishes, when a person watches (stdout a terminal, no
    --json); the final summary comes either way."""
    if args.json or not sys.stdout.isatty():
        return None
    return lambda finished: print(reports.problem_line(finished), flush=True)


def cmd_check(args) -> int:
    results = api.check(args.path, assignment=args.assignment, timing=args.timing,
                        progress=_progress(args))
    if args.json:
        _print_json(results)
    else:
        print(reports.check_report(results))
    return 0 if results["score"] == results["max_score"] else 1


def cmd_zip(args) -> int:
    made = api.zip_submission(args.path, out=args.out)
    if args.json:
        _print_json(made)
        return 0
    files = ", ".join(f"{name} ({size / 1000:.1f} KB)" for name, size in made["files"])
    print(f"wrote {made['zip']} with {files}: submit this file")
    return 0


def cmd_grade(args) -> int:
    human = sys.stderr if args.json else sys.stdout
    try:
        results = api.grade(args.submission, assignment=args.assignment, out=args.out,
                            solutions=args.solutions, backend=args.backend, image=args.image,
                            progress=_progress(args), allow_unconfined=args.allow_unconfined)
    except ResultsNotWritten as e:  # the grade still counts: show it, then why no file
        print(reports.grade_summary(e.results), file=human)
        if args.json:
            _print_json(e.results)
        raise
    written = f"results written to {args.out}/results.json" if args.out else ""
    if args.json:
        _print_json(results)
    if results["status"] == "submission_error":
        print(f"grader: {visible(results['output'])}", file=sys.stderr)
        if written:
            print(written, file=sys.stderr)
        return 2
    if not args.json:
        print(reports.grade_summary(results))
    if written:
        print(written, file=human)
    return 3 if results["status"] == "infrastructure" else 0


def cmd_batch(args) -> int:
    try:
        summary = api.batch(args.submissions, assignment=args.assignment, out=args.out,
                            backend=args.backend, jobs=args.jobs, scheduler=args.scheduler,
                            regrade=args.regrade, image=args.image,
                            engine_wait=args.engine_wait, similarity=args.similarity,
                            regrade_pending=args.regrade_pending,
                            allow_unconfined=args.allow_unconfined)
    except BatchStopped as e:  # what was graded is in the gradebook: show it, then why
        if e.summary:
            if args.json:
                _print_json(e.summary)
            else:
                print(reports.batch_summary(e.summary), end="")
        raise
    if args.json:
        _print_json(summary)
    else:
        print(reports.batch_summary(summary), end="")
        print(f"gradebook: {args.out}/gradebook.csv" + (f", picture: {summary['picture']}"
                                                        if summary.get("picture") else ""))
        if summary.get("similarity"):
            from grader.similarity.summary import text_summary
            print(text_summary(summary["similarity"]), end="")
        if summary.get("report"):
            print(f"report: {summary['report']}")
    return 3 if summary["statuses"].get("infrastructure") else 0


def cmd_demo(args) -> int:
    def progress(r):
        print(f"  graded {r['assignment']}/{r['submission']}: {r['score']:g}/{r['max_score']:g}",
              file=sys.stderr, flush=True)

    graded = api.demo(assignments=tuple(args.assignment) if args.assignment else None,
                      out=args.out, jobs=args.jobs, progress=progress)
    for assignment in dict.fromkeys(r["assignment"] for r in graded):
        print(f"\n{assignment}")
        print(reports.demo_table([r for r in graded if r["assignment"] == assignment]))
    return 0


def cmd_new(args) -> int:
    folder = api.new(args.assignment, solutions=args.solutions)
    print(f"created {folder}: edit it, then `grader release {args.assignment}` and "
          f"`grader validate {args.assignment}`" + (f" (with --solutions {args.solutions})"
                                                    if args.solutions else ""))
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
        print(f"{mark} {check.what}: {visible(check.detail)}", flush=True)

    checks = api.validate(args.assignment, solutions=args.solutions, progress=progress)
    bad = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(bad)}/{len(checks)} checks passed")
    return 1 if bad else 0


def cmd_report(args) -> int:
    print(api.report(args.grades))
    return 0


def cmd_similarity(args) -> int:
    summary = api.similarity(args.grades, assignment=args.assignment,
                             submissions=args.submissions, release=args.release, out=args.out,
                             threshold=args.threshold, min_match=args.min_match,
                             pages=args.pages)
    from grader.similarity.summary import text_summary
    print(text_summary(summary), end="")
    return 0


def cmd_image_build(args) -> int:
    info = api.build_image(assignments=args.assignment, base=args.base, tag=args.tag,
                           gpu=args.gpu)
    # Measured: numba-cuda, llvmlite and the CUDA compiler add about 830 MB; CuPy 270 MB more.
    target = 1500 if info["gpu"] else 1300 if info["cuda"] else 400
    print(f"built {info['tag']} with {', '.join(info['assignments'])}: "
          f"{info['size_mb']:.0f} MB (target: under {target} MB)")
    return 0


def cmd_export_nbgrader(args) -> int:
    summary = api.export_nbgrader(args.grades, assignment=args.assignment, db=args.db,
                                  course_dir=args.course_dir, course_id=args.course_id,
                                  notebook=args.notebook)
    print(f"exported {len(summary['students'])} students of {args.assignment} to {args.db}"
          + (f"; feedback in {summary['feedback']}" if summary["feedback"] else ""))
    for student, why in summary["skipped"].items():
        print(f"  skipped {student}: {why}")
    return 1 if summary["skipped"] else 0


def cmd_export_gradescope(args) -> int:
    out = api.export_gradescope(args.assignment, out=args.out, solutions=args.solutions,
                                python_version=args.python_version,
                                progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): upload it as the assignment's "
          "autograder (Configure Autograder > Zip file upload)")
    return 0


# --------------------------------------------------------------------------------- parser

class _Formatter(argparse.HelpFormatter):
    """Every option's default in its help, unless the help already says it (or there is none
    to say: a flag, a required option)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default" in text or action.default in (None, argparse.SUPPRESS) \
                or action.required or action.nargs == 0 \
                or (not action.option_strings and action.nargs != "?"):
            return text
        return text + " (default: %(default)s)"


class _TopFormatter(argparse.RawDescriptionHelpFormatter, _Formatter):
    """The exit codes as written."""


def _sub(sub, name, help_text, func, description=None):
    p = sub.add_parser(name, help=help_text, description=description or help_text,
                       formatter_class=_Formatter)
    p.set_defaults(func=func)
    return p


def _out(p, default, help_text):
    p.add_argument("--out", "--output", dest="out", metavar="FOLDER", default=default,
                   help=help_text)


def _solutions(p):
    p.add_argument("--solutions", metavar="FOLDER", default=None,
                   help="the instructor's assignments (default: $GRADER_SOLUTIONS, else the "
                   "repository's solutions/)")


def _assignment(p, required=True):
    p.add_argument("--assignment", metavar="ID", required=required, default=None,
                   help="assignment id, e.g. hw1_graph" + ("" if required else
                                                           " (default: from the folder)"))


def _allow_unconfined(p):
    p.add_argument("--allow-unconfined", action="store_true",
                   help="grade even where the local sandbox cannot confine file access (plain "
                   "mode: not root), so a submission can read the reference and hidden tests; "
                   "without it such a run is refused (exit 3)")


def _json(p, what):
    p.add_argument("--json", action="store_true", help=f"print only {what}, as JSON, on stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", formatter_class=_TopFormatter,
                                     description="Sandboxed autograder for the neural-network "
                                     "course.", epilog=EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="what to do")

    p = _sub(sub, "check", "run the public tests on your assignment folder", cmd_check,
             "Run the public tests on your assignment folder; list every problem, with the "
             "points only the hidden tests grade, and time the timed problems' functions "
             "where the hidden tests time them.")
    p.add_argument("path", nargs="?", default=_default(api.check, "path"), metavar="PATH",
                   help="your assignment folder, or the assignment's notebook (.ipynb)")
    _assignment(p, required=False)
    p.add_argument("--no-timing", dest="timing", action="store_false",
                   help="skip timing the timed problems' functions")
    _json(p, "the results")

    p = _sub(sub, "zip", "check your files and write the submission zip", cmd_zip,
             "In your assignment folder: check that the assignment's files are there, compile "
             "and import, then write a zip with exactly those files.")
    p.add_argument("path", nargs="?", default=_default(api.zip_submission, "path"),
                   metavar="FOLDER", help="your assignment folder")
    p.add_argument("--out", "--output", dest="out", metavar="FILE",
                   default=_default(api.zip_submission, "out"),
                   help="the zip to write (default: FOLDER/<id>.zip)")
    _json(p, "what was written")

    p = _sub(sub, "grade", "grade one submission (folder or .zip) with every test", cmd_grade)
    p.add_argument("submission", help="a submission folder or .zip")
    _assignment(p)
    _out(p, _default(api.grade, "out"), "folder for results.json (default: none written)")
    _solutions(p)
    p.add_argument("--backend", default=_default(api.grade, "backend"),
                   choices=["local", "docker"], help="where the student's code runs")
    p.add_argument("--image", default=_default(api.grade, "image"),
                   help="autograder image for --backend docker (default: $GRADER_IMAGE, else "
                   "nn-grader/autograder:latest)")
    _allow_unconfined(p)
    _json(p, "the results (results.json)")

    p = _sub(sub, "batch", "grade a whole class in parallel; write a gradebook", cmd_batch,
             "Grade a whole class in parallel, resumably, and write OUT/gradebook.csv, "
             "summary.txt, summary.png and each student's OUT/students/<key>/. Ctrl-C once "
             "finishes the running submissions, twice stops at once; re-running resumes.")
    p.add_argument("submissions", help="folder of student folders/zips, a zip of those, or an "
                   "nbgrader course folder (submitted/<student>/<assignment>/)")
    _assignment(p)
    p.add_argument("--out", "--output", dest="out", metavar="FOLDER", required=True,
                   help="output folder (gradebook, summary, students/<key>/)")
    p.add_argument("--backend", default=_default(api.batch, "backend"),
                   choices=["local", "docker"], help="where the students' code runs")
    p.add_argument("--jobs", type=_whole(1), default=_default(api.batch, "jobs"),
                   help="submissions graded at once")
    p.add_argument("--scheduler", default=_default(api.batch, "scheduler"), metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://head:8786 (multi-machine)")
    p.add_argument("--regrade", action="store_true",
                   help="grade again what is already graded (changed submissions always are)")
    p.add_argument("--regrade-pending", action="store_true",
                   help="on a GPU machine: grade again the students whose GPU tests are pending "
                   "(status needs_gpu)")
    p.add_argument("--image", default=_default(api.batch, "image"),
                   help="autograder image for --backend docker (default: $GRADER_IMAGE, else "
                   "nn-grader/autograder:latest)")
    p.add_argument("--engine-wait", type=_seconds, metavar="SECONDS",
                   default=_default(api.batch, "engine_wait"),
                   help="how long to wait for a Docker engine that stops answering")
    p.add_argument("--similarity", action="store_true",
                   help="then rank the pairs of submissions that share code (grader similarity)")
    _allow_unconfined(p)
    _json(p, "the summary")

    p = _sub(sub, "report", "rebuild a batch's HTML pages (index.html, a feedback.html per "
             "student) from its stored results", cmd_report)
    p.add_argument("grades", metavar="GRADES_DIR", help="the output folder of `grader batch`")

    p = _sub(sub, "similarity", "which submissions of a batch share code (for TAs: a reason "
             "to look, not a verdict)", cmd_similarity)
    p.add_argument("grades", metavar="GRADES_DIR", help="the --out folder of `grader batch`")
    p.add_argument("--assignment", metavar="ID", default=None,
                   help="assignment id (default: the batch's)")
    p.add_argument("--submissions", metavar="FOLDER",
                   default=_default(api.similarity, "submissions"),
                   help="read the students' files from this submissions folder instead of the "
                   "copies the batch kept")
    p.add_argument("--release", metavar="FOLDER", default=None,
                   help="the student release whose skeleton is left out (default: assignments/ID)")
    _out(p, None, "report folder (default: GRADES_DIR/similarity)")
    p.add_argument("--threshold", type=float, default=_default(api.similarity, "threshold"),
                   help="flag pairs where this fraction of one side's own code is in the other")
    p.add_argument("--min-match", type=_whole(1), default=_default(api.similarity, "min_match"),
                   help="and that share at least this many characters of normalised code")
    p.add_argument("--pages", type=_whole(0), default=_default(api.similarity, "pages"),
                   help="write a side-by-side page for this many top pairs (and every flagged)")

    p = _sub(sub, "demo", "grade the bundled example submissions", cmd_demo)
    p.add_argument("--assignment", metavar="ID", action="append", default=None,
                   help="assignment id, repeatable (default: every one with examples)")
    _out(p, _default(api.demo, "out"), "also write each results.json under here "
         "(default: none written)")
    p.add_argument("--jobs", type=_whole(1), default=_default(api.demo, "jobs"),
                   help="submissions graded at once")

    p = _sub(sub, "new", "scaffold solutions/<id>: an assignment that releases and validates",
             cmd_new, "Create solutions/<id>/ with an assignment.yaml, a reference file with "
             "solution markers, a public and a hidden test, handout templates and one mutant: "
             "it releases and validates as it is (see docs/authoring.md).")
    p.add_argument("assignment", metavar="ID", help="the new assignment's id ([a-z0-9_]+)")
    _solutions(p)

    p = _sub(sub, "release", "generate assignments/<id> from solutions/<id>", cmd_release)
    p.add_argument("assignment", metavar="ID", help="assignment id")
    _solutions(p)
    _out(p, _default(api.release, "out"), "the release folder (default: assignments/<id> "
         "beside the solutions folder)")
    p.add_argument("--notebook", action="store_true", default=_default(api.release, "notebook"),
                   help="also write an nbgrader notebook release to <out>-notebook/")

    p = _sub(sub, "validate", "reference full marks, skeleton zero, mutants caught",
             cmd_validate)
    p.add_argument("assignment", metavar="ID", help="assignment id")
    _solutions(p)

    p = _sub(sub, "export", "to nbgrader's gradebook, or a Gradescope autograder", None)
    export_sub = p.add_subparsers(dest="export_command", required=True, metavar="COMMAND",
                                  help="what to export to")
    p = _sub(export_sub, "nbgrader", "a batch's scores into an nbgrader gradebook",
             cmd_export_nbgrader)
    p.add_argument("grades", metavar="GRADES_DIR", help="the --out folder of `grader batch`")
    _assignment(p)
    p.add_argument("--db", metavar="URL", default=_default(api.export_nbgrader, "db"),
                   help="nbgrader's database URL")
    p.add_argument("--course-dir", metavar="FOLDER", default=None,
                   help="nbgrader course folder for feedback/ (default: the database's folder)")
    p.add_argument("--course-id", default=_default(api.export_nbgrader, "course_id"),
                   help="nbgrader's CourseDirectory.course_id, if the course sets one (default: none)")
    p.add_argument("--notebook", metavar="NAME", default=None,
                   help="the notebook's name in the gradebook (default: the assignment id)")
    p = _sub(export_sub, "gradescope", "a Gradescope autograder zip", cmd_export_gradescope)
    p.add_argument("assignment", metavar="ID", help="assignment id")
    _out(p, _default(api.export_gradescope, "out"), "the autograder zip to write")
    _solutions(p)
    p.add_argument("--python-version", metavar="X.Y", default=None,
                   help="the Python of Gradescope's image, e.g. 3.10 (default: this one's)")

    p = _sub(sub, "image", "the autograder Docker image", None)
    image_sub = p.add_subparsers(dest="image_command", required=True, metavar="COMMAND",
                                 help="what to do with the image")
    p = _sub(image_sub, "build", "build the image (no network needed inside)", cmd_image_build)
    p.add_argument("--assignment", metavar="ID", action="append", default=None,
                   help="assignment to include, repeatable (default: all)")
    p.add_argument("--base", default=_default(api.build_image, "base"),
                   help="base image (ARG BASE_IMAGE); where no registry answers, one made by "
                   "autograder_image/make_local_base.sh")
    p.add_argument("--tag", default=_default(api.build_image, "tag"),
                   help="the image's tag (default: nn-grader/autograder:latest, with --gpu "
                   "nn-grader/autograder-gpu:latest)")
    p.add_argument("--gpu", action="store_true", help="the GPU image (Dockerfile.gpu: "
                   "numba-cuda, the CUDA compiler, CuPy)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        return args.func(args)
    except GraderError as e:
        print(f"grader: {visible(str(e))}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `grader demo | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
