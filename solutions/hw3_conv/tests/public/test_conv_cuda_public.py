"""Public tests for hw3_conv, conv_cuda.py: run in numba-cuda's simulator on tiny shapes.

Run them with `grader check .`: the simulator needs `pip install numba-cuda nvidia-cuda-runtime`
(no GPU), the compile check also `pip install nvidia-nvvm nvidia-cuda-nvrtc`. The compile check
compiles conv2d_kernel for a real GPU in a separate process, from your file as you wrote it (it
never runs your code), and judges that code, not your values (the other tests do). The hidden
suite adds more shapes (1x1 and 5x5 kernels, stride 2 with odd
sizes, padding 2, batch 1, one channel), a check that the inputs are unchanged, and, on a GPU,
the kernel's speed.
"""
import numpy as np
import pytest

from grader.testing import assert_close

pytestmark = [pytest.mark.problem("conv_cuda"), pytest.mark.timeout(20)]
KERNEL_SIGNATURE = ("void(float64[:, :, :, :], float64[:, :, :, :], float64[:], "
                    "float64[:, :, :, :], int64, int64)")


def _direct(x, w, b, stride, padding):
    """The layer by its definition (eq. 12), one output at a time: small inputs only."""
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    H_out, W_out = (H + 2 * padding - KH) // stride + 1, (W + 2 * padding - KW) // stride + 1
    out = np.empty((N, F, H_out, W_out))
    for n, f, i, j in np.ndindex(out.shape):
        window = xp[n, :, i * stride:i * stride + KH, j * stride:j * stride + KW]
        out[n, f, i, j] = b[f] + np.sum(window * w[f])
    return out


@pytest.mark.points(1)
def test_conv_cuda_lecture_example(student_cuda):
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[[[0.0, 1.0], [2.0, 3.0]]]])
    out = student_cuda.conv2d_forward_cuda(x, w, np.zeros(1))
    assert_close(out, np.array([[[[19.0, 25.0], [37.0, 43.0]]]]), name="out")


@pytest.mark.points(1)
def test_conv_cuda_stride_2_padding_1(student_cuda):
    x = (np.arange(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) % 7 - 3) / 2.0
    w = (np.arange(3 * 2 * 3 * 3).reshape(3, 2, 3, 3) % 5 - 2) / 4.0
    b = np.array([0.5, -1.0, 2.0])
    out = student_cuda.conv2d_forward_cuda(x, w, b, stride=2, padding=1)
    assert_close(out, _direct(x, w, b, 2, 1), name="out", rtol=1e-12, atol=1e-12)


# The compile check judges the kernel's GPU code only (the tests above, and the hidden ones,
# judge its values): a kernel with a wrong value still earns these points if it compiles.
@pytest.mark.points(2)
@pytest.mark.timeout(15)
def test_conv_kernel_compiles_for_gpu(cuda_build):
    """conv2d_kernel compiles for a real GPU (no NumPy calls, lists or plain Python helpers
    inside a kernel, no return value), launched by conv2d_forward_cuda."""
    kernel = cuda_build.compile("conv_cuda", "conv2d_kernel", KERNEL_SIGNATURE,
                                launched_by="conv2d_forward_cuda")
    kernel.assert_within_limits()
