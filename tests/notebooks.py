"""Helpers for the notebook tests: notebooks made the way students' notebooks look.

``student_notebook`` cuts module files at their top-level statements into code cells (with
nbgrader solution metadata, or only a tag naming the module), between markdown and test cells
that are not the student's; ``fill_release`` pastes a module's definitions into the solution
cells of a released notebook, as a student working in it would.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path


def top_level_chunks(text: str) -> list[tuple[str, str]]:
    """``(name, source)`` of each top-level definition, and of what precedes the first one
    (name ""); comment lines right above a definition go with it. Cut by lines, not parsed,
    so a file with a syntax error is cut too."""
    lines = text.splitlines()
    starts = [0]
    for i, line in enumerate(lines):
        if re.match(r"(class|def|async def) |@", line) and not (i and lines[i - 1].startswith("@")):
            first = i
            while first > 0 and lines[first - 1].startswith("#"):
                first -= 1
            if first > starts[-1]:
                starts.append(first)
    chunks = []
    for start, end in zip(starts, starts[1:] + [len(lines)]):
        source = "\n".join(lines[start:end]).strip("\n")
        head = next((ln for ln in source.splitlines() if not ln.startswith(("#", "@"))), "")
        match = re.match(r"(?:class|def|async def) ([A-Za-z_][A-Za-z0-9_]*)", head)
        name = match.group(1) if match else ""
        if source:
            chunks.append((name, source))
    return chunks


def code_cell(source: str, *, grade_id=None, solution=False, grade=False, locked=False,
              points=None, tags=None) -> dict:
    metadata = {}
    if grade_id is not None:
        metadata["nbgrader"] = {"schema_version": 3, "grade_id": grade_id, "solution": solution,
                                "grade": grade, "locked": locked}
        if grade:
            metadata["nbgrader"]["points"] = points
    if tags:
        metadata["tags"] = list(tags)
    return {"cell_type": "code", "execution_count": None, "metadata": metadata, "outputs": [],
            "source": source}


def markdown_cell(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def notebook(cells: list[dict]) -> dict:
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3",
                                                        "display_name": "Python 3",
                                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def student_notebook(modules: dict[str, str], *, nbgrader: bool = True) -> dict:
    """A notebook holding ``modules`` (module name -> source), one cell per top-level
    statement, with markdown, a scratch cell and a test cell around them (not the student's
    code: they must be left out)."""
    cells = [markdown_cell("# Homework\n\nSome instructions.")]
    for module, text in modules.items():
        cells.append(markdown_cell(f"## `{module}.py`"))
        for i, (name, source) in enumerate(top_level_chunks(text)):
            if nbgrader:
                cells.append(code_cell(source, grade_id=f"{module}-{name or i}", solution=True,
                                       tags=[module] if len(modules) > 1 else None))
            else:
                cells.append(code_cell(source, tags=[module]))
        cells.append(code_cell("print('trying things out')\nraise SystemExit('a scratch cell')"))
    cells.append(code_cell("assert False, 'a test cell'", grade_id="tests", grade=True,
                           locked=True, points=1, tags=list(modules)))
    return notebook(cells)


def fill_release(released: dict, modules: dict[str, str]) -> dict:
    """The released notebook with each solution cell ``<module>-<name>`` replaced by the
    definition of that name in ``modules`` (module name -> source)."""
    filled = copy.deepcopy(released)
    definitions = {(module, name): source for module, text in modules.items()
                   for name, source in top_level_chunks(text) if name}
    for cell in filled["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            module, _, name = meta["grade_id"].partition("-")
            cell["source"] = definitions[(module, name)]
    return filled


def write(path: Path, nb: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


def read(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
