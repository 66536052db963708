"""``grader release <id>``: generate the student release ``assignments/<id>/`` from ``solutions/<id>/``.

nbgrader-style, as small single-purpose steps run in order on a :class:`ReleaseContext`:

1. :mod:`.strip_solutions`   reference files -> skeletons (solution regions replaced)
2. :mod:`.copy_public_tests` ``tests/public/*.py`` -> ``tests/`` (hidden regions removed)
3. :mod:`.copy_provided`     provided helper modules (``provided:``), unchanged
4. :mod:`.handout`           ``handout/README.{en,zh}.md`` -> ``README.md``, ``README.zh.md``
5. :mod:`.public_config`     public copy of ``assignment.yaml``

With ``notebook=True`` (``grader release ID --notebook``) a second folder, ``<out>-notebook``,
gets the assignment as one nbgrader notebook (:mod:`.notebook`) with the public tests, the
provided modules and the public config beside it: what an nbgrader course puts in
``source/<id>/``.

The steps write into a temporary sibling of the output folder, which is then swapped in with one
atomic ``renameat2(RENAME_EXCHANGE)`` where the platform has it (two renames with rollback
otherwise), so a failed release leaves the previous one untouched.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from grader.course.config import REPO_ROOT, load_assignment
from grader.course.config import solutions_dir as default_solutions

from . import copy_provided, copy_public_tests, handout, notebook, public_config, strip_solutions
from ._common import ReleaseContext, notice
from .errors import ReleaseError

__all__ = ["NOTEBOOK_STEPS", "ReleaseContext", "ReleaseError", "STEPS", "check_release_up_to_date",
           "notebook_folder", "notice", "release"]

ASSIGNMENT_ID = re.compile(r"^[a-z0-9_]+$")

#: The release steps, in order. Each takes the ReleaseContext and writes under ``ctx.out``.
STEPS: Sequence[Callable[[ReleaseContext], None]] = (
    strip_solutions.run,
    copy_public_tests.run,
    copy_provided.run,
    handout.run,
    public_config.run,
)

#: The notebook release (``--notebook``): the notebook, and what its test cells need beside it.
NOTEBOOK_STEPS: Sequence[Callable[[ReleaseContext], None]] = (
    notebook.run,
    copy_public_tests.run,
    copy_provided.run,
    public_config.run,
)

# Files a student's or instructor's tools leave in a release folder; ignored when comparing.
_IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints", ".mypy_cache", ".DS_Store"}


def _load_config(path: Path) -> dict[str, Any]:
    """Read ``assignment.yaml`` as a dict for the steps, after ``load_assignment`` validated it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReleaseError("missing: every assignment needs an assignment.yaml", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReleaseError(f"cannot read: {exc}", path=path) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ReleaseError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", path=path, line=line) from None
    if not isinstance(data, dict):
        raise ReleaseError("must be a YAML mapping (id, title, files, problems, ...)", path=path)
    load_assignment(path)  # the full validation (types, unknown keys, files, duplicates)
    return data


def _paths(assignment_id: str, solutions_dir: str | os.PathLike | None,
           out_dir: str | os.PathLike | None) -> tuple[Path, Path]:
    if not isinstance(assignment_id, str) or not ASSIGNMENT_ID.match(assignment_id):
        raise ReleaseError(f"assignment id {assignment_id!r} must match [a-z0-9_]+")
    solutions = Path(solutions_dir) if solutions_dir is not None else default_solutions()
    source = (solutions / assignment_id).absolute()
    out = Path(out_dir) if out_dir is not None else default_release(source)
    out = out.absolute()
    if not source.is_dir():
        raise ReleaseError(f"no such assignment: {source} is not a folder")
    src_real, out_real = source.resolve(), out.resolve()
    if out_real == src_real or out_real in src_real.parents or src_real in out_real.parents:
        raise ReleaseError(f"the release folder {out} must lie outside the sources {source}")
    return source, out


def default_release(source: Path) -> Path:
    """Where the release of ``<solutions>/<id>`` goes by default: ``assignments/<id>`` beside
    the solutions folder (the repository's ``assignments/`` for its ``solutions/``)."""
    return Path(source).parent.parent / "assignments" / Path(source).name


def _rename_exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2). False where unsupported."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except Exception:  # not Linux/glibc, or no renameat2 symbol
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _swap_in(new: Path, out: Path) -> None:
    """Put the finished folder ``new`` at ``out``, replacing what was there."""
    if not os.path.lexists(out):
        os.rename(new, out)
        return
    if not out.is_dir():
        raise ReleaseError(f"{out} exists and is not a folder; not replacing it")
    if _rename_exchange(new, out):
        _remove(new)  # now the previous release
        return
    old = out.with_name(f".{out.name}.old-{secrets.token_hex(4)}")
    os.rename(out, old)
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(old, out)
        raise
    _remove(old)


def build(ctx: ReleaseContext, steps: Sequence[Callable[[ReleaseContext], None]] = STEPS) -> None:
    """Run the steps on ``ctx`` (no swapping; ``ctx.out`` must be an empty folder)."""
    for step in steps:
        step(ctx)


def notebook_folder(out: str | os.PathLike) -> Path:
    """Where ``release(..., notebook=True)`` puts the notebook release of release folder ``out``."""
    out = Path(out).absolute()
    return out.with_name(out.name + "-notebook")


def release(assignment_id: str, *, solutions_dir: str | os.PathLike | None = None,
            out_dir: str | os.PathLike | None = None, notebook: bool = False) -> Path:
    """Generate the student release of ``assignment_id`` and return its folder.

    Reads ``<solutions_dir>/<id>/`` (default: $GRADER_SOLUTIONS, else the repo's
    ``solutions/``) and replaces ``out_dir`` (default: ``assignments/<id>`` beside the
    solutions folder) as a whole. Raises ReleaseError for problems in the sources; the
    previous release is then left as it was. With ``notebook``, also (re)writes
    :func:`notebook_folder` ``(out_dir)`` with the nbgrader notebook.
    """
    source, out = _paths(assignment_id, solutions_dir, out_dir)
    config = _load_config(source / "assignment.yaml")
    if config.get("id") != assignment_id:
        raise ReleaseError(f"'id' is {config.get('id')!r}; it must equal the folder name {assignment_id!r}",
                           path=source / "assignment.yaml")
    targets = [(out, STEPS)] + ([(notebook_folder(out), NOTEBOOK_STEPS)] if notebook else [])
    out.parent.mkdir(parents=True, exist_ok=True)
    built = []
    try:
        for target, steps in targets:  # both built before either replaces what was there
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=out.parent))
            built.append((tmp, target))
            tmp.chmod(0o755)
            build(ReleaseContext(assignment_id=assignment_id, source=source, out=tmp,
                                 config=config), steps)
        for tmp, target in built:
            _swap_in(tmp, target)
    except BaseException:
        for tmp, _target in built:
            _remove(tmp)
        raise
    return out


def _files(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _IGNORED_PARTS)
        for name in filenames:
            if name in _IGNORED_PARTS or name.endswith((".pyc", ".pyo")):
                continue
            p = Path(dirpath, name)
            found[p.relative_to(root).as_posix()] = p
    return found


def _first_diff_line(a: bytes, b: bytes) -> int:
    for i, (x, y) in enumerate(zip(a.split(b"\n"), b.split(b"\n"))):
        if x != y:
            return i + 1
    return min(a.count(b"\n"), b.count(b"\n")) + 1


def check_release_up_to_date(assignment_id: str, *, solutions_dir: str | os.PathLike | None = None,
                             out_dir: str | os.PathLike | None = None) -> list[str]:
    """Differences between a fresh release and the committed one (empty list: up to date).

    Line endings are compared loosely (``\\r\\n`` == ``\\n``) so a checkout with autocrlf passes.
    """
    _source, out = _paths(assignment_id, solutions_dir, out_dir)
    try:
        shown = out.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        shown = str(out)
    with tempfile.TemporaryDirectory(prefix="grader-release-check-") as td:
        fresh = release(assignment_id, solutions_dir=solutions_dir, out_dir=Path(td) / assignment_id)
        if not out.is_dir():
            return [f"{shown}: no release there; run `grader release {assignment_id}`"]
        want, have = _files(fresh), _files(out)
        diffs: list[str] = []
        for rel in sorted(want.keys() | have.keys()):
            if rel not in have:
                diffs.append(f"{shown}/{rel}: missing (a fresh release writes it)")
            elif rel not in want:
                diffs.append(f"{shown}/{rel}: not produced by a fresh release (stale or hand-made)")
            elif have[rel].is_symlink():
                diffs.append(f"{shown}/{rel}: is a symbolic link; a release writes a regular file")
            else:
                a = want[rel].read_bytes().replace(b"\r\n", b"\n")
                b = have[rel].read_bytes().replace(b"\r\n", b"\n")
                if a != b:
                    diffs.append(f"{shown}/{rel}: differs from a fresh release "
                                 f"(first difference at line {_first_diff_line(a, b)})")
        return diffs
