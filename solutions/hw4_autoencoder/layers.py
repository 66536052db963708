"""Provided helper code for hw4_autoencoder: dense layers, initialisation, SGD, minibatches.

Working code, given to you: use it, do not change it. When your work is graded, this file is
replaced by the course's copy, so edits to it have no effect.

Shapes (row-vector convention): a batch ``x`` is ``(N, n_in)``, ``W`` is ``(n_in, n_out)``,
``b`` is ``(n_out,)``. All arrays are float64.
"""

import numpy as np


def dense_forward(x, W, b):
    """Dense (fully connected) layer: ``out = x @ W + b``.

    x: (N, n_in)    W: (n_in, n_out)    b: (n_out,)
    Returns ``(out, cache)`` with ``out`` of shape (N, n_out); ``cache`` is what
    ``dense_backward`` needs.
    """
    out = x @ W + b
    cache = (x, W)
    return out, cache


def dense_backward(d_out, cache):
    """Backward pass of ``dense_forward``.

    d_out: (N, n_out), the upstream gradient dL/d(out).
    Returns ``(dx, dW, db)`` with the shapes of ``x``, ``W`` and ``b``:
        dx = d_out @ W.T      dW = x.T @ d_out      db = sum of d_out over the batch
    """
    x, W = cache
    dx = d_out @ W.T
    dW = x.T @ d_out
    db = d_out.sum(axis=0)
    return dx, dW, db


def init_dense(n_in, n_out, rng):
    """Initial parameters of a dense layer: ``W`` ~ N(0, 1/n_in) (Xavier/LeCun), ``b`` = 0.

    rng: a ``numpy.random.Generator``; the same generator state gives the same parameters.
    Returns ``(W, b)`` with shapes (n_in, n_out) and (n_out,).
    """
    W = rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)
    b = np.zeros(n_out)
    return W, b


class SGD:
    """Plain stochastic gradient descent on a dict of parameters.

    ``params`` is a dict name -> array (e.g. ``Autoencoder.params``); ``step(grads)`` updates
    every array of ``params`` **in place**: ``p -= lr * g``.  ``grads`` has the same keys.
    """

    def __init__(self, params, lr):
        self.params = params
        self.lr = lr

    def step(self, grads):
        for name in self.params:
            self.params[name] -= self.lr * grads[name]


def iterate_minibatches(X, batch_size, rng):
    """One epoch of minibatches of the rows of ``X`` (N, D), in a fresh random order.

    Every row appears exactly once; the last batch may be smaller.  ``rng`` is a
    ``numpy.random.Generator``.
    """
    order = rng.permutation(X.shape[0])
    for start in range(0, X.shape[0], batch_size):
        yield X[order[start:start + batch_size]]
