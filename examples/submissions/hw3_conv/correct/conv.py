"""Convolution by im2col: copy every receptive field into a column, then one matrix product.

Written differently from the reference: an explicit im2col matrix built with a loop over the
KH * KW kernel offsets, a zero-filled padded array instead of np.pad, plain matmul, and a
cache that keeps the columns so that the backward pass does not rebuild them.
"""
import numpy as np


def _out_size(n, k, stride, padding):
    return (n + 2 * padding - k) // stride + 1


def conv2d_forward(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    H_out = _out_size(H, KH, stride, padding)
    W_out = _out_size(W, KW, stride, padding)

    x_pad = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    x_pad[:, :, padding:padding + H, padding:padding + W] = x

    # cols[(c, p, q), (n, i, j)] = x_pad[n, c, i * stride + p, j * stride + q]
    cols = np.empty((C, KH, KW, N, H_out, W_out))
    for p in range(KH):
        for q in range(KW):
            block = x_pad[:, :, p:p + stride * H_out:stride, q:q + stride * W_out:stride]
            cols[:, p, q] = block.transpose(1, 0, 2, 3)
    cols = cols.reshape(C * KH * KW, N * H_out * W_out)

    out = w.reshape(F, -1) @ cols + b[:, None]                       # (F, N * H_out * W_out)
    out = out.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)
    return out, (x.shape, w, cols, stride, padding)


def conv2d_backward(d_out, cache):
    x_shape, w, cols, stride, padding = cache
    N, C, H, W = x_shape
    F, _, KH, KW = w.shape
    _, _, H_out, W_out = d_out.shape

    d_mat = d_out.transpose(1, 0, 2, 3).reshape(F, -1)             # (F, N * H_out * W_out)
    db = d_mat.sum(axis=1)
    dw = (d_mat @ cols.T).reshape(w.shape)

    d_cols = (w.reshape(F, -1).T @ d_mat).reshape(C, KH, KW, N, H_out, W_out)
    dx_pad = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    for p in range(KH):
        for q in range(KW):
            dx_pad[:, :, p:p + stride * H_out:stride, q:q + stride * W_out:stride] += \
                d_cols[:, p, q].transpose(1, 0, 2, 3)
    dx = dx_pad[:, :, padding:padding + H, padding:padding + W]
    return dx, dw, db
