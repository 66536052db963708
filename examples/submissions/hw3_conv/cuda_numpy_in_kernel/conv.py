# the skeleton as released, not attempted (this example's bug is in its other files)
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
    # YOUR CODE HERE
    raise NotImplementedError()


def conv2d_backward(d_out, cache):
    """Backward pass of a 2-d convolution layer.

    d_out: (N, F, H_out, W_out) upstream gradient dL/d(out); it is not modified.
    cache: what ``conv2d_forward`` returned with ``out``.

    Returns ``(dx, dw, db)`` with the shapes of ``x`` (N, C, H, W), ``w`` (F, C, KH, KW) and
    ``b`` (F,).
    """
    # YOUR CODE HERE
    raise NotImplementedError()
