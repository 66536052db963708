"""The wire format between the trusted harness and the untrusted worker.

A frame is ``u32 body length | u32 buffer count | u32 header length | msgpack header |
u64 buffer lengths | raw array buffers``. The header holds the message; arrays inside it are
placeholders ``{"$nd": i, "dtype": "<f8", "shape": [..]}`` pointing at the i-th buffer, so the
bulk of a frame is never parsed. Nothing is ever pickled: the decoder accepts only allow-listed
dtypes, plain values (None, bool, 64-bit ints, floats, str, lists) and a few tagged forms
(tuple, dict, big int, complex, NumPy scalars, handles, callbacks, random generators).

Why msgpack for the header: its C decoder enforces the limits while it parses (string, array,
map and ext lengths, nesting), floats are binary (no ``NaN`` text constants), it has no
unbounded integers and rejects invalid UTF-8. The header has its own cap, ``MAX_HEADER_BYTES``,
far below the frame cap, checked before the header is read; a hook counts every container as it
is built and stops at ``MAX_ITEMS``. So rejecting or decoding any frame costs the harness a
small multiple of ``MAX_HEADER_BYTES`` of memory (each byte of header makes at most one small
object), whatever its size. ``ext`` types and ``bin`` are refused outright in the header.

Both sides use this module; only the harness side has to distrust what it reads.
"""
from __future__ import annotations

import math
import os
import socket
import struct

import msgpack
import numpy as np

# Caps on what one frame may carry. Generous for homework, small enough to stay safe.
MAX_FRAME_BYTES = 256 * 1024 * 1024
MAX_ARRAY_BYTES = 128 * 1024 * 1024
MAX_HEADER_BYTES = 256 * 1024  # the msgpack part: structure only, arrays travel outside it
MAX_BUFFERS = 10_000
MAX_DEPTH = 32
MAX_STRING = 100_000  # bytes of one string (error messages are cut to a few KB before this)
MAX_ITEMS = 100_000  # containers, keys and scalars in one frame
MAX_FDS = 4  # file descriptors attached to one request (shared memory, see grader.wire.shared)
_MAX_BIGINT_DIGITS = 400

# dtype kinds allowed across the boundary: bool, signed/unsigned ints, floats, complex.
_ALLOWED_KINDS = "biufc"
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_PREFIX = struct.Struct("<III")  # body length, buffer count, header length


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


class SharedArray:
    """Placeholder, in a request only, for an array that lives in shared memory the harness
    owns: bytes ``offset .. offset + nbytes`` of the ``fd``-th file descriptor sent with the
    request. The worker maps it and hands the student a view (see ``grader.wire.shared``)."""

    __slots__ = ("fd", "offset", "dtype", "shape")

    def __init__(self, fd: int, offset: int, dtype: str, shape: tuple[int, ...]):
        self.fd, self.offset, self.dtype, self.shape = fd, offset, dtype, tuple(shape)


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


def encode_parts(message, on_object=None) -> tuple[bytes, list[np.ndarray]]:
    """The frame of ``message`` as (everything before the buffers, the arrays whose raw bytes
    follow), so that a writer can copy each array once, straight to where it goes."""
    arrays: list[np.ndarray] = []

    def enc(v, depth):
        if depth > MAX_DEPTH:
            raise Unencodable(v)
        if v is None or isinstance(v, (bool, str)):
            return v
        if type(v) is int:
            return v if -(1 << 63) <= v < (1 << 64) else {"$int": str(v)}
        if type(v) is float:
            return v
        if type(v) is complex:
            return {"$complex": [v.real, v.imag]}
        if isinstance(v, np.generic) and np.dtype(type(v)).kind in _ALLOWED_KINDS:
            arrays.append(np.asarray(v).reshape(1))
            return {"$np": len(arrays) - 1, "dtype": arrays[-1].dtype.str}
        if isinstance(v, np.ndarray) and type(v) is np.ndarray and v.dtype.kind in _ALLOWED_KINDS:
            arrays.append(v)
            return {"$nd": len(arrays) - 1, "dtype": v.dtype.str, "shape": list(v.shape)}
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
        if isinstance(v, SharedArray):
            return {"$shm": [v.fd, v.offset], "dtype": v.dtype, "shape": list(v.shape)}
        if on_object is not None:
            placeholder = on_object(v)
            if placeholder is not None:
                return enc(placeholder, depth)
        raise Unencodable(v)

    header = msgpack.packb(enc(message, 0), use_bin_type=True)
    if len(header) > MAX_HEADER_BYTES or len(arrays) > MAX_BUFFERS:
        raise Unencodable(message)
    lengths = [a.nbytes for a in arrays]
    if any(n > MAX_ARRAY_BYTES for n in lengths):
        raise Unencodable(message)
    table = struct.pack(f"<{len(arrays)}Q", *lengths)
    body_len = 8 + len(header) + len(table) + sum(lengths)
    if body_len > MAX_FRAME_BYTES:
        raise Unencodable(message)
    return _PREFIX.pack(body_len, len(arrays), len(header)) + header + table, arrays


def encode(message, on_object=None) -> bytes:
    """Encode ``message`` into one frame. ``on_object(obj)`` may turn other objects into
    ``Handle``/``Callback`` placeholders; otherwise they raise ``Unencodable``."""
    head, arrays = encode_parts(message, on_object)
    return b"".join([head] + [np.ascontiguousarray(a).tobytes() for a in arrays])


def encode_into(buffer, message, on_object=None) -> int:
    """Write the frame of ``message`` into the writable ``buffer`` (e.g. a shared mapping),
    copying each array once. Return its length; or, when it does not fit, minus the length it
    needs (nothing written)."""
    head, arrays = encode_parts(message, on_object)
    view = memoryview(buffer).cast("B")
    total = len(head) + sum(a.nbytes for a in arrays)
    if total > len(view):
        return -total
    view[:len(head)] = head
    offset = len(head)
    for a in arrays:
        dest = np.frombuffer(view, dtype=a.dtype, count=a.size, offset=offset)
        np.copyto(dest.reshape(a.shape), a, casting="no")
        offset += a.nbytes
    return total


# ---------------------------------------------------------------------------------------------
# Decoding (the harness side must assume the bytes are hostile)
# ---------------------------------------------------------------------------------------------

def check_prefix(n_buffers: int, header_len: int, body_len: int) -> None:
    """Refuse a frame from its first words alone, before anything else of it is read."""
    if header_len > MAX_HEADER_BYTES:
        raise ProtocolError(f"a header of {header_len} bytes exceeds the cap of "
                            f"{MAX_HEADER_BYTES}")
    if n_buffers > MAX_BUFFERS or 8 + header_len + 8 * n_buffers > body_len:
        raise ProtocolError("malformed frame header")


class _Counter:
    """Counts containers and their items while msgpack builds them; stops at MAX_ITEMS."""

    def __init__(self):
        self.left = MAX_ITEMS

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise ProtocolError("the reply has too many items")

    def list_hook(self, items):
        self.spend(len(items) + 1)
        return items

    def pairs_hook(self, pairs):
        self.spend(2 * len(pairs) + 1)
        out = dict(pairs)
        if len(out) != len(pairs):
            raise ProtocolError("the reply contains duplicate keys")
        return out


def _unpack_header(raw) -> object:
    counter = _Counter()
    try:
        return msgpack.unpackb(
            raw, raw=False, use_list=True, strict_map_key=True, timestamp=0,
            list_hook=counter.list_hook, object_pairs_hook=counter.pairs_hook,
            max_str_len=MAX_STRING, max_bin_len=0, max_ext_len=0,
            max_array_len=MAX_ITEMS, max_map_len=MAX_ITEMS)
    except ProtocolError:
        raise
    except UnicodeDecodeError:
        raise ProtocolError("the reply is not valid UTF-8") from None
    except (Exception, RecursionError) as e:  # ValueError, FormatError, StackError, ExtraData
        raise ProtocolError(f"the reply's header is not valid ({type(e).__name__})") from None


def decode_body(body, *, shared: bool = False):
    """Decode a frame body (everything after the length word) into a message.
    Anything malformed raises ProtocolError, whatever msgpack or NumPy would have raised.
    ``shared``: accept ``SharedArray`` placeholders (requests to the worker only)."""
    try:
        return _decode_body(memoryview(body).cast("B"), shared)
    except ProtocolError:
        raise
    except (Exception, RecursionError) as e:  # ValueError from reshape, SyntaxError from dtype...
        raise ProtocolError(f"malformed reply ({type(e).__name__})") from None


def _decode_body(body: memoryview, shared: bool):
    if len(body) < 8:
        raise ProtocolError("truncated frame")
    n_buffers, header_len = struct.unpack_from("<II", body)
    check_prefix(n_buffers, header_len, len(body))
    offset = 8 + header_len
    header = _unpack_header(body[8:offset])
    lengths = struct.unpack_from(f"<{n_buffers}Q", body, offset)
    offset += 8 * n_buffers
    buffers = []
    for n in lengths:
        if n > MAX_ARRAY_BYTES or offset + n > len(body):
            raise ProtocolError("array buffer exceeds the frame or the size cap")
        buffers.append(body[offset:offset + n])
        offset += n
    budget = [MAX_ITEMS]

    def dtype_of(spec):
        try:
            dt = np.dtype(spec) if isinstance(spec, str) and len(spec) <= 8 else None
        except TypeError:
            dt = None
        if dt is None or dt.kind not in _ALLOWED_KINDS or dt.hasobject or dt.fields:
            raise ProtocolError(f"dtype {str(spec)[:40]!r} is not allowed")
        return dt

    def shape_of(shape):
        if (not isinstance(shape, list) or len(shape) > 32
                or not all(type(s) is int and 0 <= s < (1 << 40) for s in shape)):
            raise ProtocolError("bad array shape")
        return shape

    def buffer(i):
        if type(i) is not int or not 0 <= i < len(buffers):
            raise ProtocolError("bad array reference")
        return buffers[i]

    def dec(v, depth):
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_DEPTH:
            raise ProtocolError("the reply is nested too deeply or has too many items")
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [dec(x, depth + 1) for x in v]
        if not isinstance(v, dict) or len(v) == 0:
            raise ProtocolError(f"unexpected value of type {type(v).__name__}")
        tag = next(iter(v))
        if tag == "$nd" and set(v) == {"$nd", "dtype", "shape"}:
            dt, shape = dtype_of(v["dtype"]), shape_of(v["shape"])
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
        if tag == "$int" and len(v) == 1 and isinstance(v[tag], str):
            digits = v[tag]
            if len(digits) > _MAX_BIGINT_DIGITS or not digits.lstrip("-").isdigit() \
                    or not digits.isascii():
                raise ProtocolError("bad integer")
            return int(digits)
        if tag == "$complex" and len(v) == 1 and isinstance(v[tag], list) and len(v[tag]) == 2:
            re, im = v[tag]
            if not all(type(p) is float for p in (re, im)):
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
        if shared and tag == "$shm" and set(v) == {"$shm", "dtype", "shape"}:
            where = v["$shm"]
            if (not isinstance(where, list) or len(where) != 2
                    or not all(type(n) is int and n >= 0 for n in where)):
                raise ProtocolError("bad shared array")
            dt = dtype_of(v["dtype"])
            return SharedArray(where[0], where[1], dt.str, tuple(shape_of(v["shape"])))
        raise ProtocolError(f"unexpected tagged value {str(tag)[:40]!r}")

    return dec(header, 0)


# ---------------------------------------------------------------------------------------------
# Framing over file descriptors. Requests go over a unix socket, so that the harness can attach
# file descriptors (its shared memory) to the one request that needs them; replies come back
# over a pipe, which cannot carry any.
# ---------------------------------------------------------------------------------------------

def write_frame(fd: int, frame: bytes) -> None:
    view = memoryview(frame)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def send_frame(sock_fd: int, frame: bytes, fds=()) -> None:
    """Write ``frame`` to a unix stream socket, ``fds`` attached to its first bytes."""
    view = memoryview(frame)
    if fds:
        sock = socket.socket(fileno=os.dup(sock_fd))
        try:
            n = socket.send_fds(sock, [view], list(fds))
        finally:
            sock.close()
        view = view[n:]
    write_frame(sock_fd, view)


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


class RequestReader:
    """The worker's end of the request socket: frames, with the descriptors sent along."""

    def __init__(self, fd: int):
        self._sock = socket.socket(fileno=fd)
        self._fds: list[int] = []

    def fileno(self) -> int:
        return self._sock.fileno()

    def _read(self, n: int) -> bytes:
        chunks = []
        while n:
            data, fds, _flags, _addr = socket.recv_fds(self._sock, min(n, 1 << 20), MAX_FDS)
            self._fds += fds
            if not data:
                raise EOFError("the other side closed the socket")
            chunks.append(data)
            n -= len(data)
        return b"".join(chunks)

    def read(self):
        """One request and the descriptors that came with it (the caller closes them)."""
        (length,) = struct.unpack("<I", self._read(4))
        message = decode_body(self._read(length), shared=True)
        fds, self._fds = self._fds, []
        return message, fds
