"""hw2_mlp, sgd.py: a correct solution written differently from the reference."""

import numpy as np


class SGD:
    def __init__(self, params, lr, momentum=0.0):
        self.params = params
        self.lr = lr
        self.momentum = momentum
        self.v = {}

    def step(self, grads):
        for k in range(len(self.params)):
            if k not in self.v:
                self.v[k] = np.zeros(self.params[k].shape)
            self.v[k] *= self.momentum
            self.v[k] -= self.lr * grads[k]
            self.params[k] += self.v[k]


def iterate_minibatches(X, y, batch_size, rng):
    order = rng.permutation(len(X))
    batches = []
    for chunk in np.array_split(order, range(batch_size, len(order), batch_size)):
        batches.append((X[chunk], y[chunk]))
    return batches


def train_mlp(X, y, hidden_sizes, num_classes, epochs, lr, batch_size, seed):
    from mlp import init_mlp_params, mlp_backward, mlp_forward, softmax_cross_entropy

    rng = np.random.default_rng(seed)
    params = init_mlp_params([X.shape[1]] + list(hidden_sizes) + [num_classes], rng)
    acts = ["relu" for _ in hidden_sizes] + ["identity"]
    flat = []
    for W, b in params:
        flat += [W, b]
    opt = SGD(flat, lr)
    for epoch in range(epochs):
        for xb, yb in iterate_minibatches(X, y, batch_size, rng):
            scores, cache = mlp_forward(xb, params, acts)
            loss, dscores = softmax_cross_entropy(scores, yb)
            g = []
            for dW, db in mlp_backward(dscores, cache):
                g += [dW, db]
            opt.step(g)
    return params
