"""A small hw1 class for the page tests, graded for real: some honest students, one whose
name, output, exception message and source line carry markup, script and terminal escapes, a
corrupt zip (a submission error), a grader failure, and a record whose name is a script."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from grader import batch
from grader.results.gradebook import write_record

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "submissions" / "hw1_graph"

# Each payload sets window.pwned (or the title) if it ever runs as script.
SCRIPT = "<script>window.pwned = 'script'; document.title = 'pwned'</script>"
IMG = "<img src=x onerror=\"window.pwned='img'\">"
ESCAPES = "\x1b[2J\x1b[1;1HALL TESTS PASSED\x1b]8;;http://example.invalid\x07link\u202e"
HOSTILE_NAME = "<img src=x onerror=window.pwned=1>"
QUOTE_NAME = 'q" onclick="window.pwned=2'
SCRIPT_NAME = "<script>window.pwned='name'</script>"
HOSTILE_GRAPH = f'''
MESSAGE = {("</pre>" + SCRIPT + IMG + ESCAPES)!r}


class AddNode:
    def forward(self, x, y):
        print({(SCRIPT + IMG + ESCAPES)!r})
        return x + y

    def backward(self, d_out):
        raise ValueError(MESSAGE)  # <script>window.pwned='traceback'</script>
'''

HONEST = {"alice": "correct", "bob": "forgets_dout", "dave": "syntax_error",
          "erin": "swaps_dx_dy"}


def make_class(root: Path) -> Path:
    """The submissions folder."""
    for name, example in HONEST.items():
        shutil.copytree(EXAMPLES / example, root / name)
    for name in (HOSTILE_NAME, QUOTE_NAME):
        (root / name).mkdir(parents=True)
        # One file, as the assignment asks: the correct nodes pasted above the hostile ones.
        correct = (EXAMPLES / "correct" / "graph.py").read_text()
        (root / name / "graph.py").write_text(correct.replace("class AddNode:", "class _Unused:")
                                              + HOSTILE_GRAPH)
    (root / "frank.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    return root


def grade_class(root: Path) -> Path:
    """Grade the class for real into ``root/out``, add a grader failure and a record whose
    name is a script, and return the output folder (pages not yet rebuilt for the additions)."""
    subs = make_class(root / "subs")
    out = root / "out"
    batch.batch(subs, assignment="hw1_graph", out=out, jobs=2, progress=False)
    alice = json.loads(next(out.rglob("alice/results.json")).read_text())
    zero = {pid: {**p, "score": 0.0, "kinds": ["infrastructure"]}
            for pid, p in alice["problems"].items()}
    write_record(out, "grace", {**alice, "student": "grace", "score": 0.0, "problems": zero,
                                "status": "infrastructure", "tests": [],
                                "output": "the grader could not start a worker: " + SCRIPT})
    write_record(out, "mallory", {**alice, "student": SCRIPT_NAME, "submission": SCRIPT_NAME})
    return out


def hostile_folders(out: Path) -> list[Path]:
    """The folders of the students whose code printed and raised the payloads."""
    return sorted(p.parent for p in out.rglob("results.json")
                  if "window.pwned = 'script'" in "".join(
                      t["output"] for t in json.loads(p.read_text())["tests"]))
