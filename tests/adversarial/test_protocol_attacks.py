"""Hostile replies on the wire: whatever bytes a subverted worker writes to its reply pipe, the
harness's decoder (``grader.wire.protocol.decode_body``) must answer with ``ProtocolError`` -- never
with a value, and never with another exception type (the bridge kills and replaces the worker
on ``ProtocolError`` only; anything else escapes into the test as a grader-side error and leaves
the worker's reply stream as it was).

A frame is ``u32 length | u32 n_buffers | u32 header length | msgpack header | u64 lengths |
buffers``; ``decode_body`` gets everything after the first length word. ``test_decoding_costs``
at the end measures what a forged reply costs the harness, in a subprocess of its own.
"""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import msgpack
import numpy as np
import pytest

from grader.wire import protocol
from grader.wire.protocol import ProtocolError, decode_body


def body(header=None, buffers=(), *, raw_header: bytes | None = None,
         n_buffers: int | None = None, lengths=None) -> bytes:
    """A frame body with ``header`` (msgpack-encoded unless ``raw_header``), the buffer count and
    length table (both forgeable) and the buffers themselves."""
    head = raw_header if raw_header is not None else msgpack.packb(header)
    count = len(buffers) if n_buffers is None else n_buffers
    table = [len(b) for b in buffers] if lengths is None else lengths
    return (struct.pack("<II", count, len(head)) + head
            + struct.pack(f"<{len(table)}Q", *table) + b"".join(buffers))


def reply(value) -> dict:
    """The header of an ``{"ok": value}`` reply, the way ``encode`` writes dicts."""
    return {"$dict": [["ok", value]]}


def nd(dtype, shape, i=0) -> dict:
    return {"$nd": i, "dtype": dtype, "shape": shape}


def nested_lists(depth: int):
    value = 0
    for _ in range(depth):
        value = [value]
    return value


def test_a_well_formed_reply_decodes():
    """The control: the helpers above build frames the decoder accepts."""
    out = decode_body(body(reply(nd("<f8", [2], 0)), [struct.pack("<2d", 1.0, 2.0)]))
    assert list(out["ok"]) == [1.0, 2.0]


def mp(*values) -> bytes:
    return b"".join(msgpack.packb(v) for v in values)


def array32(n: int) -> bytes:
    return b"\xdd" + struct.pack(">I", n)


CASES = {
    # sizes and framing
    "header_length_past_the_end": struct.pack("<II", 0, 1 << 31) + b"\x90",
    "header_over_its_cap": struct.pack("<II", 0, protocol.MAX_HEADER_BYTES + 1)
                           + b"\x90" * (protocol.MAX_HEADER_BYTES + 1),
    "truncated_body": b"\x00\x00\x00",
    "buffer_count_huge": body(reply(1), n_buffers=0xFFFFFFFF),
    "buffer_count_lies": body(reply(1), n_buffers=3),
    "buffer_length_past_the_end": body(reply(nd("<f8", [1])), [b"\0" * 8], lengths=[1 << 40]),
    "buffer_over_the_array_cap": body(reply(nd("<f8", [1])), [b"\0" * 8],
                                      lengths=[protocol.MAX_ARRAY_BYTES + 8]),
    # the header's bytes
    "invalid_utf8": body(raw_header=b"\xa5\xff\xfe\xc3(\x00"),
    "lone_surrogate_bytes": body(raw_header=b"\xa3\xed\xa0\x80"),
    "bin_in_the_header": body(raw_header=b"\xc4\x03abc"),
    "ext_in_the_header": body(raw_header=b"\xd4\x01\x00"),
    "timestamp_ext": body(raw_header=b"\xd6\xff" + b"\0" * 4),
    "never_used_byte": body(raw_header=b"\xc1"),
    "truncated_header": body(raw_header=b"\x92\x01"),
    "trailing_bytes_after_the_header": body(raw_header=b"\x01\x02"),
    "integer_map_key": body(raw_header=b"\x81\x01\x02"),
    "duplicate_keys": body(raw_header=b"\x84" + mp("$nd", 0, "$nd", 0, "dtype", "<f8",
                                                    "shape", [])),
    "duplicate_tag_keys": body(raw_header=b"\x82" + mp("$tuple", [], "$tuple", [1])),
    "not_msgpack": body(raw_header=b"\x80\x04\x95pickle"),
    "big_integer_too_long": body(reply({"$int": "9" * 10_000})),
    "big_integer_not_digits": body(reply({"$int": "12e3"})),
    "big_integer_not_ascii": body(reply({"$int": "\u0661\u0662"})),
    "deep_nesting_lists": body(reply(nested_lists(protocol.MAX_DEPTH + 5))),
    "deep_nesting_past_the_parser": body(raw_header=b"\x91" * 100_000 + b"\xc0"),
    "deep_nesting_tuples": body(msgpack.unpackb(
        b"\x81\xa6$tuple\x91" * (protocol.MAX_DEPTH + 5) + b"\x01")),
    "too_many_items": body([0] * (protocol.MAX_ITEMS + 10)),
    "one_array_longer_than_the_item_cap": body(raw_header=array32(protocol.MAX_ITEMS + 1)
                                               + b"\x90" * (protocol.MAX_ITEMS + 1)),
    "many_empty_lists": body(raw_header=b"\x93" + (array32(90_000) + b"\x90" * 90_000) * 2
                             + b"\x90"),
    "many_empty_maps": body(raw_header=b"\x93" + (array32(60_000) + b"\x80" * 60_000) * 2
                            + b"\x80"),
    "string_over_the_cap": body(reply("x" * (protocol.MAX_STRING + 1))),
    "dict_key_over_the_cap": body({"$dict": [["k" * (protocol.MAX_STRING + 1), 1]]}),
    # dtypes: objects, pickles and other non-numeric kinds
    "object_dtype": body(reply(nd("|O", [1])), [b"\0" * 8]),
    "object_dtype_native": body(reply(nd("O", [1])), [b"\0" * 8]),
    "object_scalar": body(reply({"$np": 0, "dtype": "|O"}), [b"\0" * 8]),
    "pickle_bytes_as_object_array": body(reply(nd("|O", [1])), [b"\x80\x04\x95" + b"\0" * 5]),
    "structured_dtype_with_object": body(reply(nd("[('a', 'O')]", [1])), [b"\0" * 8]),
    "void_dtype": body(reply(nd("|V8", [1])), [b"\0" * 8]),
    "bytes_dtype": body(reply(nd("|S8", [1])), [b"\0" * 8]),
    "unicode_dtype": body(reply(nd("<U2", [1])), [b"\0" * 8]),
    "datetime_dtype": body(reply(nd("<M8[s]", [1])), [b"\0" * 8]),
    "subarray_dtype": body(reply(nd("(2,)<f4", [1])), [b"\0" * 8]),
    "dtype_not_a_string": body(reply(nd(["<f8"], [1])), [b"\0" * 8]),
    "dtype_long_string": body(reply(nd("<f8" + " " * 100, [1])), [b"\0" * 8]),
    # arrays whose shape and buffer disagree
    "shape_larger_than_buffer": body(reply(nd("<f8", [3])), [b"\0" * 16]),
    "shape_smaller_than_buffer": body(reply(nd("<f8", [1])), [b"\0" * 16]),
    "negative_dimension": body(reply(nd("<f8", [-1, -8])), [b"\0" * 64]),
    "float_dimension": body(reply(nd("<f8", [2.0])), [b"\0" * 16]),
    "bool_dimension": body(reply(nd("<f8", [True])), [b"\0" * 8]),
    "too_many_dimensions": body(reply(nd("<f8", [1] * 64)), [b"\0" * 8]),
    "shape_not_a_list": body(reply(nd("<f8", 2)), [b"\0" * 16]),
    "buffer_index_out_of_range": body(reply(nd("<f8", [1], 5)), [b"\0" * 8]),
    "buffer_index_negative": body(reply(nd("<f8", [1], -1)), [b"\0" * 8]),
    "scalar_buffer_wrong_size": body(reply({"$np": 0, "dtype": "<f8"}), [b"\0" * 3]),
    # tags: unknown, malformed, or with extra keys
    "unknown_tag": body(reply({"$pickle": "gASVAAAAAAAAAACMCGJ1aWx0aW5zlIwEZXZhbJSTlC4="})),
    "unknown_tag_reduce": body(reply({"$reduce": ["os.system", ["true"]]})),
    "plain_json_object": body({"ok": 1}),
    "empty_object": body(reply({})),
    "tag_with_extra_key": body(reply({"$tuple": [1], "$class": "os.system"})),
    "nd_with_extra_key": body(reply({"$nd": 0, "dtype": "<f8", "shape": [1], "x": 1}),
                              [b"\0" * 8]),
    "float_tag_of_the_json_format": body(reply({"$float": "nan"})),
    "complex_tag_bad_parts": body(reply({"$complex": ["1", "2"]})),
    "complex_tag_wrong_arity": body(reply({"$complex": [1]})),
    "dict_entry_not_a_pair": body({"$dict": [["ok"]]}),
    "dict_unhashable_key": body({"$dict": [[[1, 2], "v"]]}),
    "dict_duplicate_key": body({"$dict": [["ok", 1], ["ok", 2]]}),
    "handle_bad_id": body(reply({"$handle": "1", "type": "T", "methods": []})),
    "handle_too_many_methods": body(reply({"$handle": 1, "type": "T",
                                           "methods": ["m"] * 5000})),
    "callback_bad_id": body(reply({"$callback": 1.5, "name": "f"})),
}


@pytest.mark.parametrize("frame", list(CASES.values()), ids=list(CASES))
def test_hostile_frame_is_a_protocol_error(frame):
    with pytest.raises(ProtocolError):
        decode_body(frame)


# Found by this suite: values that escape decode_body as other exception types.
ESCAPES = {
    # a zero-size array whose other dimensions overflow: the size check passes (0 == 0 bytes),
    # then reshape raises ValueError ("array is too big" / "maximum allowed dimension")
    "zero_size_array_with_huge_dimensions": body(reply(nd("<f8", [0, 2**62])), [b""]),
    "zero_size_array_with_dimension_over_int64": body(reply(nd("<f8", [0, 2**63])), [b""]),
    # np.dtype() parses comma-separated specs with Python's parser: SyntaxError, not TypeError
    "dtype_string_numpy_cannot_parse": body(reply({"$np": 0, "dtype": "i4,("}), [b"\0" * 4]),
}


@pytest.mark.parametrize("frame", list(ESCAPES.values()), ids=list(ESCAPES))
def test_frames_numpy_or_json_would_reject_are_protocol_errors(frame):
    with pytest.raises(ProtocolError):
        decode_body(frame)


def test_nothing_is_ever_unpickled(monkeypatch):
    """A frame built around a pickle payload never reaches pickle, whatever the tag."""
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("pickle.loads was called")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    payload = pickle.dumps(object)
    for frame in (body(reply(nd("|O", [1])), [payload[:8]]),
                  body(reply({"$np": 0, "dtype": "O"}), [payload[:8]]),
                  body(raw_header=payload)):
        with pytest.raises(ProtocolError):
            decode_body(frame)


# --- the frame length word, read by the bridge before decode_body --------------------------

def _fake_worker(reply_bytes: bytes):
    r, w = os.pipe()
    os.write(w, reply_bytes)
    os.close(w)
    return SimpleNamespace(from_worker=r, output=SimpleNamespace(fd=-1, drain=lambda: None)), r


def test_huge_frame_length_is_refused_before_reading():
    """A length word over the frame cap is refused at once (nothing is allocated or awaited)."""
    from grader.wire.bridge import _WallClock, _read_frame

    worker, fd = _fake_worker(struct.pack("<I", protocol.MAX_FRAME_BYTES + 1))
    try:
        start = time.monotonic()
        with pytest.raises(ProtocolError):
            _read_frame(worker, _WallClock(5))
        assert time.monotonic() - start < 1
    finally:
        os.close(fd)


def test_frame_shorter_than_its_length_word_is_eof_not_a_hang():
    from grader.wire.bridge import _WallClock, _read_frame

    worker, fd = _fake_worker(struct.pack("<I", 1000) + b"short")
    try:
        with pytest.raises(EOFError):
            _read_frame(worker, _WallClock(5))
    finally:
        os.close(fd)


# --- what decoding a forged reply costs (memory and time, measured in a fresh process) -------

# The peak resident memory of this process image (VmHWM; ru_maxrss would also count the
# forked parent's memory, which execve carries over).
_COST = textwrap.dedent("""
    import os, struct, sys, time
    from types import SimpleNamespace
    from grader.wire import protocol
    from grader.wire.bridge import _WallClock, _read_frame

    def peak_kb():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

    fd = int(sys.argv[1])
    base = peak_kb()
    start = time.process_time()
    worker = SimpleNamespace(from_worker=fd, output=SimpleNamespace(fd=-1, drain=lambda: None))
    try:
        protocol.decode_body(_read_frame(worker, _WallClock(60)))
        outcome = "decoded"
    except protocol.ProtocolError as e:
        outcome = "refused"
    grown = peak_kb() - base
    print(outcome, grown * 1024, time.process_time() - start)
""")


def _cost_of(frame: bytes) -> tuple[str, int, float]:
    """(outcome, peak memory growth in bytes, CPU seconds) of reading and decoding ``frame``
    in a fresh harness-side process fed through a pipe."""
    r, w = os.pipe()
    proc = subprocess.Popen([sys.executable, "-c", _COST, str(r)], pass_fds=[r],
                            stdout=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    os.close(r)
    try:
        try:
            protocol.write_frame(w, frame)
        except BrokenPipeError:  # refused before it read everything: that is the point
            pass
    finally:
        os.close(w)
    out, _ = proc.communicate(timeout=120)
    outcome, grown, seconds = out.split()
    return outcome, int(grown), float(seconds)


def _framed(head: bytes, n_buffers: int = 0) -> bytes:
    body_ = struct.pack("<II", n_buffers, len(head)) + head + b"\0" * (8 * n_buffers)
    return struct.pack("<I", len(body_)) + body_


REPO = __import__("pathlib").Path(__file__).resolve().parents[2]
FORGED = {  # frame, what the harness must do with it
    # The attack of the review: a header of nothing but empty lists, far bigger than the header
    # cap (32 MB here: the same shape just under the 256 MB frame cap cost 7.4 GB before).
    "empty_lists_over_the_header_cap": (
        _framed(array32(32 << 20) + b"\x90" * (32 << 20)), "refused"),
    # The same, up to the header cap: decoded only as far as the item counter lets it.
    "empty_lists_at_the_header_cap": (_framed(
        array32(protocol.MAX_HEADER_BYTES - 5) + b"\x90" * (protocol.MAX_HEADER_BYTES - 5)),
        "refused"),
    "nested_chunks_at_the_header_cap": (_framed(
        b"\x94" + (array32(65_000) + b"\x90" * 65_000) * 4), "refused"),
    "empty_maps_at_the_header_cap": (_framed(
        b"\x94" + (array32(65_000) + b"\x80" * 65_000) * 4), "refused"),
    # Legitimate content, as much of it as the header takes: decoded, and just as cheap.
    "long_strings_at_the_header_cap": (_framed(
        b"\x94" + (b"\xda" + struct.pack(">H", 65_000) + b"x" * 65_000) * 4), "decoded"),
    "many_numbers_at_the_header_cap": (_framed(
        array32(28_000) + (b"\xcb\x3f\xf0" + b"\0" * 6) * 28_000), "decoded"),
}


@pytest.mark.parametrize("frame, outcome", list(FORGED.values()), ids=list(FORGED))
def test_decoding_costs(frame, outcome):
    """Whatever a reply holds, reading and decoding it costs the harness under 64 MB and under
    1 s of CPU beyond its array buffers."""
    got, grown, seconds = _cost_of(frame)
    assert got == outcome
    assert grown < 64 << 20, f"decoding took {grown / 2**20:.0f} MB"
    assert seconds < 1.0, f"decoding took {seconds:.2f} s of CPU"


def test_decoding_costs_measures_something():
    """The control: a legitimate reply with a 64 MB array is decoded, and the measurement
    sees its memory (so the bound above is not vacuous)."""
    frame = protocol.encode({"ok": np.zeros(8 << 20)})
    outcome, grown, _ = _cost_of(frame)
    assert outcome == "decoded" and grown > 64 << 20
