"""Unpack a student's submission (a folder or a .zip) into a private folder, defensively.

Everything a submission can do to an unpacker is refused with a specific
:class:`SubmissionError`: paths that escape (``..``, absolute, drive letters), symbolic links,
device files, duplicate or odd names (NUL, control characters), too many files, and sizes over
the caps, measured on the bytes actually decompressed (header sizes are never trusted). Nothing
is written outside ``dest``; when extraction fails, ``dest`` is left empty (or removed, when
this call created it).

Junk that archivers and editors add (``__MACOSX/``, ``.DS_Store``, ``__pycache__/``, ...) is
skipped. A zip whose files all sit in one top-level folder is flattened.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import unicodedata
import zipfile
from pathlib import Path, PurePosixPath

from grader import errors

__all__ = ["SubmissionError", "extract_submission", "JUNK_DIRS", "JUNK_FILES"]

log = logging.getLogger(__name__)

#: Folders skipped wherever they appear (with everything inside).
JUNK_DIRS = frozenset({"__MACOSX", "__pycache__", ".git", ".hg", ".svn", ".ipynb_checkpoints",
                       ".pytest_cache", ".mypy_cache", ".ruff_cache", ".idea", ".vscode", ".venv",
                       "venv", ".tox"})
#: Files skipped wherever they appear (also: AppleDouble ``._*`` files and ``*.pyc``).
JUNK_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})

MAX_DEPTH = 16  # folder levels inside a submission
MAX_NAME_CHARS = 255  # one path component
_CHUNK = 64 * 1024


class SubmissionError(errors.SubmissionError):
    """The submission cannot be unpacked: unreadable, malformed, malicious or over a limit.

    A subclass of :class:`grader.errors.SubmissionError` (and so of ``GraderError``): whoever
    catches those catches this, and the message is meant for the student.
    """


def _show(name: str, limit: int = 120) -> str:
    """A name as it can be printed safely: control characters escaped, long names cut."""
    out = "".join(c if c.isprintable() or c == " " or unicodedata.category(c) == "Zs" else
                  f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}" for c in name)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def _mb(n: int) -> str:
    return f"{n / 1_000_000:g} MB"


def _is_junk(parts: tuple[str, ...]) -> bool:
    if any(p in JUNK_DIRS for p in parts[:-1]):
        return True
    last = parts[-1]
    return last in JUNK_DIRS or last in JUNK_FILES or last.startswith("._") or last.endswith((".pyc", ".pyo"))


def _bad_char(name: str) -> str | None:
    """The first character that has no business in a file name (control, format, surrogate)."""
    for c in name:
        if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            return c
    return None


def _describe_char(c: str) -> str:
    if c == "\x00":
        return "a NUL byte"
    cat = unicodedata.category(c)
    if cat == "Cs":
        return "a byte that is not valid UTF-8"
    if cat == "Cc":
        return f"a control character ({_show(c)})"
    return f"an invisible formatting character ({_show(c)})"


class _Budget:
    """Counts files and bytes against the caps while writing."""

    def __init__(self, label: str, max_files: int, max_total_bytes: int, max_file_bytes: int):
        self.label, self.max_files = label, max_files
        self.max_total, self.max_file = max_total_bytes, max_file_bytes
        self.files = 0
        self.total = 0

    def add_file(self, shown: str) -> None:
        self.files += 1
        if self.files > self.max_files:
            raise SubmissionError(f"{self.label}: too many files (more than {self.max_files}); "
                                  "submit only your solution files")

    def add_bytes(self, shown: str, file_bytes: int, n: int) -> None:
        self.total += n
        if file_bytes > self.max_file:
            raise SubmissionError(f"{self.label}: '{shown}' is larger than {_mb(self.max_file)} "
                                  f"(the limit per file) when uncompressed")
        if self.total > self.max_total:
            raise SubmissionError(f"{self.label}: the files add up to more than {_mb(self.max_total)} "
                                  "(the limit for a submission) when uncompressed")


def _open_new(dest_root: Path, rel: PurePosixPath, label: str) -> int:
    """Create ``dest_root/rel`` as a new file, creating parent folders; never follows links."""
    shown = _show(str(rel))
    parent = dest_root
    try:
        for part in rel.parts[:-1]:
            parent = parent / part
            try:
                os.mkdir(parent, 0o755)
            except FileExistsError:
                if parent.is_symlink() or not parent.is_dir():
                    raise SubmissionError(f"{label}: '{shown}': '{part}' is both a file and a folder") from None
        target = parent / rel.parts[-1]
        # Belt and braces: everything under dest was created by us, but check anyway.
        if not str(target.resolve()).startswith(str(dest_root.resolve()) + os.sep):
            raise SubmissionError(f"{label}: '{shown}' escapes the submission folder")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        return os.open(target, flags, 0o644)
    except OSError as exc:
        raise SubmissionError(f"{label}: cannot create '{shown}' ({exc.strerror or exc})") from None


def _copy_stream(read, fd: int, shown: str, budget: _Budget) -> int:
    written = 0
    while True:
        chunk = read(_CHUNK)
        if not chunk:
            return written
        written += len(chunk)
        budget.add_bytes(shown, written, len(chunk))
        view = memoryview(chunk)
        while view:
            n = os.write(fd, view)
            view = view[n:]


# --------------------------------------------------------------------------- zip


def _zip_entry_path(info: zipfile.ZipInfo, label: str) -> tuple[PurePosixPath, bool]:
    """Validate one entry's name and type; return its relative path and whether it is a folder."""
    raw = info.orig_filename  # zipfile cuts the name at a NUL byte; the original keeps it
    shown = _show(raw)
    bad = _bad_char(raw) or _bad_char(info.filename)
    if bad is not None:
        raise SubmissionError(f"{label}: entry '{shown}' has {_describe_char(bad)} in its name")
    name = raw.replace("\\", "/")
    if name.startswith("/") or (len(name) >= 2 and name[1] == ":" and name[0].isalpha()):
        raise SubmissionError(f"{label}: entry '{shown}' has an absolute path")
    is_dir = name.endswith("/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SubmissionError(f"{label}: entry '{shown}' escapes the submission folder")
    if not parts:
        raise SubmissionError(f"{label}: entry '{shown}' has an empty name")
    if len(parts) > MAX_DEPTH:
        raise SubmissionError(f"{label}: entry '{shown}' is nested more than {MAX_DEPTH} folders deep")
    if any(len(p) > MAX_NAME_CHARS for p in parts):
        raise SubmissionError(f"{label}: entry '{shown}' has a name longer than {MAX_NAME_CHARS} characters")
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if mode and kind:
        if stat.S_ISLNK(mode):
            raise SubmissionError(f"{label}: entry '{shown}' is a symbolic link; links are not accepted")
        if stat.S_ISDIR(mode):
            is_dir = True
        elif not stat.S_ISREG(mode):
            what = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
                    stat.S_IFIFO: "a named pipe", stat.S_IFSOCK: "a socket"}.get(kind, "a special file")
            raise SubmissionError(f"{label}: entry '{shown}' is {what}; only regular files are accepted")
    if info.flag_bits & 0x1:
        raise SubmissionError(f"{label}: entry '{shown}' is encrypted; submit an archive without a password")
    return PurePosixPath(*parts), is_dir


def _plan_zip(zf: zipfile.ZipFile, label: str, max_files: int) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    infos = zf.infolist()
    if len(infos) > 10 * max_files + 100:
        raise SubmissionError(f"{label}: too many entries ({len(infos)}); submit only your solution files")
    files: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    seen: dict[PurePosixPath, str] = {}
    for info in infos:
        rel, is_dir = _zip_entry_path(info, label)
        if is_dir:  # folders are made as needed for the files in them
            continue
        if _is_junk(rel.parts):
            continue
        if rel in seen:
            raise SubmissionError(f"{label}: '{_show(str(rel))}' appears more than once in the archive")
        seen[rel] = info.orig_filename
        files.append((info, rel))
    if len(files) > max_files:
        raise SubmissionError(f"{label}: too many files ({len(files)}, the limit is {max_files}); "
                              "submit only your solution files")
    # A path used both as a file and as a folder ("a" and "a/b.py").
    for rel in seen:
        for parent in rel.parents:
            if parent in seen:
                raise SubmissionError(f"{label}: '{_show(str(parent))}' is both a file and a folder")
    if not files:
        raise SubmissionError(f"{label}: the archive contains no files")
    # One top-level folder holding everything: flatten it.
    tops = {rel.parts[0] for _, rel in files}
    if len(tops) == 1 and all(len(rel.parts) > 1 for _, rel in files):
        files = [(info, PurePosixPath(*rel.parts[1:])) for info, rel in files]
    return files


def _extract_zip(src: Path, dest: Path, label: str, budget: _Budget) -> None:
    try:
        zf = zipfile.ZipFile(src)
    except Exception as exc:  # crafted central directories fail in many ways
        raise SubmissionError(f"{label}: not a readable zip archive ({exc})") from None
    with zf:
        plan = _plan_zip(zf, label, budget.max_files)
        for info, rel in plan:
            shown = _show(str(rel))
            budget.add_file(shown)
            fd = _open_new(dest, rel, label)
            try:
                with zf.open(info) as f:
                    written = _copy_stream(f.read, fd, shown, budget)
            except SubmissionError:
                raise
            except Exception as exc:  # BadZipFile (bad CRC, overlapping entries), zlib.error, ...
                raise SubmissionError(f"{label}: entry '{_show(info.orig_filename)}' cannot be read "
                                      f"(corrupt or unsupported archive: {exc})") from None
            finally:
                os.close(fd)
            if written != info.file_size:
                raise SubmissionError(f"{label}: entry '{_show(info.orig_filename)}' does not match "
                                      "its header (corrupt or tampered archive)")


# --------------------------------------------------------------------------- folder


def _copy_folder(src: Path, dest: Path, label: str, budget: _Budget) -> None:
    dest_real = dest.resolve()

    def walk(folder: Path, rel: PurePosixPath) -> None:
        if len(rel.parts) > MAX_DEPTH:
            raise SubmissionError(f"{label}: '{_show(str(rel))}' is nested more than {MAX_DEPTH} folders deep")
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise SubmissionError(f"{label}: cannot read folder '{_show(str(rel) or '.')}' ({exc.strerror})") from None
        for entry in entries:
            child = rel / entry.name
            shown = _show(str(child))
            bad = _bad_char(entry.name)
            if bad is not None:
                raise SubmissionError(f"{label}: '{shown}' has {_describe_char(bad)} in its name")
            if entry.is_symlink():
                log.warning("%s: skipping symbolic link '%s'", label, shown)
                continue
            if entry.is_dir(follow_symlinks=False):
                if entry.name in JUNK_DIRS or Path(entry.path).resolve() == dest_real:
                    continue
                walk(Path(entry.path), child)
                continue
            if _is_junk(child.parts):
                continue
            if not entry.is_file(follow_symlinks=False):
                log.warning("%s: skipping '%s' (not a regular file)", label, shown)
                continue
            _copy_file(Path(entry.path), child, shown)

    def _copy_file(path: Path, rel: PurePosixPath, shown: str) -> None:
        budget.add_file(shown)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        try:
            rfd = os.open(path, flags)
        except OSError as exc:
            raise SubmissionError(f"{label}: cannot read '{shown}' ({exc.strerror})") from None
        try:
            if not stat.S_ISREG(os.fstat(rfd).st_mode):  # swapped for something else meanwhile
                raise SubmissionError(f"{label}: '{shown}' is not a regular file")
            wfd = _open_new(dest, rel, label)
            try:
                _copy_stream(lambda n: os.read(rfd, n), wfd, shown, budget)
            except OSError as exc:
                raise SubmissionError(f"{label}: cannot copy '{shown}' ({exc.strerror})") from None
            finally:
                os.close(wfd)
        finally:
            os.close(rfd)

    walk(src, PurePosixPath())
    if budget.files == 0:
        raise SubmissionError(f"{label}: the folder contains no files")


# --------------------------------------------------------------------------- entry point


def _clear(dest: Path, created: bool) -> None:
    if created:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for child in list(dest.iterdir()):
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def extract_submission(src: str | os.PathLike, dest: str | os.PathLike, *, max_files: int = 200,
                       max_total_bytes: int = 20_000_000, max_file_bytes: int = 5_000_000) -> Path:
    """Copy a submission folder, or unpack a submission .zip, into ``dest``; return ``dest``.

    ``dest`` must not exist or be an empty folder. Raises :class:`SubmissionError` with a
    message fit for the student when the submission is unreadable, malicious or over a cap;
    ``dest`` is then left empty (removed if this call created it).
    """
    src, dest = Path(src), Path(dest).absolute()
    label = src.name or src.absolute().name or str(src)
    if not os.path.lexists(src):
        raise SubmissionError(f"{label}: no such file or folder")
    if src.is_symlink():
        raise SubmissionError(f"{label}: is a symbolic link; give the folder or the .zip itself")
    created = False
    if os.path.lexists(dest):
        if dest.is_symlink() or not dest.is_dir():
            raise ValueError(f"{dest}: the destination must be a folder, not a file or a link")
        if any(dest.iterdir()):
            raise ValueError(f"{dest}: the destination folder must be empty")
    else:
        dest.mkdir(parents=True)
        created = True
    budget = _Budget(label, max_files, max_total_bytes, max_file_bytes)
    try:
        if src.is_dir():
            src_real, dest_real = src.resolve(), dest.resolve()
            if dest_real == src_real:
                raise ValueError(f"{dest}: the destination must differ from the submission folder")
            _copy_folder(src, dest, label, budget)
        elif src.is_file():
            if not zipfile.is_zipfile(src):
                if src.suffix.lower() == ".zip":
                    raise SubmissionError(f"{label}: not a readable zip archive")
                raise SubmissionError(f"{label}: expected a folder or a .zip file")
            _extract_zip(src, dest, label, budget)
        else:
            raise SubmissionError(f"{label}: expected a folder or a .zip file, not a special file")
    except BaseException:
        _clear(dest, created)
        raise
    return dest
