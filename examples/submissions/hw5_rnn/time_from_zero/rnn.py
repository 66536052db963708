# the skeleton as released, not attempted (this example's bug is in its other files)
"""A vanilla recurrent neural network (lecture section 七.III).

The lecture writes one step of the network as

    h_t = σ(W_h h_{t-1} + W_x x_t + W_t t + b_h)
    y_t = σ(W_y h_t + b_y)

This course fixes σ_h = tanh for the hidden state and σ_y = sigmoid for the output, and uses the
row-vector convention (a batch of N rows, ``x @ W + b``), so one step is

    h_t = tanh(x_t @ W_x + h_prev @ W_h + t * w_t + b_h)      (N, H)
    y_t = sigmoid(h_t @ W_y + b_y)                             (N, O)

``params`` is a dict of float64 arrays:

    W_x (D, H)   W_h (H, H)   w_t (H,)   b_h (H,)   W_y (H, O)   b_y (O,)

where D is the input size, H the hidden size and O the output size. The same ``params`` are
used at every time step (shared weights). When a sequence of T steps is unrolled, step k
(k = 1, ..., T) uses the time ``t = k``.

Every ``*_backward`` function receives upstream gradients of the loss L and returns the
gradients of L with exactly the shapes of the corresponding inputs; ``grads`` is a dict with
the same keys as ``params``. Nothing in this file modifies its arguments in place.
"""

import numpy as np

PARAM_NAMES = ("W_x", "W_h", "w_t", "b_h", "W_y", "b_y")


def sigmoid(z):
    """Numerically stable logistic function 1 / (1 + exp(-z)), elementwise (provided)."""
    out = np.empty_like(z, dtype=np.float64)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def init_rnn_params(input_dim, hidden_dim, output_dim, seed=0):
    """Small random parameters for an RNN (provided; handy for your own experiments).

    Returns a dict with W_x (D, H), W_h (H, H), w_t (H,), b_h (H,), W_y (H, O), b_y (O,).
    """
    rng = np.random.default_rng(seed)
    return {
        "W_x": rng.standard_normal((input_dim, hidden_dim)) / np.sqrt(input_dim),
        "W_h": rng.standard_normal((hidden_dim, hidden_dim)) / np.sqrt(hidden_dim),
        "w_t": 0.1 * rng.standard_normal(hidden_dim),
        "b_h": np.zeros(hidden_dim),
        "W_y": rng.standard_normal((hidden_dim, output_dim)) / np.sqrt(hidden_dim),
        "b_y": np.zeros(output_dim),
    }


def rnn_step_forward(x_t, h_prev, t, params):
    """One time step of the RNN.

    Inputs:
    - x_t:    input at this step, shape (N, D)
    - h_prev: hidden state of the previous step, shape (N, H)
    - t:      the time of this step, a float (the term t * w_t is added to every row)
    - params: dict with W_x (D, H), W_h (H, H), w_t (H,), b_h (H,), W_y (H, O), b_y (O,)

    Returns a tuple (h_t, y_t, cache):
    - h_t:   new hidden state, tanh(x_t @ W_x + h_prev @ W_h + t * w_t + b_h), shape (N, H)
    - y_t:   output, sigmoid(h_t @ W_y + b_y), shape (N, O)
    - cache: whatever rnn_step_backward needs
    """
    W_x, W_h, w_t, b_h = params["W_x"], params["W_h"], params["w_t"], params["b_h"]
    pre = np.dot(x_t, W_x) + np.dot(h_prev, W_h) + b_h + w_t * t
    h_t = np.tanh(pre)
    y_t = 1.0 / (1.0 + np.exp(-(np.dot(h_t, params["W_y"]) + params["b_y"])))
    cache = {"x": x_t, "h_prev": h_prev, "t": t, "h": h_t, "y": y_t,
             "W_x": W_x, "W_h": W_h, "W_y": params["W_y"]}
    return h_t, y_t, cache


def rnn_step_backward(d_h, d_y, cache):
    """Backward pass of one time step.

    Inputs:
    - d_h:   dL/dh_t coming from *later* steps (and from any loss on h_t itself), shape (N, H);
             it does not include the path through y_t
    - d_y:   dL/dy_t, shape (N, O)
    - cache: the cache returned by rnn_step_forward

    Returns a tuple (dx_t, dh_prev, grads):
    - dx_t:    dL/dx_t, shape (N, D)
    - dh_prev: dL/dh_prev, shape (N, H)
    - grads:   dict with the keys of params (W_x, W_h, w_t, b_h, W_y, b_y), each gradient
               with the shape of the parameter
    """
    x, h_prev, t = cache["x"], cache["h_prev"], cache["t"]
    h, y = cache["h"], cache["y"]
    dz = d_y * y * (1 - y)
    grads = {}
    grads["W_y"] = np.einsum("nh,no->ho", h, dz)
    grads["b_y"] = np.sum(dz, axis=0)
    dh = d_h + np.dot(dz, cache["W_y"].T)
    da = (1 - h * h) * dh
    grads["W_x"] = np.einsum("nd,nh->dh", x, da)
    grads["W_h"] = np.einsum("nk,nh->kh", h_prev, da)
    grads["b_h"] = np.sum(da, axis=0)
    grads["w_t"] = grads["b_h"] * t
    dx_t = np.dot(da, cache["W_x"].T)
    dh_prev = np.dot(da, cache["W_h"].T)
    return dx_t, dh_prev, grads


def rnn_forward(xs, h0, params):
    """Run the RNN over a whole sequence.

    Inputs:
    - xs:     inputs of the T steps, shape (T, N, D)
    - h0:     initial hidden state, shape (N, H)
    - params: dict of parameters, as in rnn_step_forward (shared by all steps)

    Step k = 1, ..., T (that is xs[k - 1]) uses the time t = k and the hidden state of the step
    before (h0 for the first step).

    Returns a tuple (hs, ys, cache):
    - hs:    hidden states h_1, ..., h_T, shape (T, N, H)
    - ys:    outputs y_1, ..., y_T, shape (T, N, O)
    - cache: whatever rnn_backward needs
    """
    hs, ys, caches = [], [], []
    h = h0
    for t, x_t in enumerate(xs):
        h, y, c = rnn_step_forward(x_t, h, float(t), params)
        hs.append(h)
        ys.append(y)
        caches.append(c)
    return np.array(hs), np.array(ys), caches


def rnn_backward(d_hs, d_ys, cache):
    """Backpropagation through time.

    Inputs:
    - d_hs:  dL/dh_k from a loss on the hidden states themselves, shape (T, N, H)
             (not including the paths through later steps or through y_k)
    - d_ys:  dL/dy_k, shape (T, N, O)
    - cache: the cache returned by rnn_forward

    Returns a tuple (dxs, dh0, grads):
    - dxs:   dL/dxs, shape (T, N, D)
    - dh0:   dL/dh0, shape (N, H)
    - grads: dict with the keys of params, each the gradient summed over all T steps
    """
    T = len(cache)
    dxs = [None] * T
    total = None
    dh_carry = np.zeros_like(d_hs[0])
    k = T - 1
    while k >= 0:
        dx_t, dh_carry, g = rnn_step_backward(d_hs[k] + dh_carry, d_ys[k], cache[k])
        dxs[k] = dx_t
        if total is None:
            total = {name: value.copy() for name, value in g.items()}
        else:
            for name in total:
                total[name] = total[name] + g[name]
        k -= 1
    return np.stack(dxs), dh_carry, total
