# ADVERSARIAL SUBMISSION `nan_results` (tests/adversarial): a copy of the
# correct example in which only the parts marked ATTACK differ.
#
# MulNode.forward and backward return NaN (arrays of NaN, or a NaN scalar). Expected:
# wrong_answer for every MulNode test (NaN never equals anything).
"""hw1_graph -- my solution.

Computation graph nodes with forward / backward, the lecture's small network,
and a numerical gradient to check backprop against.
"""

import numpy as np


class MulNode:
    """out = x * y"""

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x, self.y = x, y
        return np.full(np.shape(x * y), np.nan)[()]  # ATTACK (wrong answer): NaN

    def backward(self, d_out):
        nan = np.full(np.shape(d_out * self.y), np.nan)[()]  # ATTACK (wrong answer): NaN
        return nan, nan


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
