"""Hidden suite for hw2_mlp: mlp_forward and mlp_backward timed against the reference.

Both must be vectorized over the batch. Inputs (``Random``) are fresh for every timed call; see
docs/authoring.md, "Timing kernels".
"""
import pytest

from grader.testing import Random

# A batch of 4000 rows through a 32 -> 64 -> 10 ReLU network: the reference takes a few
# milliseconds; a Python loop over the rows is about 7x (forward) and 15x (backward) slower.
BENCH_N, BENCH_D, BENCH_H, BENCH_C = 4000, 32, 64, 10


def _bench_params():
    return [(Random((BENCH_D, BENCH_H), scale=0.25), Random((BENCH_H,), scale=0.1)),
            (Random((BENCH_H, BENCH_C), scale=0.2), Random((BENCH_C,), scale=0.1))]


@pytest.mark.problem("mlp_forward")
@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_mlp_forward_speed(bench):
    """mlp_forward must be vectorized over the batch (no Python loop over samples)."""
    bench.compare("mlp_forward", Random((BENCH_N, BENCH_D)), _bench_params(),
                  ["relu", "identity"], index=0)


@pytest.mark.problem("mlp_backward")
@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_mlp_backward_speed(bench):
    """mlp_backward must be vectorized over the batch (no Python loop over samples)."""
    forward = bench.setup("mlp_forward", Random((BENCH_N, BENCH_D)), _bench_params(),
                          ["relu", "identity"])
    bench.compare("mlp_backward", Random((BENCH_N, BENCH_C)), forward[1])
