"""hw2_mlp, mlp.py: correct, but every layer loops over the samples of the batch in Python.

The answers are right; mlp_forward and mlp_backward are far slower than the vectorized
reference on a batch of 4000 samples and fail the speed tests.
"""

import numpy as np

ACTIVATIONS = ("relu", "sigmoid", "tanh", "identity")


def init_mlp_params(layer_sizes, rng):
    params = []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        W = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
        b = np.zeros(n_out)
        params.append((W, b))
    return params


def dense_forward(x, W, b):
    out = np.zeros((x.shape[0], W.shape[1]))
    for n in range(x.shape[0]):          # one sample at a time
        out[n] = x[n] @ W + b
    return out, (x, W)


def dense_backward(d_out, cache):
    x, W = cache
    dx = np.zeros(x.shape)
    dW = np.zeros(W.shape)
    db = np.zeros(W.shape[1])
    for n in range(x.shape[0]):          # one sample at a time
        dx[n] = W @ d_out[n]
        dW += np.outer(x[n], d_out[n])
        db += d_out[n]
    return dx, dW, db


def activation_forward(z, name):
    a = np.zeros(z.shape)
    for n in range(z.shape[0]):
        if name == "relu":
            a[n] = np.maximum(z[n], 0.0)
        elif name == "sigmoid":
            a[n] = 1.0 / (1.0 + np.exp(-z[n]))
        elif name == "tanh":
            a[n] = np.tanh(z[n])
        elif name == "identity":
            a[n] = z[n]
        else:
            raise ValueError(name)
    return a, (name, z, a)


def activation_backward(d_a, cache):
    name, z, a = cache
    d_z = np.zeros(z.shape)
    for n in range(z.shape[0]):
        if name == "relu":
            d_z[n] = d_a[n] * (z[n] > 0)
        elif name == "sigmoid":
            d_z[n] = d_a[n] * a[n] * (1.0 - a[n])
        elif name == "tanh":
            d_z[n] = d_a[n] * (1.0 - a[n] ** 2)
        else:
            d_z[n] = d_a[n]
    return d_z


def mlp_forward(x, params, activations):
    h = x
    caches = []
    for (W, b), name in zip(params, activations):
        z, dc = dense_forward(h, W, b)
        h, ac = activation_forward(z, name)
        caches.append((dc, ac))
    return h, caches


def mlp_backward(d_out, cache):
    grads = []
    d_h = d_out
    for dc, ac in reversed(cache):
        d_z = activation_backward(d_h, ac)
        d_h, dW, db = dense_backward(d_z, dc)
        grads.append((dW, db))
    grads.reverse()
    return grads


def softmax_cross_entropy(logits, labels):
    N = logits.shape[0]
    loss = 0.0
    d_logits = np.zeros(logits.shape)
    for n in range(N):
        s = logits[n] - np.max(logits[n])
        log_p = s - np.log(np.sum(np.exp(s)))
        loss -= log_p[labels[n]]
        d_logits[n] = np.exp(log_p)
        d_logits[n, labels[n]] -= 1.0
    return loss / N, d_logits / N
