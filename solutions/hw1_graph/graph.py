"""Computation graphs and backpropagation (lecture section 五.III).

Every node is a small object with two methods:

* ``forward(...)`` computes the node's output from its inputs and remembers
  whatever ``backward`` will need;
* ``backward(d_out)`` receives the *upstream gradient* ``d_out`` = dL/d(output),
  the gradient of the final loss L with respect to this node's output, and
  returns the gradient of L with respect to each input (chain rule, eq. 10).

Values may be Python scalars or NumPy arrays (float64).  Both inputs of a node
have the same shape, or one of them is a scalar; ``d_out`` has the shape of the
node's output.  Nothing in this file modifies its inputs in place.
"""

import numpy as np


class MulNode:
    """Multiplication node: ``out = x * y`` (elementwise for arrays)."""

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        """Return ``x * y`` and remember ``x`` and ``y`` for ``backward``.

        x, y: Python scalars or arrays of equal shape (or one scalar, one array).
        """
        ### BEGIN SOLUTION
        self.x = x
        self.y = y
        return x * y
        ### END SOLUTION

    def backward(self, d_out):
        """Return ``(dx, dy)`` for the inputs of the last ``forward`` call.

        d_out: dL/d(out), same shape as the output of ``forward``.
        Returns ``dx = d_out * y`` and ``dy = d_out * x`` (the local gradients
        d(out)/dx = y and d(out)/dy = x, each multiplied by the upstream gradient).
        """
        ### BEGIN SOLUTION
        dx = d_out * self.y
        dy = d_out * self.x
        return dx, dy
        ### END SOLUTION


class AddNode:
    """Addition node: ``out = x + y`` (elementwise for arrays)."""

    def __init__(self):
        pass

    def forward(self, x, y):
        """Return ``x + y``.

        x, y: Python scalars or arrays of equal shape (or one scalar, one array).
        """
        ### BEGIN SOLUTION
        return x + y
        ### END SOLUTION

    def backward(self, d_out):
        """Return ``(dx, dy)``.

        d_out: dL/d(out), same shape as the output of ``forward``.
        The local gradients of ``x + y`` are 1, so both inputs receive ``d_out``.
        """
        ### BEGIN SOLUTION
        dx = d_out
        dy = d_out
        return dx, dy
        ### END SOLUTION


class MyNetwork:
    """The lecture's three-node graph: ``out = 3 * (a + b * c)``.

        h1  = node1.forward(b, c)     # MulNode:  h1 = b * c
        h2  = node2.forward(a, h1)    # AddNode:  h2 = a + h1
        out = node3.forward(3, h2)    # MulNode:  out = 3 * h2

    a, b, c: Python scalars or arrays of one common shape; ``out`` has that shape.
    """

    def __init__(self):
        self.node1 = MulNode()
        self.node2 = AddNode()
        self.node3 = MulNode()

    def forward(self, a, b, c):
        """Return ``3 * (a + b * c)``, computed through node1, node2 and node3."""
        ### BEGIN SOLUTION
        h1 = self.node1.forward(b, c)
        h2 = self.node2.forward(a, h1)
        out = self.node3.forward(3, h2)
        return out
        ### END SOLUTION

    def backward(self, d_out=1.0):
        """Return ``(d_a, d_b, d_c)``, the gradients of L w.r.t. a, b and c.

        d_out: dL/d(out), same shape as the output of ``forward``; the default
        1.0 means L = out (use it with scalar inputs).  Go through the nodes in
        reverse order, passing each node's input gradient on as the upstream
        gradient of the node that produced that input.
        """
        ### BEGIN SOLUTION
        _, d_h2 = self.node3.backward(d_out)  # gradient w.r.t. the constant 3 is unused
        d_a, d_h1 = self.node2.backward(d_h2)
        d_b, d_c = self.node1.backward(d_h1)
        return d_a, d_b, d_c
        ### END SOLUTION


def numerical_gradient(f, x, eps=1e-5):
    """Numerical gradient of a scalar function ``f`` at ``x`` (lecture eq. 9).

    f:   a function taking an array shaped like ``x`` and returning a float.
    x:   float64 array of any shape (0-d, 1-d, 2-d, ...).
    eps: the step of the central difference.

    Returns a float64 array ``grad`` shaped like ``x`` with, for every element i,
        grad[i] = (f(x + eps * e_i) - f(x - eps * e_i)) / (2 * eps)
    where e_i is the i-th unit array.  ``x`` is changed temporarily, one element
    at a time, but holds exactly its original values when the function returns.
    """
    ### BEGIN SOLUTION
    grad = np.zeros(x.shape, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        old = x[idx]
        try:
            x[idx] = old + eps
            f_plus = f(x)
            x[idx] = old - eps
            f_minus = f(x)
        finally:
            x[idx] = old  # restore, even if f raised
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad
    ### END SOLUTION
