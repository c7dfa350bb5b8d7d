"""Typed bodies of the statement kinds, each a frozen dataclass with ``to_value``/``from_value``.

Which kinds are public (body in clear for anyone holding the log) and which are private (body sealed
to the nodes allowed to read it) is fixed per kind here, and checked against the header's
``private`` flag so an author cannot publish a private kind in clear by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from protocol.codec import expect_bytes, expect_int, expect_map, expect_str
from protocol.errors import BAD_BODY, MALFORMED, RemoteProtocolError
from protocol.identity import (
    ED25519_PUBLIC_LEN,
    MLKEM768_PUBLIC_LEN,
    X25519_PUBLIC_LEN,
    EncryptionPublicKeys,
)
from protocol.jobs import MAX_HOPS
from protocol.peer_url import base_url_problem

SECTORS = ("nonprofit", "social_enterprise", "company", "government", "academic", "other")
ROTATION_SIG_TAG = b"orgnode/key-rotation/v1\x00"


class Body(Protocol):
    KIND: ClassVar[str]
    PRIVATE: ClassVar[bool]

    def to_value(self) -> dict[str, Any]: ...


def _check_keys(value: dict[str, Any], allowed: set[str], name: str) -> None:
    extra = set(value) - allowed
    if extra:
        raise RemoteProtocolError(MALFORMED, f"{name} has unknown fields: {', '.join(sorted(map(str, extra)))}")


@dataclass(frozen=True, slots=True)
class OrgCard:
    """Who an organization is and how to reach it. Public; the latest one in the log wins."""

    KIND: ClassVar[str] = "org_card"
    PRIVATE: ClassVar[bool] = False

    name: str
    sector: str
    url: str
    encryption: EncryptionPublicKeys

    def __post_init__(self) -> None:
        if self.sector not in SECTORS:
            raise RemoteProtocolError(MALFORMED, f"sector must be one of {', '.join(SECTORS)}")
        if not self.name.strip():
            raise RemoteProtocolError(MALFORMED, "org name must not be empty")
        problem = base_url_problem(self.url)
        if problem:  # a partner must not choose what we connect to beyond a host (section 12.1)
            raise RemoteProtocolError(BAD_BODY, f"org_card.url is not a usable base URL: {problem}")

    def to_value(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sector": self.sector,
            "url": self.url,
            "x25519": self.encryption.x25519,
            "mlkem768": self.encryption.mlkem768,
        }

    @classmethod
    def from_value(cls, value: Any) -> OrgCard:
        v = expect_map(value, "org_card")
        _check_keys(v, {"name", "sector", "url", "x25519", "mlkem768"}, "org_card")
        return cls(
            name=expect_str(v.get("name"), "org_card.name", 200),
            sector=expect_str(v.get("sector"), "org_card.sector", 32),
            url=expect_str(v.get("url"), "org_card.url", 512),
            encryption=EncryptionPublicKeys(
                x25519=expect_bytes(v.get("x25519"), "org_card.x25519", X25519_PUBLIC_LEN),
                mlkem768=expect_bytes(v.get("mlkem768"), "org_card.mlkem768", MLKEM768_PUBLIC_LEN),
            ),
        )


@dataclass(frozen=True, slots=True)
class KeyRotation:
    """The author's signing key changes from the header's key to ``new_key`` after this statement.

    The header is signed by the old key; ``new_signature`` is the new key's signature over
    ``ROTATION_SIG_TAG || author || old_key || new_key``, proving possession of the new key.
    """

    KIND: ClassVar[str] = "key_rotation"
    PRIVATE: ClassVar[bool] = False

    new_key: bytes
    new_signature: bytes

    def to_value(self) -> dict[str, Any]:
        return {"new_key": self.new_key, "new_signature": self.new_signature}

    @classmethod
    def from_value(cls, value: Any) -> KeyRotation:
        v = expect_map(value, "key_rotation")
        _check_keys(v, {"new_key", "new_signature"}, "key_rotation")
        return cls(
            new_key=expect_bytes(v.get("new_key"), "key_rotation.new_key", ED25519_PUBLIC_LEN),
            new_signature=expect_bytes(v.get("new_signature"), "key_rotation.new_signature", 64),
        )

    @staticmethod
    def signed_message(author: bytes, old_key: bytes, new_key: bytes) -> bytes:
        return ROTATION_SIG_TAG + author + old_key + new_key


@dataclass(frozen=True, slots=True)
class Note:
    """A short private message to trusted peers: the minimal statement that exercises sync."""

    KIND: ClassVar[str] = "note"
    PRIVATE: ClassVar[bool] = True

    text: str
    hops: int = 1

    def to_value(self) -> dict[str, Any]:
        return {"text": self.text, "hops": self.hops}

    @classmethod
    def from_value(cls, value: Any) -> Note:
        v = expect_map(value, "note")
        _check_keys(v, {"text", "hops"}, "note")
        return cls(
            text=expect_str(v.get("text"), "note.text", 4096),
            hops=expect_int(v.get("hops", 1), "note.hops", 1, MAX_HOPS),
        )
