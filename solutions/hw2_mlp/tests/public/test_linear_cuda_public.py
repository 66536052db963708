"""Public tests for hw2_mlp, linear_cuda.py: run in numba-cuda's simulator on tiny shapes.

Run them with `grader check .`: the simulator needs `pip install numba-cuda nvidia-cuda-runtime`
(no GPU), the compile check also `pip install nvidia-nvvm nvidia-cuda-nvrtc`. The simulator runs
every CUDA thread as a Python thread: keep to these sizes. The compile check compiles
linear_kernel for a real GPU in a separate process, from your file as you wrote it (it never runs
your code), and reads the GPU code (PTX) it gives: shared memory and barriers must be there; it
judges that code, not your values (the other tests do). The hidden suite adds shapes that are
not multiples of the tile, batch 1, and, on a GPU, speed.
"""
import numpy as np
import pytest

from grader.testing import assert_close

pytestmark = [pytest.mark.problem("linear_cuda"), pytest.mark.timeout(20)]
KERNEL_SIGNATURE = "void(float64[:, :], float64[:, :], float64[:], float64[:, :])"


@pytest.mark.points(1)
def test_linear_cuda_small(student_cuda):
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]])
    b = np.array([0.5, -0.5])
    out = student_cuda.linear_forward_cuda(x, W, b)
    assert_close(out, np.array([[4.5, -1.5], [10.5, -1.5]]), name="out", rtol=1e-12,
                 atol=1e-12)


@pytest.mark.points(1)
def test_linear_cuda_several_tiles(student_cuda):
    # N = 20 and D = 18 span two 16-wide tiles, H = 17 two as well: boundaries on every axis.
    i, k, j = np.arange(20)[:, None], np.arange(18), np.arange(17)
    x = (i - k) / 8.0
    W = ((k[:, None] * j) % 5 - 2) / 4.0
    b = j / 10.0
    out = student_cuda.linear_forward_cuda(x, W, b)
    assert_close(out, x @ W + b, name="out", rtol=1e-12, atol=1e-12)


# The compile check judges the kernel's GPU code only (the tests above, and the hidden ones,
# judge its values): a kernel with a wrong value still earns these points if it compiles and
# is tiled.
@pytest.mark.points(2)
@pytest.mark.timeout(15)
def test_linear_kernel_compiles_for_gpu(cuda_build):
    """linear_kernel compiles for a real GPU (no NumPy calls, lists or plain Python helpers
    inside a kernel, no return value, at most 48 KiB of shared memory), launched by
    linear_forward_cuda."""
    kernel = cuda_build.compile("linear_cuda", "linear_kernel", KERNEL_SIGNATURE,
                                launched_by="linear_forward_cuda")
    kernel.assert_within_limits()


@pytest.mark.points(3)
@pytest.mark.timeout(15)
def test_linear_kernel_is_tiled(cuda_build):
    """linear_kernel is tiled: its GPU code declares shared memory (tiles of x and W in
    cuda.shared.array), writes and reads it, and has barriers (cuda.syncthreads())."""
    kernel = cuda_build.compile("linear_cuda", "linear_kernel", KERNEL_SIGNATURE,
                                launched_by="linear_forward_cuda")
    kernel.assert_tiled()
