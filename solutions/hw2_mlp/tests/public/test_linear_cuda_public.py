"""Public tests for hw2_mlp, linear_cuda.py: run in numba-cuda's simulator on tiny shapes.

Run them with `grader check .` (it needs `pip install numba-cuda`; no GPU). The simulator runs
every CUDA thread as a Python thread: keep to these sizes. The hidden suite adds shapes that are
not multiples of the tile, batch 1, a check that the kernel compiles for a real GPU and is tiled
through shared memory, and, on a GPU, its speed.
"""
import numpy as np
import pytest

from grader.testing import assert_close

pytestmark = [pytest.mark.problem("linear_cuda"), pytest.mark.timeout(20)]


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
