"""Hidden suite for hw2_mlp, file mlp.py: dense and activation layers, the MLP, softmax
cross-entropy.

Shapes with N, D, H, C all different (a transpose cannot go unnoticed), batches of 1 and more,
every activation of ACTIVATIONS, float64 gradient checks against the trusted reference forward
with random upstream gradients and pre-activations kept away from ReLU's kink, inputs checked
for in-place changes, logits of +-1e3.
Timing of mlp_forward / mlp_backward is in test_speed_hidden.py. The first docstring line
of each test is what a student sees when it fails.
"""
import numpy as np
import pytest

from grader.testing import assert_close, assert_unmodified, check_gradient

ACTIVATIONS = ("relu", "sigmoid", "tanh", "identity")

# Gradient checks: central differences with eps = 1e-5 on losses of order 1 are accurate to
# about 1e-10 in absolute terms, so entries of order 1 agree to ~1e-9 relative, but an entry
# that happens to be ~1e-6 only to ~1e-5 (over 1000 seeds the worst was 4e-6). Every mutant is
# off by 1e-2 relative or (much) more.
GRAD_EPS = 1e-5
GRAD_TOL = 1e-5
KINK = 1e-3  # every pre-activation stays at least this far from 0 in gradient checks

# (N, layer sizes, activations): N != D != H != C everywhere
NETS = {
    "one_layer_batch1": (1, [5, 3], ["identity"]),
    "two_layers": (6, [4, 7, 3], ["relu", "identity"]),
    "three_layers": (5, [3, 8, 6, 2], ["tanh", "sigmoid", "identity"]),
    "relu_relu_batch1": (1, [6, 5, 4, 3], ["relu", "relu", "identity"]),
    "relu_deep": (9, [5, 7, 6, 4], ["relu", "tanh", "relu"]),
}


# ------------------------------------------------------------------------------------------
# helpers (harness side)
# ------------------------------------------------------------------------------------------

def _params(rng, sizes, scale=1.0):
    return [(rng.standard_normal((n_in, n_out)) * scale / np.sqrt(n_in),
             rng.standard_normal(n_out) * 0.5)
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def _copy_params(params):
    return [(W.copy(), b.copy()) for W, b in params]


def _pre_activations(reference, x, params, activations):
    """Every layer's z = h @ W + b, computed with the reference."""
    zs, h = [], x
    for (W, b), name in zip(params, activations):
        z = h @ W + b
        zs.append(z)
        h, _ = reference.activation_forward(z, name)
    return zs


def _net_away_from_kink(reference, rng, n, sizes, activations):
    """x and params whose pre-activations all satisfy |z| >= KINK (redrawn until they do)."""
    for _ in range(200):
        x = rng.standard_normal((n, sizes[0]))
        params = _params(rng, sizes)
        zs = _pre_activations(reference, x, params, activations)
        if min(np.abs(z).min() for z in zs) >= KINK:
            return x, params
    raise RuntimeError("could not draw a network away from the ReLU kink")


def _away_from_zero(rng, shape, low=0.2, high=2.0):
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def _replace(params, i, j, value):
    """params with element j (0: W, 1: b) of layer i replaced by value."""
    out = list(params)
    layer = list(out[i])
    layer[j] = value
    out[i] = tuple(layer)
    return out


def _check_pairs(got, want, *, name):
    """got must be a list/tuple of len(want) (dW, db) pairs equal to want."""
    assert isinstance(got, (list, tuple)), f"{name} must be a list of (dW, db) pairs"
    assert len(got) == len(want), f"{name} has {len(got)} entries; expected {len(want)} (one per layer)"
    for i, (pair, (dW, db)) in enumerate(zip(got, want)):
        assert isinstance(pair, (list, tuple)) and len(pair) == 2, \
            f"{name}[{i}] must be a pair (dW, db)"
        assert_close(pair[0], dW, name=f"{name}[{i}][0] (dW)", rtol=1e-7, atol=1e-10)
        assert_close(pair[1], db, name=f"{name}[{i}][1] (db)", rtol=1e-7, atol=1e-10)


def _assert_shapes(values, shapes, what):
    """values: a tuple/list of arrays with the given shapes (structure only, not the numbers)."""
    assert isinstance(values, (list, tuple)) and len(values) == len(shapes), \
        f"{what}: expected {len(shapes)} arrays"
    for k, (v, shape) in enumerate(zip(values, shapes)):
        assert isinstance(v, np.ndarray) and v.shape == tuple(shape), \
            f"{what}: element {k} must be an ndarray of shape {tuple(shape)}, got " \
            f"{getattr(v, 'shape', type(v).__name__)}"


def _assert_params_unmodified(after, before, what="params"):
    assert isinstance(after, (list, tuple)) and len(after) == len(before), \
        f"{what} was modified by the call"
    for i, (pa, pb) in enumerate(zip(after, before)):
        for j, name in enumerate(("W", "b")):
            a, b = pa[j], pb[j]
            if not (isinstance(a, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)):
                raise AssertionError(f"{what}[{i}] ({name}) was modified by the call; inputs "
                                     "must keep their values (work on a copy)")


# ==========================================================================================
# dense layer
# ==========================================================================================

@pytest.mark.problem("mlp_forward")
@pytest.mark.points(1)
@pytest.mark.parametrize("n", [1, 6], ids=["batch1", "batch6"])
def test_dense_forward_matches(student, reference, rng, n):
    """dense_forward computes x @ W + b for a batch of rows (W has shape (D, H))."""
    x, W, b = rng.standard_normal((n, 4)), rng.standard_normal((4, 7)), rng.standard_normal(7)
    result = student.dense_forward(x, W, b)
    assert isinstance(result, tuple) and len(result) == 2, "dense_forward must return (out, cache)"
    assert_close(result[0], x @ W + b, name="dense_forward(x, W, b)[0]")


@pytest.mark.problem("mlp_backward")
@pytest.mark.points(2)
@pytest.mark.parametrize("n", [1, 6], ids=["batch1", "batch6"])
def test_dense_backward_numerical(student, reference, rng, n):
    """dense_backward's dx, dW and db agree with numerical gradients for a random d_out."""
    D, H = 4, 7
    x, W, b = rng.standard_normal((n, D)), rng.standard_normal((D, H)), rng.standard_normal(H)
    d_out = rng.standard_normal((n, H))
    _, cache = student.dense_forward(x, W, b)
    grads = student.dense_backward(d_out, cache)
    assert isinstance(grads, tuple) and len(grads) == 3, "dense_backward must return (dx, dW, db)"
    dx, dW, db = grads
    f = reference.dense_forward
    check_gradient(lambda v: f(v, W, b)[0], x, dx, d_out=d_out, rng=rng, name="dx",
                   eps=GRAD_EPS, tol=GRAD_TOL)
    check_gradient(lambda v: f(x, v, b)[0], W, dW, d_out=d_out, rng=rng, name="dW",
                   eps=GRAD_EPS, tol=GRAD_TOL)
    check_gradient(lambda v: f(x, W, v)[0], b, db, d_out=d_out, rng=rng, name="db",
                   eps=GRAD_EPS, tol=GRAD_TOL)


@pytest.mark.problem("mlp_backward")
@pytest.mark.points(1)
def test_dense_does_not_modify_inputs(student, rng):
    """dense_forward and dense_backward must not change their arguments in place (and return arrays of the right shapes)."""
    x, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    d_out = rng.standard_normal((5, 4))
    call = student.dense_forward.inspect(x.copy(), W.copy(), b.copy())
    assert_unmodified(call, x, W, b, names=("x", "W", "b"))
    call = student.dense_backward.inspect(d_out.copy(), call.result[1])
    assert_unmodified(call, d_out, names=("d_out",))
    _assert_shapes(call.result, [(5, 3), (3, 4), (4,)], "dense_backward(...) -> (dx, dW, db)")


# ==========================================================================================
# activations
# ==========================================================================================

@pytest.mark.problem("mlp_forward")
@pytest.mark.points(1)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_forward(student, reference, rng, name):
    """activation_forward(z, name) for every name in ACTIVATIONS, including large |z|."""
    z = rng.standard_normal((3, 5)) * 3.0
    z[0, :2] = [40.0, -40.0]
    result = student.activation_forward(z, name)
    assert isinstance(result, tuple) and len(result) == 2, \
        "activation_forward must return (a, cache)"
    assert_close(result[0], reference.activation_forward(z, name)[0],
                 name=f"activation_forward(z, {name!r})[0]", rtol=1e-10, atol=1e-12)


@pytest.mark.problem("mlp_backward")
@pytest.mark.points(1)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_numerical(student, reference, rng, name):
    """activation_backward agrees with a numerical gradient (z away from 0) for a random d_a."""
    z = _away_from_zero(rng, (4, 6))
    d_a = rng.standard_normal((4, 6))
    _, cache = student.activation_forward(z, name)
    d_z = student.activation_backward(d_a, cache)
    check_gradient(lambda v: reference.activation_forward(v, name)[0], z, d_z, d_out=d_a,
                   rng=rng, name="d_z", eps=GRAD_EPS, tol=GRAD_TOL)


@pytest.mark.problem("mlp_backward")
@pytest.mark.points(1)
def test_activation_does_not_modify_inputs(student, rng):
    """activation_forward and activation_backward must not change their arguments in place."""
    for name in ACTIVATIONS:
        z, d_a = _away_from_zero(rng, (3, 4)), rng.standard_normal((3, 4))
        call = student.activation_forward.inspect(z.copy(), name)
        assert_unmodified(call, z, names=(f"z ({name})",))
        call = student.activation_backward.inspect(d_a.copy(), call.result[1])
        assert_unmodified(call, d_a, names=(f"d_a ({name})",))


# ==========================================================================================
# mlp_forward
# ==========================================================================================

@pytest.mark.problem("mlp_forward")
@pytest.mark.points(1)
@pytest.mark.parametrize("net", sorted(NETS))
def test_mlp_forward_matches(student, reference, rng, net):
    """mlp_forward applies every layer's x @ W + b and its own activation, in order."""
    n, sizes, activations = NETS[net]
    x, params = rng.standard_normal((n, sizes[0])), _params(rng, sizes)
    result = student.mlp_forward(x, params, activations)
    assert isinstance(result, tuple) and len(result) == 2, "mlp_forward must return (out, cache)"
    assert_close(result[0], reference.mlp_forward(x, params, activations)[0],
                 name="mlp_forward(...)[0]", rtol=1e-10, atol=1e-12)


@pytest.mark.problem("mlp_forward")
@pytest.mark.points(1)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_mlp_forward_hidden_activation(student, reference, rng, name):
    """A two-layer MLP with each activation of ACTIVATIONS in its hidden layer."""
    x, params = rng.standard_normal((7, 3)), _params(rng, [3, 5, 4], scale=2.0)
    activations = [name, "identity"]
    out, _ = student.mlp_forward(x, params, activations)
    assert_close(out, reference.mlp_forward(x, params, activations)[0],
                 name=f"mlp_forward with activations {activations}", rtol=1e-10, atol=1e-12)


@pytest.mark.problem("mlp_forward")
@pytest.mark.points(1)
def test_mlp_forward_does_not_modify_inputs(student, rng):
    """mlp_forward must not change x or the parameters in place (and returns out of shape (N, n_L))."""
    n, sizes, activations = NETS["relu_deep"]
    x, params = rng.standard_normal((n, sizes[0])), _params(rng, sizes)
    call = student.mlp_forward.inspect(x.copy(), _copy_params(params), list(activations))
    assert_unmodified(call, x, names=("x",))
    _assert_params_unmodified(call.args[1], params)
    _assert_shapes(call.result[:1], [(n, sizes[-1])], "mlp_forward(...)[0]")


# ==========================================================================================
# mlp_backward
# ==========================================================================================

@pytest.mark.problem("mlp_backward")
@pytest.mark.points(2)
@pytest.mark.parametrize("net", sorted(NETS))
def test_mlp_backward_numerical(student, reference, rng, net):
    """Every dW and db of mlp_backward agrees with a numerical gradient for a random d_out."""
    n, sizes, activations = NETS[net]
    x, params = _net_away_from_kink(reference, rng, n, sizes, activations)
    d_out = rng.standard_normal((n, sizes[-1]))
    _, cache = student.mlp_forward(x, params, activations)
    grads = student.mlp_backward(d_out, cache)
    assert isinstance(grads, (list, tuple)) and len(grads) == len(params), \
        f"mlp_backward must return a list of {len(params)} (dW, db) pairs, one per layer"
    for i, pair in enumerate(grads):
        assert isinstance(pair, (list, tuple)) and len(pair) == 2, \
            f"grads[{i}] must be a pair (dW, db)"
        for j, label in enumerate(("dW", "db")):
            def f(v, i=i, j=j):
                return reference.mlp_forward(x, _replace(params, i, j, v), activations)[0]
            check_gradient(f, params[i][j], pair[j], d_out=d_out, rng=rng,
                           name=f"grads[{i}] {label}", eps=GRAD_EPS, tol=GRAD_TOL)


@pytest.mark.problem("mlp_backward")
@pytest.mark.points(1)
@pytest.mark.parametrize("net", ["three_layers", "relu_deep", "relu_relu_batch1"])
def test_mlp_backward_matches_reference(student, reference, rng, net):
    """mlp_backward returns [(dW_0, db_0), (dW_1, db_1), ...] in the order of params."""
    n, sizes, activations = NETS[net]
    x, params = _net_away_from_kink(reference, rng, n, sizes, activations)
    d_out = rng.standard_normal((n, sizes[-1]))
    _, cache = student.mlp_forward(x, params, activations)
    grads = student.mlp_backward(d_out, cache)
    _, ref_cache = reference.mlp_forward(x, params, activations)
    _check_pairs(grads, reference.mlp_backward(d_out, ref_cache), name="grads")


@pytest.mark.problem("mlp_backward")
@pytest.mark.points(1)
def test_mlp_backward_uses_its_cache(student, reference, rng):
    """mlp_backward uses the cache it is given (two forward passes, two different caches)."""
    n, sizes, activations = NETS["two_layers"]
    x1, params = _net_away_from_kink(reference, rng, n, sizes, activations)
    x2 = rng.standard_normal((n + 2, sizes[0]))
    d_out = rng.standard_normal((n, sizes[-1]))
    _, cache1 = student.mlp_forward(x1, params, activations)
    student.mlp_forward(x2, params, activations)
    grads = student.mlp_backward(d_out, cache1)
    _, ref_cache = reference.mlp_forward(x1, params, activations)
    _check_pairs(grads, reference.mlp_backward(d_out, ref_cache), name="grads")


@pytest.mark.problem("mlp_backward")
@pytest.mark.points(1)
def test_mlp_backward_does_not_modify_d_out(student, reference, rng):
    """mlp_backward must not change d_out in place (and returns one (dW, db) pair per layer, shaped like params)."""
    n, sizes, activations = NETS["relu_deep"]
    x, params = _net_away_from_kink(reference, rng, n, sizes, activations)
    d_out = rng.standard_normal((n, sizes[-1]))
    _, cache = student.mlp_forward(x, params, activations)
    call = student.mlp_backward.inspect(d_out.copy(), cache)
    assert_unmodified(call, d_out, names=("d_out",))
    assert isinstance(call.result, (list, tuple)) and len(call.result) == len(params), \
        f"mlp_backward must return a list of {len(params)} (dW, db) pairs"
    for i, (W, b) in enumerate(params):
        _assert_shapes(call.result[i], [W.shape, b.shape], f"grads[{i}] -> (dW, db)")


# ==========================================================================================
# softmax_cross_entropy
# ==========================================================================================

def _labels(rng, n, c):
    return rng.integers(0, c, size=n)


@pytest.mark.problem("softmax_cross_entropy")
@pytest.mark.points(1)
@pytest.mark.parametrize("n,c", [(1, 4), (7, 3), (12, 5)], ids=["batch1", "batch7", "batch12"])
def test_softmax_ce_matches(student, reference, rng, n, c):
    """softmax_cross_entropy returns (mean loss over the batch, d_logits)."""
    logits, labels = rng.standard_normal((n, c)) * 2.0, _labels(rng, n, c)
    result = student.softmax_cross_entropy(logits, labels)
    assert isinstance(result, tuple) and len(result) == 2, \
        "softmax_cross_entropy must return (loss, d_logits)"
    loss, d_logits = result
    ref_loss, ref_d = reference.softmax_cross_entropy(logits, labels)
    assert_close(loss, ref_loss, name="loss", rtol=1e-10, atol=1e-12)
    assert_close(d_logits, ref_d, name="d_logits", rtol=1e-9, atol=1e-12)


@pytest.mark.problem("softmax_cross_entropy")
@pytest.mark.points(2)
@pytest.mark.parametrize("n,c", [(1, 3), (9, 4)], ids=["batch1", "batch9"])
def test_softmax_ce_gradient_numerical(student, reference, rng, n, c):
    """d_logits is the gradient of the mean loss: compare it with a numerical gradient."""
    logits, labels = rng.standard_normal((n, c)), _labels(rng, n, c)
    _, d_logits = student.softmax_cross_entropy(logits, labels)
    check_gradient(lambda v: reference.softmax_cross_entropy(v, labels)[0], logits, d_logits,
                   d_out=np.float64(1.0), rng=rng, name="d_logits", eps=GRAD_EPS, tol=GRAD_TOL)


@pytest.mark.problem("softmax_cross_entropy")
@pytest.mark.points(2)
def test_softmax_ce_large_logits(student, rng):
    """Logits of size 1e3 must give a finite, correct loss and gradient (no overflow)."""
    logits = np.array([[1000.0, -1000.0, 0.0, 999.0],
                       [-1000.0, -1000.0, -999.0, -1001.0],
                       [1000.0, 1000.0, 1000.0, 1000.0]])
    labels = np.array([1, 2, 3])
    n = len(labels)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    want_loss = -log_probs[np.arange(n), labels].mean()  # ~ (2000 + 0.55 + 1.39) / 3
    want_d = np.exp(log_probs)
    want_d[np.arange(n), labels] -= 1.0
    want_d /= n
    loss, d_logits = student.softmax_cross_entropy(logits, labels)
    assert_close(loss, want_loss, name="loss at logits of +-1e3", rtol=1e-10)
    assert_close(d_logits, want_d, name="d_logits at logits of +-1e3", rtol=1e-9, atol=1e-12)


@pytest.mark.problem("softmax_cross_entropy")
@pytest.mark.points(1)
def test_softmax_ce_shift_invariant(student, reference, rng):
    """Adding a constant to a row of logits changes neither the loss nor d_logits."""
    logits, labels = rng.standard_normal((5, 3)), _labels(rng, 5, 3)
    # shifts of 750..900 in size: exp() of the shifted logits overflows (or underflows to 0)
    shifted = logits + rng.uniform(750, 900, size=(5, 1)) * np.array([[1], [-1], [1], [-1], [1]])
    loss, d_logits = student.softmax_cross_entropy(shifted, labels)
    ref_loss, ref_d = reference.softmax_cross_entropy(logits, labels)
    assert_close(loss, ref_loss, name="loss of shifted logits", rtol=1e-8, atol=1e-10)
    assert_close(d_logits, ref_d, name="d_logits of shifted logits", rtol=1e-7, atol=1e-10)


@pytest.mark.problem("softmax_cross_entropy")
@pytest.mark.points(1)
def test_softmax_ce_does_not_modify_inputs(student, rng):
    """softmax_cross_entropy must not change logits or labels in place (and d_logits is shaped like logits)."""
    logits, labels = rng.standard_normal((6, 4)), _labels(rng, 6, 4)
    call = student.softmax_cross_entropy.inspect(logits.copy(), labels.copy())
    assert_unmodified(call, logits, labels, names=("logits", "labels"))
    _assert_shapes(call.result[1:], [(6, 4)], "softmax_cross_entropy(...)[1] (d_logits)")
