"""Notebook submissions: a Jupyter notebook (``.ipynb``, nbformat 4) instead of module files.

The notebook is parsed as data (JSON, then nbformat) and never executed here. The student's
code cells are assembled, in order, into the assignment's module files; everything else
(markdown, test cells, provided code that is not part of a module) is ignored. A student code
cell is a code cell that

- has nbgrader solution metadata (``metadata.nbgrader.solution: true``), or
- is tagged with a module's name (``graph`` or ``graph.py``), for courses without nbgrader;

grade cells (nbgrader tests, ``grade: true`` without ``solution``) never are. A cell goes to the
module its tag names; an untagged solution cell goes to the module its ``grade_id`` starts with
(``graph-MulNode``), or to the only module of a one-file assignment.

A submission with any of the module files is graded from those files (its notebooks are
ignored). A notebook with no student cells, with a ``grade_id`` used twice, that is not valid
JSON or not nbformat 4, is a :class:`SubmissionError` that says which.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

from grader.errors import InfrastructureError
from grader.intake.archive import SubmissionError, extract_submission

SUFFIX = ".ipynb"
#: Module cells are joined with two blank lines, as top-level definitions are in a module.
CELL_SEPARATOR = "\n\n\n"
MAX_NOTEBOOK_BYTES = 20_000_000  # a notebook given on its own (in an archive, its caps apply)
_SAFE_FILE_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,200}\.ipynb$")


@dataclass(frozen=True)
class StudentCell:
    """One cell of the student's code: where it was, and the module it belongs to."""

    index: int  # 1-based position in the notebook, as Jupyter users count
    module: str
    source: str


def _label(path: Path) -> str:
    return path.name


def _nbformat():
    try:
        import nbformat
    except ImportError:
        raise InfrastructureError("grading a notebook needs nbformat: "
                                  "pip install nbformat") from None
    return nbformat


def read_notebook(path: Path) -> dict:
    """The notebook at ``path`` as nbformat 4 data; a SubmissionError if it is not one."""
    label = _label(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_NOTEBOOK_BYTES + 1)
    except OSError as e:
        raise SubmissionError(f"{label}: cannot read the notebook ({e.strerror})") from None
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"{label}: the notebook is larger than "
                              f"{MAX_NOTEBOOK_BYTES // 1_000_000} MB; clear its outputs "
                              "(Kernel > Restart & Clear Output) and submit it again")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SubmissionError(f"{label}: not a notebook (the file is not UTF-8 text)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SubmissionError(f"{label}: not a notebook: invalid JSON at line {e.lineno}, "
                              f"column {e.colno} ({e.msg}); was the file cut short or "
                              "edited by hand?") from None
    except RecursionError:
        raise SubmissionError(f"{label}: not a notebook: its JSON is nested too deeply") from None
    if not isinstance(data, dict) or "cells" not in data:
        raise SubmissionError(f"{label}: not a notebook (no list of cells at the top level)")
    version = data.get("nbformat")
    if version != 4 or isinstance(version, bool):
        raise SubmissionError(f"{label}: notebook format {version!r} is not supported; save it "
                              "with Jupyter 4 or later (nbformat 4)")
    if not isinstance(data["cells"], list):
        raise SubmissionError(f"{label}: not a notebook (`cells` is not a list)")
    nbformat = _nbformat()
    try:
        # nbformat normalizes the cells (a source given as a list of lines becomes one string);
        # a notebook that breaks its schema in small ways (extra metadata) is still graded.
        with warnings.catch_warnings():  # e.g. cells without ids, from older Jupyters
            warnings.simplefilter("ignore")
            return nbformat.reads(text, as_version=nbformat.NO_CONVERT,
                                  capture_validation_error={})
    except Exception as e:  # nbformat fails in many ways on odd data: all are the file's fault
        raise SubmissionError(f"{label}: not a readable notebook ({type(e).__name__}: "
                              f"{str(e)[:200]})") from None


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _nbgrader(cell) -> dict:
    return _mapping(_mapping(cell.get("metadata")).get("nbgrader"))


def _tags(cell) -> list[str]:
    tags = _mapping(cell.get("metadata")).get("tags")
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def _source(cell) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def _check_grade_ids(cells: list, label: str) -> None:
    """nbgrader's own rule: the cells it tracks need distinct ``grade_id``s."""
    seen: dict[str, int] = {}
    for index, cell in enumerate(cells, 1):
        meta = _nbgrader(cell)
        if not any(meta.get(k) is True for k in ("grade", "solution", "locked", "task")):
            continue
        grade_id = meta.get("grade_id")
        if not isinstance(grade_id, str):
            continue
        if grade_id in seen:
            raise SubmissionError(
                f"{label}: cells {seen[grade_id]} and {index} have the same grade_id "
                f"{grade_id!r} (a copied cell?); each nbgrader cell needs its own grade_id: "
                "delete the copy, or paste its code into the original cell")
        seen[grade_id] = index


def _module_of(cell, index: int, modules: list[str], label: str) -> str | None:
    """The module a cell belongs to, or None when it is not the student's code."""
    if not isinstance(cell, dict) or cell.get("cell_type") != "code":
        return None
    meta = _nbgrader(cell)
    solution = meta.get("solution") is True
    if meta.get("grade") is True and not solution:
        return None  # a test cell, even if someone tagged it
    named = []
    for tag in _tags(cell):
        stem = tag[:-3] if tag.endswith(".py") else tag
        if stem in modules and stem not in named:
            named.append(stem)
    if len(named) > 1:
        raise SubmissionError(f"{label}: cell {index} is tagged with two files "
                              f"({', '.join(named)}); a cell belongs to one")
    if named:
        return named[0]
    if not solution:
        return None
    grade_id = meta.get("grade_id") if isinstance(meta.get("grade_id"), str) else ""
    by_id = [m for m in modules if grade_id.startswith(m + "-")]
    if by_id:
        return max(by_id, key=len)
    if len(modules) == 1:
        return modules[0]
    raise SubmissionError(f"{label}: cell {index} (grade_id {grade_id!r}) holds your code but "
                          f"does not say which file it belongs to: tag it with one of "
                          f"{', '.join(modules)}")


def student_cells(notebook: dict, modules: list[str], label: str) -> list[StudentCell]:
    """The student's code cells of ``notebook``, in order, each with its module."""
    cells = notebook.get("cells", [])
    _check_grade_ids(cells, label)
    found = []
    for index, cell in enumerate(cells, 1):
        module = _module_of(cell, index, modules, label)
        if module is not None:
            found.append(StudentCell(index, module, _source(cell)))
    return found


# What compiling a cell can raise: a syntax error, a NUL byte, or nesting too deep for the
# compiler (a crafted cell); the cell then goes into the module as it is.
_UNCOMPILABLE = (SyntaxError, ValueError, RecursionError, MemoryError)


def _without_magics(source: str) -> str:
    """IPython magics (``%timeit``, ``!ls``) turned into comments, when that is what stops the
    cell from compiling as Python (line numbers are kept)."""
    try:
        compile(source, "<cell>", "exec", dont_inherit=True)  # compiled only, never run
        return source
    except _UNCOMPILABLE:
        pass
    lines = source.split("\n")
    changed = [("# " + line) if line.lstrip().startswith(("%", "!")) else line for line in lines]
    fixed = "\n".join(changed)
    try:
        compile(fixed, "<cell>", "exec", dont_inherit=True)
    except _UNCOMPILABLE:
        return source  # a real syntax error: the student sees it as usual
    return fixed


def assemble(cells: list[StudentCell], modules: list[str]) -> dict[str, str]:
    """Module name -> its source: the module's cells in notebook order."""
    texts = {}
    for module in modules:
        parts = [_without_magics(c.source).rstrip() for c in cells if c.module == module]
        if parts:
            texts[module] = CELL_SEPARATOR.join(parts) + "\n"
    return texts


def notebook_modules(path: Path, modules: list[str]) -> dict[str, str]:
    """The module files a notebook holds (module name -> source); SubmissionError if none."""
    label = _label(path)
    cells = student_cells(read_notebook(path), modules, label)
    if not cells:
        raise SubmissionError(
            f"{label}: no cells with your code: write it in the notebook's solution cells "
            f"(nbgrader) or tag your code cells with the file they belong to "
            f"({', '.join(modules)})")
    return assemble(cells, modules)


def find_notebooks(folder: Path) -> list[Path]:
    """The notebooks at the top of a submission folder, by name."""
    return sorted(p for p in folder.iterdir()
                  if p.suffix == SUFFIX and p.is_file() and not p.is_symlink())


def assemble_into(folder: Path, files: tuple[str, ...] | list[str]) -> Path | None:
    """Write the module ``files`` from the notebook in ``folder`` (a private working copy),
    unless the submission already has any of them. Returns the notebook used, or None."""
    if any((folder / name).exists() for name in files):
        return None
    notebooks = find_notebooks(folder)
    if not notebooks:
        return None
    modules = [Path(name).stem for name in files]
    if len(notebooks) == 1:
        chosen, texts = notebooks[0], notebook_modules(notebooks[0], modules)
    else:
        holding = {}
        for path in notebooks:
            cells = student_cells(read_notebook(path), modules, _label(path))
            if cells:
                holding[path] = assemble(cells, modules)
        if len(holding) != 1:
            names = ", ".join(p.name for p in (holding or notebooks))
            what = "hold code cells" if holding else "hold no code cells of yours"
            raise SubmissionError(f"{folder.name or 'submission'}: the notebooks {names} {what};"
                                  " submit the one notebook with your work")
        chosen, texts = next(iter(holding.items()))
    for module, text in texts.items():
        (folder / f"{module}.py").write_text(text, encoding="utf-8")
    return chosen


def _copy_notebook(src: Path, dest: Path) -> None:
    """A notebook given on its own becomes a one-file folder."""
    if src.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"{src.name}: the notebook is larger than "
                              f"{MAX_NOTEBOOK_BYTES // 1_000_000} MB; clear its outputs")
    name = src.name if _SAFE_FILE_NAME.match(src.name) else "submission.ipynb"
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ValueError(f"{dest}: the destination folder must be empty")
    shutil.copyfile(src, dest / name, follow_symlinks=False)


def unpack_submission(src: str | os.PathLike, dest: str | os.PathLike, files) -> Path:
    """A submission (folder, .zip or .ipynb) as a private folder of module ``files``.

    Folders and zips are unpacked defensively (``intake.archive``); a notebook, given on its
    own or inside them, is assembled into the module files it holds.
    """
    return unpack_with_notebook(src, dest, files)[0]


def unpack_with_notebook(src: str | os.PathLike, dest: str | os.PathLike,
                         files) -> tuple[Path, str | None]:
    """``unpack_submission``, and the notebook the module files came from (its path relative
    to ``dest``; None when the submission had them itself)."""
    src, dest = Path(src), Path(dest)
    if src.suffix.lower() == SUFFIX and src.is_file() and not src.is_symlink():
        _copy_notebook(src, dest)
    else:
        extract_submission(src, dest)
    try:
        used = assemble_into(dest, files)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest, (used.relative_to(dest).as_posix() if used is not None else None)


def checkout_for_check(path: Path, files, dest: Path) -> Path | None:
    """For ``grader check``: the module ``files`` assembled into ``dest`` from the notebook
    ``path``, or from the notebooks of folder ``path`` when it has none of the files itself.
    None when there is no notebook to use (the folder's module files are checked)."""
    path = Path(path)
    if path.is_file():
        return unpack_submission(path, dest, files)
    if any((path / name).is_file() for name in files) or not find_notebooks(path):
        return None
    dest.mkdir(parents=True)
    for notebook in find_notebooks(path):
        shutil.copyfile(notebook, dest / notebook.name)  # read_notebook caps what it reads
    assemble_into(dest, files)
    return dest
