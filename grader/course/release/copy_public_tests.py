"""Release step: copy the public tests into ``<out>/tests/``.

Only ``tests/public/*.py`` is copied; ``tests/hidden/`` never is. Inside the public files,
``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` regions (markers included) are removed.
"""

from __future__ import annotations

from pathlib import Path

from ._common import ReleaseContext, add_py_notice, check_compiles, read_source, write_text
from .errors import ReleaseError
from .strip_solutions import find_regions

BEGIN = "### BEGIN HIDDEN TESTS"
END = "### END HIDDEN TESTS"


def strip_hidden_tests(text: str, *, path: Path | str = "<source>") -> tuple[str, list[int]]:
    """Remove every hidden-tests region, markers included; return the text and its line map."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    line_map: list[int] = []
    pos = 0
    for start, stop, _indent in find_regions(lines, BEGIN, END, path):
        out.extend(lines[pos:start])
        line_map.extend(range(pos + 1, start + 1))
        pos = stop + 1
    out.extend(lines[pos:])
    line_map.extend(range(pos + 1, len(lines) + 1))
    return "".join(out), line_map


def public_test_files(source: Path) -> list[Path]:
    """The files this step copies, sorted; raises if there are none."""
    folder = source / "tests" / "public"
    if not folder.is_dir():
        raise ReleaseError("no public tests: the folder tests/public/ is missing", path=source)
    files = sorted(p for p in folder.iterdir() if p.suffix == ".py")
    for p in files:
        # A symlink could point into tests/hidden/ and publish the hidden suite.
        if p.is_symlink() or not p.is_file():
            raise ReleaseError("public tests must be regular files, not links or folders", path=p)
    if not any(p.name.startswith("test_") for p in files):
        raise ReleaseError("no public tests: tests/public/ has no test_*.py file", path=folder)
    return files


def run(ctx: ReleaseContext) -> None:
    for src in public_test_files(ctx.source):
        text, line_map = strip_hidden_tests(read_source(src), path=src)
        check_compiles(text, src, line_map, what="the public test file (hidden regions removed)")
        write_text(ctx.out / "tests" / src.name, add_py_notice(text, ctx.assignment_id))
