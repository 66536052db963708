"""Release step: the handouts.

``handout/README.en.md`` becomes ``<out>/README.md`` (required) and ``handout/README.zh.md``
becomes ``<out>/README.zh.md`` (when present), with ``{{title}}``, ``{{title_zh}}``, ``{{id}}``,
``{{files}}`` and ``{{points_table}}`` filled in from assignment.yaml. An unknown placeholder is
an error, so a typo never reaches students.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ._common import ReleaseContext, md_notice, read_source, write_text
from .errors import ReleaseError

PLACEHOLDER = re.compile(r"\{\{[ \t]*([A-Za-z0-9_]*)[ \t]*\}\}")
HANDOUTS = (("README.en.md", "README.md", "en", True), ("README.zh.md", "README.zh.md", "zh", False))

_HEADERS = {
    "en": ("Problem", "Title", "Points", "Total"),
    "zh": ("题号", "题目", "分值", "合计"),
}


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ").strip()


def _points(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def points_table(config: dict[str, Any], lang: str = "en", *, path: Path | str = "assignment.yaml") -> str:
    """A markdown table: one row per problem (id, title, points) and a total row."""
    problems = config.get("problems")
    if not isinstance(problems, list) or not problems:
        raise ReleaseError("'problems' must be a non-empty list", path=path)
    head_id, head_title, head_points, head_total = _HEADERS.get(lang, _HEADERS["en"])
    rows = [f"| {head_id} | {head_title} | {head_points} |", "| --- | --- | ---: |"]
    total: float = 0
    for i, prob in enumerate(problems):
        if not isinstance(prob, dict) or "id" not in prob:
            raise ReleaseError(f"problem #{i + 1} must be a mapping with an 'id'", path=path)
        pts = prob.get("points", 0)
        if isinstance(pts, bool) or not isinstance(pts, (int, float)):
            raise ReleaseError(f"problem {prob['id']!r}: 'points' must be a number, got {pts!r}", path=path)
        total += pts
        title = prob.get(f"title_{lang}") or prob.get("title", "")
        rows.append(f"| `{_cell(prob['id'])}` | {_cell(title)} | {_points(pts)} |")
    rows.append(f"| **{head_total}** | | **{_points(total)}** |")
    return "\n".join(rows)


def placeholders(config: dict[str, Any], lang: str, *, path: Path | str) -> dict[str, Any]:
    """Values for the placeholders (computed lazily: a callable is only run when used)."""
    files = config.get("files") or []
    values: dict[str, Any] = {
        "id": config.get("id"),
        "title": config.get("title"),
        "title_zh": config.get("title_zh") or config.get("title"),
        "files": ", ".join(f"`{f}`" for f in files) if files else None,
        "points_table": lambda: points_table(config, lang, path=path),
    }
    return values


def render(text: str, config: dict[str, Any], lang: str = "en", *, path: Path | str = "<handout>",
           config_path: Path | str = "assignment.yaml") -> str:
    """Fill in the placeholders of a handout template."""
    values = placeholders(config, lang, path=config_path)

    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        line = text.count("\n", 0, m.start()) + 1
        if key not in values:
            known = ", ".join("{{%s}}" % k for k in values)
            raise ReleaseError(f"unknown placeholder {m.group(0)!r} (known: {known})", path=path, line=line)
        value = values[key]
        if callable(value):
            value = value()
        if value is None:
            raise ReleaseError(f"placeholder {m.group(0)!r} needs '{key}' in assignment.yaml", path=path, line=line)
        return str(value)

    return PLACEHOLDER.sub(sub, text)


def run(ctx: ReleaseContext) -> None:
    for src_name, out_name, lang, required in HANDOUTS:
        src = ctx.source / "handout" / src_name
        if not src.is_file():
            if required:
                raise ReleaseError(f"the handout handout/{src_name} is missing", path=ctx.source)
            continue
        text = render(read_source(src), ctx.config, lang, path=src, config_path=ctx.source / "assignment.yaml")
        nl = "\r\n" if "\r\n" in text else "\n"
        write_text(ctx.out / out_name, md_notice(ctx.assignment_id) + nl + nl + text)
