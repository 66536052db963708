"""conv2d_forward_cuda: one thread per output element (a student's version: padding on the host
is avoided, a flat index over the output's rows and columns)."""
import math

import numpy as np
from numba import cuda

BLOCK = 8


def output_size(H, W, KH, KW, stride, padding):
    return (H + 2 * padding - KH) // stride + 1, (W + 2 * padding - KW) // stride + 1


def launch_config(N, F, H_out, W_out):
    threads = (BLOCK, BLOCK, 1)
    blocks = (math.ceil(W_out / BLOCK), math.ceil(H_out / BLOCK), N * F)
    return blocks, threads


@cuda.jit
def conv2d_kernel(x, w, b, out, stride, padding):
    j, i = cuda.grid(2)
    z = cuda.blockIdx.z
    n = z // out.shape[1]
    f = z - n * out.shape[1]
    if i < out.shape[2] and j < out.shape[3]:
        total = 0.0
        for c in range(x.shape[1]):
            for p in range(w.shape[2]):
                for q in range(w.shape[3]):
                    r = i * stride + p - padding
                    s = j * stride + q - padding
                    if 0 <= r < x.shape[2] and 0 <= s < x.shape[3]:
                        total += w[f, c, p, q] * x[n, c, r, s]
        out[n, f, i, j] = total + b[f]


def conv2d_forward_cuda(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    H_out, W_out = output_size(H, W, KH, KW, stride, padding)
    out = cuda.device_array((N, F, H_out, W_out))
    blocks, threads = launch_config(N, F, H_out, W_out)
    conv2d_kernel[blocks, threads](cuda.to_device(x), cuda.to_device(w), cuda.to_device(b), out,
                                   stride, padding)
    return out.copy_to_host()
