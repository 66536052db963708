"""Hidden suite for hw4_autoencoder.

Random shapes with N != D != code_dim != hidden sizes (so transposes and swapped dimensions
show), batches of one and more rows, hidden_dims empty and non-empty, random parameters with
non-zero biases, numerical gradient checks of every parameter tensor against the trusted
reference forward, inputs checked for in-place changes, determinism, and training on data
lying on a 2-D manifold in 20-D with a held-out reconstruction threshold.
The first docstring line of each test is what a student sees when it fails.
"""
import numpy as np
import pytest

from grader.testing import assert_close, assert_unmodified, check_gradient

# (input_dim, code_dim, hidden_dims, batch size N)
CONFIGS = [
    (7, 3, (), 5),
    (9, 2, (6,), 4),
    (8, 3, (6, 5), 1),
    (11, 4, (9, 7), 6),
]
CONFIG_IDS = ["linear", "one_hidden", "two_hidden_batch1", "two_hidden"]

GRAD_TOL = 1e-4   # relative; wrong gradients here are off by 1e-2 or more
GRAD_EPS = 1e-5   # losses are sums over D features: a larger step keeps rounding noise low


# ---------------------------------------------------------------------------------------------
# helpers (harness side)
# ---------------------------------------------------------------------------------------------

def _layer_dims(input_dim, code_dim, hidden_dims):
    hidden = list(hidden_dims)
    return [input_dim] + hidden + [code_dim] + hidden[::-1] + [input_dim]


def _expected_shapes(input_dim, code_dim, hidden_dims):
    dims = _layer_dims(input_dim, code_dim, hidden_dims)
    shapes = {}
    for i in range(1, len(dims)):
        shapes[f"W{i}"] = (dims[i - 1], dims[i])
        shapes[f"b{i}"] = (dims[i],)
    return shapes


def _random_params(rng, input_dim, code_dim, hidden_dims, w_scale=1.0, b_scale=0.5):
    """Random parameters with non-zero biases; tanh inputs of order 1 (away from saturation)."""
    params = {}
    for name, shape in _expected_shapes(input_dim, code_dim, hidden_dims).items():
        if name.startswith("W"):
            params[name] = w_scale * rng.standard_normal(shape) / np.sqrt(shape[0])
        else:
            params[name] = b_scale * rng.standard_normal(shape)
    return params


def _check_params(params, input_dim, code_dim, hidden_dims, what="params"):
    expected = _expected_shapes(input_dim, code_dim, hidden_dims)
    assert isinstance(params, dict), f"{what} must be a dict name -> array, got {type(params).__name__}"
    assert sorted(params) == sorted(expected), \
        (f"{what} has the keys {sorted(params)}; expected {sorted(expected)} "
         f"for Autoencoder({input_dim}, {code_dim}, {tuple(hidden_dims)})")
    for name, shape in expected.items():
        value = params[name]
        assert isinstance(value, np.ndarray), f"{what}['{name}'] is not an ndarray"
        assert value.shape == shape, f"{what}['{name}'] has shape {value.shape}; expected {shape}"
        assert value.dtype == np.float64, f"{what}['{name}'] has dtype {value.dtype}; expected float64"


def _student_model(student, rng, input_dim, code_dim, hidden_dims):
    """A student Autoencoder holding random parameters; returns (model, params it holds)."""
    ae = student.Autoencoder(input_dim, code_dim, hidden_dims, seed=int(rng.integers(1000)))
    ae.params = _random_params(rng, input_dim, code_dim, hidden_dims)
    params = ae.params  # read back what the student's object holds
    _check_params(params, input_dim, code_dim, hidden_dims, what="ae.params")
    return ae, params


def _reference_model(reference, input_dim, code_dim, hidden_dims, params):
    ref = reference.Autoencoder(input_dim, code_dim, hidden_dims, seed=0)
    ref.params = {name: np.array(value, dtype=np.float64, copy=True) for name, value in params.items()}
    return ref


def _check_grads(reference, ref, x, grads, params, rng):
    """Every grads[name] against central differences of the reference loss."""
    assert isinstance(grads, dict), f"grads must be a dict, got {type(grads).__name__}"
    assert sorted(grads) == sorted(params), \
        f"grads has the keys {sorted(grads)}; expected the keys of params {sorted(params)}"
    # Output layer first: a wrong gradient is reported where it starts.
    names = sorted(params, key=lambda n: (-int(n[1:]), n[0]))
    for name in names:
        def loss_at(p, name=name):
            saved = ref.params[name]
            ref.params[name] = p
            try:
                return reference.mse_reconstruction_loss(x, ref.forward(x))[0]
            finally:
                ref.params[name] = saved
        check_gradient(loss_at, params[name], grads[name], d_out=np.float64(1.0), rng=rng,
                       name=f"grads['{name}']", tol=GRAD_TOL, eps=GRAD_EPS, coords=15)


def _manifold_data(rng, n_train, n_test, dim=20):
    """Points of a 2-D manifold in `dim`-D: a random smooth map of uniform 2-D latents."""
    B = rng.standard_normal((2, dim))
    phase = rng.uniform(0.0, 2.0 * np.pi, dim)

    def embed(u):
        return np.sin(u @ B + phase)

    return embed(rng.uniform(-1, 1, (n_train, 2))), embed(rng.uniform(-1, 1, (n_test, 2)))


def _recon_error(X, X_hat):
    return float(np.sum((X - X_hat) ** 2) / X.shape[0])


# =============================================================================================
# mse_reconstruction_loss
# =============================================================================================

@pytest.mark.problem("mse_loss")
@pytest.mark.points(1)
@pytest.mark.parametrize("shape", [(1, 5), (4, 3), (7, 11), (3, 1)],
                         ids=["batch1", "4x3", "7x11", "one_feature"])
def test_mse_value_and_gradient(student, reference, rng, shape):
    """mse_reconstruction_loss: sum over the features, mean over the batch; d_x_hat is the derivative of that."""
    x, x_hat = rng.standard_normal(shape), rng.standard_normal(shape)
    loss, d_x_hat = student.mse_reconstruction_loss(x, x_hat)
    ref_loss, ref_d = reference.mse_reconstruction_loss(x, x_hat)
    assert_close(loss, ref_loss, name="loss")
    assert_close(d_x_hat, ref_d, name="d_x_hat")


@pytest.mark.problem("mse_loss")
@pytest.mark.points(1)
@pytest.mark.parametrize("shape", [(1, 6), (5, 4)], ids=["batch1", "batch5"])
def test_mse_gradient_matches_numerical(student, reference, rng, shape):
    """d_x_hat must be the gradient of the returned loss with respect to x_hat."""
    x, x_hat = rng.standard_normal(shape), rng.standard_normal(shape)
    _, d_x_hat = student.mse_reconstruction_loss(x, x_hat)
    check_gradient(lambda xh: reference.mse_reconstruction_loss(x, xh)[0], x_hat, d_x_hat,
                   d_out=np.float64(1.0), rng=rng, name="d_x_hat", tol=GRAD_TOL)


@pytest.mark.problem("mse_loss")
@pytest.mark.points(1)
def test_mse_does_not_modify_inputs(student, rng):
    """mse_reconstruction_loss must not change x or x_hat in place."""
    x, x_hat = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    call = student.mse_reconstruction_loss.inspect(x.copy(), x_hat.copy())
    assert_unmodified(call, x, x_hat, names=("x", "x_hat"))


# =============================================================================================
# Autoencoder: params, encode, decode, forward
# =============================================================================================

@pytest.mark.problem("autoencoder")
@pytest.mark.points(1)
@pytest.mark.parametrize("input_dim, code_dim, hidden_dims, n", CONFIGS, ids=CONFIG_IDS)
def test_params_names_and_shapes(student, input_dim, code_dim, hidden_dims, n):
    """params: W1, b1, ..., WL, bL for the symmetric layer sizes input -> hidden -> code -> reversed hidden -> input."""
    ae = student.Autoencoder(input_dim, code_dim, hidden_dims, seed=3)
    _check_params(ae.params, input_dim, code_dim, hidden_dims, what="ae.params")


@pytest.mark.problem("autoencoder")
@pytest.mark.points(1)
def test_same_seed_same_initial_params(student):
    """Two Autoencoders built with the same seed start with the same parameters; other seeds differ."""
    a = student.Autoencoder(10, 3, (8, 5), seed=11).params
    b = student.Autoencoder(10, 3, (8, 5), seed=11).params
    c = student.Autoencoder(10, 3, (8, 5), seed=12).params
    _check_params(a, 10, 3, (8, 5), what="ae.params")
    for name in a:
        assert_close(b[name], a[name], name=f"params['{name}'] (second model, same seed)",
                     rtol=0, atol=0)
    assert any(not np.array_equal(a[name], c[name]) for name in a if name.startswith("W")), \
        "Autoencoders built with seeds 11 and 12 have identical weights: initialise them from seed"
    for name in a:
        if name.startswith("W"):
            assert np.std(a[name]) > 0, f"params['{name}'] is constant: initialise weights randomly"


@pytest.mark.problem("autoencoder")
@pytest.mark.points(1)
@pytest.mark.parametrize("input_dim, code_dim, hidden_dims, n", CONFIGS, ids=CONFIG_IDS)
def test_encode_matches_reference(student, reference, rng, input_dim, code_dim, hidden_dims, n):
    """encode: tanh after every hidden layer, the code layer linear; weights read from self.params."""
    ae, params = _student_model(student, rng, input_dim, code_dim, hidden_dims)
    ref = _reference_model(reference, input_dim, code_dim, hidden_dims, params)
    x = 1.5 * rng.standard_normal((n, input_dim))
    assert_close(ae.encode(x), ref.encode(x), name="encode(x)")


@pytest.mark.problem("autoencoder")
@pytest.mark.points(1)
@pytest.mark.parametrize("input_dim, code_dim, hidden_dims, n", CONFIGS, ids=CONFIG_IDS)
def test_decode_matches_reference(student, reference, rng, input_dim, code_dim, hidden_dims, n):
    """decode: the mirror image of the encoder (its own layers), tanh on hidden layers, linear output."""
    ae, params = _student_model(student, rng, input_dim, code_dim, hidden_dims)
    ref = _reference_model(reference, input_dim, code_dim, hidden_dims, params)
    z = 2.0 * rng.standard_normal((n, code_dim))
    assert_close(ae.decode(z), ref.decode(z), name="decode(z)")


@pytest.mark.problem("autoencoder")
@pytest.mark.points(1)
@pytest.mark.parametrize("input_dim, code_dim, hidden_dims, n", CONFIGS, ids=CONFIG_IDS)
def test_forward_matches_reference(student, reference, rng, input_dim, code_dim, hidden_dims, n):
    """forward(x) reconstructs x through the encoder and then the decoder."""
    ae, params = _student_model(student, rng, input_dim, code_dim, hidden_dims)
    ref = _reference_model(reference, input_dim, code_dim, hidden_dims, params)
    x = rng.standard_normal((n, input_dim))
    assert_close(ae.forward(x), ref.forward(x), name="forward(x)")


@pytest.mark.problem("autoencoder")
@pytest.mark.points(1)
def test_linear_autoencoder_is_affine(student, rng):
    """With hidden_dims=() the encoder is one linear layer (no activation on the code) and so is the decoder."""
    ae, params = _student_model(student, rng, 6, 4, ())
    x = 2.0 * rng.standard_normal((5, 6))
    z = x @ params["W1"] + params["b1"]
    assert_close(ae.encode(x), z, name="encode(x)")
    assert_close(ae.decode(z), z @ params["W2"] + params["b2"], name="decode(z)")


@pytest.mark.problem("autoencoder")
@pytest.mark.points(1)
def test_encode_decode_forward_do_not_modify_inputs(student, rng):
    """encode, decode and forward must not change their argument in place."""
    ae, params = _student_model(student, rng, 8, 3, (5,))
    x, z = rng.standard_normal((4, 8)), rng.standard_normal((4, 3))
    for method, arg, name in ((ae.encode, x, "x"), (ae.decode, z, "z"), (ae.forward, x, "x")):
        call = method.inspect(arg.copy())
        assert_unmodified(call, arg, names=(name,))
    after = ae.params
    for key in params:
        assert_close(after[key], params[key], name=f"params['{key}'] after forward", rtol=0, atol=0)


# =============================================================================================
# loss_and_grads
# =============================================================================================

@pytest.mark.problem("loss_and_grads")
@pytest.mark.points(1)
@pytest.mark.parametrize("input_dim, code_dim, hidden_dims, n", CONFIGS, ids=CONFIG_IDS)
def test_loss_matches_reference(student, reference, rng, input_dim, code_dim, hidden_dims, n):
    """loss_and_grads returns the reconstruction loss of forward(x) and a grads dict shaped like params."""
    ae, params = _student_model(student, rng, input_dim, code_dim, hidden_dims)
    ref = _reference_model(reference, input_dim, code_dim, hidden_dims, params)
    x = rng.standard_normal((n, input_dim))
    loss, grads = ae.loss_and_grads(x)
    assert_close(loss, reference.mse_reconstruction_loss(x, ref.forward(x))[0], name="loss")
    _check_params(grads, input_dim, code_dim, hidden_dims, what="grads")


@pytest.mark.problem("loss_and_grads")
@pytest.mark.points(2)
@pytest.mark.parametrize("input_dim, code_dim, hidden_dims, n", CONFIGS, ids=CONFIG_IDS)
def test_grads_match_numerical(student, reference, rng, input_dim, code_dim, hidden_dims, n):
    """Every grads[name] must match the numerical gradient of the loss (random parameters, non-zero biases)."""
    ae, params = _student_model(student, rng, input_dim, code_dim, hidden_dims)
    ref = _reference_model(reference, input_dim, code_dim, hidden_dims, params)
    x = rng.standard_normal((n, input_dim))
    _, grads = ae.loss_and_grads(x)
    _check_grads(reference, ref, x, grads, params, rng)


@pytest.mark.problem("loss_and_grads")
@pytest.mark.points(1)
def test_grads_at_initial_params(student, reference, rng):
    """loss_and_grads of a freshly built model (its own initial parameters) matches the numerical gradient."""
    ae = student.Autoencoder(12, 2, (8, 4), seed=5)
    params = ae.params
    _check_params(params, 12, 2, (8, 4), what="ae.params")
    ref = _reference_model(reference, 12, 2, (8, 4), params)
    x = rng.standard_normal((7, 12))
    loss, grads = ae.loss_and_grads(x)
    assert_close(loss, reference.mse_reconstruction_loss(x, ref.forward(x))[0], name="loss")
    _check_grads(reference, ref, x, grads, params, rng)


@pytest.mark.problem("loss_and_grads")
@pytest.mark.points(1)
def test_loss_and_grads_does_not_modify_inputs(student, rng):
    """loss_and_grads must change neither x nor the parameters."""
    ae, params = _student_model(student, rng, 9, 2, (6,))
    x = rng.standard_normal((5, 9))
    call = ae.loss_and_grads.inspect(x.copy())
    assert_unmodified(call, x, names=("x",))
    after = ae.params
    for key in params:
        assert_close(after[key], params[key], name=f"params['{key}'] after loss_and_grads",
                     rtol=0, atol=0)


@pytest.mark.problem("loss_and_grads")
@pytest.mark.points(1)
def test_grads_scale_with_batch_mean(student, reference, rng):
    """The loss is a mean over the batch: a batch of two copies of one row has that row's loss and gradients."""
    ae, params = _student_model(student, rng, 7, 2, (5,))
    row = rng.standard_normal((1, 7))
    loss1, grads1 = ae.loss_and_grads(row)
    loss2, grads2 = ae.loss_and_grads(np.vstack([row, row]))
    _check_params(grads1, 7, 2, (5,), what="grads")
    _check_params(grads2, 7, 2, (5,), what="grads")
    assert_close(loss2, loss1, name="loss of the doubled batch")
    for name in sorted(params):
        assert_close(grads2[name], grads1[name], name=f"grads['{name}'] of the doubled batch")


# =============================================================================================
# train_autoencoder
# =============================================================================================

@pytest.mark.problem("train")
@pytest.mark.points(3)
@pytest.mark.timeout(20)
def test_train_learns_2d_manifold(student, reference, rng):
    """On data lying on a curved 2-D manifold in 20-D, a 2-D code must reconstruct held-out points well."""
    X_train, X_test = _manifold_data(rng, 1000, 500)
    args = (2, (32, 16), 150, 0.02, 32, 7)  # code_dim, hidden_dims, epochs, lr, batch_size, seed
    ae = student.train_autoencoder(X_train, *args)
    error = _recon_error(X_test, ae.forward(X_test))
    ref_error = _recon_error(X_test, reference.train_autoencoder(X_train, *args).forward(X_test))
    # The best any linear 2-D projection can do (PCA fitted on the training set).
    mean = X_train.mean(axis=0)
    top2 = np.linalg.svd(X_train - mean, full_matrices=False)[2][:2]
    pca_error = _recon_error(X_test - mean, (X_test - mean) @ top2.T @ top2)
    threshold = max(3.0 * ref_error, 0.05 * pca_error)
    assert np.isfinite(error) and error < threshold, (
        f"held-out reconstruction error {error:.4g} after training; required below "
        f"{threshold:.3g} (the reference reaches {ref_error:.3g}; the best linear projection "
        f"onto 2 dimensions, PCA, gets {pca_error:.3g})")


@pytest.mark.problem("train")
@pytest.mark.points(2)
@pytest.mark.timeout(20)
def test_train_linear_autoencoder_on_a_plane(student, reference, rng):
    """With hidden_dims=() training must recover a 2-D plane embedded in 20-D (held-out points)."""
    basis = rng.standard_normal((2, 20)) / np.sqrt(2)
    offset = 0.5 * rng.standard_normal(20)
    X_train = rng.uniform(-1, 1, (400, 2)) @ basis + offset
    X_test = rng.uniform(-1, 1, (200, 2)) @ basis + offset
    args = (2, (), 150, 0.01, 20, 3)
    ae = student.train_autoencoder(X_train, *args)
    error = _recon_error(X_test, ae.forward(X_test))
    ref_error = _recon_error(X_test, reference.train_autoencoder(X_train, *args).forward(X_test))
    variance = _recon_error(X_test, X_train.mean(axis=0))
    threshold = max(3.0 * ref_error, 0.01 * variance)
    assert np.isfinite(error) and error < threshold, (
        f"held-out reconstruction error {error:.4g} after training; required below "
        f"{threshold:.3g} (the data's variance is {variance:.3g})")


@pytest.mark.problem("train")
@pytest.mark.points(1)
@pytest.mark.timeout(20)
def test_train_deterministic_and_leaves_X(student, rng):
    """train_autoencoder must not modify X, and the same seed must give the same trained parameters."""
    X, _ = _manifold_data(rng, 60, 1, dim=8)
    args = (2, (5,), 3, 0.01, 16, 4)
    call = student.train_autoencoder.inspect(X.copy(), *args)
    assert_unmodified(call, X, names=("X",))
    first = call.result.params
    second = student.train_autoencoder(X.copy(), *args).params
    _check_params(first, 8, 2, (5,), what="trained params")
    for name in sorted(first):
        assert_close(second[name], first[name], name=f"params['{name}'] of a second run, same seed",
                     rtol=0, atol=0)


@pytest.mark.problem("train")
@pytest.mark.points(1)
@pytest.mark.timeout(20)
def test_train_follows_the_recipe(student, reference, rng):
    """Two epochs of train_autoencoder follow the docstring's recipe step by step (init, minibatch order, SGD steps)."""
    X, _ = _manifold_data(rng, 50, 1, dim=9)
    args = (3, (6,), 2, 0.01, 8, 21)
    params = student.train_autoencoder(X, *args).params
    expected = reference.train_autoencoder(X, *args).params
    _check_params(params, 9, 3, (6,), what="trained params")
    for name in sorted(expected, key=lambda n: (int(n[1:]), n[0])):
        assert_close(params[name], expected[name], name=f"params['{name}'] after 2 epochs",
                     rtol=1e-6, atol=1e-9)
