"""Reading a kernel's PTX (trusted, harness side): shared memory, barriers, their use.

The compile check (``grader.gpu.compile_check``) returns the PTX of a student's kernel; these
figures decide the rules a simulator cannot see. A tiled kernel declares ``.shared`` arrays
(``cuda.shared.array``), stores to and loads from them (``st.shared`` / ``ld.shared``) and
waits at barriers (``bar.sync`` / ``barrier.sync``, from ``cuda.syncthreads()``). Presence is
not correct use: the tiling test judges presence only, and the value tests (and, on a GPU, the
speed test) judge the use, so that one mistake costs one penalty.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_STATIC_SHARED = 48 * 1024  # bytes a block may declare statically on every CUDA GPU

_SHARED_DECL = re.compile(r"^\s*(?:\.visible\s+|\.extern\s+|\.weak\s+)*\.shared\s+"
                          r"(?:\.align\s+\d+\s+)?\.(?:b|u|s|f)(\d+)\s+[\w$]+(?:\[(\d*)\])?",
                          re.MULTILINE)
_BARRIER = re.compile(r"^\s*(?:@%?\w+\s+)?(?:bar|barrier)(?:\.cta)?\.(?:sync|red|arrive)\b",
                      re.MULTILINE)
_LD_SHARED = re.compile(r"\bld\.shared(?:::cta)?\.", re.MULTILINE)
_ST_SHARED = re.compile(r"\bst\.shared(?:::cta)?\.", re.MULTILINE)


@dataclass(frozen=True)
class PtxFigures:
    shared_arrays: int      # static .shared declarations (dynamic `extern` ones excluded)
    shared_bytes: int       # their total size
    dynamic_shared: bool    # an `extern .shared` array (size set at launch)
    barriers: int           # bar.sync / barrier.sync instructions
    shared_loads: int
    shared_stores: int

    @property
    def tiled(self) -> bool:
        """Shared memory written and read, with at least one barrier between threads."""
        return ((self.shared_arrays > 0 or self.dynamic_shared) and self.shared_loads > 0
                and self.shared_stores > 0 and self.barriers > 0)


def analyze(ptx: str) -> PtxFigures:
    arrays, size, dynamic = 0, 0, False
    for match in _SHARED_DECL.finditer(ptx):
        bits, count = int(match.group(1)), match.group(2)
        if count == "" or ".extern" in match.group(0):
            dynamic = True
            continue
        arrays += 1
        size += bits // 8 * (int(count) if count else 1)
    return PtxFigures(shared_arrays=arrays, shared_bytes=size, dynamic_shared=dynamic,
                      barriers=len(_BARRIER.findall(ptx)),
                      shared_loads=len(_LD_SHARED.findall(ptx)),
                      shared_stores=len(_ST_SHARED.findall(ptx)))


def tiling_problems(kernel: str, figures: PtxFigures) -> list[str]:
    """What keeps ``kernel`` from counting as tiled through shared memory (empty: it is)."""
    problems = []
    if not (figures.shared_arrays or figures.dynamic_shared):
        problems.append(f"{kernel} declares no shared memory: load tiles of the inputs into "
                        "cuda.shared.array arrays and compute from them")
    elif not figures.shared_stores or not figures.shared_loads:
        problems.append(f"{kernel} declares shared arrays but does not both write and read "
                        "them")
    if not figures.barriers:
        problems.append(f"{kernel} has no barrier: cuda.syncthreads() must separate loading a "
                        "tile from using it (and using it from loading the next)")
    return problems


def limit_problems(kernel: str, figures: PtxFigures) -> list[str]:
    """Limits every GPU enforces on what a kernel declares."""
    if figures.shared_bytes > MAX_STATIC_SHARED:
        return [f"{kernel} declares {figures.shared_bytes} bytes of static shared memory: a GPU "
                f"allows at most {MAX_STATIC_SHARED} bytes (48 KiB) per block"]
    return []
