"""``grader batch``: grade a whole class, in parallel, resumably, and write a gradebook.

SUBMISSIONS is a folder of per-student folders or zips, one zip of those, or nbgrader's
``submitted/<student>/<assignment>/`` layout. Each student's ``students/<key>/results.json``
(written atomically; keys: see ``grader.results.gradebook``) is the durable record: a re-run
skips students already graded whose record is current, regrades those whose record is stale
(its ``provenance`` differs from what this run would grade with: the submission, the
assignment's tests, reference or ``assignment.yaml``, the grader's version, the backend and
sandbox mode, the Docker image; see ``grader.results.provenance``) and says how many and why,
and with ``regrade`` everyone; so a batch killed at any moment finishes on the next run with
every student graded exactly once. ``gradebook.csv`` is
rebuilt from those records. An ``infrastructure`` result is retried, and never replaces an
earlier good one. A ``needs_gpu`` record (GPU-only tests not run on a machine without a GPU)
counts as graded, as does ``import_error``; ``regrade_pending`` on a GPU machine grades
exactly the ``needs_gpu`` students again, which completes their pending points.

An output folder belongs to one assignment: ``batch.json`` names it (written by the first
batch; older folders are known by their records' ``assignment``), and a batch of another
assignment into it is refused before anything changes. A student graded before whose
submission is no longer in SUBMISSIONS is said once and their record folder moved to
``withdrawn/<key>/``: out of the gradebook, the pages, the similarity ranking and the exports
(all of which read ``students/``), never deleted; a student who comes back gets it back.

Before the first student the set-up is checked (the Docker engine, the image, the assignment
in it; the output folder), so a broken set-up is one message, not a class graded as failed.
While it runs:

- Ctrl-C once: the submissions being graded finish, nothing new starts; twice: everything
  stops at once (harnesses and containers killed, temporary folders removed). Either way the
  gradebook is written from what is done, and re-running the command resumes.
- The Docker engine going away: the batch waits for it (``engine_wait`` seconds), says so,
  and regrades what it lost; if it does not come back, what is left is marked
  ``infrastructure`` (graded on the next run) and the batch stops with one line.
- A full output disk: grading stops, the records already written stay intact, no temporary
  file is left, and the message says how much space the rest needs.

With ``scheduler`` the same tasks run on a Dask distributed cluster: each task receives the
submission's bytes and grades it with that machine's sandbox or Docker engine.
"""
from __future__ import annotations

import collections
import json
import os
import tempfile
import time
from pathlib import Path

from grader.batch.pools import make_pool
from grader.batch.progress import Progress
from grader.batch.stopping import CtrlC
from grader.batch.tasks import ENGINE_AWAY, failed_record
from grader.course.config import find_assignment
from grader.errors import BatchStopped, GraderError
from grader.intake.students import discover
from grader.results import provenance, reports
from grader.results.gradebook import (STUDENTS, OutOfSpace, pending_points, read_record,
                                      record_dir, summarize, write_gradebook, write_record)
from grader.results.outputs import prepare_folder
from grader.results.safe_text import visible
from grader.results.scoring import write_text_atomic
from grader.results.pages.build import write_pages
from grader.sandbox.confinement import require_confinement

ENGINE_RETRIES = 3  # times one student is regraded after the engine went away under it
GRADED = ("ok", "needs_gpu", "import_error")  # statuses kept while the record is current
OWNER = "batch.json"  # in an output folder: the assignment it belongs to
WITHDRAWN = "withdrawn"  # records of students whose submission is gone: OUT/withdrawn/<key>/


def batch(submissions, *, assignment: str, out, backend: str = "local", jobs: int = 2,
          scheduler: str | None = None, regrade: bool = False, image: str | None = None,
          progress: bool = True, engine_wait: float = 60.0,
          similarity: bool = False, regrade_pending: bool = False,
          allow_unconfined: bool = False) -> dict:
    """Grade every student in ``submissions``; write results, feedback, gradebook.csv and the
    HTML pages (``index.html``, a ``feedback.html`` per student). Each student's files as
    graded are kept beside their results (for ``grader similarity``); with ``similarity`` the
    pairs of submissions that share code are ranked too, linked from ``index.html``.

    The local backend as a normal user runs in plain mode, which does not confine file access:
    refused (``UnconfinedSandbox``) unless ``allow_unconfined``, which prints a warning. The
    summary says who was regraded and why (``stale``: reason -> count; ``changed``: those whose
    submission changed) and who has no submission any more (``withdrawn``)."""
    if not isinstance(jobs, int) or jobs < 1:
        raise GraderError(f"jobs must be a whole number of at least 1, not {jobs!r}")
    if backend not in ("local", "docker"):
        raise GraderError(f"unknown backend {backend!r} (use local or docker)")
    spec = find_assignment(assignment)
    if not scheduler:  # on a cluster the workers' sandboxes grade (tasks.grade_bytes checks)
        require_confinement(backend, allow_unconfined, command="batch")
    if regrade_pending:
        _require_gpu(backend, scheduler)
    out = prepare_folder(out)
    _claim_folder(out, spec.id)
    facts = None
    if backend == "docker" and not scheduler:
        facts = _check_docker(spec, image)
    # What this run grades with; on a cluster the workers' mode and image are their own.
    stamp = provenance.make(spec, submission_sha256=None, backend=backend, image=facts).to_dict()
    expected = {k: v for k, v in stamp.items() if k != "submission_sha256"
                and not (scheduler and k in ("sandbox_mode", "image_digest"))}
    pool = make_pool(backend, jobs, scheduler, spec.id, image, cuda=bool(spec.cuda.files),
                     allow_unconfined=allow_unconfined)
    try:
        with tempfile.TemporaryDirectory(prefix="grader-batch-") as scratch:
            students = discover(Path(submissions), spec.id, Path(scratch), exclude=[out])
            withdrawn, restored = _set_aside_withdrawn(out, students)
            todo, stale = _to_grade(out, students, regrade, regrade_pending, expected)
            changed = stale.get(provenance.REASONS["submission_sha256"], 0)
            skipped = len(students) - len(todo)
            for s in [s for s in todo if s.problem]:  # e.g. two submissions for one name
                _record(out, s, failed_record(s.name, s.key, spec.id, "submission_error",
                                              s.problem), spec, stamp)
            todo = [s for s in todo if not s.problem]
            run = _Run(pool, out, spec, Progress(len(todo), enabled=progress), engine_wait,
                       stamp)
            for note in (_withdrawn_note(out, withdrawn), _restored_note(restored),
                         _stale_note(stale)):
                if note:
                    run.progress.note(note)
            run.grade(todo)
            if run.stopped is None and run.out_of_space is None:
                _keep_missing_files(out, spec, students)
    finally:
        pool.close()
    summary = _write_outputs(out, spec, students, similarity=similarity)
    summary.update(graded_now=run.graded, skipped=skipped, changed=changed, stale=dict(stale),
                   regrading=_stale_note(stale), withdrawn=[name for name, _ in withdrawn],
                   restored=restored)
    run.raise_if_stopped(summary, len(students))
    return summary


def _claim_folder(out: Path, assignment: str) -> None:
    """An output folder belongs to one assignment: the one ``batch.json`` names, else the one
    its records were graded for. Another is refused (exit 2) before anything is changed; a
    folder of no assignment yet becomes ``assignment``'s."""
    marker = out / OWNER
    owners: set = set()
    try:
        owner = json.loads(marker.read_text(encoding="utf-8")).get("assignment")
        if isinstance(owner, str) and owner:
            owners.add(owner)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, AttributeError):
        pass  # unreadable: the records say it
    if not owners:
        for folder in (out / STUDENTS, out / WITHDRAWN):
            for record in sorted(folder.glob("*/results.json")) if folder.is_dir() else ():
                try:
                    owner = json.loads(record.read_text(encoding="utf-8")).get("assignment")
                except (OSError, ValueError, AttributeError):
                    continue
                if isinstance(owner, str) and owner:
                    owners.add(owner)
    others = sorted(owners - {assignment})
    if others:
        raise GraderError(
            f"{out}: this folder holds the grades of {', '.join(others)}, not {assignment}; "
            f"give {assignment} an --out folder of its own (nothing was changed)")
    if owners != {assignment} or not marker.is_file():
        write_text_atomic(marker, json.dumps({"assignment": assignment}) + "\n")


def _set_aside_withdrawn(out: Path, students) -> tuple[list[tuple[str, Path]], list[str]]:
    """Records in ``students/`` of students no longer in the class folder move to
    ``withdrawn/<key>/`` (``<key>.2``... when taken): kept, and out of every reader of the
    batch. A student back in the class folder without a record gets theirs back (then
    regraded if stale). Returns ([(name, new folder)], [names restored])."""
    root, aside = out / STUDENTS, out / WITHDRAWN
    keys = {s.key for s in students}
    withdrawn = []
    for folder in sorted(root.iterdir()) if root.is_dir() else ():
        if folder.name in keys or not (folder / "results.json").is_file():
            continue
        record = read_record(out, folder.name) or {}
        name = record.get("student") if isinstance(record.get("student"), str) else folder.name
        aside.mkdir(exist_ok=True)
        dest, n = aside / folder.name, 1
        while dest.exists():
            n += 1
            dest = aside / f"{folder.name}.{n}"
        os.replace(folder, dest)
        withdrawn.append((name, dest))
    restored = []
    for s in students:
        kept = aside / s.key
        if (kept / "results.json").is_file() and not record_dir(out, s.key).exists():
            root.mkdir(exist_ok=True)
            os.replace(kept, record_dir(out, s.key))
            restored.append(s.name)
    return withdrawn, restored


def _withdrawn_note(out: Path, withdrawn) -> str:
    if not withdrawn:
        return ""
    n = len(withdrawn)
    names = ", ".join(visible(name) for name, _ in withdrawn)
    where = withdrawn[0][1] if n == 1 else out / WITHDRAWN
    return (f"{n} student{'s' * (n != 1)} graded before {'has' if n == 1 else 'have'} no "
            f"submission any more: {names} — left out (record{'s' * (n != 1)} moved to "
            f"{where})")


def _restored_note(restored) -> str:
    if not restored:
        return ""
    n = len(restored)
    return (f"{n} student{'s' * (n != 1)} back in the class folder: "
            f"{', '.join(map(visible, restored))} — record{'s' * (n != 1)} restored from "
            f"{WITHDRAWN}/")


def _stale_note(stale) -> str | None:
    """``regrading 2 students: the assignment's tests ... changed since they were graded``."""
    total = sum(stale.values())
    if not total:
        return None
    reasons = sorted(stale.items(), key=lambda item: -item[1])
    why = reasons[0][0] if len(reasons) == 1 else \
        "; ".join(f"{reason} ({count})" for reason, count in reasons)
    return f"regrading {total} student{'s' * (total != 1)}: {why}"


def _keep_missing_files(out: Path, spec, students) -> None:
    """Students graded by an older batch have no copy of their files: keep one now (``grader
    similarity`` reads them there). Best effort: a full disk leaves the rest without."""
    from grader.similarity.sources import has_kept_files, keep_student_files
    for s in students:
        record = record_dir(out, s.key)
        if (record / "results.json").is_file() and not has_kept_files(record):
            try:
                keep_student_files(record, s.path, spec)
            except OSError:
                return


def _check_docker(spec, image):
    """The engine answers, the image exists and holds this assignment as it is now; and
    containers of dead batches are removed (never another live batch's). Returns the image's
    id and sandbox mode (``provenance.ImageFacts``)."""
    from grader.sandbox import docker as backend
    from grader.sandbox.image import check_image
    c = backend.client()
    image = image or os.environ.get("GRADER_IMAGE", backend.DEFAULT_IMAGE)
    check_image(spec, image, c)
    backend.reap(c)
    return provenance.image_facts(image, c)


def _to_grade(out: Path, students, regrade: bool, regrade_pending: bool = False,
              expected: dict | None = None):
    """The students to grade now, and why those graded before are graded again: a Counter
    of ``provenance.stale_reason`` (their record's provenance differs from ``expected``, this
    run's; the submission's hash is each student's). Graded records (``ok``; ``needs_gpu``,
    pending GPU points, unless ``regrade_pending``; ``import_error``) are kept while current;
    the others are always graded again."""
    todo, stale = [], collections.Counter()
    for s in students:
        old = read_record(out, s.key)
        status = old.get("status") if old else None
        if regrade or old is None or status not in GRADED \
                or status == "needs_gpu" and regrade_pending:
            todo.append(s)
        elif why := provenance.stale_reason(old, {**(expected or {}),
                                                  "submission_sha256": s.digest}):
            todo.append(s)
            stale[why] += 1
    return todo, stale


def _require_gpu(backend: str, scheduler: str | None) -> None:
    """--regrade-pending on a machine without a GPU would leave every point pending."""
    if scheduler or backend == "docker":
        return  # the GPU is the workers' (or the containers' host's); they report needs_gpu
    from grader.gpu.device import detect, why_not
    if detect() is None:
        raise GraderError(f"--regrade-pending needs a GPU, and {why_not()}: run it on a GPU "
                          "machine")


def _record(out: Path, student, results: dict, spec, stamp: dict) -> dict:
    """The student's files as graded (for ``grader similarity``), then their record, with its
    provenance (the task's, else ``stamp``: this run's) holding the student's content hash."""
    from grader.similarity.sources import keep_student_files
    origin = {**(results.get("provenance") or stamp), "submission_sha256": student.digest or None}
    if origin.get("image_digest") is None and stamp.get("image_digest"):
        origin["image_digest"] = stamp["image_digest"]  # the task's engine did not say; ours did
    results.update(student=student.name, key=student.key, provenance=origin,
                   submission_sha256=student.digest or None)
    try:
        keep_student_files(record_dir(out, student.key), student.path, spec)
    except OSError as e:
        if e.errno in (28, 122):  # ENOSPC, EDQUOT: stop like a record that cannot be written
            raise OutOfSpace(f"{out}: no space left for {student.key}'s files ({e})") from None
        raise
    return write_record(out, student.key, results)


class _Run:
    """One pass over the students to grade: submits at most as many as the pool runs at once,
    records each result as it arrives, and reacts to Ctrl-C, a lost engine and a full disk."""

    def __init__(self, pool, out: Path, spec, progress: Progress, engine_wait: float,
                 stamp: dict):
        self.pool, self.out, self.spec, self.progress = pool, out, spec, progress
        self.stamp = stamp  # this run's provenance, for records made here (no task's)
        self.engine_wait = engine_wait
        self.graded = 0
        self.stopped = None      # None, "finished running", "stopped at once"
        self.engine_lost = False  # the engine went away and did not come back in time
        self.out_of_space: OutOfSpace | None = None
        self.not_graded = 0

    def grade(self, todo) -> None:
        queue = collections.deque(todo)
        in_flight: dict = {}
        retries: collections.Counter = collections.Counter()
        engine_down_since = None
        next_ping = 0.0
        with CtrlC() as ctrl_c:
            try:
                while queue or in_flight:
                    if ctrl_c.stop_now or self.out_of_space:
                        self._stop_at_once(in_flight, queue)
                        return
                    if ctrl_c.finishing and self.stopped is None:
                        self.stopped = "finished running"
                        self.not_graded += len(queue)
                        queue.clear()
                        self.progress.note(
                            f"finishing the {len(in_flight)} submission"
                            f"{'s' * (len(in_flight) != 1)} being graded; press Ctrl-C again "
                            "to stop at once")
                    while queue and engine_down_since is None and len(in_flight) < self.pool.size:
                        student = queue.popleft()
                        in_flight[self.pool.submit(student)] = student
                    if engine_down_since is not None and time.monotonic() >= next_ping:
                        engine_down_since, next_ping = self._engine_check(
                            engine_down_since, queue, in_flight)
                    if not in_flight:
                        time.sleep(0.2)  # waiting for the engine, or about to finish
                        continue
                    for future in self.pool.wait(in_flight, timeout=0.25):
                        student = in_flight.pop(future)
                        results = self.pool.result(future, student)
                        if results.pop(ENGINE_AWAY, False) and self.stopped is None \
                                and not self.engine_lost \
                                and retries[student.key] < ENGINE_RETRIES:
                            retries[student.key] += 1
                            queue.appendleft(student)
                            if engine_down_since is None:
                                engine_down_since, next_ping = time.monotonic(), 0.0
                                self.progress.note(
                                    "the Docker engine is not answering; waiting up to "
                                    f"{self.engine_wait:g} s for it to come back")
                            continue
                        self._write(student, results)
            finally:
                self.progress.close()

    def _write(self, student, results: dict) -> None:
        try:
            _record(self.out, student, results, self.spec, self.stamp)
        except OutOfSpace as e:
            self.out_of_space = e
            self.not_graded += 1
            return
        self.graded += 1
        self.progress.graded(student.key, results["score"], results["max_score"],
                             results.get("status"), pending_points(results))

    def _engine_check(self, down_since, queue, in_flight):
        """While the engine is away: regrade once it answers; give up after engine_wait."""
        from grader.sandbox.docker import engine_answers
        if engine_answers(timeout=2.0):
            self.progress.note("the Docker engine answers again; resuming")
            return None, 0.0
        if time.monotonic() - down_since < self.engine_wait:
            return down_since, time.monotonic() + 2.0
        self.engine_lost = True
        self.not_graded += len(queue) + len(in_flight)
        for student in queue:  # graded on the next run: infrastructure is always retried
            self._write(student, failed_record(
                student.name, student.key, self.spec.id, "infrastructure",
                "not graded: the Docker engine was unavailable"))
        queue.clear()
        return None, 0.0

    def _stop_at_once(self, in_flight, queue) -> None:
        self.stopped = "stopped at once"
        self.not_graded += len(queue) + len(in_flight)
        killed = len(in_flight)
        queue.clear()
        self.pool.kill()
        in_flight.clear()
        if not self.out_of_space:
            self.progress.note(f"stopped: {killed} grading{'s' * (killed != 1)} killed, "
                               "nothing of them kept")

    def raise_if_stopped(self, summary: dict, total: int) -> None:
        if self.out_of_space:
            raise _out_of_space(self.out, self.out_of_space, self.not_graded, total)
        if self.engine_lost:
            raise BatchStopped(
                f"the Docker engine went away and did not come back within "
                f"{self.engine_wait:g} s: {self.not_graded} student"
                f"{'s' * (self.not_graded != 1)} not graded (marked infrastructure); start "
                "the engine and re-run the same command to resume", exit_code=3,
                summary=summary)
        if self.stopped:
            raise BatchStopped(
                f"interrupted ({self.stopped}): {summary['graded']}/{total} students graded; "
                "re-run the same command to resume", exit_code=130, summary=summary)


def _out_of_space(out: Path, error: OutOfSpace, left: int, total: int) -> OutOfSpace:
    sizes = [sum(f.stat().st_size for f in d.iterdir() if f.is_file())
             for d in (out / "students").iterdir() if d.is_dir()] \
        if (out / "students").is_dir() else []
    per_student = max(error.needed, int(sum(sizes) / len(sizes)) if sizes else 0)
    needed = per_student * max(left, 1) + 300 * (total + 1) + 200_000  # + gradebook, summary
    return OutOfSpace(f"{out}: the disk is full; about {_size(needed)} more is needed for the "
                      f"{max(left, 1)} student{'s' * (left != 1)} left, the gradebook and the "
                      "summary. The records already written are intact: free some space and "
                      "re-run the same command to resume", needed=needed)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} KB"


def _write_outputs(out: Path, spec, students, *, similarity: bool = False) -> dict:
    """gradebook.csv, summary.txt, summary.png and the HTML pages, from the records (each
    written whole or not at all); with ``similarity``, the similarity report first (the
    dashboard links it)."""
    try:
        rows = write_gradebook(out, spec, students)
        summary = summarize(out, spec, students)
        write_text_atomic(out / "summary.txt", reports.batch_summary(summary))
        summary["picture"] = reports.batch_picture(out, spec, rows)
        if similarity and rows:
            from grader.similarity.run import similarity as rank_similar
            summary["similarity"] = rank_similar(out, assignment=spec.id, dashboard=False)
        summary["report"] = str(write_pages(out, spec)) if rows else None
    except OutOfSpace as e:
        raise _out_of_space(out, e, 0, len(students)) from None
    except OSError as e:
        if e.errno in (28, 122):  # ENOSPC, EDQUOT
            raise _out_of_space(out, OutOfSpace(str(e)), 0, len(students)) from None
        raise
    return summary



