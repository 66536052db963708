"""linear_forward_cuda with one thread per output reading global memory only (no tiles)."""
import math

import numpy as np
from numba import cuda, float64

TILE = 16


def launch_config(N, H):
    threads = (TILE, TILE)
    blocks = (math.ceil(H / TILE), math.ceil(N / TILE))
    return blocks, threads


@cuda.jit
def linear_kernel(x, W, b, out):
    row, col = cuda.grid(2)[1], cuda.grid(2)[0]
    if row < out.shape[0] and col < out.shape[1]:
        acc = b[col]
        for k in range(x.shape[1]):
            acc += x[row, k] * W[k, col]
        out[row, col] = acc


def linear_forward_cuda(x, W, b):
    N, H = x.shape[0], W.shape[1]
    d_out = cuda.device_array((N, H), dtype=np.float64)
    blocks, threads = launch_config(N, H)
    linear_kernel[blocks, threads](cuda.to_device(x), cuda.to_device(W), cuda.to_device(b), d_out)
    return d_out.copy_to_host()
