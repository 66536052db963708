"""Release step: turn each reference file into the student's skeleton.

Every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region (markers on their own line, any
indentation) becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the BEGIN
marker's indentation; everything else is copied verbatim (line endings included).
"""

from __future__ import annotations

import re
from pathlib import Path

from ._common import ReleaseContext, add_py_notice, check_compiles, read_source, safe_relpath, write_text
from .errors import ReleaseError

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"


def _marker_re(marker: str) -> re.Pattern[str]:
    return re.compile(r"^([ \t]*)" + re.escape(marker) + r"[ \t]*(\r?\n|\r)?$")


def _lookalike_re(marker: str) -> re.Pattern[str]:
    # "# BEGIN SOLUTION", "##  END SOLUTION", "x = 1  ### BEGIN SOLUTION": near misses that
    # would silently leak the solution (or hidden tests) if they were ignored.
    words = r"[ \t]+".join(re.escape(w) for w in marker.split()[2:])
    return re.compile(r"(^[ \t]*#+[ \t]*(BEGIN|END)[ \t]+" + words + r"\b)|(###[ \t]*(BEGIN|END)[ \t]+" + words + r"\b)")


def find_regions(lines: list[str], begin: str, end: str, path: Path | str) -> list[tuple[int, int, str]]:
    """Return ``(begin_index, end_index, indent)`` for each marker region in ``lines``.

    ``lines`` keep their line endings; indices are 0-based. Raises ReleaseError (file and
    1-based line) for a marker not on its own line, a nested BEGIN, an END without BEGIN, and
    a BEGIN that is never closed.
    """
    begin_re, end_re = _marker_re(begin), _marker_re(end)
    lookalike = _lookalike_re(begin)
    regions: list[tuple[int, int, str]] = []
    open_at: int | None = None
    indent = ""
    for i, line in enumerate(lines):
        mb, me = begin_re.match(line), end_re.match(line)
        if mb:
            if open_at is not None:
                raise ReleaseError(f"nested {begin!r}: the region opened at line {open_at + 1} is not closed yet",
                                   path=path, line=i + 1)
            open_at, indent = i, mb.group(1)
        elif me:
            if open_at is None:
                raise ReleaseError(f"{end!r} without a matching {begin!r} before it", path=path, line=i + 1)
            regions.append((open_at, i, indent))
            open_at = None
        elif lookalike.search(line):
            raise ReleaseError(f"malformed marker {line.strip()!r}: write {begin!r} and {end!r} exactly, "
                               "each on its own line", path=path, line=i + 1)
    if open_at is not None:
        raise ReleaseError(f"{begin!r} is never closed by {end!r}", path=path, line=open_at + 1)
    return regions


def _ending(line: str) -> str:
    for nl in ("\r\n", "\n", "\r"):
        if line.endswith(nl):
            return nl
    return "\n"


def strip_solutions(text: str, *, path: Path | str = "<source>", require_markers: bool = True
                    ) -> tuple[str, list[int]]:
    """Return the skeleton for reference source ``text`` and its line map.

    ``line_map[i]`` is the 1-based source line that produced skeleton line ``i + 1``.
    With ``require_markers`` a file without any region is an error (the whole reference
    would be released to students).
    """
    lines = text.splitlines(keepends=True)
    regions = find_regions(lines, BEGIN, END, path)
    if not regions and require_markers:
        raise ReleaseError(f"no {BEGIN!r} ... {END!r} region: releasing it would hand out the reference "
                           "solution (a student file needs at least one region)", path=path)
    out: list[str] = []
    line_map: list[int] = []
    pos = 0
    for start, stop, indent in regions:
        out.extend(lines[pos:start])
        line_map.extend(range(pos + 1, start + 1))
        nl = _ending(lines[start])
        out.append(f"{indent}# YOUR CODE HERE{nl}")
        out.append(f"{indent}raise NotImplementedError(){nl}")
        line_map.extend([start + 1, start + 1])
        pos = stop + 1
    out.extend(lines[pos:])
    line_map.extend(range(pos + 1, len(lines) + 1))
    return "".join(out), line_map


def run(ctx: ReleaseContext) -> None:
    """Write ``<out>/<file>`` for every student file listed in the config."""
    cfg_path = ctx.source / "assignment.yaml"
    files = ctx.config.get("files")
    if not isinstance(files, list) or not files:
        raise ReleaseError("'files' must be a non-empty list of the student's files", path=cfg_path)
    for name in files:
        rel = safe_relpath(name, what="'files' entry", path=cfg_path)
        src = ctx.source / rel
        if not src.is_file():
            raise ReleaseError(f"student file {name!r} has no reference solution {src}", path=cfg_path)
        skeleton, line_map = strip_solutions(read_source(src), path=src, require_markers=True)
        if rel.suffix == ".py":
            check_compiles(skeleton, src, line_map, what="the generated skeleton")
            skeleton = add_py_notice(skeleton, ctx.assignment_id)
        write_text(ctx.out / rel, skeleton)
