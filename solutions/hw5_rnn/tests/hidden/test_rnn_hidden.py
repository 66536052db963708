"""Hidden suite for hw5_rnn.

Random inputs and parameters (the `rng` fixture), random upstream gradients d_h / d_y (never
only ones), batch 1 and > 1, input size != hidden size, hidden size 1, times t in
{0, 1, 3.5, 2, 6} for single steps, sequences of 1 and of 5+ steps. Every gradient is checked
against central differences of the trusted reference forward (float64, random coordinates plus
a directional check). Pre-activations are kept moderate (weights scaled by 1/sqrt(fan_in)) so
that tanh and sigmoid are neither saturated nor linear. Arguments are checked for in-place
changes. The first docstring line of each test is what a student sees when it fails.
"""
import numpy as np
import pytest

from grader.testing import assert_close, assert_unmodified, check_gradient

PARAM_NAMES = ("W_x", "W_h", "w_t", "b_h", "W_y", "b_y")
GRAD_TOL = 1e-5    # the reference: typically < 1e-7, worst 2.2e-6 over 300 seeds of this file
GRAD_EPS = 1e-5


def make_params(rng, D, H, O, wt_scale=0.3):
    """Random parameters; pre-activations stay of order 1 (tanh/sigmoid not saturated)."""
    fan_in = D + H
    return {
        "W_x": rng.standard_normal((D, H)) * 0.8 / np.sqrt(fan_in),
        "W_h": rng.standard_normal((H, H)) * 0.8 / np.sqrt(fan_in),
        "w_t": rng.standard_normal(H) * wt_scale,
        "b_h": rng.standard_normal(H) * 0.3,
        "W_y": rng.standard_normal((H, O)) * 1.5 / np.sqrt(H),
        "b_y": rng.standard_normal(O) * 0.3,
    }


def copy_params(params):
    return {k: v.copy() for k, v in params.items()}


def assert_params_unmodified(after, params, what):
    assert isinstance(after, dict) and set(after) == set(params), \
        f"params passed to {what} must stay a dict with the same keys"
    for k, v in params.items():
        if not (isinstance(after[k], np.ndarray) and after[k].shape == v.shape
                and np.array_equal(after[k], v)):
            raise AssertionError(f"params[{k!r}] was modified by {what}; parameters must keep "
                                 "their values (work on a copy)")


def check_grads_dict(grads, params, what):
    """`grads` is a dict with exactly the keys of `params`, each shaped like its parameter."""
    assert isinstance(grads, dict), \
        f"{what} must return grads as a dict (name -> array), got {type(grads).__name__}"
    missing = sorted(set(params) - set(grads))
    extra = sorted(set(grads) - set(params), key=str)
    assert not missing and not extra, \
        f"grads must have exactly the keys {list(params)}; missing {missing}, unexpected {extra}"
    for k, v in params.items():
        g = grads[k]
        assert isinstance(g, np.ndarray), f"grads[{k!r}] is {type(g).__name__}; expected an ndarray"
        assert g.shape == v.shape, f"grads[{k!r}] has shape {g.shape}; expected {v.shape}"
        assert g.dtype.kind == "f", f"grads[{k!r}] has dtype {g.dtype}; expected float64"


# =============================================================================================
# rnn_step_forward
# =============================================================================================
# (N, D, H, O, t): batch 1 and > 1, D != H, H = 1, t = 0 (no time term), 1, 3.5, 2, 6
STEP_CASES = [(1, 3, 4, 2, 0.0), (4, 5, 3, 2, 1.0), (3, 2, 5, 3, 3.5), (5, 3, 1, 1, 2.0),
              (2, 4, 3, 2, 6.0)]
STEP_IDS = ["batch1_t0", "t1", "t3.5", "hidden1_t2", "t6"]


def step_inputs(rng, N, D, H, O, t):
    params = make_params(rng, D, H, O, wt_scale=0.6 / max(t, 1.0))
    x_t = rng.standard_normal((N, D))
    h_prev = rng.uniform(-0.8, 0.8, size=(N, H))
    return x_t, h_prev, params


@pytest.mark.problem("step_forward")
@pytest.mark.points(1)
@pytest.mark.parametrize("case", STEP_CASES, ids=STEP_IDS)
def test_step_forward_matches_reference(student, reference, rng, case):
    """rnn_step_forward: h_t and y_t for random inputs (which terms enter the pre-activation?)."""
    N, D, H, O, t = case
    x_t, h_prev, params = step_inputs(rng, N, D, H, O, t)
    want_h, want_y, _ = reference.rnn_step_forward(x_t, h_prev, t, params)
    result = student.rnn_step_forward(x_t, h_prev, t, params)
    assert isinstance(result, tuple) and len(result) == 3, \
        "rnn_step_forward must return the tuple (h_t, y_t, cache)"
    h_t, y_t, _ = result
    assert_close(h_t, want_h, name=f"h_t (t = {t:g})")
    assert_close(y_t, want_y, name=f"y_t (t = {t:g})")


@pytest.mark.problem("step_forward")
@pytest.mark.points(1)
def test_step_forward_does_not_modify_inputs(student, rng):
    """rnn_step_forward must not change x_t, h_prev or params in place."""
    x_t, h_prev, params = step_inputs(rng, 3, 4, 2, 3, 3.5)
    call = student.rnn_step_forward.inspect(x_t.copy(), h_prev.copy(), 3.5, copy_params(params))
    assert_unmodified(call, x_t, h_prev, names=("x_t", "h_prev"))
    assert_params_unmodified(call.args[3], params, "rnn_step_forward")


# =============================================================================================
# rnn_step_backward
# =============================================================================================

def step_setup(student, rng, case):
    N, D, H, O, t = case
    x_t, h_prev, params = step_inputs(rng, N, D, H, O, t)
    d_h = rng.standard_normal((N, H))
    d_y = rng.standard_normal((N, O))
    _, _, cache = student.rnn_step_forward(x_t, h_prev, t, params)
    return x_t, h_prev, t, params, d_h, d_y, cache


def step_outputs(reference, x_t, h_prev, t, params):
    """The reference step's outputs as one array: L = sum(h_t * d_h) + sum(y_t * d_y)."""
    h_t, y_t, _ = reference.rnn_step_forward(x_t, h_prev, t, params)
    return np.concatenate([h_t, y_t], axis=1)


@pytest.mark.problem("step_backward")
@pytest.mark.points(1)
@pytest.mark.parametrize("case", STEP_CASES, ids=STEP_IDS)
def test_step_backward_inputs_match_numerical(student, reference, rng, case):
    """rnn_step_backward: dx_t and dh_prev against numerical gradients (random d_h and d_y)."""
    x_t, h_prev, t, params, d_h, d_y, cache = step_setup(student, rng, case)
    dx_t, dh_prev, _ = student.rnn_step_backward(d_h, d_y, cache)
    d_out = np.concatenate([d_h, d_y], axis=1)
    check_gradient(lambda v: step_outputs(reference, v, h_prev, t, params), x_t, dx_t,
                   d_out=d_out, rng=rng, name="dx_t", tol=GRAD_TOL, eps=GRAD_EPS)
    check_gradient(lambda v: step_outputs(reference, x_t, v, t, params), h_prev, dh_prev,
                   d_out=d_out, rng=rng, name="dh_prev", tol=GRAD_TOL, eps=GRAD_EPS)


@pytest.mark.problem("step_backward")
@pytest.mark.points(1)
@pytest.mark.parametrize("case", STEP_CASES, ids=STEP_IDS)
def test_step_backward_params_match_numerical(student, reference, rng, case):
    """rnn_step_backward: every parameter gradient (W_x, W_h, w_t, b_h, W_y, b_y) against numerical ones."""
    x_t, h_prev, t, params, d_h, d_y, cache = step_setup(student, rng, case)
    _, _, grads = student.rnn_step_backward(d_h, d_y, cache)
    check_grads_dict(grads, params, "rnn_step_backward")
    d_out = np.concatenate([d_h, d_y], axis=1)
    for name in PARAM_NAMES:
        check_gradient(lambda v: step_outputs(reference, x_t, h_prev, t, {**params, name: v}),
                       params[name], grads[name], d_out=d_out, rng=rng,
                       name=f"grads[{name!r}]", tol=GRAD_TOL, eps=GRAD_EPS)


@pytest.mark.problem("step_backward")
@pytest.mark.points(1)
def test_step_backward_return_structure(student, rng):
    """rnn_step_backward returns (dx_t, dh_prev, grads): shapes of x_t and h_prev, grads with exactly the keys of params."""
    x_t, h_prev, t, params, d_h, d_y, cache = step_setup(student, rng, (2, 5, 3, 4, 1.0))
    result = student.rnn_step_backward(d_h, d_y, cache)
    assert isinstance(result, tuple) and len(result) == 3, \
        "rnn_step_backward must return the tuple (dx_t, dh_prev, grads)"
    dx_t, dh_prev, grads = result
    assert isinstance(dx_t, np.ndarray) and dx_t.shape == x_t.shape, \
        f"dx_t must have the shape of x_t {x_t.shape}"
    assert isinstance(dh_prev, np.ndarray) and dh_prev.shape == h_prev.shape, \
        f"dh_prev must have the shape of h_prev {h_prev.shape}"
    check_grads_dict(grads, params, "rnn_step_backward")


@pytest.mark.problem("step_backward")
@pytest.mark.points(1)
def test_step_backward_does_not_modify_inputs(student, rng):
    """rnn_step_backward must not change d_h or d_y in place."""
    _, _, _, _, d_h, d_y, cache = step_setup(student, rng, (3, 2, 4, 3, 3.5))
    call = student.rnn_step_backward.inspect(d_h.copy(), d_y.copy(), cache)
    assert_unmodified(call, d_h, d_y, names=("d_h", "d_y"))


# =============================================================================================
# rnn_forward
# =============================================================================================
# (T, N, D, H, O): one step with batch 1, 5+ steps, D != H, H = 1
SEQ_CASES = [(1, 1, 3, 4, 2), (5, 3, 4, 3, 2), (6, 2, 3, 1, 1), (7, 4, 2, 5, 3)]
SEQ_IDS = ["T1_batch1", "T5", "T6_hidden1", "T7"]


def seq_inputs(rng, T, N, D, H, O):
    params = make_params(rng, D, H, O, wt_scale=0.6 / T)
    xs = rng.standard_normal((T, N, D))
    h0 = rng.uniform(-0.8, 0.8, size=(N, H))
    return xs, h0, params


@pytest.mark.problem("rnn_forward")
@pytest.mark.points(1)
@pytest.mark.parametrize("case", SEQ_CASES, ids=SEQ_IDS)
def test_rnn_forward_matches_reference(student, reference, rng, case):
    """rnn_forward: all hidden states and outputs of a random sequence."""
    xs, h0, params = seq_inputs(rng, *case)
    want_hs, want_ys, _ = reference.rnn_forward(xs, h0, params)
    result = student.rnn_forward(xs, h0, params)
    assert isinstance(result, tuple) and len(result) == 3, \
        "rnn_forward must return the tuple (hs, ys, cache)"
    hs, ys, _ = result
    assert_close(hs, want_hs, name="hs")
    assert_close(ys, want_ys, name="ys")


@pytest.mark.problem("rnn_forward")
@pytest.mark.points(1)
def test_rnn_forward_time_index(student, reference, rng):
    """rnn_forward: each step must use its own time t (how are the steps numbered?)."""
    T, N, D, H, O = 5, 2, 3, 4, 2
    xs, h0, params = seq_inputs(rng, T, N, D, H, O)
    params["w_t"] = rng.uniform(0.15, 0.3, size=H) * rng.choice([-1.0, 1.0], size=H)
    hs, _, _ = student.rnn_forward(xs, h0, params)
    assert isinstance(hs, np.ndarray) and hs.shape == (T, N, H), \
        f"hs must be an ndarray of shape {(T, N, H)}"
    for k in range(T):
        h_prev = h0 if k == 0 else hs[k - 1]  # the student's own previous state
        want, _, _ = reference.rnn_step_forward(xs[k], h_prev, float(k + 1), params)
        assert_close(hs[k], want, name=f"hs[{k}] (compared with one step at t = {k + 1})")


@pytest.mark.problem("rnn_forward")
@pytest.mark.points(1)
def test_rnn_forward_does_not_modify_inputs(student, rng):
    """rnn_forward must not change xs, h0 or params in place."""
    xs, h0, params = seq_inputs(rng, 5, 2, 3, 4, 2)
    call = student.rnn_forward.inspect(xs.copy(), h0.copy(), copy_params(params))
    assert_unmodified(call, xs, h0, names=("xs", "h0"))
    assert_params_unmodified(call.args[2], params, "rnn_forward")


# =============================================================================================
# rnn_backward
# =============================================================================================

def seq_setup(student, rng, case, *, d_hs=None, d_ys=None):
    T, N, D, H, O = case
    xs, h0, params = seq_inputs(rng, T, N, D, H, O)
    d_hs = rng.standard_normal((T, N, H)) if d_hs is None else d_hs
    d_ys = rng.standard_normal((T, N, O)) if d_ys is None else d_ys
    _, _, cache = student.rnn_forward(xs, h0, params)
    return xs, h0, params, d_hs, d_ys, cache


def seq_outputs(reference, xs, h0, params):
    """The reference's hs and ys as one array: L = sum(hs * d_hs) + sum(ys * d_ys)."""
    hs, ys, _ = reference.rnn_forward(xs, h0, params)
    return np.concatenate([hs, ys], axis=2)


@pytest.mark.problem("rnn_backward")
@pytest.mark.points(1)
@pytest.mark.parametrize("case", SEQ_CASES, ids=SEQ_IDS)
def test_rnn_backward_inputs_match_numerical(student, reference, rng, case):
    """rnn_backward: dxs (every step's input) and dh0 against numerical gradients."""
    xs, h0, params, d_hs, d_ys, cache = seq_setup(student, rng, case)
    dxs, dh0, _ = student.rnn_backward(d_hs, d_ys, cache)
    d_out = np.concatenate([d_hs, d_ys], axis=2)
    check_gradient(lambda v: seq_outputs(reference, v, h0, params), xs, dxs,
                   d_out=d_out, rng=rng, name="dxs", tol=GRAD_TOL, eps=GRAD_EPS, coords=30)
    # the first step's inputs are reached only through the whole chain of later steps
    check_gradient(lambda v: seq_outputs(reference, np.concatenate([v[None], xs[1:]]), h0,
                                         params),
                   xs[0], dxs[0], d_out=d_out, rng=rng, name="dxs[0]", tol=GRAD_TOL,
                   eps=GRAD_EPS)
    check_gradient(lambda v: seq_outputs(reference, xs, v, params), h0, dh0,
                   d_out=d_out, rng=rng, name="dh0", tol=GRAD_TOL, eps=GRAD_EPS)


@pytest.mark.problem("rnn_backward")
@pytest.mark.points(1)
@pytest.mark.parametrize("case", SEQ_CASES, ids=SEQ_IDS)
def test_rnn_backward_params_match_numerical(student, reference, rng, case):
    """rnn_backward: every parameter gradient, summed over the time steps, against numerical ones."""
    xs, h0, params, d_hs, d_ys, cache = seq_setup(student, rng, case)
    _, _, grads = student.rnn_backward(d_hs, d_ys, cache)
    check_grads_dict(grads, params, "rnn_backward")
    d_out = np.concatenate([d_hs, d_ys], axis=2)
    for name in PARAM_NAMES:
        check_gradient(lambda v: seq_outputs(reference, xs, h0, {**params, name: v}),
                       params[name], grads[name], d_out=d_out, rng=rng,
                       name=f"grads[{name!r}]", tol=GRAD_TOL, eps=GRAD_EPS)


@pytest.mark.problem("rnn_backward")
@pytest.mark.points(1)
def test_rnn_backward_last_state_only(student, reference, rng):
    """rnn_backward with a loss on the last hidden state only: the gradient must reach the first inputs and h0."""
    T, N, D, H, O = 6, 2, 3, 4, 2
    xs, h0, params = seq_inputs(rng, T, N, D, H, O)
    # a recurrent matrix that neither blows up nor lets the gradient vanish over 6 steps
    q, _ = np.linalg.qr(rng.standard_normal((H, H)))
    params["W_h"] = 0.9 * q
    d_hs = np.zeros((T, N, H))
    d_hs[-1] = rng.standard_normal((N, H))
    d_ys = np.zeros((T, N, O))
    _, _, cache = student.rnn_forward(xs, h0, params)
    dxs, dh0, grads = student.rnn_backward(d_hs, d_ys, cache)
    d_out = np.concatenate([d_hs, d_ys], axis=2)
    check_gradient(lambda v: seq_outputs(reference, xs, v, params), h0, dh0,
                   d_out=d_out, rng=rng, name="dh0", tol=GRAD_TOL, eps=GRAD_EPS)
    check_gradient(lambda v: seq_outputs(reference, v, h0, params), xs, dxs,
                   d_out=d_out, rng=rng, name="dxs", tol=GRAD_TOL, eps=GRAD_EPS, coords=30)
    check_grads_dict(grads, params, "rnn_backward")
    check_gradient(lambda v: seq_outputs(reference, xs, h0, {**params, "W_h": v}),
                   params["W_h"], grads["W_h"], d_out=d_out, rng=rng,
                   name="grads['W_h']", tol=GRAD_TOL, eps=GRAD_EPS)


@pytest.mark.problem("rnn_backward")
@pytest.mark.points(1)
def test_rnn_backward_return_structure(student, rng):
    """rnn_backward returns (dxs, dh0, grads): shapes of xs and h0, grads with exactly the keys of params."""
    xs, h0, params, d_hs, d_ys, cache = seq_setup(student, rng, (5, 3, 2, 4, 3))
    result = student.rnn_backward(d_hs, d_ys, cache)
    assert isinstance(result, tuple) and len(result) == 3, \
        "rnn_backward must return the tuple (dxs, dh0, grads)"
    dxs, dh0, grads = result
    assert isinstance(dxs, np.ndarray) and dxs.shape == xs.shape, \
        f"dxs must have the shape of xs {xs.shape}"
    assert isinstance(dh0, np.ndarray) and dh0.shape == h0.shape, \
        f"dh0 must have the shape of h0 {h0.shape}"
    check_grads_dict(grads, params, "rnn_backward")


@pytest.mark.problem("rnn_backward")
@pytest.mark.points(1)
def test_rnn_backward_does_not_modify_inputs(student, rng):
    """rnn_backward must not change d_hs or d_ys in place."""
    _, _, _, d_hs, d_ys, cache = seq_setup(student, rng, (5, 2, 3, 4, 2))
    call = student.rnn_backward.inspect(d_hs.copy(), d_ys.copy(), cache)
    assert_unmodified(call, d_hs, d_ys, names=("d_hs", "d_ys"))
