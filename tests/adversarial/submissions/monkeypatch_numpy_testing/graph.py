# ADVERSARIAL SUBMISSION `monkeypatch_numpy_testing` (tests/adversarial): a copy of the
# correct example in which only the parts marked ATTACK differ.
#
# At import time, patch np.testing.assert_allclose, np.allclose, np.isclose, np.array_equal,
# builtins.abs, pytest.approx and grader.testing.assert_close so that every comparison passes.
# MulNode.backward and numerical_gradient return zeros. Expected: the patches only affect the
# worker; numerical_gradient's tests fail as wrong_answer.
"""hw1_graph -- my solution.

Computation graph nodes with forward / backward, the lecture's small network,
and a numerical gradient to check backprop against.
"""

import numpy as np

# ATTACK: make every comparison succeed, in case the tests run in this process.
import builtins
import numpy.testing


class _Anything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False


def _always_passes(*args, **kwargs):
    return None


np.testing.assert_allclose = _always_passes
np.testing.assert_array_almost_equal = _always_passes
np.testing.assert_array_equal = _always_passes
np.testing.assert_equal = _always_passes
np.testing.assert_almost_equal = _always_passes
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)
builtins.abs = lambda value: 0 * value  # every error is zero
try:
    import pytest
    pytest.approx = lambda *args, **kwargs: _Anything()
except ImportError:
    pass
try:  # the helper the public tests use, in case the grader is importable from here
    import grader.testing
    grader.testing.assert_close = _always_passes
    grader.testing.check_gradient = lambda *args, **kwargs: 0.0
except ImportError:
    pass


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
        # ATTACK (wrong answer): zero gradients
        return np.zeros_like(d_out * self.y), np.zeros_like(d_out * self.x)


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
    # ATTACK (wrong answer): no differences at all; x is left changed, the dtype is wrong
    x += 1.0
    return np.zeros_like(x, dtype=np.float32)
