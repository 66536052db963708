"""Release step: copy the *provided* helper modules (``provided:`` in assignment.yaml) unchanged.

They are working code students use but do not edit; at grading time the instructor's copy
replaces whatever the submission holds under that name, so they are read-only in effect.
"""

from __future__ import annotations

from ._common import ReleaseContext, add_py_notice, safe_relpath, write_text


def run(ctx: ReleaseContext) -> None:
    for name in ctx.config.get("provided", []) or []:
        rel = safe_relpath(name, what="provided file", path=ctx.source / "assignment.yaml")
        text = (ctx.source / rel).read_text(encoding="utf-8")
        write_text(ctx.out / rel, add_py_notice(text, ctx.assignment_id))
