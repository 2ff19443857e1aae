import pytest

from spymaster_shared.bus.subjects import ANY, msg_id, subject, subject_tokens
from spymaster_shared.errors import BusError


def test_subjects_are_built_by_one_function() -> None:
    assert subject("mbo", "abc123") == "vp.mbo.abc123"
    assert subject("grid", "abc123") == "vp.grid.abc123"
    assert subject("score", "abc123", "v0a1") == "vp.score.abc123.v0a1"
    assert subject("ctl", "replay", "start") == "vp.ctl.replay.start"
    assert subject("dlq", "engine") == "vp.dlq.engine"
    assert subject("score", ANY, ANY) == "vp.score.*.*"


@pytest.mark.parametrize("bad", ["a.b", "*x", ">", "", "a b", "../x", "a\r\nPUB x"])
def test_no_subject_injection(bad: str) -> None:
    with pytest.raises(BusError):
        subject("grid", bad)


def test_arity_and_kind_checked() -> None:
    with pytest.raises(BusError):
        subject("score", "abc")
    with pytest.raises(BusError):
        subject("nope", "abc")  # type: ignore[arg-type]


def test_tokens_roundtrip_and_msg_ids() -> None:
    assert subject_tokens("score", "vp.score.s1.v2") == ("s1", "v2")
    assert msg_id("s1", 7) == "s1:7"
    assert msg_id("s1", "v2", 7) == "s1:v2:7"
