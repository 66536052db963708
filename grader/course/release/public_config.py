"""Release step: ``<out>/assignment.yaml``, the public copy of the assignment's config.

Only the keys students may see are kept: id, title, title_zh, files, provided, cuda, problems,
limits, seed.
"""

from __future__ import annotations

from typing import Any

import yaml

from ._common import ReleaseContext, notice, write_text

PUBLIC_KEYS = ("id", "title", "title_zh", "files", "provided", "cuda", "problems", "limits",
               "seed")


def public_config(config: dict[str, Any]) -> dict[str, Any]:
    """The public subset of ``config``, in a fixed key order."""
    return {k: config[k] for k in PUBLIC_KEYS if k in config}


def render(config: dict[str, Any], assignment_id: str) -> str:
    body = yaml.safe_dump(public_config(config), sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=100)
    return f"# {notice(assignment_id)}\n{body}"


def run(ctx: ReleaseContext) -> None:
    write_text(ctx.out / "assignment.yaml", render(ctx.config, ctx.assignment_id))
