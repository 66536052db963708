"""hw2_mlp, perceptron.py: a correct solution written differently from the reference."""

import numpy as np


def perceptron_predict(X, w, b):
    return np.where(X.dot(w) + b < 0, -1.0, 1.0)


def pla_train(X, y, max_epochs=100):
    w = np.zeros(X.shape[1])
    b = 0.0
    epoch = 0
    changed = True
    while changed and epoch < max_epochs:
        changed = False
        for xi, yi in zip(X, y):
            predicted = -1 if xi.dot(w) + b < 0 else 1
            if predicted != yi:
                w = w + yi * xi
                b = b + yi
                changed = True
        epoch += 1
    return w, float(b)
