"""Hidden suite for hw3_conv, conv_cuda.py.

In numba-cuda's simulator (tiny shapes, a timeout per test): 1x1, 3x3, 5x5 and non-square
kernels, stride 1 and 2 with odd sizes, padding 0, 1 and 2, batch 1, one input or output
channel, non-square inputs, float64 results compared with the NumPy reference
``conv2d_forward``; inputs unmodified (judged apart from the values). On a GPU only: its speed
against the reference kernel on a larger layer; without a GPU its points are pending, whatever
the kernel computes.
"""
import numpy as np
import pytest

from grader.testing import Random, assert_close, assert_inputs_kept

RTOL, ATOL = 1e-10, 1e-12

# (N, C, H, W, F, KH, KW, stride, padding): under ~3e5 multiply-adds each (simulator cost)
CONFIGS = {
    "1x1_kernel": (2, 3, 5, 6, 4, 1, 1, 1, 0),
    "3x3_pad1": (2, 3, 7, 7, 4, 3, 3, 1, 1),
    "5x5_pad2_nonsquare_input": (1, 2, 9, 8, 3, 5, 5, 1, 2),
    "2x3_kernel": (2, 2, 6, 7, 2, 2, 3, 1, 0),
    "stride2_odd_pad1": (2, 3, 7, 9, 4, 3, 3, 2, 1),
    "stride2_odd_5x5_pad2": (2, 2, 7, 7, 3, 5, 5, 2, 2),
    "c_in_1_c_out_1": (2, 1, 8, 5, 1, 3, 3, 1, 0),
    "batch1_one_pixel_out": (1, 2, 3, 3, 2, 3, 3, 1, 0),
}


def _layer(rng, cfg):
    N, C, H, W, F, KH, KW, stride, padding = cfg
    return (rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, KH, KW)),
            rng.standard_normal(F), stride, padding)


@pytest.mark.problem("conv_cuda")
@pytest.mark.points(1)
@pytest.mark.timeout(15)
@pytest.mark.parametrize("cfg", list(CONFIGS.values()), ids=list(CONFIGS))
def test_conv_cuda_matches_reference(student_cuda, reference, rng, cfg):
    """conv2d_forward_cuda equals conv2d_forward for the kernel size, stride, padding and channels in the test name."""
    x, w, b, stride, padding = _layer(rng, cfg)
    out = student_cuda.conv2d_forward_cuda(x, w, b, stride=stride, padding=padding)
    expected, _ = reference.conv2d_forward(x, w, b, stride=stride, padding=padding)
    assert_close(out, expected, name="out", rtol=RTOL, atol=ATOL)


@pytest.mark.problem("conv_cuda")
@pytest.mark.points(1)
@pytest.mark.timeout(15)
def test_conv_cuda_defaults(student_cuda, reference, rng):
    """Called as conv2d_forward_cuda(x, w, b): stride 1 and no padding by default."""
    x, w, b, _, _ = _layer(rng, (2, 2, 6, 5, 3, 3, 2, 1, 0))
    assert_close(student_cuda.conv2d_forward_cuda(x, w, b), reference.conv2d_forward(x, w, b)[0],
                 name="out", rtol=RTOL, atol=ATOL)


@pytest.mark.problem("conv_cuda")
@pytest.mark.points(1)
@pytest.mark.timeout(15)
def test_conv_cuda_does_not_modify_inputs(student_cuda, rng):
    """conv2d_forward_cuda must leave x, w and b as they were (pad on the device or by bounds checks, not in x)."""
    # Judges the inputs only (the value tests judge the result). Where the call raises with
    # padding 2 (a missing bounds check reads past x in the simulator), a square layer without
    # padding whose 32x32 output no block sticks out of decides.
    assert_inputs_kept(student_cuda.conv2d_forward_cuda,
                       _layer(rng, (2, 2, 5, 5, 3, 3, 3, 1, 2)),
                       _layer(rng, (1, 2, 34, 34, 2, 3, 3, 1, 0)), names=("x", "w", "b"))


# On a GPU: a layer with enough work per call (N=16, C=32, 64x64, F=64, 3x3, padding 1: 1.2e9
# multiply-adds) that the kernel, not the transfers, is timed.
SPEED_X, SPEED_W = (16, 32, 64, 64), (64, 32, 3, 3)


@pytest.mark.gpu("conv_cuda")
@pytest.mark.problem("conv_cuda_speed")
@pytest.mark.points(3)
@pytest.mark.timeout(120)
def test_conv_cuda_speed_on_gpu(gpu_bench, reference):
    """conv2d_forward_cuda on N=16, C=32, 64x64, F=64, 3x3, padding 1 on the GPU must be within the limit of the reference kernel."""
    gpu_bench.compare("conv2d_forward_cuda", Random(SPEED_X), Random(SPEED_W, scale=0.1),
                      Random((SPEED_W[0],)), stride=1, padding=1,
                      simulate=(Random((1, 2, 6, 6)), Random((2, 2, 3, 3)), Random((2,))),
                      expect=lambda *args, **kw: reference.conv2d_forward(*args, **kw)[0])
