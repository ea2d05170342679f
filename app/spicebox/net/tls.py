"""TLS for SPICE: verify against the given CA (or the system store), and check either the
host name or, when the user names one, the certificate subject (virt-viewer's host-subject)."""

from __future__ import annotations

import ssl

from cryptography import x509
from cryptography.x509.oid import NameOID

from ..config.target import ConfigError


class TlsVerificationFailed(Exception):
    """The server's certificate is not trusted or does not name the expected server."""


# The keys OpenSSL prints in one-line subjects, which is what users copy into host-subject.
_SHORT_NAMES = {
    "C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME, "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME,
    "EMAILADDRESS": NameOID.EMAIL_ADDRESS, "E": NameOID.EMAIL_ADDRESS,
}


def make_context(ca_pem: str | None, ca_file: str | None,
                 host_subject: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_file or ca_pem:
        try:
            context.load_verify_locations(cafile=ca_file, cadata=ca_pem)
        except (ssl.SSLError, OSError, ValueError) as exc:
            source = ca_file or "the .vv file's ca="
            raise ConfigError(f"cannot load the CA certificate from {source}: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None
    # With a host-subject the subject is the identity to check, as in spice-gtk; the chain
    # is still verified against the CA either way.
    context.check_hostname = host_subject is None
    return context


def parse_subject(text: str) -> list[tuple[str, str]]:
    """'C=IL, O=Red Hat, CN=host' -> sorted (OID dotted string, value) pairs; ',' may be
    escaped with a backslash inside a value."""
    pairs: list[tuple[str, str]] = []
    field, escaped = "", False
    fields: list[str] = []
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
    for item in fields:
        key, sep, value = item.partition("=")
        oid = _SHORT_NAMES.get(key.strip().upper())
        if not sep or oid is None:
            raise TlsVerificationFailed(f"host-subject {text!r} is not of the form "
                                        f"'C=..,O=..,CN=..'")
        pairs.append((oid.dotted_string, value.strip()))
    return sorted(pairs)


def check_subject(peer_cert_der: bytes | None, host_subject: str) -> None:
    if peer_cert_der is None:
        raise TlsVerificationFailed("the server sent no certificate")
    cert = x509.load_der_x509_certificate(peer_cert_der)
    actual = sorted((a.oid.dotted_string, str(a.value)) for a in cert.subject)
    if actual != parse_subject(host_subject):
        raise TlsVerificationFailed(
            f"the server's certificate subject '{cert.subject.rfc4514_string()}' does not "
            f"match host-subject '{host_subject}': check host-subject, or the server")
