"""Autoencoders (lecture section 七.II, eq. 13).

An autoencoder is an encoder ``z = f(x)`` that maps a high-dimensional input to a short code
and a decoder ``x_hat = g(z)`` that reconstructs the input from the code.  Both are trained
together by minimising the reconstruction error (eq. 13).  If the data lie on a
low-dimensional manifold (the lecture's manifold hypothesis), a code of that dimension is
enough to reconstruct them.

Shapes (row-vector convention, as everywhere in this course):
    x, x_hat : (N, D)          a batch of N inputs of dimension D = input_dim
    z        : (N, code_dim)   their codes
All arrays are float64.  No function in this file modifies its arguments in place.

The dense layer forward/backward, parameter initialisation, SGD (which updates parameters in
place) and the minibatch iterator are provided in ``layers.py``: use them, do not change them.
This file holds your part: the reconstruction loss, the Autoencoder class and its training.
"""

import numpy as np

from layers import SGD, dense_backward, dense_forward, init_dense, iterate_minibatches

# =============================================================================================
# YOUR CODE (the helpers above come from layers.py, provided)
# =============================================================================================

def mse_reconstruction_loss(x, x_hat):
    """Reconstruction error of a batch (eq. 13, averaged over the batch).

    x, x_hat: (N, D).
    Returns ``(loss, d_x_hat)``:
        loss    = (1/N) * sum_n ||x_n - x_hat_n||^2     a Python float (or NumPy scalar)
        d_x_hat = 2 * (x_hat - x) / N                   (N, D), dloss/dx_hat
    Note the division is by N (the number of rows), not by N * D.
    """
    ### BEGIN SOLUTION
    N = x.shape[0]
    diff = x_hat - x
    loss = np.sum(diff ** 2) / N
    d_x_hat = 2.0 * diff / N
    return float(loss), d_x_hat
    ### END SOLUTION


class Autoencoder:
    """A symmetric autoencoder of dense layers.

    With ``hidden_dims = (h1, ..., hk)`` the layer sizes are

        input_dim -> h1 -> ... -> hk -> code_dim -> hk -> ... -> h1 -> input_dim
        \\_______________ encoder ______________/ \\______________ decoder ______________/

    so there are ``L = 2 * (k + 1)`` dense layers, numbered 1..L; layers 1..k+1 form the
    encoder, layers k+2..L the decoder.  Layer i has parameters ``params[f"W{i}"]`` of shape
    (n_{i-1}, n_i) and ``params[f"b{i}"]`` of shape (n_i,), where n_0, ..., n_L are the sizes
    above (``self.layer_dims``).  Every hidden layer is followed by tanh; the code layer (the
    last encoder layer) and the output layer (the last decoder layer) are linear.
    With ``hidden_dims = ()`` the encoder and the decoder are one linear layer each.

    All weights live in ``self.params`` (a dict name -> float64 array).  Every method reads
    them from ``self.params`` when it is called, so assigning new arrays to ``self.params``
    (same keys and shapes) changes the model.
    """

    def __init__(self, input_dim, code_dim, hidden_dims=(), seed=0):
        self.input_dim = input_dim
        self.code_dim = code_dim
        self.hidden_dims = tuple(hidden_dims)
        self.num_encoder_layers = len(self.hidden_dims) + 1
        self.num_layers = 2 * self.num_encoder_layers
        rng = np.random.default_rng(seed)
        # Build self.layer_dims (the sizes n_0..n_L, a list of L + 1 ints) and self.params
        # (W1, b1, ..., WL, bL), initialising layer i with init_dense(n_{i-1}, n_i, rng),
        # layers in the order 1, 2, ..., L.
        ### BEGIN SOLUTION
        self.layer_dims = ([input_dim] + list(self.hidden_dims) + [code_dim]
                           + list(reversed(self.hidden_dims)) + [input_dim])
        self.params = {}
        for i in range(1, self.num_layers + 1):
            W, b = init_dense(self.layer_dims[i - 1], self.layer_dims[i], rng)
            self.params[f"W{i}"] = W
            self.params[f"b{i}"] = b
        ### END SOLUTION

    def is_tanh_layer(self, i):
        """True when dense layer ``i`` (1..L) is followed by tanh (a hidden layer)."""
        return i != self.num_encoder_layers and i != self.num_layers

    def encode(self, x):
        """Codes of a batch: x (N, input_dim) -> z (N, code_dim), layers 1..k+1."""
        ### BEGIN SOLUTION
        h = x
        for i in range(1, self.num_encoder_layers + 1):
            h, _ = dense_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            if self.is_tanh_layer(i):
                h = np.tanh(h)
        return h
        ### END SOLUTION

    def decode(self, z):
        """Reconstructions from codes: z (N, code_dim) -> x_hat (N, input_dim), layers k+2..L."""
        ### BEGIN SOLUTION
        h = z
        for i in range(self.num_encoder_layers + 1, self.num_layers + 1):
            h, _ = dense_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            if self.is_tanh_layer(i):
                h = np.tanh(h)
        return h
        ### END SOLUTION

    def forward(self, x):
        """Reconstruction of a batch: ``decode(encode(x))``, shape (N, input_dim)."""
        ### BEGIN SOLUTION
        return self.decode(self.encode(x))
        ### END SOLUTION

    def loss_and_grads(self, x):
        """Reconstruction loss of the batch ``x`` (N, input_dim) and its gradients.

        Returns ``(loss, grads)``: ``loss`` = mse_reconstruction_loss(x, forward(x))[0], and
        ``grads`` a dict with exactly the keys of ``self.params``, ``grads[name]`` =
        d loss / d params[name], same shape.  Run the forward pass keeping every layer's
        cache, then go backward through the layers L, L-1, ..., 1.  For a tanh layer with
        output ``h = tanh(a)``: d a = d h * (1 - h**2).
        """
        ### BEGIN SOLUTION
        # Forward, keeping for each layer the dense cache and the layer's output.
        caches = []
        h = x
        for i in range(1, self.num_layers + 1):
            a, dense_cache = dense_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            h = np.tanh(a) if self.is_tanh_layer(i) else a
            caches.append((dense_cache, h))
        loss, d_h = mse_reconstruction_loss(x, h)

        # Backward, from the output layer to the first layer.
        grads = {}
        for i in range(self.num_layers, 0, -1):
            dense_cache, out = caches[i - 1]
            d_a = d_h * (1.0 - out ** 2) if self.is_tanh_layer(i) else d_h
            d_h, grads[f"W{i}"], grads[f"b{i}"] = dense_backward(d_a, dense_cache)
        return loss, grads
        ### END SOLUTION


def train_autoencoder(X, code_dim, hidden_dims, epochs, lr, batch_size, seed):
    """Train an Autoencoder on the rows of ``X`` (N, D) with minibatch SGD.

    Create ``Autoencoder(D, code_dim, hidden_dims, seed=seed)``, an ``SGD`` on its
    ``params`` with learning rate ``lr``, and one generator ``rng =
    np.random.default_rng(seed)`` for the minibatch order; then for each of the ``epochs``
    epochs, for each minibatch of ``iterate_minibatches(X, batch_size, rng)``: compute the
    loss and gradients, and take one SGD step.  Return the trained Autoencoder.
    ``X`` must not be modified.
    """
    ### BEGIN SOLUTION
    model = Autoencoder(X.shape[1], code_dim, hidden_dims, seed=seed)
    optimizer = SGD(model.params, lr)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        for x_batch in iterate_minibatches(X, batch_size, rng):
            _, grads = model.loss_and_grads(x_batch)
            optimizer.step(grads)
    return model
    ### END SOLUTION
