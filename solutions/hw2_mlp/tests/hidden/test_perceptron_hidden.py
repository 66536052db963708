"""Hidden suite for hw2_mlp, file perceptron.py: perceptron_predict and pla_train.

Random shapes with N != D, batches of 1 and more, scores that are exactly 0 (sign(0) = +1),
linearly separable data with a margin (PLA must reach zero training error), the exact
sequence of updates of Rosenblatt's algorithm, max_epochs on data that is not separable, and
inputs checked for in-place changes. The first docstring line of each test is what a student
sees when it fails.
"""
import numpy as np
import pytest

from grader.testing import assert_close, assert_unmodified

pytestmark = pytest.mark.problem("perceptron")


def _signs(scores):
    return np.where(scores >= 0, 1, -1)


def _separable(rng, n, d, margin=0.3):
    """n points in [-1, 1]^d at distance >= margin from a random hyperplane, labels -1/+1."""
    w_true = rng.standard_normal(d)
    w_true /= np.linalg.norm(w_true)
    b_true = rng.uniform(-0.3, 0.3)
    X = np.empty((0, d))
    while len(X) < n:
        cand = rng.uniform(-1.0, 1.0, size=(4 * n, d))
        keep = np.abs(cand @ w_true + b_true) >= margin
        X = np.concatenate([X, cand[keep]])[:n]
    y = _signs(X @ w_true + b_true)
    return X, y


def _needs_several_epochs(reference, rng, n, d):
    """Separable data (small margin) on which PLA still makes mistakes in its third epoch."""
    for _ in range(100):
        X, y = _separable(rng, n, d, margin=0.05)
        w2, b2 = reference.pla_train(X, y, max_epochs=2)
        w, b = reference.pla_train(X, y)
        if (b2 != b or not np.array_equal(w2, w)) and (_signs(X @ w + b) == y).all():
            return X, y
    raise RuntimeError("could not draw data that needs several PLA epochs")


def _check_wb(result, d):
    assert isinstance(result, tuple) and len(result) == 2, "pla_train must return (w, b)"
    w, b = result
    assert isinstance(w, np.ndarray) and w.shape == (d,), \
        f"w must be an ndarray of shape ({d},), got {getattr(w, 'shape', type(w).__name__)}"
    assert isinstance(b, (int, float, np.integer, np.floating)) or \
        (isinstance(b, np.ndarray) and b.ndim == 0), "b must be a number"
    return w, float(b)


# ------------------------------------------------------------------------------------------
# perceptron_predict
# ------------------------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.parametrize("n,d", [(1, 3), (9, 4)], ids=["batch1", "batch9"])
def test_predict_matches_sign(student, rng, n, d):
    """perceptron_predict(X, w, b) is sign(X @ w + b), one label per row of X."""
    X, w, b = rng.standard_normal((n, d)), rng.standard_normal(d), float(rng.standard_normal())
    got = student.perceptron_predict(X, w, b)
    assert_close(got, _signs(X @ w + b), name="perceptron_predict(X, w, b)", rtol=0, atol=0)


@pytest.mark.points(2)
def test_predict_sign_of_zero(student, rng):
    """A score of exactly 0 is classified as +1."""
    # integer-valued data: the scores are exact, several of them are exactly 0
    X = rng.integers(-3, 4, size=(12, 3)).astype(np.float64)
    w = np.array([1.0, -2.0, 1.0])
    b = 1.0
    X[:4] = [[1, 1, 0], [0, 0, -1], [3, 1, -2], [-1, 0, 0]]   # scores exactly 0
    X[4] = [-2, 0, 0]                                          # score -1
    scores = X @ w + b
    assert (scores[:4] == 0).all()
    got = student.perceptron_predict(X, w, b)
    assert_close(got, _signs(scores), name="perceptron_predict (some scores are exactly 0)",
                 rtol=0, atol=0)


@pytest.mark.points(1)
def test_predict_does_not_modify_inputs(student, rng):
    """perceptron_predict must not change X or w in place (and returns an array of shape (N,))."""
    X, w = rng.standard_normal((6, 4)), rng.standard_normal(4)
    call = student.perceptron_predict.inspect(X.copy(), w.copy(), 0.5)
    assert_unmodified(call, X, w, names=("X", "w"))
    assert isinstance(call.result, np.ndarray) and call.result.shape == (6,), \
        "perceptron_predict must return an ndarray of shape (N,)"


# ------------------------------------------------------------------------------------------
# pla_train
# ------------------------------------------------------------------------------------------

@pytest.mark.points(2)
@pytest.mark.parametrize("n,d", [(30, 2), (60, 5)], ids=["2d", "5d"])
def test_pla_separable_zero_training_error(student, rng, n, d):
    """On linearly separable data PLA must end with zero training error."""
    X, y = _separable(rng, n, d, margin=0.1)
    w, b = _check_wb(student.pla_train(X, y, max_epochs=1000), d)
    wrong = int((_signs(X @ w + b) != y).sum())
    assert wrong == 0, f"the returned (w, b) misclassifies {wrong} of {n} training points"


@pytest.mark.points(2)
@pytest.mark.parametrize("n,d", [(30, 3), (50, 4)], ids=["3d", "4d"])
def test_pla_matches_rosenblatt_updates(student, reference, rng, n, d):
    """pla_train follows Rosenblatt's updates exactly: start at 0, samples in order, update on each mistake."""
    X, y = _needs_several_epochs(reference, rng, n, d)
    w, b = _check_wb(student.pla_train(X, y), d)
    ref_w, ref_b = reference.pla_train(X, y)
    assert_close(w, ref_w, name="w", rtol=1e-12, atol=1e-12)
    assert_close(b, ref_b, name="b", rtol=1e-12, atol=1e-12)


@pytest.mark.points(2)
@pytest.mark.parametrize("first_label", [1, -1], ids=["first_plus", "first_minus"])
def test_pla_mistake_uses_sign_of_zero(student, reference, rng, first_label):
    """A mistake is a prediction other than y_i, with sign(0) = +1 (the score is 0 at the start)."""
    X, y = _separable(rng, 20, 3)
    if y[0] != first_label:
        X, y = -X, -y  # still separable (by -w, -b); now the first label is first_label
    w, b = _check_wb(student.pla_train(X, y, max_epochs=1), 3)
    ref_w, ref_b = reference.pla_train(X, y, max_epochs=1)
    assert_close(w, ref_w, name="w after one epoch", rtol=1e-12, atol=1e-12)
    assert_close(b, ref_b, name="b after one epoch", rtol=1e-12, atol=1e-12)


@pytest.mark.points(1)
@pytest.mark.timeout(1)  # 16 points, 3 epochs at most: milliseconds; a loop that never stops
@pytest.mark.parametrize("epochs", [1, 3], ids=["1epoch", "3epochs"])  # costs 1 s, not 5
def test_pla_respects_max_epochs(student, reference, rng, epochs):
    """On data that is not separable pla_train stops after max_epochs epochs."""
    X = rng.standard_normal((16, 2))
    y = np.where(X[:, 0] * X[:, 1] >= 0, 1, -1)  # XOR-like: no line separates it
    w, b = _check_wb(student.pla_train(X, y, max_epochs=epochs), 2)
    ref_w, ref_b = reference.pla_train(X, y, max_epochs=epochs)
    assert_close(w, ref_w, name=f"w after max_epochs={epochs}", rtol=1e-12, atol=1e-12)
    assert_close(b, ref_b, name=f"b after max_epochs={epochs}", rtol=1e-12, atol=1e-12)


@pytest.mark.points(1)
def test_pla_does_not_modify_inputs(student, rng):
    """pla_train must not change X or y in place (w starts as a new array of zeros; returns (w, b))."""
    X, y = _separable(rng, 15, 3)
    call = student.pla_train.inspect(X.copy(), y.copy())
    assert_unmodified(call, X, y, names=("X", "y"))
    _check_wb(call.result, 3)
