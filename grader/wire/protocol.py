"""The wire format between the trusted harness and the untrusted worker.

A frame is ``u32 length | u32 header length | JSON header | raw array buffers``. The JSON header
holds the message; arrays inside it are placeholders ``{"$nd": i, "dtype": "<f8", "shape": [..]}``
pointing at the i-th buffer. Nothing is ever pickled: the decoder accepts only allow-listed
dtypes, plain JSON values and a few tagged forms (tuple, dict with non-string keys, non-finite
floats, complex, NumPy scalars, handles), under caps on frame size, array size, nesting depth and
string length. Both sides use this module; only the harness side has to distrust what it reads.
"""
from __future__ import annotations

import json
import math
import os
import struct

import numpy as np

# Caps on what one frame may carry. Generous for homework, small enough to stay safe.
MAX_FRAME_BYTES = 256 * 1024 * 1024
MAX_ARRAY_BYTES = 128 * 1024 * 1024
MAX_DEPTH = 32
MAX_STRING = 1_000_000
MAX_ITEMS = 100_000  # containers, keys and scalars in one frame

# dtype kinds allowed across the boundary: bool, signed/unsigned ints, floats, complex.
_ALLOWED_KINDS = "biufc"
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class ProtocolError(Exception):
    """A frame broke the protocol (malformed, over a cap, or of a forbidden type)."""


class Handle:
    """Placeholder for an object that stays in the worker; the harness wraps it in a proxy."""

    __slots__ = ("id", "type_name", "methods")

    def __init__(self, id: int, type_name: str, methods: tuple[str, ...] = ()):
        self.id, self.type_name, self.methods = id, type_name, tuple(methods)

    def __repr__(self) -> str:
        return f"<{self.type_name} object in the student's worker>"


class Callback:
    """Placeholder for a harness-side callable passed to student code (called back over the pipe)."""

    __slots__ = ("id", "name")

    def __init__(self, id: int, name: str = "f"):
        self.id, self.name = id, name


def describe(value) -> str:
    """A short human description of a value's type, for error messages."""
    if isinstance(value, np.ndarray):
        return f"an ndarray of dtype {value.dtype} and shape {value.shape}"
    if isinstance(value, (list, tuple)):
        kinds = sorted({type(v).__name__ for v in value})
        return f"a {type(value).__name__} of {len(value)} ({', '.join(kinds) or 'empty'})"
    return f"a {type(value).__module__}.{type(value).__qualname__}" if not isinstance(
        value, (int, float, str, bool, type(None))) else f"a {type(value).__name__}"


# ---------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------

class Unencodable(TypeError):
    """Raised by ``encode`` for a value that has no wire form and no ``on_object`` fallback."""

    def __init__(self, value):
        super().__init__(f"cannot send {describe(value)}")
        self.value = value


def encode(message, on_object=None) -> bytes:
    """Encode ``message`` into one frame. ``on_object(obj)`` may turn other objects into
    ``Handle``/``Callback`` placeholders; otherwise they raise ``Unencodable``."""
    buffers: list[bytes] = []

    def enc(v, depth):
        if depth > MAX_DEPTH:
            raise Unencodable(v)
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int) and not isinstance(v, bool) and type(v) is int:
            return v
        if type(v) is float:
            return v if math.isfinite(v) else {"$float": repr(v)}
        if type(v) is complex:
            return {"$complex": [enc(v.real, depth), enc(v.imag, depth)]}
        if isinstance(v, np.generic) and np.dtype(type(v)).kind in _ALLOWED_KINDS:
            arr = np.asarray(v)
            buffers.append(arr.tobytes())
            return {"$np": len(buffers) - 1, "dtype": arr.dtype.str}
        if isinstance(v, np.ndarray) and type(v) is np.ndarray and v.dtype.kind in _ALLOWED_KINDS:
            buffers.append(np.ascontiguousarray(v).tobytes())
            return {"$nd": len(buffers) - 1, "dtype": v.dtype.str, "shape": list(v.shape)}
        if type(v) is list:
            return [enc(x, depth + 1) for x in v]
        if type(v) is tuple:
            return {"$tuple": [enc(x, depth + 1) for x in v]}
        if type(v) is dict:
            return {"$dict": [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in v.items()]}
        if type(v) is np.random.Generator:
            # A generator crosses as its bit generator's state: same numbers on both sides.
            return {"$rng": enc(v.bit_generator.state, depth + 1)}
        if isinstance(v, Handle):
            return {"$handle": v.id, "type": v.type_name, "methods": list(v.methods)}
        if isinstance(v, Callback):
            return {"$callback": v.id, "name": v.name}
        if on_object is not None:
            placeholder = on_object(v)
            if placeholder is not None:
                return enc(placeholder, depth)
        raise Unencodable(v)

    header = json.dumps(enc(message, 0), allow_nan=False, separators=(",", ":")).encode()
    lengths = struct.pack(f"<{len(buffers)}Q", *(len(b) for b in buffers))
    body_len = 8 + len(header) + len(lengths) + sum(len(b) for b in buffers)
    if body_len > MAX_FRAME_BYTES:
        raise Unencodable(message)
    return b"".join([struct.pack("<III", body_len, len(buffers), len(header)),
                     header, lengths, *buffers])


# ---------------------------------------------------------------------------------------------
# Decoding (the harness side must assume the bytes are hostile)
# ---------------------------------------------------------------------------------------------

def _reject_constant(name):
    raise ProtocolError(f"the reply contains the JSON constant {name}")


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ProtocolError("the reply contains duplicate JSON keys")
    return dict(pairs)


def decode_body(body: bytes):
    """Decode a frame body (everything after the length word) into a message.
    Anything malformed raises ProtocolError, whatever NumPy or json would have raised."""
    try:
        return _decode_body(body)
    except ProtocolError:
        raise
    except (Exception, RecursionError) as e:  # ValueError from reshape, SyntaxError from dtype...
        raise ProtocolError(f"malformed reply ({type(e).__name__})") from None


def _decode_body(body: bytes):
    if len(body) < 8:
        raise ProtocolError("truncated frame")
    n_buffers, header_len = struct.unpack_from("<II", body)
    if n_buffers > MAX_ITEMS or header_len > len(body) - 8:
        raise ProtocolError("malformed frame header")
    offset = 8 + header_len
    try:
        header = json.loads(body[8:offset].decode("utf-8"), parse_constant=_reject_constant,
                            object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise ProtocolError("the reply is not valid UTF-8") from None
    except (ValueError, RecursionError) as e:
        raise ProtocolError(f"the reply is not valid JSON ({type(e).__name__})") from None
    if len(body) < offset + 8 * n_buffers:
        raise ProtocolError("truncated frame")
    lengths = struct.unpack_from(f"<{n_buffers}Q", body, offset)
    offset += 8 * n_buffers
    buffers = []
    for n in lengths:
        if n > MAX_ARRAY_BYTES or offset + n > len(body):
            raise ProtocolError("array buffer exceeds the frame or the size cap")
        buffers.append(memoryview(body)[offset:offset + n])
        offset += n
    budget = [MAX_ITEMS]

    def dtype_of(spec):
        try:
            dt = np.dtype(spec) if isinstance(spec, str) and len(spec) <= 8 else None
        except TypeError:
            dt = None
        if dt is None or dt.kind not in _ALLOWED_KINDS or dt.hasobject or dt.fields:
            raise ProtocolError(f"dtype {spec!r} is not allowed")
        return dt

    def buffer(i):
        if type(i) is not int or not 0 <= i < len(buffers):
            raise ProtocolError("bad array reference")
        return buffers[i]

    def dec(v, depth):
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_DEPTH:
            raise ProtocolError("the reply is nested too deeply or has too many items")
        if v is None or isinstance(v, (bool, int, float)):
            return v
        if isinstance(v, str):
            if len(v) > MAX_STRING:
                raise ProtocolError(f"a string of {len(v)} characters exceeds the cap")
            return v
        if isinstance(v, list):
            return [dec(x, depth + 1) for x in v]
        if not isinstance(v, dict) or len(v) == 0:
            raise ProtocolError("unexpected JSON object")
        tag = next(iter(v))
        if tag == "$nd" and set(v) == {"$nd", "dtype", "shape"}:
            dt = dtype_of(v["dtype"])
            shape = v["shape"]
            if (not isinstance(shape, list) or len(shape) > 32
                    or not all(type(s) is int and 0 <= s for s in shape)):
                raise ProtocolError("bad array shape")
            raw = buffer(v["$nd"])
            if math.prod(shape) * dt.itemsize != len(raw):
                raise ProtocolError("array buffer does not match its shape")
            return np.frombuffer(raw, dtype=dt).reshape(shape).copy()
        if tag == "$np" and set(v) == {"$np", "dtype"}:
            dt = dtype_of(v["dtype"])
            raw = buffer(v["$np"])
            if len(raw) != dt.itemsize:
                raise ProtocolError("scalar buffer does not match its dtype")
            return np.frombuffer(raw, dtype=dt)[0]
        if tag == "$tuple" and len(v) == 1 and isinstance(v[tag], list):
            return tuple(dec(x, depth + 1) for x in v[tag])
        if tag == "$dict" and len(v) == 1 and isinstance(v[tag], list):
            out = {}
            for pair in v[tag]:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ProtocolError("bad dict entry")
                key = dec(pair[0], depth + 1)
                if not isinstance(key, (str, int, float, bool, type(None), tuple)):
                    raise ProtocolError("unhashable dict key")
                if key in out:
                    raise ProtocolError("duplicate dict key")
                out[key] = dec(pair[1], depth + 1)
            return out
        if tag == "$float" and len(v) == 1 and v[tag] in ("nan", "inf", "-inf"):
            return float(v[tag])
        if tag == "$complex" and len(v) == 1 and isinstance(v[tag], list) and len(v[tag]) == 2:
            re, im = (dec(x, depth + 1) for x in v[tag])
            if not all(isinstance(p, (int, float)) for p in (re, im)):
                raise ProtocolError("bad complex number")
            return complex(re, im)
        if tag == "$handle" and set(v) == {"$handle", "type", "methods"}:
            methods = v["methods"]
            if (type(v["$handle"]) is not int or not isinstance(v["type"], str)
                    or not isinstance(methods, list) or len(methods) > 1000
                    or not all(isinstance(m, str) and len(m) < 200 for m in methods)):
                raise ProtocolError("bad handle")
            return Handle(v["$handle"], v["type"][:200], tuple(methods))
        if tag == "$rng" and len(v) == 1:
            state = dec(v[tag], depth + 1)
            name = state.get("bit_generator") if isinstance(state, dict) else None
            if name not in _BIT_GENERATORS:
                raise ProtocolError(f"bit generator {str(name)[:40]!r} is not allowed")
            bit_generator = getattr(np.random, name)()
            try:
                bit_generator.state = state
            except (TypeError, ValueError, KeyError, OverflowError) as e:
                raise ProtocolError(f"bad random generator state ({type(e).__name__})") from None
            return np.random.Generator(bit_generator)
        if tag == "$callback" and set(v) == {"$callback", "name"} and type(v["$callback"]) is int:
            return Callback(v["$callback"], str(v["name"])[:100])
        raise ProtocolError(f"unexpected tagged value {tag[:40]!r}")

    return dec(header, 0)


# ---------------------------------------------------------------------------------------------
# Framing over file descriptors
# ---------------------------------------------------------------------------------------------

def write_frame(fd: int, frame: bytes) -> None:
    view = memoryview(frame)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def read_exact(fd: int, n: int) -> bytes:
    """Read exactly n bytes (blocking); raise EOFError when the other side is gone."""
    chunks, remaining = [], n
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the pipe")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame_blocking(fd: int):
    """Read and decode one frame (used by the worker, which trusts the harness)."""
    (length,) = struct.unpack("<I", read_exact(fd, 4))
    return decode_body(read_exact(fd, length))
