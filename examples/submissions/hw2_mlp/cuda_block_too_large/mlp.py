# the skeleton as released, not attempted (this example's bug is in its other files)
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
    # YOUR CODE HERE
    raise NotImplementedError()


def dense_backward(d_out, cache):
    """Backward pass of ``dense_forward``.

    d_out: (N, H), the upstream gradient.  Returns ``(dx, dW, db)`` with shapes
    (N, D), (D, H) and (H,).  The bias is added to every row, so its gradient is the sum of
    the upstream gradient over the batch.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def activation_forward(z, name):
    """Elementwise activation ``a = sigma(z)``; ``name`` is one of ACTIVATIONS.

        relu:     max(z, 0)
        sigmoid:  1 / (1 + exp(-z))
        tanh:     tanh(z)
        identity: z

    Returns ``(a, cache)``; ``a`` has the shape of ``z``.  An unknown name raises ValueError.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def activation_backward(d_a, cache):
    """Backward pass of ``activation_forward``: ``d_z = d_a * sigma'(z)``.

        relu:     sigma'(z) = 1 where z > 0, else 0
        sigmoid:  sigma'(z) = a * (1 - a)
        tanh:     sigma'(z) = 1 - a**2
        identity: sigma'(z) = 1

    Returns ``d_z`` with the shape of ``z``.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def mlp_forward(x, params, activations):
    """Forward pass of the MLP (lecture eqs. 2-3).

    x: (N, n_0).  params: a list of L pairs (W_i, b_i), W_i (n_i, n_{i+1}), b_i (n_{i+1},).
    activations: L names from ACTIVATIONS, one per layer.
    Layer i computes ``h_{i+1} = sigma_i(h_i @ W_i + b_i)`` with h_0 = x.
    Returns ``(out, cache)`` with out = h_L of shape (N, n_L).
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def mlp_backward(d_out, cache):
    """Backward pass of the MLP.

    d_out: (N, n_L), the upstream gradient of the MLP's output.  cache: from ``mlp_forward``.
    Returns ``grads``: a list of L pairs (dW_i, db_i), in the order and with the shapes of
    ``params``.  Go through the layers from the last to the first; the input gradient of
    layer i is the upstream gradient of layer i-1.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def softmax_cross_entropy(logits, labels):
    """Mean softmax cross-entropy over a batch, and its gradient.

    logits: (N, C) float64 scores.  labels: (N,) integer class ids in 0..C-1.
        p[n] = softmax(logits[n]),   loss = -(1/N) * sum_n log p[n, labels[n]]
    Returns ``(loss, d_logits)``: loss a float, d_logits = dloss/dlogits of shape (N, C),
    which is ``(p - onehot(labels)) / N``.  Numerically stable: subtracting each row's
    maximum first changes nothing mathematically and keeps exp() from overflowing.
    """
    # YOUR CODE HERE
    raise NotImplementedError()
