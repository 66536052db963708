"""Hidden suite for hw2_mlp, linear_cuda.py.

In numba-cuda's simulator (tiny shapes; every test has its own timeout, since a student's launch
configuration can multiply the cost): shapes that are not multiples of the tile (1x1x1,
17x33x15, ...), batch 1, float64 results; inputs unmodified (judged apart from the values). On
a GPU only: its speed against the reference kernel at 2048 x 2048 x 2048, cuBLAS reported
beside; without a GPU its points are pending, whatever the kernel computes. (The compile check,
that the kernel compiles for a real GPU and is tiled, is public: tests/public.)
"""
import numpy as np
import pytest

from grader.testing import Random, assert_close, assert_inputs_kept

RTOL, ATOL = 1e-10, 1e-12

SHAPES = {  # (N, D, H)
    "1x1x1": (1, 1, 1),
    "17x33x15": (17, 33, 15),
    "batch1": (1, 20, 7),
    "exact_tile": (16, 16, 16),
    "tall_narrow": (33, 5, 3),
    "wide_deep": (3, 40, 34),
}


def _layer(rng, N, D, H):
    return rng.standard_normal((N, D)), rng.standard_normal((D, H)), rng.standard_normal(H)


def _correct(student_cuda, rng, shape):
    x, W, b = _layer(rng, *shape)
    assert_close(student_cuda.linear_forward_cuda(x, W, b), x @ W + b, name="out",
                 rtol=RTOL, atol=ATOL)


@pytest.mark.problem("linear_cuda")
@pytest.mark.points(1)
@pytest.mark.timeout(15)
@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_linear_cuda_matches_numpy(student_cuda, rng, shape):
    """linear_forward_cuda equals x @ W + b in float64, also where the shape is not a multiple of the tile."""
    _correct(student_cuda, rng, shape)


@pytest.mark.problem("linear_cuda")
@pytest.mark.points(1)
@pytest.mark.timeout(15)
def test_linear_cuda_does_not_modify_inputs(student_cuda, rng):
    """linear_forward_cuda must leave x, W and b as they were."""
    # Judges the inputs only (the value tests judge the result). Where the call raises on
    # 5x18x6 (a missing bounds check reads past x in the simulator), 32x32x32 decides: no tile
    # of 8, 16 or 32 sticks out there.
    assert_inputs_kept(student_cuda.linear_forward_cuda, _layer(rng, 5, 18, 6),
                       _layer(rng, 32, 32, 32), names=("x", "W", "b"))


# On a GPU: 2048^3, large enough that the kernel, not the transfers, dominates. The tiled
# reference against an untiled kernel is expected to differ by more than the limit
# (cuda.gpu_speed_ratio in assignment.yaml); gpu/check.sh prints the measured ratios.
SPEED_N = SPEED_D = SPEED_H = 2048


@pytest.mark.gpu("linear_cuda")
@pytest.mark.problem("linear_cuda_speed")
@pytest.mark.points(3)
@pytest.mark.timeout(120)
def test_linear_cuda_speed_on_gpu(gpu_bench):
    """linear_forward_cuda at 2048 x 2048 x 2048 on the GPU must be within the limit of the tiled reference kernel."""
    gpu_bench.compare("linear_forward_cuda", Random((SPEED_N, SPEED_D)),
                      Random((SPEED_D, SPEED_H)), Random((SPEED_H,)),
                      simulate=(Random((20, 36)), Random((36, 18)), Random((18,))),
                      expect=lambda x, W, b: x @ W + b)
