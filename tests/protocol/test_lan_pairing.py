"""LAN announcements (mDNS TXT records) and the pair-request / pair-confirm messages: pure, no event loop."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.codec import encode
from protocol.errors import RemoteProtocolError
from protocol.identity import fingerprint_for
from protocol.lan_pairing import (
    TXT_KEYS,
    LanAnnouncement,
    LanPairAnswer,
    LanPairConfirm,
    LanPairRequest,
)

NODE = bytes(range(32))


def txt_bytes(txt: dict[str, str]) -> dict[bytes, bytes | None]:
    return {k.encode(): v.encode() for k, v in txt.items()}


def test_announcement_round_trip_and_holds_only_public_fields():
    a = LanAnnouncement(NODE, "Youth Futures", "http://10.0.0.5:8470")
    txt = a.to_txt()
    assert tuple(txt) == TXT_KEYS
    assert txt == {"v": "1", "id": NODE.hex(), "fp": fingerprint_for(NODE), "name": "Youth Futures", "url": "http://10.0.0.5:8470"}
    assert LanAnnouncement.from_txt(txt_bytes(txt)) == a


def test_long_name_is_cut_to_fit_a_txt_string():
    a = LanAnnouncement(NODE, "Ä" * 200, "http://10.0.0.5:8470")
    name = a.to_txt()["name"]
    assert len(name.encode()) <= 250 and name == "Ä" * 125


def test_url_too_long_to_announce():
    with pytest.raises(RemoteProtocolError):
        LanAnnouncement(NODE, "A", "http://x/" + "a" * 300).to_txt()


@pytest.mark.parametrize(
    "change",
    [
        {"v": "2"},
        {"id": NODE.hex().upper()},
        {"id": NODE.hex()[:-2]},
        {"fp": fingerprint_for(bytes(32))},
        {"name": " "},
        {"url": ""},
        {"url": "x" * 300},
    ],
)
def test_bad_announcements_are_refused(change):
    txt = {**LanAnnouncement(NODE, "A", "http://10.0.0.5:1").to_txt(), **change}
    with pytest.raises(RemoteProtocolError):
        LanAnnouncement.from_txt(txt_bytes(txt))


def test_missing_key_and_bad_utf8_are_refused():
    txt = txt_bytes(LanAnnouncement(NODE, "A", "http://10.0.0.5:1").to_txt())
    with pytest.raises(RemoteProtocolError):
        LanAnnouncement.from_txt({k: v for k, v in txt.items() if k != b"url"})
    with pytest.raises(RemoteProtocolError):
        LanAnnouncement.from_txt({**txt, b"name": b"\xff\xfe"})
    with pytest.raises(RemoteProtocolError):
        LanAnnouncement.from_txt({**txt, b"url": None})


def test_messages_round_trip():
    assert LanPairRequest.decode(LanPairRequest(b"bundle").encode()) == LanPairRequest(b"bundle")
    assert LanPairConfirm.decode(LanPairConfirm(b"bundle").encode()) == LanPairConfirm(b"bundle")
    for state in ("pending", "trusted"):
        assert LanPairAnswer.decode(LanPairAnswer(state).encode()).state == state


@pytest.mark.parametrize(
    "raw",
    [encode([2, b"x"]), encode([1]), encode([1, "x"]), encode([1, b"x", b"y"]), encode({"a": 1}), b"\xc1", encode([1, b"x" * (200 * 1024)])],
)
def test_bad_messages_are_refused(raw):
    for cls in (LanPairRequest, LanPairConfirm):
        with pytest.raises(RemoteProtocolError):
            cls.decode(raw)


def test_bad_answers_are_refused():
    for raw in (encode([1, "approved"]), encode([2, "pending"]), encode([1, b"pending"]), encode([1])):
        with pytest.raises(RemoteProtocolError):
            LanPairAnswer.decode(raw)


@given(st.binary(max_size=512))
def test_decoders_raise_only_typed_errors(data):
    for decoder in (LanPairRequest.decode, LanPairConfirm.decode, LanPairAnswer.decode):
        try:
            decoder(data)
        except RemoteProtocolError:
            pass


@given(st.dictionaries(st.sampled_from([*TXT_KEYS, "x"]).map(str.encode), st.one_of(st.none(), st.binary(max_size=300))))
def test_txt_parser_raises_only_typed_errors(properties):
    try:
        LanAnnouncement.from_txt(properties)
    except RemoteProtocolError:
        pass
