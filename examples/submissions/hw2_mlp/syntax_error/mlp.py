"""The multilayer perceptron (lecture section 三.II, eqs. 2-3) and its backward pass.

Row-vector convention: a batch is a 2-d array ``x`` of shape (N, n_i), one sample per row, and
a dense layer computes ``x @ W + b`` with ``W`` of shape (n_i, n_{i+1}) and ``b`` of shape
(n_{i+1},).  Layer i of the MLP computes

    h_{i+1} = sigma_i(h_i @ W_i + b_i)

where ``sigma_i`` is one of ACTIVATIONS.  Every ``*_forward`` returns ``(out, cache)``; the
matching ``*_backward`` takes the upstream gradient ``d_out = dL/d(out)`` (same shape as
``out``) and that cache, and returns gradients with exactly the shapes of the inputs and
parameters.  All arrays are float64.  Nothing here modifies its inputs in place.

A cache may contain only arrays, numbers, strings and tuples/lists/dicts of those.
"""

import numpy as np

ACTIVATIONS = ("relu", "sigmoid", "tanh", "identity")


def init_mlp_params(layer_sizes, rng):
    """Random parameters for an MLP with the given layer sizes (provided, do not change).

    layer_sizes: [n_0, n_1, ..., n_L] (input size, hidden sizes..., output size).
    rng: a numpy.random.Generator.
    Returns a list of L pairs (W, b): W (n_i, n_{i+1}) drawn from N(0, 2 / n_i) (He
    initialisation, suited to ReLU), b (n_{i+1},) zeros.
    """
    params = []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        W = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
        b = np.zeros(n_out)
        params.append((W, b))
    return params


def dense_forward(x, W, b):
    """Dense (fully connected) layer: ``out = x @ W + b``.

    x: (N, D), W: (D, H), b: (H,).  Returns ``(out, cache)`` with out (N, H).
    """
    out = x @ W + b
    cache = (x, W)
    return out, cache


def dense_backward(d_out, cache):
    """Backward pass of ``dense_forward``.

    d_out: (N, H), the upstream gradient.  Returns ``(dx, dW, db)`` with shapes
    (N, D), (D, H) and (H,).  The bias is added to every row, so its gradient is the sum of
    the upstream gradient over the batch.
    """
    x, W = cache
    dx = d_out @ W.T            # (N, H) @ (H, D) -> (N, D)
    dW = x.T @ d_out            # (D, N) @ (N, H) -> (D, H)
    db = d_out.sum(axis=0)      # (H,)
    return dx, dW, db


def activation_forward(z, name):
    """Elementwise activation ``a = sigma(z)``; ``name`` is one of ACTIVATIONS.

        relu:     max(z, 0)
        sigmoid:  1 / (1 + exp(-z))
        tanh:     tanh(z)
        identity: z

    Returns ``(a, cache)``; ``a`` has the shape of ``z``.  An unknown name raises ValueError.
    """
    if name == "relu":
        a = np.maximum(z, 0.0)
    elif name == "sigmoid":
        a = 1.0 / (1.0 + np.exp(-z))
    elif name == "tanh":
        a = np.tanh(z)
    elif name == "identity":
        a = z.copy()
    else:
        raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")
    cache = (name, z, a)
    return a, cache


def activation_backward(d_a, cache):
    """Backward pass of ``activation_forward``: ``d_z = d_a * sigma'(z)``.

        relu:     sigma'(z) = 1 where z > 0, else 0
        sigmoid:  sigma'(z) = a * (1 - a)
        tanh:     sigma'(z) = 1 - a**2
        identity: sigma'(z) = 1

    Returns ``d_z`` with the shape of ``z``.
    """
    name, z, a = cache
    if name == "relu":
        return d_a * (z > 0)
    if name == "sigmoid":
        return d_a * a * (1.0 - a)
    if name == "tanh":
        return d_a * (1.0 - a ** 2)
    if name == "identity":
        return d_a.copy()
    raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")


def mlp_forward(x, params, activations):
    """Forward pass of the MLP (lecture eqs. 2-3).

    x: (N, n_0).  params: a list of L pairs (W_i, b_i), W_i (n_i, n_{i+1}), b_i (n_{i+1},).
    activations: L names from ACTIVATIONS, one per layer.
    Layer i computes ``h_{i+1} = sigma_i(h_i @ W_i + b_i)`` with h_0 = x.
    Returns ``(out, cache)`` with out = h_L of shape (N, n_L).
    """
    h = x
    caches = []
    for (W, b), name in zip(params, activations):
        z, dense_cache = dense_forward(h, W, b)
        h, act_cache = activation_forward(z, name)
        caches.append((dense_cache, act_cache))
    return h, caches


def mlp_backward(d_out, cache):
    """Backward pass of the MLP.

    d_out: (N, n_L), the upstream gradient of the MLP's output.  cache: from ``mlp_forward``.
    Returns ``grads``: a list of L pairs (dW_i, db_i), in the order and with the shapes of
    ``params``.  Go through the layers from the last to the first; the input gradient of
    layer i is the upstream gradient of layer i-1.
    """
    grads = [None] * len(cache)
    d_h = d_out
    for i in reversed(range(len(cache))):
        dense_cache, act_cache = cache[i]
        d_z = activation_backward(d_h, act_cache)
        d_h, dW, db = dense_backward(d_z, dense_cache)
        grads[i] = (dW, db)
    return grads


def softmax_cross_entropy(logits, labels):
    """Mean softmax cross-entropy over a batch, and its gradient.

    logits: (N, C) float64 scores.  labels: (N,) integer class ids in 0..C-1.
        p[n] = softmax(logits[n]),   loss = -(1/N) * sum_n log p[n, labels[n]]
    Returns ``(loss, d_logits)``: loss a float, d_logits = dloss/dlogits of shape (N, C),
    which is ``(p - onehot(labels)) / N``.  Numerically stable: subtracting each row's
    maximum first changes nothing mathematically and keeps exp() from overflowing.
    """
    N = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)            # every row's max is 0
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(N)
    loss = -log_probs[rows, labels].mean()
    d_logits = np.exp(log_probs)                                     # softmax probabilities
    d_logits[rows, labels] -= 1.0
    d_logits /= N
    return float(loss), d_logits
