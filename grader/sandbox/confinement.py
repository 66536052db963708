"""Whether the local backend confines a submission's file access here, and the TA's consent
when it does not.

Plain mode (the local backend run as a normal user) limits time, memory and processes but not
what the worker can read: a submission can find and run the reference solution or read the
hidden tests. ``check`` (a student on their own files) and the demo accept that; ``grade`` and
``batch`` refuse it unless the TA passes ``--allow-unconfined`` (``allow_unconfined=True``),
and then say so on stderr. ``GRADER_ALLOW_UNCONFINED=1`` gives the same consent where no flag
can be passed to every call (the project's own test suite run as a normal user); the warning
is printed all the same.
"""
from __future__ import annotations

import os
import sys

from grader.errors import UnconfinedSandbox

FLAG = "--allow-unconfined"
ENV = "GRADER_ALLOW_UNCONFINED"  # "1": the flag's consent for every call of this process

BANNER = """\
grader: WARNING: grading UNCONFINED (--allow-unconfined, plain sandbox mode): the submissions'
grader: code can read every file your user can read, the reference solutions and hidden tests
grader: included, so a submission can score points it did not earn. Do not publish these grades;
grader: grade as root (jail mode) or with --backend docker for that. results.json records the
grader: mode (provenance.sandbox_mode: plain)."""


def allowed(allow_unconfined: bool) -> bool:
    """The TA's consent to grade unconfined: the flag, or ``GRADER_ALLOW_UNCONFINED=1``."""
    return allow_unconfined or os.environ.get(ENV) == "1"


def require_confinement(backend: str, allow_unconfined: bool, *, command: str) -> None:
    """Refuse (``UnconfinedSandbox``, exit 3) to grade with the local backend in plain mode
    unless ``allow_unconfined``; print the banner when the TA allowed it."""
    if backend != "local":
        return
    from grader.sandbox.local import default_mode
    if default_mode() != "plain":
        return
    if not allowed(allow_unconfined):
        raise UnconfinedSandbox(
            f"`grader {command}` would grade in plain sandbox mode (the local backend run "
            "without root), which does not confine file access: a submission could read the "
            f"reference solutions and hidden tests. Run it as root (jail mode), use --backend docker, or pass {FLAG} "
            "(allow_unconfined=True in Python) to grade unconfined anyway (for trying things "
            "out, not for grades you publish)")
    print(BANNER, file=sys.stderr, flush=True)
