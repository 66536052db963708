import numpy as np
from numpy.lib.stride_tricks import as_strided


def conv2d_forward(x, w, b, stride=1, padding=0):
    """out[n, f, i, j] = b[f] + sum x_pad[n, c, i*s + p, j*s + q] * w[f, c, p, q]"""
    n_img, n_ch, height, width = x.shape
    n_filt, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding,) * 2, (padding,) * 2))
    oh = 1 + (height + 2 * padding - kh) // stride
    ow = 1 + (width + 2 * padding - kw) // stride
    s0, s1, s2, s3 = xp.strides
    patches = as_strided(xp, shape=(n_img, n_ch, oh, ow, kh, kw),
                         strides=(s0, s1, s2 * stride, s3 * stride, s2, s3), writeable=False)
    out = np.einsum("ncijpq,fcpq->nfij", patches, w, optimize=True)
    out += b.reshape(-1, 1, 1)
    return out, {"x": x, "w": w, "stride": stride, "pad": padding, "patches": patches}


def conv2d_backward(d_out, cache):
    x, w = cache["x"], cache["w"]
    stride, pad, patches = cache["stride"], cache["pad"], cache["patches"]
    n_img, n_ch, height, width = x.shape
    n_filt, _, kh, kw = w.shape
    oh, ow = d_out.shape[-2:]

    grad_b = d_out.sum(axis=0).sum(axis=-1).sum(axis=-1)
    grad_w = np.einsum("nfij,ncijpq->fcpq", d_out, patches, optimize=True)

    grad_xp = np.zeros((n_img, n_ch, height + 2 * pad, width + 2 * pad))
    contrib = np.einsum("nfij,fcpq->pqncij", d_out, w, optimize=True)
    for p in range(kh):
        rows = np.arange(oh) * stride + p
        for q in range(kw):
            cols = np.arange(ow) * stride + q
            grad_xp[:, :, rows[:, None], cols[None, :]] += contrib[p, q]
    grad_x = grad_xp[:, :, pad:pad + height, pad:pad + width]
    return grad_x, grad_w, grad_b
