"""TLS for SPICE, verified the way spice-gtk verifies it.

Trust: the CA the user gives (``--ca-file`` or the ``.vv`` file's ``ca``), and only that CA;
the system store when none is given. Identity: the host name, or, when the user names one,
the certificate subject (virt-viewer's ``host-subject``). ``TlsVerifier`` keeps both
decisions together so no caller can enable one and forget the other.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config.target import ConfigError

if TYPE_CHECKING:
    from cryptography import x509


class TlsVerificationFailed(Exception):
    """The server's certificate is not trusted or does not name the expected server."""


# The keys OpenSSL prints in one-line subjects, which is what users copy into host-subject,
# and their OIDs. Written out, not taken from cryptography's NameOID: its x509 module costs
# the client 1.3 MiB more than the RSA it needs anyway, and only a subject check or
# setup's certificate page needs it.
_SHORT_NAMES = {
    "C": "2.5.4.6", "ST": "2.5.4.8", "L": "2.5.4.7", "STREET": "2.5.4.9", "O": "2.5.4.10",
    "OU": "2.5.4.11", "CN": "2.5.4.3", "SERIALNUMBER": "2.5.4.5",
    "DC": "0.9.2342.19200300.100.1.25", "UID": "0.9.2342.19200300.100.1.1",
    "EMAILADDRESS": "1.2.840.113549.1.9.1", "E": "1.2.840.113549.1.9.1",
}

Subject = list[tuple[str, str]]


def _canonical(value: str) -> str:
    # OpenSSL compares names in a canonical form: case-folded, inner whitespace collapsed.
    return " ".join(value.split()).casefold()


def parse_subject(text: str) -> Subject:
    """'C=IL, O=Red Hat, CN=host' -> sorted (OID, canonical value) pairs; a backslash
    escapes the next character (e.g. a comma inside a value)."""
    fields: list[str] = []
    field, escaped = "", False
    for ch in text:
        if escaped:
            field, escaped = field + ch, False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            fields.append(field)
            field = ""
        else:
            field += ch
    fields.append(field)
    pairs: Subject = []
    for item in fields:
        key, sep, value = item.partition("=")
        oid = _SHORT_NAMES.get(key.strip().upper())
        if not sep or oid is None:
            raise ConfigError(f"host-subject {text!r} is not of the form 'C=..,O=..,CN=..' "
                              f"(keys: {', '.join(sorted(_SHORT_NAMES))})")
        pairs.append((oid, _canonical(value)))
    return sorted(pairs)


@dataclass(frozen=True)
class TlsVerifier:
    context: ssl.SSLContext
    subject: Subject | None  # None: the host name identifies the server
    subject_text: str | None
    fingerprint: str | None = None  # set: only the certificate with this SHA-256 passes

    @classmethod
    def unverified(cls) -> TlsVerifier:
        """For looking at a server's certificate before deciding to trust it; never for a
        session on its own."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return cls(context, None, None)

    @classmethod
    def create(cls, ca_pem: str | None, ca_file: str | None, host_subject: str | None,
               fingerprint: str | None = None) -> TlsVerifier:
        """Raises ConfigError for an unreadable CA or a malformed host-subject.

        With a ``fingerprint`` (trust on first use) the server is the one whose
        certificate has exactly that SHA-256, as an SSH client knows its hosts: no CA,
        name or expiry enters into it, and nothing else passes."""
        if fingerprint is not None:
            return cls(cls.unverified().context, None, None, fingerprint)
        subject = parse_subject(host_subject) if host_subject is not None else None
        if ca_file or ca_pem:
            # Only the given CA: a certificate from any public CA must not pass for the server.
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            try:
                context.load_verify_locations(cafile=ca_file, cadata=ca_pem)
            except (ssl.SSLError, OSError, ValueError) as exc:
                source = ca_file or "the .vv file's ca="
                raise ConfigError(f"cannot load the CA certificate from {source}: "
                                  f"{getattr(exc, 'strerror', None) or exc}") from None
        else:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        context.check_hostname = subject is None
        context.verify_mode = ssl.CERT_REQUIRED
        return cls(context, subject, host_subject)

    def check_peer(self, ssl_object: ssl.SSLObject | ssl.SSLSocket) -> None:
        """The pin or the subject check, after a handshake that verified the rest."""
        if self.subject is None and self.fingerprint is None:
            return
        der = ssl_object.getpeercert(binary_form=True)
        if der is None:
            raise TlsVerificationFailed("the server sent no certificate")
        if self.fingerprint is not None:
            seen = ServerCertificate(der).fingerprint
            if seen != self.fingerprint:
                raise TlsVerificationFailed(
                    f"the server's certificate is not the one trusted (SHA-256 {seen[:23]}…"
                    f" instead of {self.fingerprint[:23]}…): if the server has a new "
                    f"certificate, trust it again in setup; else someone may be in between")
            return
        assert self.subject is not None
        cert = _load(der)
        actual = sorted((a.oid.dotted_string, _canonical(str(a.value))) for a in cert.subject)
        if actual != self.subject:
            raise TlsVerificationFailed(
                f"the server's certificate subject '{cert.subject.rfc4514_string()}' does not "
                f"match host-subject '{self.subject_text}': check host-subject, or the server")


@dataclass(frozen=True)
class ServerCertificate:
    """A server's certificate as trust on first use shows it, to be compared with what
    the server's administrator reads out (``openssl x509 -fingerprint -sha256``)."""

    der: bytes

    @property
    def _cert(self) -> x509.Certificate:
        return _load(self.der)

    @property
    def pem(self) -> str:
        return ssl.DER_cert_to_PEM_cert(self.der)

    @property
    def fingerprint(self) -> str:
        return ":".join(f"{b:02X}" for b in hashlib.sha256(self.der).digest())

    @property
    def subject(self) -> str:
        """In host-subject form (OpenSSL's one-line order and keys)."""
        return _one_line(self._cert.subject)

    @property
    def issuer(self) -> str:
        return _one_line(self._cert.issuer)

    @property
    def expires(self) -> str:
        return self._cert.not_valid_after_utc.strftime("%Y-%m-%d")


_SHORT_OF = {oid: key for key, oid in _SHORT_NAMES.items() if key != "E"}


def _load(der: bytes) -> x509.Certificate:
    from cryptography import x509  # noqa: PLC0415 - see _SHORT_NAMES
    return x509.load_der_x509_certificate(der)


def parse_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as OpenSSL or a browser shows it (colons or not, any case)
    in the form ServerCertificate gives."""
    digits = text.replace(":", "").replace(" ", "").upper()
    if len(digits) != 64 or any(c not in "0123456789ABCDEF" for c in digits):
        raise ConfigError("a SHA-256 fingerprint (64 hex digits, colons allowed) is expected")
    return ":".join(digits[i:i + 2] for i in range(0, 64, 2))


def _one_line(name: x509.Name) -> str:
    parts = []
    for attribute in name:
        key = _SHORT_OF.get(attribute.oid.dotted_string, attribute.oid.dotted_string)
        value = str(attribute.value).replace("\\", "\\\\").replace(",", "\\,")
        parts.append(f"{key}={value}")
    return ",".join(parts)
