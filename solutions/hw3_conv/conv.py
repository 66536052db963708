"""Convolution layer (lecture section 七.I, eq. 12), forward and backward.

Shapes (N = batch, C = input channels, F = filters = output channels):

    x    (N, C, H, W)          input images
    w    (F, C, KH, KW)        one C x KH x KW kernel per filter
    b    (F,)                  one bias per filter
    out  (N, F, H_out, W_out)  H_out = (H + 2 * padding - KH) // stride + 1
                               W_out = (W + 2 * padding - KW) // stride + 1

The layer computes, for every sample n, filter f and output position (i, j),

    out[n, f, i, j] = b[f] + sum_{c, p, q} x_pad[n, c, i * stride + p, j * stride + q] * w[f, c, p, q]

where ``x_pad`` is ``x`` with ``padding`` zeros added on all four sides.  This is eq. 12 of the
lecture (a *cross-correlation*: the kernel is not flipped), summed over the input channels.

Speed matters (both functions are timed against a reference): instead of looping over output
pixels in Python, look at all KH x KW windows of ``x_pad`` at once, e.g. through
``sliding_window_view`` (a strided view, no copy) or an im2col matrix, and let one matrix product
(``np.tensordot``, ``@`` or ``np.einsum(..., optimize=True)``, which call BLAS) do the sums.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv2d_forward(x, w, b, stride=1, padding=0):
    """Forward pass of a 2-d convolution layer.

    x: (N, C, H, W) float64 input; it is not modified.
    w: (F, C, KH, KW) float64 kernels.
    b: (F,) float64 biases.
    stride: step between two neighbouring windows, in both directions (an int >= 1).
    padding: number of zero rows/columns added on each of the four sides (an int >= 0).

    Returns ``(out, cache)``: ``out`` of shape (N, F, H_out, W_out) as in the module docstring,
    and ``cache``: whatever ``conv2d_backward`` will need, e.g. the tuple
    ``(x, w, b, stride, padding)`` (keep it to arrays, numbers and tuples of them).
    """
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    ### BEGIN SOLUTION
    H_out = (H + 2 * padding - KH) // stride + 1
    W_out = (W + 2 * padding - KW) // stride + 1

    # np.pad returns a new array: x itself is left untouched.
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))

    # windows[n, c, i, j, p, q] = x_pad[n, c, i * stride + p, j * stride + q]   (a view, no copy)
    windows = sliding_window_view(x_pad, (KH, KW), axis=(2, 3))
    windows = windows[:, :, : stride * H_out : stride, : stride * W_out : stride]

    # out[n, f, i, j] = sum over c, p, q of windows[n, c, i, j, p, q] * w[f, c, p, q]
    out = np.einsum("ncijpq,fcpq->nfij", windows, w, optimize=True)
    out = out + b.reshape(1, F, 1, 1)

    cache = (x, w, b, stride, padding)
    return out, cache
    ### END SOLUTION


def conv2d_backward(d_out, cache):
    """Backward pass of a 2-d convolution layer.

    d_out: (N, F, H_out, W_out) upstream gradient dL/d(out); it is not modified.
    cache: what ``conv2d_forward`` returned with ``out``.

    Returns ``(dx, dw, db)`` with the shapes of ``x`` (N, C, H, W), ``w`` (F, C, KH, KW) and
    ``b`` (F,).
    """
    ### BEGIN SOLUTION
    x, w, b, stride, padding = cache
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    _, _, H_out, W_out = d_out.shape

    # Every output element used b[f] once: sum d_out over the batch and all positions.
    db = d_out.sum(axis=(0, 2, 3))

    # dw[f, c, p, q] = sum over n, i, j of d_out[n, f, i, j] * windows[n, c, i, j, p, q]
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(x_pad, (KH, KW), axis=(2, 3))
    windows = windows[:, :, : stride * H_out : stride, : stride * W_out : stride]
    dw = np.einsum("nfij,ncijpq->fcpq", d_out, windows, optimize=True)

    # d_windows[n, c, p, q, i, j] = sum over f of d_out[n, f, i, j] * w[f, c, p, q]:
    # the gradient reaching x_pad[n, c, i * stride + p, j * stride + q] through window (i, j).
    d_windows = np.einsum("nfij,fcpq->ncpqij", d_out, w, optimize=True)

    # Windows overlap, so one input pixel gets contributions from several windows: add them up,
    # one kernel offset (p, q) at a time (a loop over KH * KW offsets, not over pixels).
    dx_pad = np.zeros_like(x_pad)
    for p in range(KH):
        for q in range(KW):
            rows = slice(p, p + stride * H_out, stride)  # the H_out rows that offset p touches
            cols = slice(q, q + stride * W_out, stride)
            dx_pad[:, :, rows, cols] += d_windows[:, :, p, q]

    # Drop the gradient of the zero padding: it is not part of x.
    dx = dx_pad[:, :, padding : padding + H, padding : padding + W]
    return dx, dw, db
    ### END SOLUTION
