"""The wire format: what crosses the boundary survives a round trip, exactly."""
import struct

import msgpack
import numpy as np
import pytest

from grader.wire import protocol


def roundtrip(value):
    frame = protocol.encode(value)
    return protocol.decode_body(frame[4:])


@pytest.mark.parametrize("value", [
    None, True, 0, -3, 2**70, 1.5, "text ünïcode", [1, 2.0, "x"], (1, (2, 3)),
    {"a": 1, 2: "b"}, float("inf"), float("-inf"), 1 + 2j, [],
])
def test_plain_values_round_trip(value):
    assert roundtrip(value) == value
    assert type(roundtrip(value)) is type(value)


def test_nan_round_trips_as_float():
    out = roundtrip(float("nan"))
    assert isinstance(out, float) and np.isnan(out)


@pytest.mark.parametrize("dtype", ["f8", "f4", "i8", "i4", "u1", "?", "c16"])
def test_arrays_keep_dtype_and_shape(dtype):
    arr = (np.arange(24).reshape(2, 3, 4) % 3).astype(dtype)
    out = roundtrip(arr)
    assert out.dtype == arr.dtype and out.shape == arr.shape
    assert np.array_equal(out, arr)
    assert out.flags.writeable


def test_non_contiguous_and_empty_arrays():
    arr = np.arange(12.0).reshape(3, 4).T
    assert np.array_equal(roundtrip(arr), arr)
    assert roundtrip(np.zeros((0, 3))).shape == (0, 3)


def test_numpy_scalars_stay_numpy_scalars():
    out = roundtrip((np.float64(1.5), np.int32(7), np.float32(2.0)))
    assert [type(v) for v in out] == [np.float64, np.int32, np.float32]


def test_object_arrays_and_other_objects_are_refused():
    with pytest.raises(protocol.Unencodable):
        protocol.encode(np.array([object()]))
    with pytest.raises(protocol.Unencodable):
        protocol.encode({"x": object()})
    with pytest.raises(protocol.Unencodable):
        protocol.encode(np.ma.masked_array([1.0]))  # ndarray subclasses are not plain arrays


def test_handles_use_the_fallback():
    class Thing:
        pass

    frame = protocol.encode([Thing()], on_object=lambda o: protocol.Handle(5, "Thing", ("go",)))
    (handle,) = protocol.decode_body(frame[4:])
    assert isinstance(handle, protocol.Handle)
    assert (handle.id, handle.type_name, handle.methods) == (5, "Thing", ("go",))


@pytest.mark.parametrize("bit_generator", ["PCG64", "MT19937", "Philox"])
def test_random_generators_cross_as_their_state(bit_generator):
    rng = np.random.Generator(getattr(np.random, bit_generator)(42))
    rng.standard_normal(3)
    copy = roundtrip(rng)
    assert isinstance(copy, np.random.Generator) and copy is not rng
    assert np.array_equal(copy.permutation(10), rng.permutation(10))


def _body(header) -> bytes:
    raw = msgpack.packb(header)
    return struct.pack("<II", 0, len(raw)) + raw


@pytest.mark.parametrize("header, message", [
    ({"$rng": {"$dict": [["bit_generator", "os.system"]]}}, "not allowed"),
    ({"$rng": {"$dict": [["bit_generator", "PCG64"], ["state", 1]]}}, "bad random generator"),
])
def test_a_forged_generator_state_is_refused(header, message):
    assert protocol.decode_body(_body([1, 2])) == [1, 2]  # the helper builds valid frames
    with pytest.raises(protocol.ProtocolError, match=message):
        protocol.decode_body(_body(header))


def test_encode_into_writes_the_same_frame_or_says_what_it_needs():
    value = {"x": np.arange(6.0).reshape(2, 3), "n": 2**70, "z": 1 - 2j, "t": (np.int32(3),)}
    frame = protocol.encode(value)
    room = bytearray(len(frame) + 10)
    assert protocol.encode_into(room, value) == len(frame)
    assert bytes(room[:len(frame)]) == frame
    assert protocol.encode_into(bytearray(len(frame) - 1), value) == -len(frame)
    out = protocol.decode_body(frame[4:])
    assert out["n"] == 2**70 and out["z"] == 1 - 2j and np.array_equal(out["x"], value["x"])
