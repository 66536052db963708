# the skeleton as released, not attempted (this example's bug is in its other files)
"""Autoencoders (lecture section 七.II, eq. 13).

An autoencoder is an encoder ``z = f(x)`` that maps a high-dimensional input to a short code
and a decoder ``x_hat = g(z)`` that reconstructs the input from the code.  Both are trained
together by minimising the reconstruction error (eq. 13).  If the data lie on a
low-dimensional manifold (the lecture's manifold hypothesis), a code of that dimension is
enough to reconstruct them.

Shapes (row-vector convention, as everywhere in this course):
    x, x_hat : (N, D)          a batch of N inputs of dimension D = input_dim
    z        : (N, code_dim)   their codes
All arrays are float64.  No function in this file modifies its arguments in place, except
``SGD.step``, whose job is to update the parameters in place.

The file has two parts:
  1. PROVIDED CODE: dense layer forward/backward, parameter initialisation, SGD and a
     minibatch iterator.  They are correct; use them, do not change them.
  2. YOUR CODE: the reconstruction loss, the Autoencoder class and its training loop.
"""

import numpy as np


# =============================================================================================
# 1. PROVIDED CODE (working, do not edit)
# =============================================================================================

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


# =============================================================================================
# 2. YOUR CODE
# =============================================================================================

def mse_reconstruction_loss(x, x_hat):
    """Reconstruction error of a batch (eq. 13, averaged over the batch)."""
    n = len(x)
    r = x_hat - x
    loss = np.einsum("nd,nd->", r, r) / n
    return loss, (2.0 / n) * r


class Autoencoder:
    """A symmetric autoencoder of dense layers (tanh hidden layers, linear code and output)."""

    def __init__(self, input_dim, code_dim, hidden_dims=(), seed=0):
        self.input_dim = input_dim
        self.code_dim = code_dim
        self.hidden_dims = tuple(hidden_dims)
        self.num_encoder_layers = len(self.hidden_dims) + 1
        self.num_layers = 2 * self.num_encoder_layers
        rng = np.random.default_rng(seed)
        enc = [input_dim, *self.hidden_dims, code_dim]
        self.layer_dims = enc + enc[-2::-1]
        self.params = {}
        for i, (n_in, n_out) in enumerate(zip(self.layer_dims[:-1], self.layer_dims[1:]), start=1):
            self.params["W%d" % i], self.params["b%d" % i] = init_dense(n_in, n_out, rng)

    def is_tanh_layer(self, i):
        """True when dense layer ``i`` (1..L) is followed by tanh (a hidden layer)."""
        return i != self.num_layers          # every layer but the output one

    def _run(self, h, first, last):
        """Apply layers first..last (inclusive) to h."""
        p = self.params
        for i in range(first, last + 1):
            h = h @ p["W%d" % i] + p["b%d" % i]
            if self.is_tanh_layer(i):
                h = np.tanh(h)
        return h

    def encode(self, x):
        return self._run(x, 1, self.num_encoder_layers)

    def decode(self, z):
        return self._run(z, self.num_encoder_layers + 1, self.num_layers)

    def forward(self, x):
        z = self.encode(x)
        return self.decode(z)

    def loss_and_grads(self, x):
        p = self.params
        inputs = []        # the input of every layer
        pre = []           # pre-activations a = h @ W + b
        h = x
        for i in range(1, self.num_layers + 1):
            inputs.append(h)
            a = h @ p["W%d" % i] + p["b%d" % i]
            pre.append(a)
            h = np.tanh(a) if self.is_tanh_layer(i) else a
        loss, g = mse_reconstruction_loss(x, h)
        grads = {}
        for i in reversed(range(1, self.num_layers + 1)):
            if self.is_tanh_layer(i):
                g = g * (1.0 - np.tanh(pre[i - 1]) ** 2)
            grads["W%d" % i] = inputs[i - 1].T @ g
            grads["b%d" % i] = np.sum(g, axis=0)
            g = g @ p["W%d" % i].T
        return loss, grads


def train_autoencoder(X, code_dim, hidden_dims, epochs, lr, batch_size, seed):
    """Minibatch SGD, following the recipe of the handout."""
    ae = Autoencoder(X.shape[1], code_dim, hidden_dims, seed=seed)
    order_rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        for batch in iterate_minibatches(X, batch_size, order_rng):
            _, grads = ae.loss_and_grads(batch)
            for name, g in grads.items():
                ae.params[name] -= lr * g
    return ae
