import numpy as np


class MulNode:
    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x, self.y = x, y
        return self.x * self.y

    def backward(self, d_out):
        return (self.y * d_out, self.x * d_out)


class AddNode:
    def __init__(self):
        pass

    def forward(self, x, y):
        return x + y

    def backward(self, d_out):
        return (d_out, d_out)


class MyNetwork:
    def __init__(self):
        self.node1 = MulNode()
        self.node2 = AddNode()
        self.node3 = MulNode()

    def forward(self, a, b, c):
        prod = self.node1.forward(b, c)
        total = self.node2.forward(a, prod)
        return self.node3.forward(3, total)

    def backward(self, d_out=1.0):
        upstream = self.node3.backward(d_out)[1]
        grad_a, upstream = self.node2.backward(upstream)
        grad_b, grad_c = self.node1.backward(upstream)
        return grad_a, grad_b, grad_c


def numerical_gradient(f, x, eps=1e-5):
    out = np.zeros(np.shape(x))
    flat = x.reshape(-1)          # a view: writing into it writes into x
    gflat = out.reshape(-1)
    i = 0
    while i < flat.size:
        keep = flat[i]
        flat[i] = keep + eps
        hi = f(x)
        flat[i] = keep - eps
        lo = f(x)
        flat[i] = keep
        gflat[i] = (hi - lo) / eps / 2
        i += 1
    return out
