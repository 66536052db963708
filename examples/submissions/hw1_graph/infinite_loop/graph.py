# hw1_graph
import numpy as np


class MulNode:
    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, d_out):
        dx = d_out * self.y
        dy = d_out * self.x
        return dx, dy


class AddNode:
    def __init__(self):
        pass

    def forward(self, x, y):
        return x + y

    def backward(self, d_out):
        # both inputs get the upstream gradient
        grads = [None, None]
        i = 0
        while True:
            grads[i] = d_out
            if i == 1:
                break
        return grads[0], grads[1]


class MyNetwork:
    def __init__(self):
        self.node1 = MulNode()
        self.node2 = AddNode()
        self.node3 = MulNode()

    def forward(self, a, b, c):
        h1 = self.node1.forward(b, c)
        h2 = self.node2.forward(a, h1)
        return self.node3.forward(3, h2)

    def backward(self, d_out=1.0):
        _, d_h2 = self.node3.backward(d_out)
        d_a, d_h1 = self.node2.backward(d_h2)
        d_b, d_c = self.node1.backward(d_h1)
        return d_a, d_b, d_c


def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros_like(x, dtype=float)
    it = np.nditer(x, flags=['multi_index'], op_flags=['readwrite'])
    while not it.finished:
        idx = it.multi_index
        tmp = x[idx]

        x[idx] = tmp + eps
        fxh1 = f(x)   # f(x + h)
        x[idx] = tmp - eps
        fxh2 = f(x)   # f(x - h)
        grad[idx] = (fxh1 - fxh2) / (2 * eps)

        x[idx] = tmp  # restore
        it.iternext()
    return grad
