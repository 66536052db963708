# ONE BUG (test data for tests/test_cuda_one_penalty.py): the tile loads read x and W without bounds checks (right only for tile multiples)
"""A dense layer on the GPU with numba-cuda: ``out = x @ W + b``, tiled through shared memory.

Shapes (float64 throughout; host NumPy arrays in, a host NumPy array out):

    x    (N, D)    a batch of N inputs
    W    (D, H)    weights (row-vector convention: the layer computes x @ W + b)
    b    (H,)      bias
    out  (N, H)    out[i, j] = b[j] + sum_k x[i, k] * W[k, j]

One CUDA thread computes one element ``out[row, col]``; a block is TILE x TILE threads and
covers a TILE x TILE tile of ``out``. Walking along k in steps of TILE, the block first copies
one TILE x TILE tile of x and one of W into shared memory (each thread copies one element of
each), waits at a barrier until the whole tile is there, multiplies the two tiles, and waits
again before the next tile overwrites them. Each element of x and W is then read from global
memory N/TILE or H/TILE times instead of H or N times.

              k ->                         col ->
          +----+----+----+            +----+----+
     row  | x0 | x1 | x2 |   W   k    | W0 |    |        out[row, col] =
      |   +----+----+----+       |    +----+----+          x0 . W0 + x1 . W1 + x2 . W2
      v   (tiles of x along k)   v    | W1 |    |
                                      +----+----+
                                      | W2 |    |
                                      +----+----+

Shapes need not be multiples of TILE: threads outside ``out`` still help load the tiles
(loading 0.0 where the tile sticks out of x or W) and reach every barrier, but write nothing.
"""
import math

import numpy as np
from numba import cuda, float64

TILE = 16  # threads per block along each axis (TILE * TILE = 256 threads a block)


def launch_config(N, H):
    """Blocks and threads per block covering an (N, H) output with TILE x TILE blocks.

    Returns ``(blocks, threads)`` for ``kernel[blocks, threads](...)``: the x axis of the grid
    runs along the columns of ``out``, the y axis along its rows.
    """
    threads = (TILE, TILE)
    blocks = (math.ceil(H / TILE), math.ceil(N / TILE))
    return blocks, threads


@cuda.jit
def linear_kernel(x, W, b, out):
    """out[row, col] = x[row, :] @ W[:, col] + b[col] for the thread's (row, col).

    x (N, D), W (D, H), b (H,), out (N, H): device arrays, float64. Launched with
    ``launch_config(N, H)``.
    """
    # Two tiles in shared memory, one per block, seen by all of its threads.
    x_tile = cuda.shared.array((TILE, TILE), float64)
    w_tile = cuda.shared.array((TILE, TILE), float64)

    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    row = cuda.blockIdx.y * TILE + ty
    col = cuda.blockIdx.x * TILE + tx
    N, D = x.shape
    H = W.shape[1]

    acc = 0.0
    for start in range(0, D, TILE):
        # Each thread loads one element of each tile; 0.0 where the tile leaves x or W.
        k = start + tx
        x_tile[ty, tx] = x[row, k]
        k = start + ty
        w_tile[ty, tx] = W[k, col]
        cuda.syncthreads()  # the whole tile is loaded before anyone reads it

        for i in range(TILE):
            acc += x_tile[ty, i] * w_tile[i, tx]
        cuda.syncthreads()  # everyone is done with the tile before the next one overwrites it

    if row < N and col < H:  # threads outside out write nothing
        out[row, col] = acc + b[col]


def linear_forward_cuda(x, W, b):
    """``x @ W + b`` computed by ``linear_kernel`` on the GPU.

    x: (N, D), W: (D, H), b: (H,) host float64 arrays; none of them is modified.
    Returns ``out``, a new (N, H) host float64 array.
    """
    N, H = x.shape[0], W.shape[1]
    d_x = cuda.to_device(np.ascontiguousarray(x, dtype=np.float64))
    d_W = cuda.to_device(np.ascontiguousarray(W, dtype=np.float64))
    d_b = cuda.to_device(np.ascontiguousarray(b, dtype=np.float64))
    d_out = cuda.device_array((N, H), dtype=np.float64)
    blocks, threads = launch_config(N, H)
    linear_kernel[blocks, threads](d_x, d_W, d_b, d_out)
    return d_out.copy_to_host()
