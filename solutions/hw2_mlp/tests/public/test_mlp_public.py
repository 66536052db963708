"""Public tests for hw2_mlp, mlp.py: fixed inputs, hard-coded expected values.

Run them with `grader check .` in the assignment folder. Passing them does not mean full
marks: the hidden suite uses random shapes and upstream gradients, batches of 1, every
activation, numerical gradient checks, large logits and a speed limit.
"""
import numpy as np
import pytest

from grader.testing import assert_close

X = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 2.0]])            # N = 2, D = 3
W = np.array([[0.5, -1.0], [1.5, 0.0], [-0.5, 2.0]])          # D = 3, H = 2
B = np.array([0.1, -0.2])
W2 = np.array([[1.0, -1.0, 0.5], [2.0, 0.5, -1.0]])           # H = 2, C = 3
B2 = np.array([0.0, 0.1, -0.1])
Z = np.array([[-1.0, 0.5], [2.0, -0.25]])
D_A = np.array([[1.0, 2.0], [-1.0, 0.5]])


@pytest.mark.problem("mlp_forward")
@pytest.mark.points(1)
def test_dense_forward_small(student):
    out, _ = student.dense_forward(X, W, B)
    assert_close(out, np.array([[-2.65, -0.2], [0.6, 3.8]]), name="dense_forward(x, W, b)[0]")


@pytest.mark.problem("mlp_backward")
@pytest.mark.points(1)
def test_dense_backward_small(student):
    _, cache = student.dense_forward(X, W, B)
    dx, dW, db = student.dense_backward(np.array([[1.0, -1.0], [0.5, 2.0]]), cache)
    assert_close(dx, np.array([[1.5, 1.5, -2.5], [-1.75, 0.75, 3.75]]), name="dx")
    assert_close(dW, np.array([[1.0, -1.0], [-1.5, 4.0], [1.5, 3.5]]), name="dW")
    assert_close(db, np.array([1.5, 1.0]), name="db")


@pytest.mark.problem("mlp_forward")
@pytest.mark.points(1)
def test_activation_forward_small(student):
    expected = {
        "relu": [[0.0, 0.5], [2.0, 0.0]],
        "sigmoid": [[0.2689414213699951, 0.6224593312018546],
                    [0.8807970779778823, 0.43782349911420193]],
        "tanh": [[-0.7615941559557649, 0.46211715726000974],
                 [0.9640275800758169, -0.24491866240370913]],
        "identity": [[-1.0, 0.5], [2.0, -0.25]],
    }
    for name, want in expected.items():
        a, _ = student.activation_forward(Z, name)
        assert_close(a, np.array(want), name=f"activation_forward(z, {name!r})[0]")


@pytest.mark.problem("mlp_backward")
@pytest.mark.points(1)
def test_activation_backward_small(student):
    expected = {
        "relu": [[0.0, 2.0], [-1.0, 0.0]],
        "sigmoid": [[0.19661193324148185, 0.470007424403189],
                    [-0.10499358540350662, 0.12306704136879917]],
        "tanh": [[0.41997434161402614, 1.5728954659318548],
                 [-0.07065082485316443, 0.470007424403189]],
        "identity": [[1.0, 2.0], [-1.0, 0.5]],
    }
    for name, want in expected.items():
        _, cache = student.activation_forward(Z, name)
        assert_close(student.activation_backward(D_A, cache), np.array(want),
                     name=f"activation_backward(d_a, cache) for {name!r}")


@pytest.mark.problem("mlp_forward")
@pytest.mark.points(1)
def test_mlp_forward_small(student):
    out, _ = student.mlp_forward(X, [(W, B), (W2, B2)], ["relu", "identity"])
    # row 0: the hidden layer is relu([-2.65, -0.2]) = 0, so the output is b2
    assert_close(out, np.array([[0.0, 0.1, -0.1], [8.2, 1.4, -3.6]]), name="mlp_forward(...)[0]")


@pytest.mark.problem("mlp_backward")
@pytest.mark.points(1)
def test_mlp_backward_small(student):
    _, cache = student.mlp_forward(X, [(W, B), (W2, B2)], ["relu", "identity"])
    grads = student.mlp_backward(np.array([[1.0, 0.0, -1.0], [0.5, -0.5, 2.0]]), cache)
    assert len(grads) == 2, "mlp_backward must return one (dW, db) pair per layer"
    (dW1, db1), (dW2, db2) = grads
    assert_close(dW1, np.array([[0.0, 0.0], [2.0, -1.25], [4.0, -2.5]]), name="grads[0][0] (dW)")
    assert_close(db1, np.array([2.0, -1.25]), name="grads[0][1] (db)")
    assert_close(dW2, np.array([[0.3, -0.3, 1.2], [1.9, -1.9, 7.6]]), name="grads[1][0] (dW)")
    assert_close(db2, np.array([1.5, -0.5, 1.0]), name="grads[1][1] (db)")


@pytest.mark.problem("softmax_cross_entropy")
@pytest.mark.points(1)
def test_softmax_cross_entropy_small(student):
    loss, d_logits = student.softmax_cross_entropy(np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]),
                                                   np.array([2, 0]))
    # (-log softmax([1, 2, 3])[2] - log(1/3)) / 2; d_logits = (p - onehot) / N
    assert_close(loss, 0.7531091265562451, name="loss")
    assert_close(d_logits, np.array([[0.04501528658519022, 0.12236423552739882, -0.1673795221125891],
                                     [-0.33333333333333337, 0.16666666666666666, 0.16666666666666666]]),
                 name="d_logits")


@pytest.mark.problem("softmax_cross_entropy")
@pytest.mark.points(1)
def test_softmax_cross_entropy_large_logits(student):
    loss, d_logits = student.softmax_cross_entropy(np.array([[1000.0, -1000.0]]), np.array([1]))
    assert_close(loss, 2000.0, name="loss for logits [1000, -1000] and label 1")
    assert_close(d_logits, np.array([[1.0, -1.0]]), name="d_logits")
