# ADVERSARIAL SUBMISSION `pytest_exit` (tests/adversarial): a copy of the
# correct example in which only the parts marked ATTACK differ.
#
# import pytest; pytest.exit(returncode=0) inside numerical_gradient. Expected: error for every
# numerical_gradient test; the rest of the run is unaffected.
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
    # ATTACK: stop pytest with a successful exit status
    import pytest
    pytest.exit("all tests passed", returncode=0)
    return np.zeros_like(x, dtype=np.float64)
