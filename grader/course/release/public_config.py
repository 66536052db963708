"""Release step: ``<out>/assignment.yaml``, the public copy of the assignment's config.

Only the keys students may see are kept: id, title, title_zh, files, provided, problems,
limits, seed, timing (shapes and limits for ``grader check``'s timing, nothing of a solution).
"""

from __future__ import annotations

from typing import Any

import yaml

from ._common import ReleaseContext, notice, write_text

PUBLIC_KEYS = ("id", "title", "title_zh", "files", "provided", "problems", "limits", "seed",
               "timing")


def public_config(config: dict[str, Any]) -> dict[str, Any]:
    """The public subset of ``config``, in a fixed key order."""
    return {k: config[k] for k in PUBLIC_KEYS if k in config}


class _Dumper(yaml.SafeDumper):
    """Block style, except a list of plain values on one line (``files: [graph.py]``,
    ``random: [2, 16, 32, 32]``)."""


def _list(dumper: yaml.SafeDumper, value: list):
    flat = all(isinstance(v, (str, int, float, bool)) or v is None for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flat)


_Dumper.add_representer(list, _list)


def render(config: dict[str, Any], assignment_id: str) -> str:
    body = yaml.dump(public_config(config), Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True, default_flow_style=False, width=100)
    return f"# {notice(assignment_id)}\n{body}"


def run(ctx: ReleaseContext) -> None:
    write_text(ctx.out / "assignment.yaml", render(ctx.config, ctx.assignment_id))
