"""TLS for the federation API: the server's context (``tls_cert``/``tls_key``) and the client's (verification).

The node serves HTTPS itself when its config names a certificate and key; before it listens,
``server_context`` checks them and refuses with the key's name and what to do (a file that is
missing or unreadable, a certificate that is expired or not yet valid, a key that is not the
certificate's), so a node never starts with a certificate partners would refuse. Outgoing
connections verify a partner's certificate chain against the system trust store plus
``tls_ca_file`` and its host name against the URL's host (``client_context``); ``tls_verify = false``
turns that off, for LAN tests only, and the runtime logs it at warning on every start. Both sides
speak TLS 1.2 or later. A ``http://`` URL is plain HTTP and a ``https://`` URL is never tried as http.
"""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from node.config import CONFIG_FILE, Config
from node.core.errors import UserError

MIN_VERSION = ssl.TLSVersion.TLSv1_2


def config_path(home: Path, value: str) -> Path:
    """A path from config.toml: absolute as written, or relative to the home."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else home / path


def _read(home: Path, key: str, value: str, what: str) -> tuple[Path, bytes]:
    path = config_path(home, value)
    try:
        return path, path.read_bytes()
    except FileNotFoundError:
        problem = "does not exist"
    except PermissionError:
        problem = "is not readable by this user"
    except IsADirectoryError:
        problem = "is a folder, not a file"
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror})"
    raise UserError(f"config key {key}: the {what} {path} {problem}; fix the path in {CONFIG_FILE} (or give the node's "
                    "user read access to the file)", field=key)


def _certificate(key: str, path: Path, data: bytes) -> x509.Certificate:
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError:
        chain = []
    if not chain:
        raise UserError(f"config key {key}: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----); point "
                        f"{key} at the certificate chain file (e.g. fullchain.pem)", field=key)
    return chain[0]


def check_validity(cert: x509.Certificate, path: Path, now: datetime.datetime) -> None:
    """Refuse a certificate that is expired or not yet valid at ``now``: partners would refuse it."""
    if now > cert.not_valid_after_utc:
        raise UserError(f"config key tls_cert: the certificate {path} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} "
                        "UTC; renew it (e.g. `certbot renew`) or point tls_cert at the new one, then start again",
                        field="tls_cert")
    if now < cert.not_valid_before_utc:
        raise UserError(f"config key tls_cert: the certificate {path} is not valid before "
                        f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC; check this machine's clock or the certificate",
                        field="tls_cert")


def _check_key_matches(cert: x509.Certificate, cert_path: Path, key_path: Path, key_data: bytes) -> None:
    try:
        private = serialization.load_pem_private_key(key_data, password=None)
    except TypeError as exc:
        raise UserError(f"config key tls_key: the private key {key_path} is encrypted with a password; give the node an "
                        "unencrypted key file (mode 0600)", field="tls_key") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise UserError(f"config key tls_key: {key_path} holds no PEM private key (-----BEGIN ... PRIVATE KEY-----); point "
                        "tls_key at the certificate's key file (e.g. privkey.pem)", field="tls_key") from exc
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(*raw) != cert.public_key().public_bytes(*raw):
        raise UserError(f"config key tls_key: the private key {key_path} does not belong to the certificate {cert_path} "
                        "(key mismatch); point tls_key and tls_cert at a certificate and its own key", field="tls_key")


def server_context(config: Config, home: Path, now: datetime.datetime | None = None) -> ssl.SSLContext | None:
    """The federation server's TLS context, or None when the node serves plain HTTP; refuses a bad certificate or key."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    cert_path, cert_data = _read(home, "tls_cert", config.tls_cert, "certificate")
    key_path, key_data = _read(home, "tls_key", config.tls_key, "private key")
    cert = _certificate("tls_cert", cert_path, cert_data)
    check_validity(cert, cert_path, now or datetime.datetime.now(datetime.UTC))
    _check_key_matches(cert, cert_path, key_path, key_data)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MIN_VERSION
    try:
        context.load_cert_chain(cert_path, key_path)
    except (ssl.SSLError, OSError) as exc:
        raise UserError(f"config key tls_cert: the certificate {cert_path} and key {key_path} cannot be used together "
                        f"({getattr(exc, 'reason', None) or exc}); check both files", field="tls_cert") from exc
    return context


def certificate_expiry(config: Config, home: Path) -> datetime.datetime | None:
    """When the certificate the node serves expires (None: it serves no TLS, or the file cannot be read now).

    Read again on every ``status``, so a renewal on disk shows (the server uses it after a restart)."""
    if config.tls_cert is None:
        return None
    try:
        chain = x509.load_pem_x509_certificates(config_path(home, config.tls_cert).read_bytes())
    except (OSError, ValueError):
        return None
    return chain[0].not_valid_after_utc if chain else None


def client_context(config: Config, home: Path) -> ssl.SSLContext | bool:
    """What outgoing connections to https:// partners use: a verifying context, or False (``tls_verify = false``)."""
    if not config.tls_verify:
        return False
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)  # system trust store, host name checked
    context.minimum_version = MIN_VERSION
    if config.tls_ca_file is not None:
        path, _ = _read(home, "tls_ca_file", config.tls_ca_file, "CA file")
        try:
            context.load_verify_locations(cafile=str(path))
        except (ssl.SSLError, ValueError) as exc:
            raise UserError(f"config key tls_ca_file: {path} holds no usable PEM CA certificate; point tls_ca_file at "
                            "the private CA's certificate (PEM)", field="tls_ca_file") from exc
    return context


def certificate_problem(verify_message: str | None, reason: str | None) -> str:
    """A partner's certificate refusal in plain words, with what the admin can do."""
    text = (verify_message or reason or "certificate verification failed").rstrip(".")
    if "expired" in text:
        advice = "the partner must renew its certificate"
    elif "hostname" in text.lower() or "ip address mismatch" in text.lower():
        advice = "the certificate is for another name: the partner's url must match its certificate"
    elif "self-signed" in text or "issuer" in text:
        advice = ("it is not signed by an authority this node trusts: if the partner uses a private CA, set tls_ca_file "
                  "in config.toml to that CA's certificate and restart")
    else:
        advice = "check the partner's certificate"
    return f"its TLS certificate was refused ({text}): {advice}"
