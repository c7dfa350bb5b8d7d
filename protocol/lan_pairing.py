"""LAN discovery records and pairing by request/approval (docs/protocol.md, "LAN discovery and pairing by request").

A node on a LAN advertises itself over mDNS/DNS-SD as a ``_orgnode._tcp.local.`` service whose TXT
record is ``v=1, id=<node id hex>, fp=<fingerprint>, name=<org name>, url=<public url>`` and nothing
else. An announcement is a *hint*: anyone on the LAN can announce anything, so it never grants trust
and never makes a node connect anywhere by itself. An admin who picks a node id from the results
asks the node to pair (``LanPairRequest``, carrying the requester's card bundle); the other admin
approves after comparing fingerprints, and the approver's node confirms (``LanPairConfirm``, carrying
its card bundle). Both messages travel in requests signed with the key from the enclosed bundle.

Messages are msgpack arrays ``[version, ...]`` decoded under tight limits (THREATS row 9).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from protocol import PROTOCOL_VERSION
from protocol.codec import Limits, decode, encode, expect_bytes, expect_list, expect_str, expect_version
from protocol.errors import MALFORMED, TOO_LARGE, UNKNOWN_VERSION, RemoteProtocolError
from protocol.identity import fingerprint_for
from protocol.peer_url import base_url_problem

SERVICE_TYPE = "_orgnode._tcp.local."
TXT_KEYS = ("v", "id", "fp", "name", "url")
MAX_TXT_VALUE_BYTES = 250  # a TXT string is at most 255 bytes, "name=" included
MAX_CARD_BUNDLE = 96 * 1024
LAN_PAIR_LIMITS = Limits(max_bytes=128 * 1024, max_str_len=16, max_bin_len=MAX_CARD_BUNDLE, max_array_len=4, max_map_len=0, max_depth=2)
ANSWER_LIMITS = Limits(max_bytes=256, max_str_len=16, max_bin_len=0, max_array_len=4, max_map_len=0, max_depth=2)

# What the target of a pair request answers: the request waits for its admin, or the two already trust each other.
ANSWER_PENDING = "pending"
ANSWER_TRUSTED = "trusted"
ANSWERS = (ANSWER_PENDING, ANSWER_TRUSTED)


def _fit(text: str, limit: int = MAX_TXT_VALUE_BYTES) -> str:
    """``text`` cut at a character boundary so that its UTF-8 form is at most ``limit`` bytes."""
    data = text.encode("utf-8")[:limit]
    return data.decode("utf-8", errors="ignore")


@dataclass(frozen=True, slots=True)
class LanAnnouncement:
    """One node's mDNS TXT record. Every field is public (the org card holds the same); no personal data.

    ``node_id``: 32 bytes; ``fingerprint``: ``fingerprint_for(node_id)`` (checked on parse);
    ``name``: the organization's name (cut to fit a TXT string); ``url``: the node's public URL.
    """

    node_id: bytes
    name: str
    url: str

    @property
    def fingerprint(self) -> str:
        return fingerprint_for(self.node_id)

    def to_txt(self) -> dict[str, str]:
        """The TXT record as key → value; raises if the URL does not fit in one TXT string."""
        if len(self.url.encode("utf-8")) > MAX_TXT_VALUE_BYTES:
            raise RemoteProtocolError(TOO_LARGE, f"the URL is longer than {MAX_TXT_VALUE_BYTES} bytes and cannot be announced")
        return {"v": str(PROTOCOL_VERSION), "id": self.node_id.hex(), "fp": self.fingerprint, "name": _fit(self.name), "url": self.url}

    @classmethod
    def from_txt(cls, properties: Mapping[bytes, bytes | None]) -> LanAnnouncement:
        """Parse a TXT record as received (bytes keys and values); unknown keys are ignored."""
        values: dict[str, str] = {}
        for key in TXT_KEYS:
            raw = properties.get(key.encode())
            if raw is None:
                raise RemoteProtocolError(MALFORMED, f"TXT record lacks {key!r}")
            if len(raw) > MAX_TXT_VALUE_BYTES:
                raise RemoteProtocolError(TOO_LARGE, f"TXT value {key!r} is too long")
            try:
                values[key] = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RemoteProtocolError(MALFORMED, f"TXT value {key!r} is not UTF-8") from exc
        if values["v"] != str(PROTOCOL_VERSION):
            raise RemoteProtocolError(UNKNOWN_VERSION, f"announcement version {values['v'][:8]!r} is not supported")
        text_id = values["id"]
        if len(text_id) != 64 or any(c not in "0123456789abcdef" for c in text_id):
            raise RemoteProtocolError(MALFORMED, "TXT id must be 64 lowercase hex characters")
        node_id = bytes.fromhex(text_id)
        if values["fp"] != fingerprint_for(node_id):
            raise RemoteProtocolError(MALFORMED, "TXT fp is not the fingerprint of TXT id")
        if not values["name"].strip() or not values["url"]:
            raise RemoteProtocolError(MALFORMED, "TXT name and url must not be empty")
        problem = base_url_problem(values["url"])
        if problem:
            raise RemoteProtocolError(MALFORMED, f"TXT url is not a usable base URL: {problem}")
        return cls(node_id, values["name"], values["url"])


def _card_message(data: bytes, name: str) -> bytes:
    items = expect_list(decode(data, LAN_PAIR_LIMITS), name)
    expect_version(items, f"{name}")
    expect_list(items, name, 2)
    return expect_bytes(items[1], f"{name}.card_bundle", max_len=MAX_CARD_BUNDLE)


@dataclass(frozen=True, slots=True)
class LanPairRequest:
    """``[1, card_bundle]``: body of ``POST /federation/v1/pair-request`` (the requester's card bundle)."""

    card_bundle: bytes

    def encode(self) -> bytes:
        return encode([PROTOCOL_VERSION, self.card_bundle])

    @classmethod
    def decode(cls, data: bytes) -> LanPairRequest:
        return cls(_card_message(data, "pair-request"))


@dataclass(frozen=True, slots=True)
class LanPairConfirm:
    """``[1, card_bundle]``: body of ``POST /federation/v1/pair-confirm`` (the approver's card bundle)."""

    card_bundle: bytes

    def encode(self) -> bytes:
        return encode([PROTOCOL_VERSION, self.card_bundle])

    @classmethod
    def decode(cls, data: bytes) -> LanPairConfirm:
        return cls(_card_message(data, "pair-confirm"))


@dataclass(frozen=True, slots=True)
class LanPairAnswer:
    """``[1, state]``: the answer to a pair request; ``state`` is ``"pending"`` or ``"trusted"``."""

    state: str

    def encode(self) -> bytes:
        return encode([PROTOCOL_VERSION, self.state])

    @classmethod
    def decode(cls, data: bytes) -> LanPairAnswer:
        items = expect_list(decode(data, ANSWER_LIMITS), "pair-answer")
        expect_version(items, "pair-answer")
        expect_list(items, "pair-answer", 2)
        state = expect_str(items[1], "pair-answer.state", 16)
        if state not in ANSWERS:
            raise RemoteProtocolError(MALFORMED, f"pair-answer state must be one of {', '.join(ANSWERS)}")
        return cls(state)
