"""The kinds of sandboxed process a worker template can fork (``sandbox/template.py``), and
which kind a sandbox's worker is (``sandbox/local.py``): its entry point and the variables its
environment adds to the clean one. A template starts with the same variables, since numba reads
the simulator's switch once, at import."""
from __future__ import annotations

SIMULATOR_ENV = {"NUMBA_ENABLE_CUDASIM": "1", "MALLOC_ARENA_MAX": "2"}
# The compile check sets its compiler up for the target named here (its own TARGET_VAR).
COMPILE_TARGET_VAR = "GRADER_COMPILE_TARGET"
# kind: (the entry point its workers run, the variables their environment adds)
KINDS = {"worker": ("grader.untrusted.worker", {}),
         "cuda-sim": ("grader.untrusted.worker", SIMULATOR_ENV),
         "compile": ("grader.gpu.compile_check", {})}


def kind_for(entry: str, extra_env: dict) -> str | None:
    """The template kind that can fork a worker of ``entry`` with ``extra_env``, or None."""
    for kind, (kind_entry, env) in KINDS.items():
        extra = {k: v for k, v in extra_env.items() if k != COMPILE_TARGET_VAR} \
            if kind == "compile" else extra_env
        if entry == kind_entry and extra == env:
            return kind
    return None
