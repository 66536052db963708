"""Hidden suite for hw1_graph.

Random inputs (the `rng` fixture), random upstream gradients (never only ones), Python
scalars and arrays of 0 to 3 dimensions, x != y, inputs checked for in-place changes, and
numerical gradients that only central differences get right to the required tolerance.
The first docstring line of each test is what a student sees when it fails.
"""
import numpy as np
import pytest

from grader.testing import assert_close, assert_unmodified, check_gradient

SHAPES = [(), (5,), (3, 4), (2, 3, 4)]
SHAPE_IDS = ["0d", "1d", "2d", "3d"]


def _rand(rng, shape, low=-2.0, high=2.0):
    """A float64 array of the given shape (a 0-d array for shape ()), or a Python float for None."""
    if shape is None:
        return float(rng.uniform(low, high))
    return np.asarray(rng.uniform(low, high, size=shape), dtype=np.float64)


def _away_from_zero(rng, shape, low=0.5, high=1.5):
    """Values with |v| in [low, high] and random signs."""
    magnitude = rng.uniform(low, high, size=shape)
    return np.asarray(magnitude * rng.choice([-1.0, 1.0], size=shape), dtype=np.float64)


def _copy(v):
    return v.copy() if isinstance(v, np.ndarray) else v


def _close(actual, expected, *, name, **tolerances):
    """assert_close; a 0-d expected array counts as a scalar (0-d results may come back as NumPy scalars)."""
    if isinstance(expected, np.ndarray) and expected.ndim == 0:
        expected = expected[()]
    assert_close(actual, expected, name=name, **tolerances)


# =============================================================================================
# MulNode
# =============================================================================================

@pytest.mark.problem("mulnode")
@pytest.mark.points(1)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_mulnode_arrays_random_dout(student, reference, rng, shape):
    """MulNode on arrays with a random upstream gradient: check both local gradients and the factor d_out."""
    x, y, d_out = _rand(rng, shape), _rand(rng, shape), _rand(rng, shape)
    ref = reference.MulNode()
    node = student.MulNode()
    _close(node.forward(x, y), ref.forward(x, y), name="MulNode.forward(x, y)")
    dx, dy = node.backward(d_out)
    ref_dx, ref_dy = ref.backward(d_out)
    _close(dx, ref_dx, name="dx")
    _close(dy, ref_dy, name="dy")


@pytest.mark.problem("mulnode")
@pytest.mark.points(1)
def test_mulnode_python_scalars(student, rng):
    """MulNode on Python floats with an upstream gradient other than 1."""
    x, y = _rand(rng, None), _rand(rng, None)
    d_out = _rand(rng, None, 0.2, 3.0)
    node = student.MulNode()
    _close(node.forward(x, y), x * y, name="MulNode.forward(x, y)")
    dx, dy = node.backward(d_out)
    _close(dx, d_out * y, name="dx")
    _close(dy, d_out * x, name="dy")


@pytest.mark.problem("mulnode")
@pytest.mark.points(1)
def test_mulnode_scalar_times_array(student, rng):
    """MulNode with a constant scalar as x and an array as y, as in MyNetwork's last node."""
    y, d_out = _rand(rng, (3, 2)), _rand(rng, (3, 2))
    node = student.MulNode()
    _close(node.forward(3, y), 3 * y, name="MulNode.forward(3, y)")
    _, dy = node.backward(d_out)
    _close(dy, 3 * d_out, name="dy")


@pytest.mark.problem("mulnode")
@pytest.mark.points(1)
def test_mulnode_backward_uses_latest_forward(student, rng):
    """backward must use the inputs of the most recent forward call."""
    x1, y1, x2, y2, d_out = (_rand(rng, (4,)) for _ in range(5))
    node = student.MulNode()
    node.forward(x1, y1)
    node.forward(x2, y2)
    dx, dy = node.backward(d_out)
    _close(dx, d_out * y2, name="dx")
    _close(dy, d_out * x2, name="dy")


@pytest.mark.problem("mulnode")
@pytest.mark.points(1)
def test_mulnode_does_not_modify_inputs(student, rng):
    """MulNode.forward and MulNode.backward must not change their arguments in place."""
    x, y, d_out = _rand(rng, (2, 5)), _rand(rng, (2, 5)), _rand(rng, (2, 5))
    node = student.MulNode()
    call = node.forward.inspect(_copy(x), _copy(y))
    assert_unmodified(call, x, y)
    call = node.backward.inspect(_copy(d_out))
    assert_unmodified(call, d_out)


# =============================================================================================
# AddNode
# =============================================================================================

@pytest.mark.problem("addnode")
@pytest.mark.points(1)
@pytest.mark.parametrize("shape", [(), (3, 5), (2, 3, 4)], ids=["0d", "2d", "3d"])
def test_addnode_arrays_random_dout(student, rng, shape):
    """AddNode on arrays with a random upstream gradient: what does each input receive?"""
    x, y, d_out = _rand(rng, shape), _rand(rng, shape), _rand(rng, shape)
    node = student.AddNode()
    _close(node.forward(x, y), x + y, name="AddNode.forward(x, y)")
    dx, dy = node.backward(d_out)
    _close(dx, d_out, name="dx")
    _close(dy, d_out, name="dy")


@pytest.mark.problem("addnode")
@pytest.mark.points(1)
def test_addnode_python_scalars(student, rng):
    """AddNode on Python floats with an upstream gradient other than 1."""
    x, y = _rand(rng, None), _rand(rng, None)
    d_out = _rand(rng, None, 0.2, 3.0)
    node = student.AddNode()
    _close(node.forward(x, y), x + y, name="AddNode.forward(x, y)")
    dx, dy = node.backward(d_out)
    _close(dx, d_out, name="dx")
    _close(dy, d_out, name="dy")


@pytest.mark.problem("addnode")
@pytest.mark.points(1)
def test_addnode_does_not_modify_inputs(student, rng):
    """AddNode.forward and AddNode.backward must not change their arguments in place."""
    x, y, d_out = _rand(rng, (4, 3)), _rand(rng, (4, 3)), _rand(rng, (4, 3))
    node = student.AddNode()
    call = node.forward.inspect(_copy(x), _copy(y))
    assert_unmodified(call, x, y)
    call = node.backward.inspect(_copy(d_out))
    assert_unmodified(call, d_out)


# =============================================================================================
# MyNetwork
# =============================================================================================

NET_SHAPES = [None, (6,), (3, 4), (2, 3, 2)]
NET_IDS = ["python_floats", "1d", "2d", "3d"]


@pytest.mark.problem("mynetwork")
@pytest.mark.points(1)
@pytest.mark.parametrize("shape", NET_SHAPES, ids=NET_IDS)
def test_mynetwork_forward_backward(student, reference, rng, shape):
    """MyNetwork forward value and (d_a, d_b, d_c) for a random upstream gradient."""
    a, b, c, d_out = (_rand(rng, shape) for _ in range(4))
    ref = reference.MyNetwork()
    net = student.MyNetwork()
    _close(net.forward(a, b, c), ref.forward(a, b, c), name="MyNetwork.forward(a, b, c)")
    grads = net.backward(d_out)
    assert grads is not None and len(grads) == 3, "MyNetwork.backward must return (d_a, d_b, d_c)"
    for got, want, name in zip(grads, ref.backward(d_out), ("d_a", "d_b", "d_c")):
        _close(got, want, name=name)


@pytest.mark.problem("mynetwork")
@pytest.mark.points(2)
def test_mynetwork_gradients_match_numerical(student, reference, rng):
    """MyNetwork's gradients must agree with a numerical gradient of 3 * (a + b * c)."""
    a, b, c = _rand(rng, (2, 3, 4)), _rand(rng, (2, 3, 4)), _rand(rng, (2, 3, 4))
    d_out = _rand(rng, (2, 3, 4))
    net = student.MyNetwork()
    net.forward(a, b, c)
    d_a, d_b, d_c = net.backward(d_out)
    check_gradient(lambda v: reference.MyNetwork().forward(v, b, c), a, d_a,
                   d_out=d_out, rng=rng, name="d_a")
    check_gradient(lambda v: reference.MyNetwork().forward(a, v, c), b, d_b,
                   d_out=d_out, rng=rng, name="d_b")
    check_gradient(lambda v: reference.MyNetwork().forward(a, b, v), c, d_c,
                   d_out=d_out, rng=rng, name="d_c")


@pytest.mark.problem("mynetwork")
@pytest.mark.points(1)
def test_mynetwork_default_dout(student, rng):
    """MyNetwork.backward() without an argument uses d_out = 1.0."""
    a, b, c = _rand(rng, None), _rand(rng, None), _rand(rng, None)
    net = student.MyNetwork()
    net.forward(a, b, c)
    grads = net.backward()
    assert grads is not None and len(grads) == 3, "MyNetwork.backward must return (d_a, d_b, d_c)"
    d_a, d_b, d_c = grads
    _close(d_a, 3.0, name="d_a")
    _close(d_b, 3.0 * c, name="d_b")
    _close(d_c, 3.0 * b, name="d_c")


@pytest.mark.problem("mynetwork")
@pytest.mark.points(1)
def test_mynetwork_routes_through_its_nodes(student, reference, rng):
    """MyNetwork.forward must compute through self.node1, self.node2 and self.node3 in the lecture's order."""
    a, b, c = _rand(rng, (3, 3)), _rand(rng, (3, 3)), _rand(rng, (3, 3))
    ref = reference.MyNetwork()
    ref.forward(a, b, c)
    net = student.MyNetwork()
    net.forward(a, b, c)
    for name in ("node1", "node2", "node3"):
        g = _rand(rng, (3, 3))
        got = getattr(net, name).backward(g)
        want = getattr(ref, name).backward(g)
        _close(got[0], want[0], name=f"{name}.backward(g)[0]")
        _close(got[1], want[1], name=f"{name}.backward(g)[1]")


@pytest.mark.problem("mynetwork")
@pytest.mark.points(1)
def test_mynetwork_backward_uses_latest_forward(student, reference, rng):
    """MyNetwork.backward must use the inputs of the most recent forward call."""
    first = [_rand(rng, (5,)) for _ in range(3)]
    second = [_rand(rng, (5,)) for _ in range(3)]
    d_out = _rand(rng, (5,))
    net = student.MyNetwork()
    net.forward(*first)
    _close(net.forward(*second), reference.MyNetwork().forward(*second),
                 name="MyNetwork.forward (second call)")
    ref = reference.MyNetwork()
    ref.forward(*second)
    for got, want, name in zip(net.backward(d_out), ref.backward(d_out), ("d_a", "d_b", "d_c")):
        _close(got, want, name=name)


@pytest.mark.problem("mynetwork")
@pytest.mark.points(1)
def test_mynetwork_does_not_modify_inputs(student, rng):
    """MyNetwork.forward and MyNetwork.backward must not change their arguments in place."""
    a, b, c, d_out = (_rand(rng, (2, 4)) for _ in range(4))
    net = student.MyNetwork()
    call = net.forward.inspect(_copy(a), _copy(b), _copy(c))
    assert_unmodified(call, a, b, c)
    call = net.backward.inspect(_copy(d_out))
    assert_unmodified(call, d_out)


# =============================================================================================
# numerical_gradient
# =============================================================================================
# Tolerance: central differences with eps = 1e-5 are accurate to ~1e-10 relative here, a
# one-sided (forward) difference only to ~eps * f'' / f' ≈ 1e-6 .. 1e-5, so it fails.
NG_RTOL = 1e-7
NG_ATOL = 1e-8


def _weighted_sin_cubic(weights):
    def f(x):
        return float(np.sum(weights * np.sin(x) * x ** 3))

    def grad(x):
        return weights * (np.cos(x) * x ** 3 + 3.0 * x ** 2 * np.sin(x))

    return f, grad


def _sum_exp_third(x):
    return float(np.sum(np.exp(x / 3.0)))


def _product(x):
    return float(np.prod(x))


def _sum_cubes(x):
    return float(np.sum(x ** 3))


@pytest.mark.problem("numerical_gradient")
@pytest.mark.points(1)
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 2)], ids=["1d", "2d", "3d"])
def test_numerical_gradient_sin_cubic(student, rng, shape):
    """numerical_gradient of sum(w * sin(x) * x**3): accurate to 1e-7 (which difference formula?)."""
    x = _away_from_zero(rng, shape, 0.5, 2.0)
    f, grad = _weighted_sin_cubic(rng.uniform(0.5, 1.5, size=shape))
    got = student.numerical_gradient(f, x)
    _close(got, grad(x), name="numerical_gradient", rtol=NG_RTOL, atol=NG_ATOL)


@pytest.mark.problem("numerical_gradient")
@pytest.mark.points(1)
@pytest.mark.parametrize("shape", [(), (4, 3)], ids=["0d", "2d"])
def test_numerical_gradient_exp(student, rng, shape):
    """numerical_gradient of sum(exp(x / 3)), also for a 0-d array x."""
    x = _rand(rng, shape)
    got = student.numerical_gradient(_sum_exp_third, x)
    _close(got, np.exp(x / 3.0) / 3.0, name="numerical_gradient", rtol=NG_RTOL, atol=NG_ATOL)


@pytest.mark.problem("numerical_gradient")
@pytest.mark.points(1)
@pytest.mark.parametrize("shape", [(6,), (2, 3)], ids=["1d", "2d"])
def test_numerical_gradient_product(student, rng, shape):
    """numerical_gradient of the product of all coordinates: every other coordinate must hold its value while one moves."""
    x = _away_from_zero(rng, shape)
    got = student.numerical_gradient(_product, x)
    _close(got, np.prod(x) / x, name="numerical_gradient", rtol=NG_RTOL, atol=NG_ATOL)


@pytest.mark.problem("numerical_gradient")
@pytest.mark.points(1)
def test_numerical_gradient_uses_eps(student, rng):
    """numerical_gradient must use the step eps it is given."""
    x = _rand(rng, (5,))
    eps = 1e-2
    got = student.numerical_gradient(_sum_cubes, x, eps=eps)
    # central differences of x**3 with step eps give exactly 3 x**2 + eps**2
    _close(got, 3.0 * x ** 2 + eps ** 2, name=f"numerical_gradient(f, x, eps={eps})",
                 rtol=1e-9, atol=1e-12)


@pytest.mark.problem("numerical_gradient")
@pytest.mark.points(1)
def test_numerical_gradient_returns_float64_like_x(student, rng):
    """numerical_gradient returns a float64 ndarray shaped like x."""
    x = _rand(rng, (2, 1, 3))
    got = student.numerical_gradient(_sum_exp_third, x)
    assert isinstance(got, np.ndarray), f"expected an ndarray, got {type(got).__name__}"
    assert got.shape == x.shape, f"expected shape {x.shape}, got {got.shape}"
    assert got.dtype == np.float64, f"expected dtype float64, got {got.dtype}"


@pytest.mark.problem("numerical_gradient")
@pytest.mark.points(2)
def test_numerical_gradient_leaves_x_unchanged(student, rng):
    """After numerical_gradient returns, x must hold exactly its original values."""
    x = _away_from_zero(rng, (3, 4), 0.5, 2.0)
    f, grad = _weighted_sin_cubic(rng.uniform(0.5, 1.5, size=(3, 4)))
    call = student.numerical_gradient.inspect(f, x.copy())
    _close(call.args[1], x, name="x after numerical_gradient", rtol=1e-13, atol=1e-15)
