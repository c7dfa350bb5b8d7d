"""A crash in the middle of `orgnode key rotate` never leaves a node unable to sign."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from node.core.errors import UserError
from node.core.federation import Federation
from node.core.service import NodeService
from protocol.bodies import KeyRotation, Note
from tests.conftest import make_home


def test_rotation_logged_but_key_not_promoted_is_finished_on_open(tmp_path):
    service = make_home(tmp_path, "Alpha")
    home = service.home.path
    new_key = ed25519.Ed25519PrivateKey.generate()
    old = service.identity.signing_public
    new = new_key.public_key().public_bytes_raw()
    # The crash: the new key was staged and the rotation logged, but the key file not yet replaced.
    service.home.stage_signing_key(new_key, None)
    rotation = KeyRotation(new, new_key.sign(KeyRotation.signed_message(service.node_id, old, new)))
    Federation(service).append(KeyRotation.KIND, rotation.to_value(), private=False)
    service.close()
    reopened = NodeService.open(home)
    assert reopened.identity.signing_public == new
    assert not reopened.home.next_signing_path.exists()
    Federation(reopened).append(Note.KIND, Note("after the crash").to_value(), private=True)  # it can sign again
    reopened.close()


def test_staged_key_never_logged_is_dropped(tmp_path):
    service = make_home(tmp_path, "Alpha")
    home = service.home.path
    old = service.identity.signing_public
    service.home.stage_signing_key(ed25519.Ed25519PrivateKey.generate(), None)
    service.close()
    reopened = NodeService.open(home)
    assert reopened.identity.signing_public == old and not reopened.home.next_signing_path.exists()
    reopened.close()


def test_full_rotation_then_reopen(tmp_path):
    service = make_home(tmp_path, "Alpha")
    home = service.home.path
    Federation(service).rotate_key()
    new = service.identity.signing_public
    service.close()
    reopened = NodeService.open(home)
    assert reopened.identity.signing_public == new
    reopened.close()


def test_lost_key_is_a_clear_error(tmp_path):
    service = make_home(tmp_path, "Alpha")
    home = service.home.path
    keys_backup = (service.home.keys_dir / "signing.pem").read_bytes()
    Federation(service).rotate_key()
    service.close()
    (home / "keys" / "signing.pem").write_bytes(keys_backup)  # an old backup restored after the rotation
    with pytest.raises(UserError, match="signing key this home does not hold"):
        NodeService.open(home)
