# the skeleton as released, not attempted (this example's bug is in its other files)
"""The perceptron and Rosenblatt's perceptron learning algorithm (lecture section 三.I, eq. 1).

    f(x) = sign(w^T x + b)        with labels in {-1, +1}

Shapes (row-vector convention, one sample per row):
    X: (N, D) float64    the samples
    w: (D,)   float64    the weights
    b: float             the bias
    y: (N,)              labels, each -1 or +1

Convention used everywhere in this file: sign(0) = +1, so a point exactly on the decision
boundary is classified as +1.  Nothing here modifies its inputs in place.
"""

import numpy as np


def perceptron_predict(X, w, b):
    """Classify every row of ``X``: ``sign(X @ w + b)`` with ``sign(0) = +1``.

    X: (N, D) array, w: (D,) array, b: float.
    Returns an integer array of shape (N,) whose entries are -1 or +1.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def pla_train(X, y, max_epochs=100):
    """Rosenblatt's perceptron learning algorithm (PLA).

    X: (N, D) array, y: (N,) array of -1/+1 labels, max_epochs: the most passes over the data.
    Returns ``(w, b)``: ``w`` a float64 array of shape (D,), ``b`` a float.

    Start at ``w = 0``, ``b = 0``.  One epoch visits the samples in order i = 0, 1, ..., N-1;
    sample i is a *mistake* when ``perceptron_predict`` gives a label other than ``y[i]``
    (remember sign(0) = +1), and a mistake updates ``w += y[i] * X[i]``, ``b += y[i]``
    immediately, before the next sample is visited.  Stop after the first epoch without a
    mistake, or after ``max_epochs`` epochs.
    """
    # YOUR CODE HERE
    raise NotImplementedError()
