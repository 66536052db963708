# ONE BUG (test data for tests/test_cuda_one_penalty.py): threads outside out are not stopped (they write past its end)
"""The convolution layer's forward pass on the GPU with numba-cuda: one thread per output.

Same semantics as ``conv2d_forward`` of conv.py (lecture eq. 12, a cross-correlation, zero
padding on all four sides), float64 host arrays in, a host array out:

    x    (N, C, H, W)          input images
    w    (F, C, KH, KW)        kernels
    b    (F,)                  biases
    out  (N, F, H_out, W_out)  H_out = (H + 2 * padding - KH) // stride + 1 (same for W)

    out[n, f, i, j] = b[f] + sum_{c, p, q} x_pad[n, c, i * stride + p, j * stride + q] * w[f, c, p, q]

The grid covers ``out``: the x axis of the grid runs along the output columns j, the y axis
along the rows i, the z axis along the (sample, filter) pairs n * F + f; each block is
BLOCK x BLOCK x 1 threads. A thread computes its one output element with a loop over c, p, q.
Padding costs no copy: a window position outside x reads as 0.0 (a bounds check), and threads
that fall outside ``out`` (the last blocks stick out) write nothing.
"""
import math

import numpy as np
from numba import cuda

BLOCK = 8  # threads per block along the output's rows and columns (64 threads a block)


def output_size(H, W, KH, KW, stride, padding):
    """(H_out, W_out) of the layer."""
    return (H + 2 * padding - KH) // stride + 1, (W + 2 * padding - KW) // stride + 1


def launch_config(N, F, H_out, W_out):
    """Blocks and threads per block covering an (N, F, H_out, W_out) output.

    Returns ``(blocks, threads)`` for ``kernel[blocks, threads](...)``: grid axes x = output
    column j, y = output row i, z = n * F + f.
    """
    threads = (BLOCK, BLOCK, 1)
    blocks = (math.ceil(W_out / BLOCK), math.ceil(H_out / BLOCK), N * F)
    return blocks, threads


@cuda.jit
def conv2d_kernel(x, w, b, out, stride, padding):
    """out[n, f, i, j] for the thread's (n, f, i, j), as in the module docstring.

    x (N, C, H, W), w (F, C, KH, KW), b (F,), out (N, F, H_out, W_out): device arrays,
    float64; stride and padding: ints. Launched with ``launch_config(N, F, H_out, W_out)``.
    """
    j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    i = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
    nf = cuda.blockIdx.z
    N, F, H_out, W_out = out.shape
    n, f = nf // F, nf % F
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    KH, KW = w.shape[2], w.shape[3]

    acc = b[f]
    top, left = i * stride - padding, j * stride - padding  # window corner in unpadded x
    for c in range(C):
        for p in range(KH):
            row = top + p
            if row < 0 or row >= H:  # a padded row: zeros add nothing
                continue
            for q in range(KW):
                col = left + q
                if col >= 0 and col < W:
                    acc += x[n, c, row, col] * w[f, c, p, q]
    out[n, f, i, j] = acc


def conv2d_forward_cuda(x, w, b, stride=1, padding=0):
    """``conv2d_forward(x, w, b, stride, padding)[0]`` computed by ``conv2d_kernel``.

    x: (N, C, H, W), w: (F, C, KH, KW), b: (F,) host float64 arrays (not modified); stride >= 1
    and padding >= 0 ints. Returns ``out``, a new (N, F, H_out, W_out) host float64 array.
    """
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    H_out, W_out = output_size(H, W, KH, KW, stride, padding)
    d_x = cuda.to_device(np.ascontiguousarray(x, dtype=np.float64))
    d_w = cuda.to_device(np.ascontiguousarray(w, dtype=np.float64))
    d_b = cuda.to_device(np.ascontiguousarray(b, dtype=np.float64))
    d_out = cuda.device_array((N, F, H_out, W_out), dtype=np.float64)
    blocks, threads = launch_config(N, F, H_out, W_out)
    conv2d_kernel[blocks, threads](d_x, d_w, d_b, d_out, stride, padding)
    return d_out.copy_to_host()
