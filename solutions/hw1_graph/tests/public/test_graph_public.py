"""Public tests for hw1_graph: fixed inputs, hard-coded expected values.

Run them with `grader check .` in the assignment folder. Passing them does not mean
full marks: the hidden suite uses random inputs, random upstream gradients and more shapes.
"""
import numpy as np
import pytest

from grader.testing import assert_close


# --- MulNode -------------------------------------------------------------------------------

@pytest.mark.problem("mulnode")
@pytest.mark.points(1)
def test_mulnode_forward_scalars(student):
    node = student.MulNode()
    assert_close(node.forward(2.0, -3.5), -7.0, name="MulNode.forward(2.0, -3.5)")


@pytest.mark.problem("mulnode")
@pytest.mark.points(1)
def test_mulnode_backward_scalars(student):
    node = student.MulNode()
    node.forward(2.0, -3.5)
    dx, dy = node.backward(0.5)
    # dx = d_out * y, dy = d_out * x
    assert_close(dx, -1.75, name="dx")
    assert_close(dy, 1.0, name="dy")


@pytest.mark.problem("mulnode")
@pytest.mark.points(1)
def test_mulnode_arrays(student):
    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.5]])
    y = np.array([[4.0, 0.25, -2.0], [-1.0, 7.0, 2.0]])
    d_out = np.array([[0.5, -1.0, 2.0], [1.5, 3.0, -0.5]])
    node = student.MulNode()
    assert_close(node.forward(x, y), np.array([[4.0, -0.5, -1.0], [-3.0, 0.0, -3.0]]),
                 name="MulNode.forward(x, y)")
    dx, dy = node.backward(d_out)
    assert_close(dx, np.array([[2.0, -0.25, -4.0], [-1.5, 21.0, -1.0]]), name="dx")
    assert_close(dy, np.array([[0.5, 2.0, 1.0], [4.5, 0.0, 0.75]]), name="dy")


# --- AddNode -------------------------------------------------------------------------------

@pytest.mark.problem("addnode")
@pytest.mark.points(1)
def test_addnode_forward_backward(student):
    node = student.AddNode()
    assert_close(node.forward(1.5, -4.0), -2.5, name="AddNode.forward(1.5, -4.0)")
    d_out = np.array([0.5, -2.0, 3.0])
    node.forward(np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.0, 4.0]))
    dx, dy = node.backward(d_out)
    assert_close(dx, np.array([0.5, -2.0, 3.0]), name="dx")
    assert_close(dy, np.array([0.5, -2.0, 3.0]), name="dy")


# --- MyNetwork -----------------------------------------------------------------------------

@pytest.mark.problem("mynetwork")
@pytest.mark.points(1)
def test_mynetwork_forward_scalars(student):
    net = student.MyNetwork()
    # 3 * (a + b * c) = 3 * (1.5 + (-2.0) * 0.5) = 1.5
    assert_close(net.forward(1.5, -2.0, 0.5), 1.5, name="MyNetwork.forward(1.5, -2.0, 0.5)")


@pytest.mark.problem("mynetwork")
@pytest.mark.points(1)
def test_mynetwork_backward_scalars(student):
    net = student.MyNetwork()
    net.forward(1.5, -2.0, 0.5)
    grads = net.backward(2.0)
    assert grads is not None and len(grads) == 3, "MyNetwork.backward must return (d_a, d_b, d_c)"
    d_a, d_b, d_c = grads
    assert_close(d_a, 6.0, name="d_a")
    assert_close(d_b, 3.0, name="d_b")
    assert_close(d_c, -12.0, name="d_c")


# --- numerical_gradient --------------------------------------------------------------------

def _sum_of_squares(x):
    return float(np.sum(x ** 2))


@pytest.mark.problem("numerical_gradient")
@pytest.mark.points(1)
def test_numerical_gradient_sum_of_squares(student):
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = student.numerical_gradient(_sum_of_squares, x)
    # the gradient of sum(x**2) is 2x; central differences are exact for it up to rounding
    assert_close(grad, np.array([[2.0, -4.0], [1.0, 6.0]]), name="numerical_gradient",
                 rtol=1e-7, atol=1e-8)


@pytest.mark.problem("numerical_gradient")
@pytest.mark.points(1)
def test_numerical_gradient_restores_x(student):
    x = np.array([0.3, -1.2, 2.5, 0.7])
    call = student.numerical_gradient.inspect(_sum_of_squares, x)
    assert_close(call.args[1], np.array([0.3, -1.2, 2.5, 0.7]), name="x after numerical_gradient",
                 rtol=1e-13, atol=1e-15)
