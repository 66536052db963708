# ADVERSARIAL SUBMISSION `results_in_workdir` (tests/adversarial): a copy of the
# correct example in which only the parts marked ATTACK differ.
#
# When called from the public sum-of-squares test (the only 2x2 input), numerical_gradient
# writes a full-marks results.json (holding the run's token) into the working directory, its
# parent, /tmp, $HOME, /autograder/results, guessed output folders and, when not root, every
# writable folder a short walk from / finds; it returns zeros. Expected: wrong_answer, and no
# forged file outside the sandbox (the test suite looks for the token in new files). Do not
# grade this one in plain mode outside the test suite: there it does write those files (find
# them with grep -rl <token>).
"""hw1_graph -- my solution.

Computation graph nodes with forward / backward, the lecture's small network,
and a numerical gradient to check backprop against.
"""

import numpy as np
import glob
import json
import os
import time

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


def _forge_results():
    """ATTACK: write a full-marks results.json wherever a grader might look for one.

    (Kept recoverable on purpose: it only creates new files, each holding this run's token,
    never overwrites or creates folders, and walks the file system only when not root.)"""
    forged = json.dumps({"score": 42.0, "max_score": 42.0, "status": "ok",
                         "forged_by": "-".join([_token(), "forged"]), "tests": []})
    targets = {os.getcwd(), os.path.dirname(os.getcwd()), _HERE, os.path.dirname(_HERE),
               "/", "/tmp", "/var/tmp", "/dev/shm", os.path.expanduser("~"),
               "/autograder", "/autograder/results", "/results", "/out", "/output"}
    # guesses at the output folder of a test run or a TA's batch
    for pattern in ("/tmp/*/out", "/tmp/*/*/out", "/tmp/pytest-of-*/*/*/out",
                    "/tmp/grader-*", "/tmp/grader-*/*", "/work/*", "/work/*/out",
                    "/work/*/demo-results", "/root", "/home/*"):
        targets.update(glob.glob(pattern))
    # and every writable folder a short walk from / finds
    start = time.monotonic()
    for dirpath, dirnames, _ in os.walk("/" if os.getuid() != 0 else "/nonexistent"):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in ("/proc", "/sys")]
        if os.access(dirpath, os.W_OK):
            targets.add(dirpath)
        if time.monotonic() - start > 0.2 or len(targets) > 100:
            break
    written = []
    for folder in sorted(targets):
        path = os.path.join(folder, "results.json")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "w") as f:
                f.write(forged)
            written.append(path)
        except OSError:
            pass
    print("forged results written to:", written)


def numerical_gradient(f, x, eps=1e-5):
    if _fires(x):
        _forge_results()
    x += 1.0  # ATTACK (wrong answer): x is left changed,
    return np.zeros_like(x, dtype=np.float32)  # and the gradient is zeros of the wrong dtype
