"""Hostile replies on the wire: whatever bytes a subverted worker writes to its reply pipe, the
harness's decoder (``grader.wire.protocol.decode_body``) must answer with ``ProtocolError`` -- never
with a value, and never with another exception type (the bridge kills and replaces the worker
on ``ProtocolError`` only; anything else escapes into the test as a grader-side error and leaves
the worker's reply stream as it was).

A frame is ``u32 length | u32 n_buffers | u32 header length | JSON header | u64 lengths |
buffers``; ``decode_body`` gets everything after the first length word.
"""
from __future__ import annotations

import json
import os
import struct
import time
from types import SimpleNamespace

import pytest

from grader.wire import protocol
from grader.wire.protocol import ProtocolError, decode_body


def body(header=None, buffers=(), *, raw_header: bytes | None = None,
         n_buffers: int | None = None, lengths=None) -> bytes:
    """A frame body with ``header`` (JSON-encoded unless ``raw_header``), the buffer count and
    length table (both forgeable) and the buffers themselves."""
    head = raw_header if raw_header is not None else json.dumps(header).encode()
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


CASES = {
    # sizes and framing
    "header_length_past_the_end": struct.pack("<II", 0, 1 << 31) + b"{}",
    "truncated_body": b"\x00\x00\x00",
    "buffer_count_huge": body(reply(1), n_buffers=0xFFFFFFFF),
    "buffer_count_lies": body(reply(1), n_buffers=3),
    "buffer_length_past_the_end": body(reply(nd("<f8", [1])), [b"\0" * 8], lengths=[1 << 40]),
    "buffer_over_the_array_cap": body(reply(nd("<f8", [1])), [b"\0" * 8],
                                      lengths=[protocol.MAX_ARRAY_BYTES + 8]),
    # JSON text
    "invalid_utf8": body(raw_header=b'{"$dict": [["ok", "\xff\xfe\xc3("]]}'),
    "lone_surrogate_bytes": body(raw_header=b'{"$dict": [["ok", "\xed\xa0\x80"]]}'),
    "nan_constant": body(raw_header=b'{"$dict": [["ok", NaN]]}'),
    "infinity_constant": body(raw_header=b'{"$dict": [["ok", -Infinity]]}'),
    "duplicate_keys": body(raw_header=b'{"$nd": 0, "$nd": 0, "dtype": "<f8", "shape": []}'),
    "duplicate_tag_keys": body(raw_header=b'{"$tuple": [], "$tuple": [1]}'),
    "not_json": body(raw_header=b"\x80\x04\x95pickle"),
    "huge_integer_literal": body(raw_header=b'{"$dict": [["ok", ' + b"9" * 10_000 + b"]]}"),
    "deep_nesting_lists": body(reply(nested_lists(protocol.MAX_DEPTH + 5))),
    "deep_nesting_past_the_json_parser": body(raw_header=b"[" * 100_000 + b"]" * 100_000),
    "deep_nesting_tuples": body(json.loads(
        '{"$tuple": [' * (protocol.MAX_DEPTH + 5) + "1" + "]}" * (protocol.MAX_DEPTH + 5))),
    "too_many_items": body([0] * (protocol.MAX_ITEMS + 10)),
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
    "float_tag_bad_value": body(reply({"$float": "1e400"})),
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
    from grader.wire.bridge import _read_frame

    worker, fd = _fake_worker(struct.pack("<I", protocol.MAX_FRAME_BYTES + 1))
    try:
        start = time.monotonic()
        with pytest.raises(ProtocolError):
            _read_frame(worker, time.monotonic() + 5)
        assert time.monotonic() - start < 1
    finally:
        os.close(fd)


def test_frame_shorter_than_its_length_word_is_eof_not_a_hang():
    from grader.wire.bridge import _read_frame

    worker, fd = _fake_worker(struct.pack("<I", 1000) + b"short")
    try:
        with pytest.raises(EOFError):
            _read_frame(worker, time.monotonic() + 5)
    finally:
        os.close(fd)
