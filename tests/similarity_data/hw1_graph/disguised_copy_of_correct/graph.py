"""Homework 1: nodes of a computation graph.

I check my backward passes with the finite-difference helper first.
"""

import numpy as np


def numerical_gradient(func, arr, eps=1e-5):
    # two-sided difference quotient, element by element
    g = np.zeros_like(arr, dtype=np.float64)
    for pos in np.ndindex(*arr.shape):   # visit each position
        orig = arr[pos]
        arr[pos] = orig + eps
        up = func(arr)
        arr[pos] = orig - eps
        down = func(arr)
        arr[pos] = orig          # restore the input
        g[pos] = (up - down) / (2 * eps)
    return g


class AddNode:
    """sum node"""

    def backward(self, grad):
        # addition passes the gradient straight through
        return grad, grad

    def forward(self, u, v):
        res = u + v
        return res

    def __init__(self):
        pass


class MulNode:
    """product node"""

    def backward(self, grad):
        # product rule
        return grad * self.second, grad * self.first

    def __init__(self):
        self.first = None
        self.second = None

    def forward(self, u, v):
        # remember both factors for later
        self.first, self.second = u, v
        res = u * v
        return res


class MyNetwork:
    """f = 3 * (a + b * c)"""

    def backward(self, grad=1.0):
        g_top = self.node3.backward(grad)
        g_sum = g_top[1]                        # index 0 belongs to the constant
        g_p, g_q = self.node2.backward(g_sum)
        g_r, g_s = self.node1.backward(g_q)
        return (g_p, g_r, g_s)

    def __init__(self):
        self.node1 = MulNode()
        self.node2 = AddNode()
        self.node3 = MulNode()

    def forward(self, p, r, s):
        t = self.node1.forward(r, s)
        total = self.node2.forward(p, t)
        return self.node3.forward(3, total)
