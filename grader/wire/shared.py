"""Shared memory the harness owns (trusted side): what the harness observes of a call, it reads
here, never from the worker's reply.

One ``SharedMemory`` per call: an anonymous ``memfd``, sealed against shrinking and growing
(``F_SEAL_SHRINK | F_SEAL_GROW``, then ``F_SEAL_SEAL``) before the worker ever sees it, so the
worker can write into it but never make the harness's own mapping fault (a shrunk file would
raise SIGBUS in the harness). Its descriptor travels with the one request that uses it (over
the unix socket, ``SCM_RIGHTS``); the worker maps it and gives the student views of it.

- ``place`` copies the ndarrays of a call's arguments into it and returns the arguments with
  ``SharedArray`` placeholders; after the reply, ``observe`` rebuilds the arguments from the
  harness's mapping: in-place changes are seen in memory the harness owns, whatever the worker
  says (``Remote.inspect``, ``grader.testing.assert_unmodified``).
- ``result_room`` reserves bytes the worker writes a timed call's result into (a frame, see
  ``protocol.encode_into``); the harness copies them out of its own mapping as soon as the
  reply arrives (``read_frame``), so nothing the worker does later changes what is verified.
"""
from __future__ import annotations

import fcntl
import mmap
import os

import numpy as np

from grader.wire import protocol
from grader.wire.protocol import SharedArray

_ALIGN = 64
_SEALS = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL


def _aligned(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def _arrays_in(value, found: list) -> None:
    if type(value) is np.ndarray and value.dtype.kind in "biufc":
        found.append(value)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _arrays_in(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _arrays_in(v, found)


class SharedMemory:
    """A sealed memfd of ``size`` bytes and the harness's own read/write mapping of it."""

    def __init__(self, size: int, name: str = "grader-shared"):
        size = max(mmap.PAGESIZE, (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE)
        self.fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.ftruncate(self.fd, size)
            # Its pages now, outside any timed window: a worker writing a result into pages
            # that do not exist yet would pay for allocating them inside its timed call.
            os.posix_fallocate(self.fd, 0, size)
            fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS, _SEALS)
            self.map = mmap.mmap(self.fd, size)
        except BaseException:
            os.close(self.fd)
            raise
        self.size, self._used = size, 0

    def _claim(self, nbytes: int) -> int:
        offset = self._used
        if offset + nbytes > self.size:
            raise ValueError("shared memory too small")
        self._used = _aligned(offset + nbytes)
        return offset

    def _view(self, offset: int, dtype, shape) -> np.ndarray:
        dtype = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        return np.frombuffer(self.map, dtype=dtype, count=count, offset=offset).reshape(shape)

    # -- arguments ------------------------------------------------------------------------------
    @staticmethod
    def bytes_for(*values) -> int:
        arrays: list = []
        for v in values:
            _arrays_in(v, arrays)
        return sum(_aligned(a.nbytes) for a in arrays)

    def place(self, value):
        """``value`` with every ndarray copied here and replaced by its placeholder."""
        if type(value) is np.ndarray and value.dtype.kind in "biufc":
            offset = self._claim(value.nbytes)
            self._view(offset, value.dtype, value.shape)[...] = value
            return SharedArray(0, offset, value.dtype.str, value.shape)
        if type(value) is list:
            return [self.place(v) for v in value]
        if type(value) is tuple:
            return tuple(self.place(v) for v in value)
        if type(value) is dict:
            return {k: self.place(v) for k, v in value.items()}
        return value

    def observe(self, placed, original):
        """The arguments as they are now in the harness's mapping (copies), with the original
        objects wherever no array was placed."""
        if isinstance(placed, SharedArray):
            return self._view(placed.offset, placed.dtype, placed.shape).copy()
        if type(placed) is list:
            return [self.observe(p, o) for p, o in zip(placed, original)]
        if type(placed) is tuple:
            return tuple(self.observe(p, o) for p, o in zip(placed, original))
        if type(placed) is dict:
            return {k: self.observe(placed[k], original[k]) for k in placed}
        return original

    # -- a timed call's result ------------------------------------------------------------------
    def result_room(self, nbytes: int) -> list[int]:
        """Reserve ``nbytes`` for a result frame; the [offset, length] to send the worker."""
        return [self._claim(nbytes), nbytes]

    def read_frame(self, room: list[int], length: int):
        """Copy the result frame the worker wrote into ``room`` out of our own mapping at once,
        then decode it as hostile input. ``length`` is the worker's claim, checked here."""
        offset, size = room
        if type(length) is not int or not 4 <= length <= size:
            raise protocol.ProtocolError("the worker reported a result length outside its room")
        data = bytes(self.map[offset:offset + length])  # our copy: later writes cannot change it
        (body_len,) = np.frombuffer(data, dtype="<u4", count=1)
        if int(body_len) != length - 4:
            raise protocol.ProtocolError("the result frame does not match its length")
        return protocol.decode_body(memoryview(data)[4:])

    def close(self) -> None:
        try:
            self.map.close()
        except BufferError:  # a view still exists somewhere: let the GC unmap it
            pass
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
