"""linear_forward_cuda, tiled, launched with 32 x 64 threads a block."""
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
    xs = cuda.shared.array((TILE, TILE), float64)
    ws = cuda.shared.array((TILE, TILE), float64)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    row = cuda.blockIdx.y * TILE + ty
    col = cuda.blockIdx.x * TILE + tx
    acc = 0.0
    for t in range(0, x.shape[1], TILE):
        xs[ty, tx] = x[row, t + tx] if row < x.shape[0] and t + tx < x.shape[1] else 0.0
        ws[ty, tx] = W[t + ty, col] if t + ty < W.shape[0] and col < W.shape[1] else 0.0
        cuda.syncthreads()
        for i in range(TILE):
            acc += xs[ty, i] * ws[i, tx]
        cuda.syncthreads()
    if row < out.shape[0] and col < out.shape[1]:
        out[row, col] = acc + b[col]


def linear_forward_cuda(x, W, b):
    N, H = x.shape[0], W.shape[1]
    d_out = cuda.device_array((N, H), dtype=np.float64)
    threads = (32, 64)  # 2048 threads: more work per block
    blocks = (math.ceil(H / 32), math.ceil(N / 64))
    linear_kernel[blocks, threads](cuda.to_device(x), cuda.to_device(W), cuda.to_device(b), d_out)
    return d_out.copy_to_host()
