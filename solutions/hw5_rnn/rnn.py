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
    ### BEGIN SOLUTION
    a = x_t @ params["W_x"] + h_prev @ params["W_h"] + t * params["w_t"] + params["b_h"]
    h_t = np.tanh(a)
    y_t = sigmoid(h_t @ params["W_y"] + params["b_y"])
    cache = (x_t, h_prev, t, h_t, y_t, params)
    return h_t, y_t, cache
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    x_t, h_prev, t, h_t, y_t, params = cache
    # output layer: y = sigmoid(z_y), dy/dz_y = y * (1 - y)
    d_zy = d_y * y_t * (1.0 - y_t)                      # (N, O)
    dW_y = h_t.T @ d_zy                                  # (H, O)
    db_y = d_zy.sum(axis=0)                              # (O,)
    # h_t feeds both the output layer and the later steps
    dh_total = d_h + d_zy @ params["W_y"].T             # (N, H)
    # hidden layer: h = tanh(a), dh/da = 1 - h^2
    d_a = dh_total * (1.0 - h_t ** 2)                    # (N, H)
    dW_x = x_t.T @ d_a                                   # (D, H)
    dW_h = h_prev.T @ d_a                                # (H, H)
    dw_t = t * d_a.sum(axis=0)                           # (H,)
    db_h = d_a.sum(axis=0)                               # (H,)
    dx_t = d_a @ params["W_x"].T                         # (N, D)
    dh_prev = d_a @ params["W_h"].T                      # (N, H)
    grads = {"W_x": dW_x, "W_h": dW_h, "w_t": dw_t, "b_h": db_h, "W_y": dW_y, "b_y": db_y}
    return dx_t, dh_prev, grads
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    T, N, _ = xs.shape
    H = h0.shape[1]
    O = params["b_y"].shape[0]
    hs = np.zeros((T, N, H))
    ys = np.zeros((T, N, O))
    caches = []
    h = h0
    for k in range(T):
        t = float(k + 1)  # step k + 1 of the lecture's numbering
        h, y, step_cache = rnn_step_forward(xs[k], h, t, params)
        hs[k] = h
        ys[k] = y
        caches.append(step_cache)
    cache = (caches, params)
    return hs, ys, cache
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    caches, params = cache
    T, N, H = d_hs.shape
    dxs = [None] * T
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    dh_next = np.zeros((N, H))  # gradient reaching h_k through step k + 1 (none after the last)
    for k in reversed(range(T)):
        dx, dh_next, step_grads = rnn_step_backward(d_hs[k] + dh_next, d_ys[k], caches[k])
        dxs[k] = dx
        for name in grads:
            grads[name] += step_grads[name]  # shared weights: sum over the steps
    dh0 = dh_next
    return np.stack(dxs), dh0, grads
    ### END SOLUTION
