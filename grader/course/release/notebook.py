"""Release step (``grader release ID --notebook``): the assignment as one nbgrader notebook.

Writes ``<out>/<id>.ipynb`` (nbformat 4, nbgrader cell metadata schema 3):

- the handout (``README.md``, ``README.zh.md``) as locked markdown cells;
- each student file, cut at its top-level definitions: a definition holding a solution region
  becomes a *solution cell* (its signature and docstring, the region kept as
  ``### BEGIN SOLUTION`` / ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` /
  ``### END SOLUTION``, so nbgrader's ``generate_assignment`` accepts it and no solution is in
  it); the rest of the file (docstring, imports, helpers) goes in *locked* cells. All of them are
  tagged with the file's module name, which is how the grader puts them back together
  (``grader.intake.notebook``);
- the provided helper modules as locked code cells (the copy beside the notebook is the one
  imported and graded);
- one locked *test cell* per problem (``grade_id`` = the problem's id, ``points`` = its points),
  which runs the public tests of that problem on the saved notebook with ``grader check``.

The step runs with :mod:`.copy_public_tests`, :mod:`.copy_provided` and :mod:`.public_config`
into a folder of its own (``<out>-notebook``), which is what an nbgrader course puts in
``source/<id>/``.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from grader.intake.notebook import assemble, student_cells

from ._common import ReleaseContext, md_notice, read_source, safe_relpath, write_text
from .errors import ReleaseError
from .handout import HANDOUTS, render
from .strip_solutions import BEGIN, END, find_regions

SCHEMA_VERSION = 3
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
KERNEL = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
          "language_info": {"name": "python"}}


@dataclass
class Chunk:
    """Consecutive top-level statements of a module: one notebook cell."""

    text: str
    solution: bool
    name: str  # the first definition's name ("" for docstring and imports)


def marked_stubs(text: str, *, path: Path | str = "<source>") -> str:
    """The reference with each solution region's body replaced by the stub, markers kept.

    What nbgrader calls a source notebook, without the solution: ``generate_assignment``
    turns each marked region into the same stub the module release has.
    """
    lines = text.splitlines(keepends=True)
    out, pos = [], 0
    for start, stop, indent in find_regions(lines, BEGIN, END, path):
        out.extend(lines[pos:start])
        out.extend(f"{indent}{line}\n" for line in (BEGIN, *STUB, END))
        pos = stop + 1
    out.extend(lines[pos:])
    return "".join(line.rstrip("\r\n") + "\n" for line in out)


def split_module(text: str, *, path: Path | str = "<source>") -> list[Chunk]:
    """Cut module source at its top-level statements.

    A definition holding a ``### BEGIN SOLUTION`` line is a chunk of its own (a solution
    cell); the statements between such definitions are grouped (a locked cell). Comment lines
    right above a definition belong to it. Joining the chunks' texts with
    ``intake.notebook.CELL_SEPARATOR`` gives the module back, up to blank lines.
    """
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise ReleaseError(f"does not parse: {exc.msg}", path=path, line=exc.lineno) from None
    lines = text.splitlines()
    starts = []
    for node in tree.body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        while first > 0 and lines[first - 1].startswith("#"):  # its comment block
            first -= 1
        starts.append(max(first, starts[-1] + 1) if starts else 0)
    spans = list(zip(starts, starts[1:] + [len(lines)]))
    chunks: list[Chunk] = []
    for node, (start, stop) in zip(tree.body, spans):
        body = "\n".join(lines[start:stop]).strip("\n")
        solution = any(line.strip() == BEGIN for line in lines[start:stop])
        name = getattr(node, "name", "")
        if not solution and chunks and not chunks[-1].solution:
            chunks[-1].text += "\n\n" + body if body else ""
            continue
        chunks.append(Chunk(body, solution, name))
    for chunk in chunks:
        chunk.text = chunk.text.strip("\n")
    return [c for c in chunks if c.text]


def _nbgrader(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {"schema_version": SCHEMA_VERSION, "grade": grade, "solution": solution,
            "locked": locked, "grade_id": grade_id}
    if grade:
        meta["points"] = points
    return meta


def _cell_id(grade_id: str) -> str:
    """nbformat's cell ids are at most 64 characters; grade ids may be longer."""
    if len(grade_id) <= 64:
        return grade_id
    return grade_id[:55] + "-" + hashlib.sha1(grade_id.encode()).hexdigest()[:8]


def _cell(kind: str, source: str, cell_id: str, nbgrader: dict | None = None,
          tags: list[str] | None = None) -> dict:
    metadata: dict = {}
    if nbgrader:
        metadata["nbgrader"] = nbgrader
        if nbgrader["locked"]:  # Jupyter's own read-only flags, also without nbgrader
            metadata.update(editable=False, deletable=False)
    if tags:
        metadata["tags"] = tags
    cell = {"cell_type": kind, "id": _cell_id(cell_id), "metadata": metadata, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _unique(grade_id: str, used: set[str]) -> str:
    candidate, n = grade_id, 2
    while candidate in used:
        candidate, n = f"{grade_id}-{n}", n + 1
    used.add(candidate)
    return candidate


def _instructions(ctx: ReleaseContext, notebook_name: str, modules: list[str]) -> str:
    files = ", ".join(f"`{m}.py`" for m in modules)
    return "\n".join([
        "## How to work in this notebook",
        "",
        f"Your code goes in the editable cells under each file's heading ({files}): replace "
        "`# YOUR CODE HERE` and the `raise NotImplementedError()` below it. The grader puts "
        "those cells back together, in order, into the files it grades; locked cells, "
        "markdown and the test cells are not part of your submission. Keep the names, "
        "arguments and return values as they are.",
        "",
        "The test cells at the end run the public tests on the **saved** notebook: save "
        f"(Ctrl-S) before you run them. In a terminal, `grader check {notebook_name}` does the "
        "same for all problems. Passing them does not mean full marks: hidden tests decide "
        "the grade.",
        "",
        "Submit this notebook (or the module files, not both).",
    ])


def _test_cell_source(notebook_name: str, problem: dict) -> str:
    title = " ".join(str(problem.get("title", "")).split())  # one line: it is a comment
    return "\n".join([
        f"# Public tests of problem `{problem['id']}`: {title}",
        f"# ({problem['points']:g} points with the hidden tests). They check the "
        "saved notebook: save it first.",
        "from grader.api import check_notebook",
        f"check_notebook({notebook_name!r}, problem={problem['id']!r})",
    ])


def build(ctx: ReleaseContext) -> dict:
    """The notebook as a plain nbformat 4 dict (deterministic: fixed cell ids)."""
    config = ctx.config
    notebook_name = f"{ctx.assignment_id}.ipynb"
    cfg_path = ctx.source / "assignment.yaml"
    modules = [Path(f).stem for f in config.get("files", [])]
    cells: list[dict] = []
    used: set[str] = set()

    def add(kind, source, grade_id, **kw):
        grade_id = _unique(grade_id, used)
        nbg = _nbgrader(grade_id, **kw) if kw or grade_id else None
        cells.append(_cell(kind, source, grade_id, nbg, tags))

    tags = None
    for src_name, _out, lang, required in HANDOUTS:
        src = ctx.source / "handout" / src_name
        if src.is_file():
            text = render(read_source(src), config, lang, path=src, config_path=cfg_path)
            add("markdown", md_notice(ctx.assignment_id) + "\n\n" + text.strip(),
                f"handout-{lang}", locked=True)
    add("markdown", _instructions(ctx, notebook_name, modules), "instructions", locked=True)
    for name in config.get("provided", []) or []:
        rel = safe_relpath(name, what="provided file", path=cfg_path)
        add("markdown", f"## Provided: `{rel}`\n\nWorking code your files import; the copy "
            "beside this notebook is the one used (and graded), so do not edit it.",
            f"provided-{Path(rel).stem}-about", locked=True)
        add("code", read_source(ctx.source / rel).strip("\n"), f"provided-{Path(rel).stem}",
            locked=True)
    for name in config.get("files", []):
        rel = safe_relpath(name, what="'files' entry", path=cfg_path)
        module = Path(rel).stem
        tags = None
        add("markdown", f"## Your code: `{rel}`", f"{module}-heading", locked=True)
        tags = [module]
        text = marked_stubs(read_source(ctx.source / rel), path=ctx.source / rel)
        for chunk in split_module(text, path=ctx.source / rel):
            if chunk.solution:
                add("code", chunk.text, f"{module}-{chunk.name or 'code'}", solution=True)
            else:
                add("code", chunk.text, f"{module}-provided", locked=True)
        tags = None
    add("markdown", "## Check your work", "tests-heading", locked=True)
    for problem in config.get("problems", []):
        add("code", _test_cell_source(notebook_name, problem), problem["id"], grade=True,
            locked=True, points=problem["points"])
    return {"cells": cells, "metadata": dict(KERNEL), "nbformat": 4, "nbformat_minor": 5}


def module_texts(notebook: dict, modules: list[str]) -> dict[str, str]:
    """What the grader assembles from this notebook (for checks at release time)."""
    return assemble(student_cells(notebook, modules, "notebook"), modules)


def run(ctx: ReleaseContext) -> None:
    notebook = build(ctx)
    try:
        import nbformat
    except ImportError:
        raise ReleaseError("--notebook needs nbformat: pip install nbformat") from None
    try:  # the notebook schema; nbgrader's cell schema is tested against it
        nbformat.validate(nbformat.from_dict(notebook))
    except nbformat.ValidationError as exc:
        raise ReleaseError(f"the notebook is not valid nbformat 4: {exc.message}",
                           path=ctx.source / "assignment.yaml") from None
    for module, text in module_texts(notebook, [Path(f).stem for f in ctx.config["files"]]).items():
        try:
            compile(text, f"{module}.py", "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise ReleaseError(f"the notebook's cells of {module}.py do not compile: {exc.msg}",
                               path=ctx.source / f"{module}.py") from None
    write_text(ctx.out / f"{ctx.assignment_id}.ipynb",
               json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n")


__all__ = ["Chunk", "build", "marked_stubs", "module_texts", "run", "split_module"]
