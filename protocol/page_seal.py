"""Sealed pages: the private bodies of one pull answer sealed to its asker with one KEM
(docs/protocol.md section 13.8).

Why: sealing each body on its own (``protocol.sealing``) costs one hybrid ML-KEM-768+X25519 HPKE
encapsulation per statement and per reader, which bounded a catch-up to about the KEM's rate. A
page seals a fresh 32-byte page secret once with HPKE (same suites, same recipient key); each body
is then encrypted with ChaCha20-Poly1305 under a key derived from it by HKDF-SHA256, with the
item's position as the nonce and the page id, the page's item count, the position, the statement
id and the recipient in the associated data. Reordered, moved (to another page), truncated or
misaddressed items do not open.

Pure: the page id and the page secret are passed in (random bytes from the caller).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from protocol.codec import expect_bytes, expect_int, expect_list
from protocol.errors import DECRYPT_FAILED, MALFORMED, WRONG_RECIPIENT, LocalProtocolError, RemoteProtocolError
from protocol.identity import EncryptionPublicKeys, Identity
from protocol.sealing import DEFAULT_SUITE, open_bytes, seal_bytes
from protocol.statement import MAX_ENVELOPE_BYTES, SealedContent

PAGE_INFO_TAG = b"orgnode/page/v1\x00"  # HPKE info of the page secret's box
PAGE_KEY_TAG = b"orgnode/page-key/v1\x00"  # HKDF info of the item key
PAGE_ITEM_TAG = b"orgnode/page-item/v1\x00"  # prefix of each item's associated data
SEALED_PAGES_HEADER = "OrgNode-Sealed-Pages"  # "1" on a pull: the asker takes an answer sealed as a page
ASK_SEALED_PAGES = {SEALED_PAGES_HEADER: "1"}  # the header our pulls send
PAGE_ID_LEN = 16
PAGE_SECRET_LEN = 32
MAX_PAGE_ITEMS = 64  # = protocol.sync.MAX_BATCH (a page is one batch)
HPKE_BOX_MAX = 1184 + 32 + 64 + 16  # hybrid encapsulation + sealed 32-byte secret + tag, with room


def page_info(page_id: bytes, recipient: bytes) -> bytes:
    return PAGE_INFO_TAG + page_id + recipient


def item_key(secret: bytes, page_id: bytes, recipient: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869): salt = page id, IKM = page secret, info = tag || recipient, 32 bytes."""
    prk = hmac.new(page_id, secret, hashlib.sha256).digest()
    return hmac.new(prk, PAGE_KEY_TAG + recipient + b"\x01", hashlib.sha256).digest()


def item_nonce(index: int) -> bytes:
    """12 bytes: four zero bytes, then the item's 0-based position as a big-endian uint64."""
    return b"\x00" * 4 + struct.pack(">Q", index)


def item_aad(page_id: bytes, count: int, index: int, statement_id: bytes, recipient: bytes) -> bytes:
    return PAGE_ITEM_TAG + page_id + struct.pack(">II", count, index) + statement_id + recipient


@dataclass(frozen=True, slots=True)
class SealedPage:
    """``[suite, recipient, page_id, box, [item or nil, ...]]``: one page secret sealed to
    ``recipient`` (``box``: HPKE ciphertext, encapsulated key first) and one ciphertext per envelope
    of the batch, in batch order (nil: that envelope's body is not sealed in the page)."""

    suite: int
    recipient: bytes
    page_id: bytes
    box: bytes
    items: tuple[bytes | None, ...]

    def to_value(self) -> list[object]:
        return [self.suite, self.recipient, self.page_id, self.box, list(self.items)]

    @classmethod
    def from_value(cls, value: object) -> SealedPage:
        parts = expect_list(value, "page", 5)
        items = tuple(None if item is None else expect_bytes(item, "page.item", max_len=MAX_ENVELOPE_BYTES)
                      for item in expect_list(parts[4], "page.items"))
        if len(items) > MAX_PAGE_ITEMS:
            raise RemoteProtocolError(MALFORMED, f"a page holds at most {MAX_PAGE_ITEMS} items")
        return cls(expect_int(parts[0], "page.suite"), expect_bytes(parts[1], "page.recipient", 32),
                   expect_bytes(parts[2], "page.id", PAGE_ID_LEN), expect_bytes(parts[3], "page.box", max_len=HPKE_BOX_MAX),
                   items)


def seal_page(plaintexts: list[tuple[bytes, bytes] | None], recipient: bytes, keys: EncryptionPublicKeys, *,
              page_id: bytes, secret: bytes, suite: int = DEFAULT_SUITE) -> SealedPage:
    """Seal ``plaintexts`` (per envelope of the batch, in order: ``(statement id, plaintext)`` or None)
    to ``recipient`` with one HPKE seal. ``page_id`` (16) and ``secret`` (32): fresh random bytes."""
    if len(page_id) != PAGE_ID_LEN or len(secret) != PAGE_SECRET_LEN:
        raise LocalProtocolError(MALFORMED, "a page needs a 16-byte id and a 32-byte secret from the random source")
    if len(plaintexts) > MAX_PAGE_ITEMS:
        raise LocalProtocolError(MALFORMED, f"a page holds at most {MAX_PAGE_ITEMS} items")
    box = seal_bytes(secret, recipient, keys, page_info(page_id, recipient), suite).ciphertext
    aead = ChaCha20Poly1305(item_key(secret, page_id, recipient))
    count = len(plaintexts)
    items = tuple(None if p is None else aead.encrypt(item_nonce(i), p[1], item_aad(page_id, count, i, p[0], recipient))
                  for i, p in enumerate(plaintexts))
    return SealedPage(suite, recipient, page_id, box, items)


@dataclass(frozen=True, slots=True)
class PageOpener:
    """A page whose secret was opened (the one KEM decapsulation); ``open`` opens its items."""

    page_id: bytes
    recipient: bytes
    count: int
    aead: ChaCha20Poly1305

    def open(self, index: int, statement_id: bytes, ciphertext: bytes) -> bytes:
        try:
            return self.aead.decrypt(item_nonce(index), ciphertext,
                                     item_aad(self.page_id, self.count, index, statement_id, self.recipient))
        except InvalidTag as exc:
            raise RemoteProtocolError(DECRYPT_FAILED, "a page item does not open at its position in this page") from exc


def open_page(page: SealedPage, identity: Identity, count: int) -> PageOpener:
    """Open the page secret sealed to us. ``count``: the number of envelopes in the batch that
    carried the page, which must equal the page's item count (a truncated or padded page is refused)."""
    if page.recipient != identity.node_id:
        raise RemoteProtocolError(WRONG_RECIPIENT, "page sealed for another node")
    if len(page.items) != count:
        raise RemoteProtocolError(MALFORMED, "the page's items do not match the batch's envelopes")
    sealed = SealedContent(recipient=page.recipient, suite=page.suite, ciphertext=page.box)
    secret = open_bytes(sealed, identity, page_info(page.page_id, page.recipient))
    if len(secret) != PAGE_SECRET_LEN:
        raise RemoteProtocolError(DECRYPT_FAILED, "the page secret is not 32 bytes")
    return PageOpener(page.page_id, page.recipient, count, ChaCha20Poly1305(item_key(secret, page.page_id, page.recipient)))
