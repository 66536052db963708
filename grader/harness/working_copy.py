"""What reaches the worker's folder (trusted): exactly the assignment's student files and the
course's provided modules, nothing else of the submission.

A submission may hold anything: a package ``layers/`` that Python would import instead of the
overlaid ``layers.py``, stray modules, ``.pth`` files, stale bytecode. ``declared_copy`` copies
only the files ``assignment.yaml`` names; ``note_ignored`` lists the rest in ``results.json``
and in the feedback. Both backends use them (the docker backend on the host, before the
submission is mounted into the container).
"""
from __future__ import annotations

import shutil
from pathlib import Path

MAX_LISTED = 50  # ignored files named in the feedback


def declared_copy(spec, submitted: Path, work: Path) -> list[str]:
    """Copy exactly the assignment's student files from the top of ``submitted`` into ``work``
    (nothing else reaches the worker: no packages shadowing a provided module, no stray
    modules, ``.pth`` files or bytecode); return what was left out, as relative paths."""
    work.mkdir(mode=0o755, exist_ok=True)
    for name in spec.files:
        if (submitted / name).is_file() and not (submitted / name).is_symlink():
            shutil.copyfile(submitted / name, work / name)
    return sorted(p.relative_to(submitted).as_posix() for p in submitted.rglob("*")
                  if (p.is_file() or p.is_symlink())
                  and p.relative_to(submitted).as_posix() not in spec.files)


def note_ignored(results: dict, ignored: list[str], provided=()) -> dict:
    """List the files of the submission that were not graded, in results.json and in the
    feedback (a provided module's copy is replaced by the course's)."""
    results["ignored_files"] = list(ignored)
    if ignored:
        shown = ", ".join(ignored[:MAX_LISTED]) + (
            f" and {len(ignored) - MAX_LISTED} more" if len(ignored) > MAX_LISTED else "")
        replaced = [name for name in ignored if name in provided]
        results["output"] += ("\nNot graded (only the assignment's files are): " + shown
                              + (f" ({', '.join(replaced)}: the course's copy is used)"
                                 if replaced else ""))
    return results


def overlay_provided(spec, source: Path, work: Path) -> None:
    """Put the course's provided helper modules over whatever the submission has under their
    names: students use them, and their edits to them do not count."""
    for name in spec.provided:
        if (source / name).is_file():
            shutil.copyfile(source / name, work / name)
