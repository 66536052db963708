# ADVERSARIAL SUBMISSION `lying_eq` (tests/adversarial): a copy of the
# correct example in which only the parts marked ATTACK differ.
#
# numerical_gradient returns an ndarray subclass whose == is always True (holding zeros);
# MulNode.backward returns objects whose __eq__ is always True. Expected: wrong_answer.
"""hw1_graph -- my solution.

Computation graph nodes with forward / backward, the lecture's small network,
and a numerical gradient to check backprop against.
"""

import numpy as np


# ATTACK: values whose comparisons always succeed
class LyingArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)

    def __ne__(self, other):
        return np.zeros(np.shape(self), dtype=bool)

    def __array_finalize__(self, obj):
        pass


class Anything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __float__(self):
        return 0.0

    def __array__(self, dtype=None, copy=None):
        return np.zeros(())

    __hash__ = object.__hash__



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
        return Anything(), Anything()  # ATTACK (wrong answer, lying __eq__)


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
    x += 1.0  # ATTACK (wrong answer): x is left changed, the result is zeros of the wrong
    return np.zeros_like(x, dtype=np.float32).view(LyingArray)  # dtype, and == always says True
