"""Baselines for GPU timing (course side: never released, never graded).

``gpu_bench`` reports the student's time beside cuBLAS's, called through CuPy on the same
inputs with the same contract as ``linear_forward_cuda`` (host arrays in, a host array out).
"""


def cublas_linear(x, W, b):
    """``x @ W + b`` by cuBLAS (CuPy's matmul); x (N, D), W (D, H), b (H,) host float64."""
    import cupy as cp  # only on a GPU machine

    out = cp.asarray(x) @ cp.asarray(W) + cp.asarray(b)
    return cp.asnumpy(out)
