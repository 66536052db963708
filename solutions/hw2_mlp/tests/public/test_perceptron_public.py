"""Public tests for hw2_mlp, perceptron.py: fixed inputs, hard-coded expected values.

Run them with `grader check .` in the assignment folder. Passing them does not mean full
marks: the hidden suite uses random data, more shapes and more cases.
"""
import numpy as np
import pytest

from grader.testing import assert_close

pytestmark = pytest.mark.problem("perceptron")


@pytest.mark.points(1)
def test_perceptron_predict_small(student):
    X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, 0.0], [2.0, -3.0]])
    w = np.array([0.5, -1.0])
    # scores X @ w + 0: -1.5, -1.0, 0.0, 4.0; sign(0) = +1
    assert_close(student.perceptron_predict(X, w, 0.0), np.array([-1, -1, 1, 1]),
                 name="perceptron_predict(X, w, 0.0)", rtol=0, atol=0)


@pytest.mark.points(1)
def test_pla_train_small(student):
    X = np.array([[2.0, 1.0], [1.0, 3.0], [-1.0, -1.0], [0.5, -2.0], [-2.0, 1.0], [3.0, 0.5]])
    y = np.array([1, 1, -1, -1, -1, 1])
    # Epoch 1 from w = (0, 0), b = 0: samples 0 and 1 have score 0, predicted +1 = y (no
    # mistake); sample 2 has score 0, predicted +1 != -1: w = (1, 1), b = -1; samples 3-5 are
    # then right. Epoch 2 has no mistake, so training stops.
    result = student.pla_train(X, y)
    assert isinstance(result, tuple) and len(result) == 2, "pla_train must return (w, b)"
    w, b = result
    assert_close(w, np.array([1.0, 1.0]), name="w", rtol=1e-12, atol=1e-12)
    assert_close(b, -1.0, name="b", rtol=1e-12, atol=1e-12)
