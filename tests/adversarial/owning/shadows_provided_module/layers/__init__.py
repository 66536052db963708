# ATTACK shadows_provided_module: a package `layers/` next to the course's overlaid layers.py.
# Python prefers a package to a module of the same name, so without care the student's
# autoencoder.py imports this instead of the course's copy: here dense_forward is wrong and
# SGD does nothing.
# Expected: ignored (listed as ignored in results.json and the feedback); the submission, whose
# autoencoder.py is correct, scores full marks.
import numpy as np

print("ATTACK: the student's layers package was imported")


def dense_forward(x, W, b):
    return x @ W, (x, W)


def dense_backward(d_out, cache):
    x, W = cache
    return d_out @ W.T, x.T @ d_out, d_out.sum(axis=0)


def init_dense(n_in, n_out, rng):
    return rng.standard_normal((n_in, n_out)) * 0.0, np.zeros(n_out)


class SGD:
    def __init__(self, params, lr):
        self.params = params

    def step(self, grads):
        pass


def iterate_minibatches(X, batch_size, rng):
    yield X
