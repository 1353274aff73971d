"""The trust boundary, tested directly: what crosses between the grader and the student's kernel.

:mod:`a5kit.protocol` must carry every kind of plain data a test needs unchanged, and refuse
(with :class:`~a5kit.protocol.WireError`, never by running code, blocking or exhausting memory)
whatever the student's user can leave where an answer belongs.
"""

from __future__ import annotations

import io
import math
import os
import zipfile

import numpy as np
import pytest

from a5kit import protocol as wire
from a5kit.checking.plain import Handle
from a5kit.checking.submission import KitError, MissingFunction, StudentError
from a5kit.grader.remote import CallFailed, value_of


def roundtrip(obj):
    return wire.loads(wire.dumps(obj))


# -- round trips ---------------------------------------------------------------------------------


def test_non_finite_floats_survive():
    back = roundtrip([math.nan, math.inf, -math.inf, 0.5, -0.0])
    assert math.isnan(back[0]) and back[1] == math.inf and back[2] == -math.inf and back[3] == 0.5
    assert math.copysign(1.0, back[4]) == -1.0


def test_tuples_stay_tuples_and_lists_lists():
    back = roundtrip((1, [2, (3, "x")], ()))
    assert back == (1, [2, (3, "x")], ()) and isinstance(back, tuple) and isinstance(back[1][1], tuple)


def test_nested_dicts_keep_order_and_their_keys_become_strings():
    back = roundtrip({"b": {"inner": [1, None, True]}, "a": {}, 3: "three"})
    assert back == {"b": {"inner": [1, None, True]}, "a": {}, "3": "three"} and list(back) == ["b", "a", "3"]


def test_a_dict_that_looks_like_an_encoded_element_is_still_a_dict():
    obj = {"__a5__": "ndarray", "name": "a0"}
    assert roundtrip(obj) == obj


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.array([[True, False]]),
        np.array([1 + 2j, np.nan], dtype=np.complex128),
        np.array([np.nan, np.inf, -np.inf]),
        np.array(["ACGT", "T"]),
        np.array([b"ab", b"c"]),
        np.zeros((0, 4), dtype=np.int8),
        np.array(2.5),
    ],
    ids=["float32", "bool", "complex", "non-finite", "unicode", "bytes", "empty", "0-d"],
)
def test_numeric_and_string_arrays_keep_dtype_shape_and_values(array):
    back = roundtrip({"x": [array, (array,)]})
    for got in (back["x"][0], back["x"][1][0]):
        assert got.dtype == array.dtype and got.shape == array.shape
        np.testing.assert_array_equal(got, array)


def test_handles_cross_as_handles():
    assert roundtrip([Handle(7, "Module"), {"h": Handle(8, "Tensor")}]) == [
        Handle(7, "Module"),
        {"h": Handle(8, "Tensor")},
    ]


def test_requests_and_answers_round_trip_as_types():
    request = wire.Request("call", "one_hot_encode_dna", ("ACGT",), {"alphabet": "ACGT"})
    assert wire.Request.from_plain(roundtrip(request.to_plain())) == request
    for answer in [
        wire.Answer(wire.Status.VALUE, np.eye(2)),
        wire.Answer(wire.Status.MISSING, message="no function named f()"),
        wire.Answer(wire.Status.STUDENT_ERROR, message="bad X at 3", function="f", error_type="ValueError"),
        wire.Answer(wire.Status.STALE, message="gone"),
        wire.Answer(wire.Status.KIT_ERROR, message="AttributeError: x"),
        wire.Answer(wire.Status.REFUSED, message="not plain data", function="f", error_type="TypeError"),
    ]:
        back = wire.Answer.from_plain(roundtrip(answer.to_plain()))
        assert back.status is answer.status and back.message == answer.message and back.function == answer.function
        if answer.status is wire.Status.VALUE:
            np.testing.assert_array_equal(back.value, answer.value)


@pytest.mark.parametrize("data", [None, [], {"status": "pwned"}, {"status": ["value"]}, {"kind": "call"}])
def test_an_answer_that_is_not_one_is_refused(data):
    with pytest.raises(wire.WireError, match="not understood"):
        wire.Answer.from_plain(data)


@pytest.mark.parametrize(
    "data",
    [None, {"kind": "exec", "name": "f"}, {"kind": "call", "name": 3}, {"kind": "call", "name": "f", "args": "x"}],
)
def test_a_request_that_is_not_one_is_refused(data):
    with pytest.raises(wire.WireError, match="malformed request"):
        wire.Request.from_plain(data)


def test_each_status_becomes_what_a_test_expects():
    assert value_of(wire.Answer(wire.Status.VALUE, 3), "f") == 3
    with pytest.raises(MissingFunction, match="no function"):
        value_of(wire.Answer(wire.Status.MISSING, message="no function named f()"), "f")
    with pytest.raises(StudentError) as raised:
        value_of(
            wire.Answer(wire.Status.STUDENT_ERROR, message="bad X at 3", function="f", error_type="ValueError"), "f"
        )
    assert isinstance(raised.value.error, ValueError) and str(raised.value) == "f() raised ValueError: bad X at 3"
    with pytest.raises(StudentError) as raised:  # a class name no builtin has, even one no class can have
        value_of(wire.Answer(wire.Status.STUDENT_ERROR, message="m", function="f", error_type="My\x00Error"), "f")
    assert str(raised.value.error) == "m"
    with pytest.raises(StudentError, match="cannot be graded"):
        value_of(
            wire.Answer(
                wire.Status.REFUSED,
                message="returned something that cannot be graded (x)",
                function="f",
                error_type="TypeError",
            ),
            "f",
        )
    with pytest.raises(CallFailed, match="gone"):
        value_of(wire.Answer(wire.Status.STALE, message="gone"), "f")
    with pytest.raises(KitError, match="kit probe parameters failed"):
        value_of(wire.Answer(wire.Status.KIT_ERROR, message="AttributeError: x"), "parameters")


# -- refusals ------------------------------------------------------------------------------------


def test_object_arrays_are_refused_on_the_way_out():
    with pytest.raises(wire.WireError, match="object arrays"):
        wire.dumps([np.array([{}, 1], dtype=object)])


@pytest.mark.parametrize(
    "obj", [object(), {1, 2}, b"bytes", Exception("e")], ids=["object", "set", "bytes", "exception"]
)
def test_what_is_not_plain_data_is_refused_on_the_way_out(obj):
    with pytest.raises(wire.WireError, match="not plain data"):
        wire.dumps({"value": obj})


def _message(**members: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


class Boom:
    def __reduce__(self):
        return (os.system, ("touch /tmp/a5kit-test-protocol-pwned",))


def test_a_pickled_npy_member_is_refused_and_never_unpickled():
    data = _message(
        **{
            "__json__.npy": _npy(np.frombuffer(b'{"status": "value", "value": null}', dtype=np.uint8)),
            "a0.npy": _npy(np.array([Boom()], dtype=object), allow_pickle=True),
        }
    )
    with pytest.raises(wire.WireError, match="malformed"):
        wire.loads(data)
    assert not os.path.exists("/tmp/a5kit-test-protocol-pwned")


def test_a_message_larger_than_the_limit_is_refused():
    data = wire.dumps({"value": np.zeros(2**20, dtype=np.uint8)})
    assert wire.loads(data, limit=2**21)["value"].size == 2**20
    with pytest.raises(wire.WireError, match="larger than"):
        wire.loads(data, limit=2**19)


def test_a_zip_bomb_is_refused_from_its_declared_size_before_it_is_inflated():
    huge = np.zeros(80 * 2**20, dtype=np.uint8)  # 80 MB of zeros: a few hundred kB compressed
    data = _message(**{"__json__.npy": _npy(np.frombuffer(b'{"value": null}', dtype=np.uint8)), "a0.npy": _npy(huge)})
    del huge
    assert len(data) < 2**20
    with pytest.raises(wire.WireError, match="larger than 64 MB"):
        wire.loads(data)


def test_a_zip_that_lies_about_its_sizes_is_not_read_past_the_lie():
    member = _npy(np.zeros(2**20, dtype=np.uint8))
    data = bytearray(
        _message(**{"__json__.npy": _npy(np.frombuffer(b'{"value": null}', dtype=np.uint8)), "a0.npy": member})
    )
    # shrink the declared uncompressed size of a0.npy in the central directory: zipfile stops at it and flags a bad CRC
    at = data.rfind(b"PK\x01\x02")
    data[at + 24 : at + 28] = (1000).to_bytes(4, "little")
    with pytest.raises(wire.WireError, match="malformed"):
        wire.loads(bytes(data))


@pytest.mark.parametrize(
    "data",
    [b"", b"not a zip", b"PK\x03\x04" + b"\x00" * 100, _message(**{"x.npy": b"junk"})],
    ids=["empty", "text", "truncated", "junk-member"],
)
def test_garbage_is_refused_as_malformed(data):
    with pytest.raises(wire.WireError, match="malformed"):
        wire.loads(data)


def test_a_message_without_structure_is_refused():
    with pytest.raises(wire.WireError, match="no structure"):
        wire.loads(_message(**{"a0.npy": _npy(np.arange(3))}))


def test_an_answer_nested_too_deeply_or_with_too_much_structure_is_refused():
    buffer = io.BytesIO()
    np.savez(buffer, __json__=np.frombuffer(("[" * 100_000 + "]" * 100_000).encode(), dtype=np.uint8))
    with pytest.raises(wire.WireError, match="nested too deeply"):
        wire.loads(buffer.getvalue())
    with pytest.raises(wire.WireError, match="more than 2 MB"):
        wire.loads(wire.dumps([[]] * 1_000_000))


# -- the answer file: read_untrusted -------------------------------------------------------------


def test_read_untrusted_refuses_what_is_not_a_small_regular_file_before_reading_it(tmp_path):
    (tmp_path / "ok.npz").write_bytes(wire.dumps({"value": 1}))
    assert wire.read_untrusted(tmp_path, "ok.npz") == {"value": 1}
    os.mkfifo(tmp_path / "fifo.npz")  # opening it for reading would block forever without O_NONBLOCK
    os.symlink(tmp_path / "ok.npz", tmp_path / "link.npz")
    os.link(tmp_path / "ok.npz", tmp_path / "hard.npz")
    (tmp_path / "dir.npz").mkdir()
    with open(tmp_path / "sparse.npz", "wb") as fh:
        fh.truncate(wire.MAX_MESSAGE_BYTES + 1)
    for name, said in [
        ("fifo.npz", "not a regular file"),
        ("link.npz", "cannot be opened safely"),
        ("hard.npz", "hard link"),
        ("dir.npz", "not a regular file"),
        ("sparse.npz", "larger than"),
        ("missing.npz", "no answer"),
    ]:
        with pytest.raises(wire.WireError, match=said):
            wire.read_untrusted(tmp_path, name)


def test_read_untrusted_refuses_a_symlinked_answer_folder(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.npz").write_bytes(wire.dumps(1))
    (tmp_path / "responses").symlink_to(real)
    with pytest.raises(wire.WireError, match="folder cannot be opened safely"):
        wire.read_untrusted(tmp_path / "responses", "a.npz")


def test_read_untrusted_refuses_a_zip_bomb_answer_file(tmp_path):
    data = _message(
        **{
            "__json__.npy": _npy(np.frombuffer(b'{"value": null}', dtype=np.uint8)),
            "a0.npy": _npy(np.zeros(80 * 2**20, dtype=np.uint8)),
        }
    )
    (tmp_path / "bomb.npz").write_bytes(data)
    with pytest.raises(wire.WireError, match="larger than"):
        wire.read_untrusted(tmp_path, "bomb.npz")


def test_write_never_overwrites_or_follows_a_planted_file(tmp_path):
    target = tmp_path / "victim"
    target.write_text("keep")
    os.symlink(target, tmp_path / "r1.npz")
    with pytest.raises(FileExistsError):
        wire.write(tmp_path / "r1.npz", {"value": 1})
    assert target.read_text() == "keep"
