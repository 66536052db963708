"""Public tests for hw4_autoencoder: fixed inputs, hard-coded expected values.

Run them with `grader check .` in the assignment folder. Passing them does not mean full
marks: the hidden suite uses random shapes and parameters, batches of one and more rows,
numerical gradient checks of every parameter, and training on held-out data.
"""
import numpy as np
import pytest

from grader.testing import assert_close

# A tiny model: input_dim 3, hidden_dims (2,), code_dim 1 -> layer sizes 3, 2, 1, 2, 3.
TINY_PARAMS = {
    "W1": np.array([[0.5, -0.3], [0.2, 0.8], [-0.6, 0.1]]), "b1": np.array([0.1, -0.2]),
    "W2": np.array([[1.2], [-0.7]]), "b2": np.array([0.3]),
    "W3": np.array([[0.9, -1.1]]), "b3": np.array([-0.4, 0.2]),
    "W4": np.array([[0.3, -0.5, 0.7], [1.0, 0.4, -0.2]]), "b4": np.array([0.05, -0.1, 0.2]),
}
TINY_X = np.array([[1.0, -0.5, 2.0], [0.3, 0.8, -1.2]])


def _tiny_model(student):
    ae = student.Autoencoder(3, 1, (2,), seed=0)
    ae.params = {name: value.copy() for name, value in TINY_PARAMS.items()}
    return ae


# --- mse_reconstruction_loss ---------------------------------------------------------------

@pytest.mark.problem("mse_loss")
@pytest.mark.points(1)
def test_mse_loss_small_batch(student):
    x = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0], [-2.0, 1.0, 0.0], [0.0, -1.5, 2.0]])
    x_hat = np.array([[1.5, 1.0, -1.0], [0.5, 0.5, 2.0], [-1.0, 1.0, 0.0], [0.0, -1.5, 4.0]])
    loss, d_x_hat = student.mse_reconstruction_loss(x, x_hat)
    # (0.25 + 1 + 0.25 + 1 + 1 + 4) / 4 rows = 1.875; d_x_hat = 2 * (x_hat - x) / 4
    assert_close(loss, 1.875, name="loss")
    assert_close(d_x_hat, np.array([[0.25, -0.5, 0.0], [0.0, 0.25, -0.5],
                                    [0.5, 0.0, 0.0], [0.0, 0.0, 1.0]]), name="d_x_hat")


# --- Autoencoder: parameters, encode, decode, forward --------------------------------------

@pytest.mark.problem("autoencoder")
@pytest.mark.points(1)
def test_param_names_and_shapes(student):
    ae = student.Autoencoder(6, 2, (4, 3), seed=0)
    shapes = {name: np.shape(value) for name, value in ae.params.items()}
    # sizes 6 -> 4 -> 3 -> 2 (code) -> 3 -> 4 -> 6
    assert shapes == {"W1": (6, 4), "b1": (4,), "W2": (4, 3), "b2": (3,),
                      "W3": (3, 2), "b3": (2,), "W4": (2, 3), "b4": (3,),
                      "W5": (3, 4), "b5": (4,), "W6": (4, 6), "b6": (6,)}, \
        f"Autoencoder(6, 2, (4, 3)).params has the shapes {shapes}"


@pytest.mark.problem("autoencoder")
@pytest.mark.points(1)
def test_encode_fixed_params(student):
    ae = _tiny_model(student)
    z = ae.encode(TINY_X.copy())
    # z = tanh(x @ W1 + b1) @ W2 + b2 (the code layer is linear)
    assert_close(z, np.array([[-0.0021838885585817036], [1.115003267924548]]), name="encode(x)")


@pytest.mark.problem("autoencoder")
@pytest.mark.points(1)
def test_decode_and_forward_fixed_params(student):
    ae = _tiny_model(student)
    z = np.array([[0.5], [-2.0]])
    assert_close(ae.decode(z), np.array([[-0.2713880318489683, -0.2595294052134729, 0.3022459713377824],
                                         [0.7409519186842448, 0.7813415080931979, -0.6797551625607521]]),
                 name="decode(z)")
    assert_close(ae.forward(TINY_X.copy()),
                 np.array([[0.13519407462506206, 0.17068789684215055, -0.10707720672181165],
                           [-0.5606410045634731, -0.6787696465057024, 0.7321766943917882]]),
                 name="forward(x)")


# --- loss_and_grads ------------------------------------------------------------------------

@pytest.mark.problem("loss_and_grads")
@pytest.mark.points(1)
def test_loss_and_grads_fixed_params(student):
    ae = _tiny_model(student)
    loss, grads = ae.loss_and_grads(TINY_X.copy())
    assert_close(loss, 6.149127641567072, name="loss")
    expected = {
        "W1": np.array([[-0.8267053645959073, 0.22929874319982607],
                        [1.188003990839756, -1.367525135495066],
                        [-3.1211711032710188, 2.8324673548325734]]),
        "b1": np.array([-0.2559096635651057, -0.6938728723018656]),
        "W2": np.array([[2.460303074721342], [1.298827944069616]]),
        "b2": np.array([0.5789339879740945]),
        "W3": np.array([[1.4532769620985813, -0.8262864175639859]]),
        "b3": np.array([-0.46838057592473925, -0.9095240966421452]),
        "W4": np.array([[-0.1343126678098632, -1.053805927302566, 1.8466045093421761],
                        [0.49216014739552655, 1.27627779538468, -1.9133581632504106]]),
        "b4": np.array([-1.725446929938411, -0.808081749663552, -0.17490051233002335]),
    }
    assert isinstance(grads, dict) and sorted(grads) == sorted(expected), \
        f"grads must be a dict with the keys {sorted(expected)}"
    for name in ("W4", "b4", "W3", "b3", "W2", "b2", "W1", "b1"):  # output layer first
        assert_close(grads[name], expected[name], name=f"grads['{name}']")


# --- train_autoencoder ---------------------------------------------------------------------

@pytest.mark.problem("train")
@pytest.mark.points(1)
@pytest.mark.timeout(20)
def test_train_linear_autoencoder_on_a_line(student):
    # 40 points on a line in 3-D: a linear autoencoder with a 1-D code can reconstruct them.
    t = np.linspace(-1.0, 1.0, 40)
    X = np.outer(t, [1.0, -2.0, 0.5]) + np.array([0.5, 0.0, -1.0])
    ae = student.train_autoencoder(X, 1, (), 30, 0.05, 8, 0)
    x_hat = ae.forward(X)
    error = float(np.sum((X - x_hat) ** 2) / X.shape[0])
    assert error < 1e-3, (f"after training, the mean reconstruction error is {error:.3g}; "
                          "expected below 1e-3 (the data's variance is 1.84)")
