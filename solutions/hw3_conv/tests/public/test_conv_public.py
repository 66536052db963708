"""Public tests for hw3_conv: fixed inputs, hard-coded expected values.

Run them with `grader check .` in the assignment folder. Passing them does not mean full
marks: the hidden suite uses random inputs and upstream gradients, more kernel sizes, strides,
paddings and channel counts, numerical gradient checks, and times your code on a realistic layer.
"""
import numpy as np
import pytest

from grader.testing import assert_close

# The lecture's example (section 七.I, eq. 12): a 3x3 input and a 2x2 kernel, one channel,
# one filter, no bias, stride 1, no padding.
LECTURE_X = np.array([[0.0, 1.0, 2.0],
                      [3.0, 4.0, 5.0],
                      [6.0, 7.0, 8.0]]).reshape(1, 1, 3, 3)
LECTURE_W = np.array([[0.0, 1.0],
                      [2.0, 3.0]]).reshape(1, 1, 2, 2)

# Two input channels, two filters, a bias per filter.
X2 = np.array([[[[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [2.0, 1.0, 1.0]],
                [[0.0, 1.0, 1.0], [2.0, 0.0, 1.0], [1.0, 1.0, 0.0]]]])
W2 = np.array([[[[1.0, 0.0], [0.0, -1.0]], [[2.0, 1.0], [0.0, 1.0]]],
               [[[0.0, 1.0], [1.0, 0.0]], [[-1.0, 0.0], [0.0, 1.0]]]])
B2 = np.array([1.0, -1.0])


# --- conv2d_forward ------------------------------------------------------------------------

@pytest.mark.problem("conv_forward")
@pytest.mark.points(1)
def test_forward_lecture_example(student):
    out, _ = student.conv2d_forward(LECTURE_X, LECTURE_W, np.zeros(1))
    # top-left window: 0*0 + 1*1 + 3*2 + 4*3 = 19, and so on (no kernel flip)
    assert_close(out, np.array([[[[19.0, 25.0], [37.0, 43.0]]]]), name="out")


@pytest.mark.problem("conv_forward")
@pytest.mark.points(1)
def test_forward_output_shape(student):
    x = np.linspace(-1.0, 1.0, 2 * 3 * 7 * 5).reshape(2, 3, 7, 5)
    w = np.linspace(-0.5, 0.5, 4 * 3 * 3 * 3).reshape(4, 3, 3, 3)
    out, _ = student.conv2d_forward(x, w, np.zeros(4), stride=2, padding=1)
    assert isinstance(out, np.ndarray), "out must be an ndarray"
    # H_out = (7 + 2*1 - 3) // 2 + 1 = 4, W_out = (5 + 2*1 - 3) // 2 + 1 = 3
    assert out.shape == (2, 4, 4, 3), f"out has shape {out.shape}; expected (2, 4, 4, 3)"


@pytest.mark.problem("conv_forward")
@pytest.mark.points(1)
def test_forward_channels_bias_padding(student):
    out, _ = student.conv2d_forward(X2, W2, B2, stride=1, padding=1)
    expected = np.array([[[[0.0, 0.0, 2.0, 1.0],
                           [3.0, 2.0, 4.0, 3.0],
                           [2.0, 5.0, 2.0, 6.0],
                           [2.0, 6.0, 4.0, 2.0]],
                          [[-1.0, 1.0, 2.0, -1.0],
                           [2.0, 1.0, 0.0, 1.0],
                           [0.0, 1.0, 3.0, -1.0],
                           [1.0, -1.0, -1.0, -1.0]]]])
    assert_close(out, expected, name="out")


@pytest.mark.problem("conv_forward")
@pytest.mark.points(1)
def test_forward_stride_2(student):
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    out, _ = student.conv2d_forward(x, np.ones((1, 1, 3, 3)), np.array([0.5]), stride=2)
    # each output is 0.5 + the sum of a 3x3 block; blocks start at rows/columns 0 and 2
    assert_close(out, np.array([[[[54.5, 72.5], [144.5, 162.5]]]]), name="out")


# --- conv2d_backward -----------------------------------------------------------------------

@pytest.mark.problem("conv_backward")
@pytest.mark.points(1)
def test_backward_lecture_example(student):
    _, cache = student.conv2d_forward(LECTURE_X, LECTURE_W, np.zeros(1))
    d_out = np.array([[1.0, -1.0], [2.0, 0.5]]).reshape(1, 1, 2, 2)
    grads = student.conv2d_backward(d_out, cache)
    assert grads is not None and len(grads) == 3, "conv2d_backward must return (dx, dw, db)"
    dx, dw, db = grads
    assert_close(dx, np.array([[[[0.0, 1.0, -1.0],
                                 [2.0, 3.0, -2.5],
                                 [4.0, 7.0, 1.5]]]]), name="dx")
    assert_close(dw, np.array([[[[7.0, 9.5], [14.5, 17.0]]]]), name="dw")
    assert_close(db, np.array([2.5]), name="db")


@pytest.mark.problem("conv_backward")
@pytest.mark.points(1)
def test_backward_stride_2_padding_1(student):
    x = np.array([[1.0, 2.0, 0.0],
                  [0.0, 1.0, 3.0],
                  [2.0, 1.0, 1.0],
                  [1.0, 0.0, 2.0]]).reshape(1, 1, 4, 3)
    w = np.array([[1.0, 2.0], [-1.0, 0.0]]).reshape(1, 1, 2, 2)
    _, cache = student.conv2d_forward(x, w, np.array([0.0]), stride=2, padding=1)
    # out = [[0, -2], [0, 6], [2, 4]], H_out = (4 + 2 - 2) // 2 + 1 = 3, W_out = 2
    d_out = np.arange(1.0, 7.0).reshape(1, 1, 3, 2)
    dx, dw, db = student.conv2d_backward(d_out, cache)
    assert_close(dx, np.array([[[[0.0, -2.0, 0.0],
                                 [6.0, 4.0, 8.0],
                                 [0.0, -4.0, 0.0],
                                 [10.0, 6.0, 12.0]]]]), name="dx")
    assert_close(dw, np.array([[[[4.0, 29.0], [8.0, 11.0]]]]), name="dw")
    assert_close(db, np.array([21.0]), name="db")
