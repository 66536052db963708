"""Public tests for hw5_rnn: fixed inputs, hard-coded expected values.

Run them with `grader check .` in the assignment folder. Passing them does not mean full
marks: the hidden suite uses random inputs and upstream gradients, other times t (0 and
non-integer ones among them), batch size 1, hidden size 1, longer sequences, numerical
gradient checks of every gradient, and checks that arguments are not modified.

Shapes here: N = 2 rows, input size D = 2, hidden size H = 3, output size O = 2.
"""
import numpy as np
import pytest

from grader.testing import assert_close


def small_params():
    return {
        "W_x": np.array([[0.5, -0.3, 0.2], [0.1, 0.4, -0.6]]),                     # (D, H)
        "W_h": np.array([[0.3, -0.2, 0.1], [0.0, 0.5, -0.4], [-0.3, 0.2, 0.25]]),  # (H, H)
        "w_t": np.array([0.1, -0.2, 0.05]),                                       # (H,)
        "b_h": np.array([0.05, -0.1, 0.2]),                                       # (H,)
        "W_y": np.array([[0.7, -0.5], [-0.4, 0.6], [0.3, 0.8]]),                  # (H, O)
        "b_y": np.array([0.1, -0.2]),                                             # (O,)
    }


X_T = np.array([[1.0, -0.5], [0.3, 0.8]])
H_PREV = np.array([[0.2, -0.1, 0.4], [-0.3, 0.5, 0.0]])
T_STEP = 2.0
D_H = np.array([[0.5, -1.0, 0.3], [-0.2, 0.4, 1.1]])
D_Y = np.array([[1.0, -0.5], [0.3, 0.7]])

XS = np.array([[[1.0, -0.5], [0.3, 0.8]],
               [[-0.7, 0.2], [0.0, -1.0]],
               [[0.4, 0.9], [-0.6, 0.1]]])                  # (T=3, N, D)
H0 = np.array([[0.1, 0.0, -0.2], [0.3, -0.4, 0.2]])
D_HS = np.array([[[0.2, -0.1, 0.0], [0.0, 0.3, -0.2]],
                 [[-0.5, 0.4, 0.1], [0.2, 0.0, 0.6]],
                 [[1.0, -0.3, 0.5], [-0.4, 0.8, 0.2]]])
D_YS = np.array([[[0.5, -0.2], [0.1, 0.3]],
                 [[-0.6, 0.4], [0.2, -0.1]],
                 [[0.3, 0.9], [-0.8, 0.5]]])


@pytest.mark.problem("step_forward")
@pytest.mark.points(1)
def test_step_forward_small(student):
    result = student.rnn_step_forward(X_T, H_PREV, T_STEP, small_params())
    assert isinstance(result, tuple) and len(result) == 3, \
        "rnn_step_forward must return the tuple (h_t, y_t, cache)"
    h_t, y_t, _ = result
    # h_t = tanh(x_t @ W_x + h_prev @ W_h + t * w_t + b_h) with t = 2
    assert_close(h_t, np.array([[0.564899552846, -0.765762018248, 0.744276867362],
                                [0.371360227877, 0.039978680311, -0.336375544336]]),
                 name="h_t", rtol=1e-9)
    # y_t = sigmoid(h_t @ W_y + b_y)
    assert_close(y_t, np.array([[0.735948805275, 0.414234938402],
                                [0.560464649619, 0.347330671863]]), name="y_t", rtol=1e-9)


@pytest.mark.problem("step_backward")
@pytest.mark.points(1)
def test_step_backward_small(student):
    params = small_params()
    _, _, cache = student.rnn_step_forward(X_T, H_PREV, T_STEP, params)
    result = student.rnn_step_backward(D_H, D_Y, cache)
    assert isinstance(result, tuple) and len(result) == 3, \
        "rnn_step_backward must return the tuple (dx_t, dh_prev, grads)"
    dx_t, dh_prev, grads = result
    assert_close(dx_t, np.array([[0.403249794182, -0.212825991243],
                                 [-0.016025341625, -0.498329584771]]), name="dx_t", rtol=1e-9)
    assert_close(dh_prev, np.array([[0.249136673565, -0.284544159139, -0.208352249724],
                                    [-0.041068960434, -0.21066047971, 0.428792880616]]),
                 name="dh_prev", rtol=1e-9)
    assert isinstance(grads, dict) and sorted(grads) == sorted(params), \
        f"grads must be a dict with exactly the keys {sorted(params)}"
    expected = {
        "W_x": [[0.415502556846, -0.336395234913, 0.44886171399],
                [-0.394160894569, 0.609857504116, 0.827962640642]],
        "W_h": [[0.153739944856, -0.234644898769, -0.309029403675],
                [-0.145547199429, 0.280039249733, 0.542238622019],
                [0.189747500567, -0.190346711227, 0.046610770105]],
        "w_t": [0.556296205687, -0.021923268433, 2.448619108706],
        "b_h": [0.278148102844, -0.010961634217, 1.224309554353],
        "W_y": [[0.137220603523, -0.009605748832],
                [-0.145854572271, 0.09924791023],
                [0.119774723358, -0.143674859298]],
        "b_y": [0.268231369133, 0.037362276268],
    }
    for name, value in expected.items():
        assert_close(grads[name], np.array(value), name=f"grads[{name!r}]", rtol=1e-9)


@pytest.mark.problem("rnn_forward")
@pytest.mark.points(1)
def test_rnn_forward_small(student):
    result = student.rnn_forward(XS, H0, small_params())
    assert isinstance(result, tuple) and len(result) == 3, \
        "rnn_forward must return the tuple (hs, ys, cache)"
    hs, ys, _ = result
    # steps 1, 2, 3 use t = 1, 2, 3
    assert_close(hs, np.array([
        [[0.597982000499, -0.696257672687, 0.610676832817],
         [0.388472680216, -0.28213481267, 0.069885890316]],
        [[-0.083612779919, -0.504697971943, 0.486122579007],
         [0.240755587886, -0.802211144563, 0.789149318287]],
        [[0.437455181008, -0.535911428831, 0.202222328067],
         [-0.104139188208, -0.647758358912, 0.612084150967]]]), name="hs", rtol=1e-9)
    assert_close(ys, np.array([
        [[0.727166453097, 0.394555248362], [0.62380978138, 0.375754312448]],
        [[0.596086974769, 0.481979226541], [0.695541981721, 0.457506496391]],
        [[0.664017604272, 0.359278602674], [0.615343792765, 0.488272626101]]]),
        name="ys", rtol=1e-9)


@pytest.mark.problem("rnn_backward")
@pytest.mark.points(1)
def test_rnn_backward_small(student):
    params = small_params()
    _, _, cache = student.rnn_forward(XS, H0, params)
    result = student.rnn_backward(D_HS, D_YS, cache)
    assert isinstance(result, tuple) and len(result) == 3, \
        "rnn_backward must return the tuple (dxs, dh0, grads)"
    dxs, dh0, grads = result
    assert_close(dxs, np.array([
        [[0.088383179001, -0.05924693078], [-0.070753688768, 0.100210665626]],
        [[-0.196824921208, 0.002010508383], [0.035676683118, -0.184404984132]],
        [[0.556226388784, -0.376116614197], [-0.429410484928, 0.070633823037]]]),
        name="dxs", rtol=1e-9)
    assert_close(dh0, np.array([[0.052637861489, -0.060513907021, -0.025293117951],
                                [-0.046060484418, 0.115874097193, 0.036078749542]]),
                 name="dh0", rtol=1e-9)
    assert isinstance(grads, dict) and sorted(grads) == sorted(params), \
        f"grads must be a dict with exactly the keys {sorted(params)}"
    expected = {
        "W_x": [[0.994926624237, -0.47982693164, 0.218299860382],
                [0.531516022653, 0.083577284808, 0.205708338272]],
        "W_h": [[-0.401237989517, 0.308422678132, 0.135145288368],
                [0.323465346827, -0.566490423981, -0.563257758001],
                [-0.317306852032, 0.506382083219, 0.462813849349]],
        "w_t": [-0.078264334715, 1.775416955453, 3.237689898069],
        "b_h": [-0.073397321194, 0.759172700312, 1.238738133447],
        "W_y": [[0.139708237192, 0.062061945184],
                [0.050034111817, -0.209036898556],
                [-0.076952684402, 0.123069193323]],
        "b_y": [-0.101870074124, 0.429752266193],
    }
    for name, value in expected.items():
        assert_close(grads[name], np.array(value), name=f"grads[{name!r}]", rtol=1e-9)
