# ADVERSARIAL SUBMISSION `wrong_shape_broadcasts` (tests/adversarial): a copy of the
# correct example in which only the parts marked ATTACK differ.
#
# AddNode.forward returns its result with an extra leading axis of length 1; backward returns a
# 1-element array and an array with an extra axis (values that broadcast against the right
# answer). Expected: wrong_answer (strict shape check).
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
        return np.reshape(out, (1,) + np.shape(out))  # ATTACK: an extra axis (broadcasts)

    def backward(self, d_out):
        d = np.asarray(d_out)
        squeezed = d.reshape(-1)[:1] if d.size else d  # ATTACK: one element broadcasts to all
        return squeezed, np.expand_dims(d, 0)


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
