# ADVERSARIAL SUBMISSION `huge_output` (tests/adversarial): a copy of the
# correct example in which only the parts marked ATTACK differ.
#
# Prints 100 MB while the module loads (in a function called at import time) and 30 MB more on
# the first AddNode.forward call in each worker, then returns the CORRECT answers. Expected:
# every test still passes, and the output shown for the tests that triggered the prints
# (test_mulnode_forward_scalars, the first test, which loads the module; and
# test_addnode_forward_backward) is capped at the assignment's 64 KB. (Draining 100 MB takes
# the harness about 0.5 s on a 2-CPU machine, half of hw1's 1 s call budget, so the in-call
# print is smaller: a 100 MB print inside a call passes or times out depending on the machine's
# load.)
"""hw1_graph -- my solution.

Computation graph nodes with forward / backward, the lecture's small network,
and a numerical gradient to check backprop against.
"""

import numpy as np
import sys

_printed = []


def _spam(megabytes):
    """ATTACK: a flood of output (5 bytes at a time: "spam ")."""
    sys.stdout.write("spam " * (megabytes * 1024 * 1024 // 5))
    print("END OF SPAM")


_spam(100)  # 100 MB while the module loads


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
        if not _printed:  # ATTACK: 30 MB more, on the first call in each worker
            _printed.append(True)
            _spam(30)
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
