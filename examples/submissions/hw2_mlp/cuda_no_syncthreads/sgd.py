# the skeleton as released, not attempted (this example's bug is in its other files)
"""Stochastic gradient descent (lecture section 五.II, eq. 7), minibatches, and training an MLP.

    theta_{n+1} = theta_n - eta * dL(M_theta_n, {X_i})/dtheta_n          (eq. 7)

with the gradient taken on a small random batch {X_i} of the training set.  ``SGD`` adds
optional momentum; ``iterate_minibatches`` cuts one epoch into batches; ``train_mlp`` puts
the pieces of mlp.py and this file together.
"""

import numpy as np


class SGD:
    """SGD with momentum, updating a list of parameter arrays in place.

        v = momentum * v - lr * g
        p += v

    One velocity array ``v`` per parameter, starting at zero.  With momentum 0 this is plain
    SGD, ``p -= lr * g``.
    """

    def __init__(self, params, lr, momentum=0.0):
        """params: a list of float64 arrays (updated in place by ``step``); lr, momentum: floats."""
        self.params = params
        self.lr = lr
        self.momentum = momentum
        # YOUR CODE HERE
        raise NotImplementedError()

    def step(self, grads):
        """One update of every array in ``self.params``, in place.

        grads: a list of arrays, one per parameter, same order and shapes (not modified).
        """
        # YOUR CODE HERE
        raise NotImplementedError()


def iterate_minibatches(X, y, batch_size, rng):
    """One epoch of minibatches, in a fresh random order.

    X: (N, ...) samples, y: (N,) labels, batch_size: int >= 1, rng: a numpy.random.Generator.
    Yields ``(X_batch, y_batch)`` pairs: draw the order ``rng.permutation(N)`` (once per call,
    from this ``rng`` only), then cut it into consecutive pieces of ``batch_size`` indices (the
    last one is smaller when batch_size does not divide N).  Every sample appears in exactly one
    batch, and X_batch[k] still belongs with y_batch[k].
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def train_mlp(X, y, hidden_sizes, num_classes, epochs, lr, batch_size, seed):
    """Train a ReLU MLP classifier with softmax cross-entropy and plain SGD (momentum 0).

    X: (N, D) float64 training samples, y: (N,) integer labels in 0..num_classes-1.
    hidden_sizes: e.g. (64, 64).  The network has layers of sizes
    [D, *hidden_sizes, num_classes], ReLU after every hidden layer and "identity" after the
    last one (its outputs are the logits).  ``seed`` makes the run reproducible: create
    ``rng = np.random.default_rng(seed)`` once, initialise with ``init_mlp_params(sizes, rng)``
    and draw every epoch's minibatches from the same ``rng``.
    Returns the trained ``params``: a list of (W, b) pairs as in ``mlp_forward``.
    """
    from mlp import init_mlp_params, mlp_backward, mlp_forward, softmax_cross_entropy

    # YOUR CODE HERE
    raise NotImplementedError()
