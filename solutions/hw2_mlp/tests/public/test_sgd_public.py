"""Public tests for hw2_mlp, sgd.py: fixed inputs, hard-coded expected values.

Run them with `grader check .` in the assignment folder. Passing them does not mean full
marks: the hidden suite checks more steps, more shapes, the order of the minibatches, and
that train_mlp learns a harder data set (held-out accuracy).
"""
import numpy as np
import pytest

from grader.testing import assert_close


@pytest.mark.problem("sgd")
@pytest.mark.points(1)
def test_sgd_plain_step(student):
    opt = student.SGD([np.array([1.0, -2.0]), np.array([[0.5]])], 0.1)
    opt.step([np.array([2.0, 1.0]), np.array([[-1.0]])])
    p0, p1 = opt.params
    assert_close(p0, np.array([0.8, -2.1]), name="params[0] after one step")
    assert_close(p1, np.array([[0.6]]), name="params[1] after one step")


@pytest.mark.problem("sgd")
@pytest.mark.points(1)
def test_sgd_momentum_three_steps(student):
    opt = student.SGD([np.array([1.0, -2.0])], 0.1, 0.9)
    expected = [[0.8, -2.1], [0.42, -2.29], [0.178, -2.461]]
    # v1 = -0.1 g1 = [-0.2, -0.1]; v2 = 0.9 v1 - 0.1 g2 = [-0.38, -0.19];
    # v3 = 0.9 v2 - 0.1 [-1, 0] = [-0.242, -0.171]
    for k, g in enumerate([[2.0, 1.0], [2.0, 1.0], [-1.0, 0.0]]):
        opt.step([np.array(g)])
        assert_close(opt.params[0], np.array(expected[k]), name=f"params[0] after {k + 1} steps")


@pytest.mark.problem("minibatches")
@pytest.mark.points(1)
def test_iterate_minibatches_small(student):
    X = np.arange(10.0).reshape(5, 2)        # row i is [2i, 2i + 1]
    y = np.array([10, 11, 12, 13, 14])       # label of row i is 10 + i
    batches = list(student.iterate_minibatches(X, y, 2, np.random.default_rng(0)))
    assert [len(yb) for _, yb in batches] == [2, 2, 1], "expected batches of 2, 2 and 1 samples"
    seen = np.concatenate([yb for _, yb in batches])
    assert sorted(seen.tolist()) == [10, 11, 12, 13, 14], "every sample must appear exactly once"
    for xb, yb in batches:
        assert_close(xb[:, 0], 2.0 * (yb - 10), name="X_batch[:, 0] (paired with y_batch)")


def _blobs():
    """Two well separated clouds of 40 points each (a fixed, deterministic data set)."""
    t = np.linspace(0.0, 2 * np.pi, 40, endpoint=False)
    ring = np.stack([np.cos(t), np.sin(3 * t)], axis=1) * 0.6
    X = np.concatenate([ring + [2.0, 2.0], ring + [-2.0, -1.0]])
    y = np.array([0] * 40 + [1] * 40)
    return X, y


@pytest.mark.problem("train_mlp")
@pytest.mark.points(1)
@pytest.mark.timeout(20)
def test_train_mlp_blobs(student):
    X, y = _blobs()
    params = student.train_mlp(X, y, (16,), 2, 20, 0.1, 10, 0)
    assert len(params) == 2, "one hidden layer and the output layer: two (W, b) pairs"
    (W1, b1), (W2, b2) = params
    assert W1.shape == (2, 16) and b1.shape == (16,) and W2.shape == (16, 2) and b2.shape == (2,)
    logits = np.maximum(X @ W1 + b1, 0.0) @ W2 + b2
    accuracy = float((logits.argmax(axis=1) == y).mean())
    assert accuracy >= 0.95, f"training accuracy {accuracy:.3f} on two separated blobs is below 0.95"
