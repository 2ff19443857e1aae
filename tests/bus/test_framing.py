import numpy as np
import pytest

from spymaster_shared.bus.framing import decode_as, decode_frame, encode_frame
from spymaster_shared.bus.messages import BinHeader, GridBin, MboBatch, ScoreBin, StreamEnd
from spymaster_shared.dbn.records import MBO_DTYPE
from spymaster_shared.errors import BusError
from spymaster_shared.grid_schema import BIN_NAMES


def _batch(n: int = 3) -> tuple[MboBatch, bytes]:
    recs = np.zeros(n, dtype=MBO_DTYPE)
    recs["ts_event"] = np.arange(n) + 10
    body = recs.tobytes()
    head = MboBatch("s1", 4, n, 10, 10 + n - 1, False, 123, len(body))
    return head, body


def test_roundtrip_keeps_header_and_body() -> None:
    head, body = _batch()
    got, view = decode_frame(encode_frame(head, body))
    assert got == head
    assert np.frombuffer(view, dtype=MBO_DTYPE)["ts_event"].tolist() == [10, 11, 12]


def test_bin_header_is_generated_from_the_grid_schema() -> None:
    assert BinHeader.__struct_fields__ == BIN_NAMES


@pytest.mark.parametrize("cut", [0, 1, 5, 9, 40, -1])
def test_truncated_payloads_are_refused(cut: int) -> None:
    head, body = _batch()
    payload = encode_frame(head, body)
    with pytest.raises(BusError):
        decode_frame(payload[:cut])


def test_garbage_and_wrong_kind_are_refused() -> None:
    with pytest.raises(BusError):
        decode_frame(b"hello world, this is not a frame")
    with pytest.raises(BusError):
        decode_frame(b"VP\x01\x63\x00\x00\x00\x00")  # unknown kind
    payload = encode_frame(StreamEnd("s1", "complete", 3))
    with pytest.raises(BusError):
        decode_as(payload, GridBin)
    with pytest.raises(BusError):
        decode_frame(payload + b"x")  # padded


def test_body_len_must_match() -> None:
    head, body = _batch()
    with pytest.raises(BusError):
        encode_frame(head, body + b"x")


def test_score_frame() -> None:
    n = 5
    body = np.arange(n, dtype="<f8").tobytes() + np.ones(n, dtype="i1").tobytes()
    head = ScoreBin("s1", "v1", 0, n, None, False, [0.1, None], 0, len(body))
    got, view = decode_as(encode_frame(head, body), ScoreBin)
    assert got.projection == [0.1, None]
    assert len(view) == n * 9
