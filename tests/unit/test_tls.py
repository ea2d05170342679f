from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from spicebox.config.target import ConfigError
from spicebox.net.tls import (
    ServerCertificate,
    TlsVerificationFailed,
    TlsVerifier,
    parse_fingerprint,
    parse_subject,
)
from tests.rig.certs import SERVER_SUBJECT, make_x509_dir


def test_subject_order_and_spacing_do_not_matter() -> None:
    assert parse_subject("C=XX, O=Org,CN=host") == parse_subject("CN=host,O=Org,C=XX")


def test_escaped_comma_stays_in_value() -> None:
    assert ("2.5.4.10", "org, inc") in parse_subject("O=Org\\, Inc,CN=h")


def test_values_compare_like_openssl() -> None:
    assert parse_subject("O=Red  Hat, CN=Host") == parse_subject("O=red hat,CN=host")


@pytest.mark.parametrize("text", ["CN", "XYZ=1", ""])
def test_malformed_subject(text: str) -> None:
    with pytest.raises(ConfigError, match="host-subject"):
        parse_subject(text)


def test_a_given_ca_is_the_only_trust(tmp_path: Path) -> None:
    ca_file = make_x509_dir(tmp_path)
    verifier = TlsVerifier.create(None, str(ca_file), None)
    assert len(verifier.context.get_ca_certs()) == 1
    assert verifier.context.check_hostname and verifier.subject is None


def test_host_subject_replaces_the_host_name_check(tmp_path: Path) -> None:
    verifier = TlsVerifier.create(None, str(make_x509_dir(tmp_path)), "CN=x")
    assert not verifier.context.check_hostname
    assert verifier.context.verify_mode == ssl.CERT_REQUIRED


def test_trust_on_first_use_pins_one_certificate(tmp_path: Path) -> None:
    """The fingerprint alone decides: the right certificate passes whatever its CA and
    name, another one fails with a line that says what to do."""
    make_x509_dir(tmp_path)
    pem = (tmp_path / "server-cert.pem").read_text()
    certificate = ServerCertificate(ssl.PEM_cert_to_DER_cert(pem))
    assert certificate.subject == SERVER_SUBJECT
    assert certificate.issuer == "C=XX,O=Spicebox Test,CN=Spicebox Test CA"
    assert parse_fingerprint(certificate.fingerprint.lower().replace(":", "")) == \
        certificate.fingerprint
    verifier = TlsVerifier.create(None, None, None, certificate.fingerprint)
    assert verifier.context.verify_mode == ssl.CERT_NONE  # the pin replaces the chain

    class Peer:
        def __init__(self, der: bytes) -> None:
            self.der = der

        def getpeercert(self, binary_form: bool) -> bytes:
            return self.der
    verifier.check_peer(Peer(certificate.der))  # type: ignore[arg-type]
    make_x509_dir(tmp_path / "other")
    other = tmp_path / "other" / "server-cert.pem"
    with pytest.raises(TlsVerificationFailed, match="trust it again in setup"):
        verifier.check_peer(Peer(ssl.PEM_cert_to_DER_cert(other.read_text())))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="64 hex digits"):
        parse_fingerprint("AB:CD")


def test_the_subject_keys_oids_are_x509s_and_x509_loads_only_when_needed() -> None:
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    from spicebox.net import tls  # noqa: PLC0415
    expected = {
        key: oid.dotted_string for key, oid in (
            ("C", NameOID.COUNTRY_NAME), ("ST", NameOID.STATE_OR_PROVINCE_NAME),
            ("L", NameOID.LOCALITY_NAME), ("STREET", NameOID.STREET_ADDRESS),
            ("O", NameOID.ORGANIZATION_NAME), ("OU", NameOID.ORGANIZATIONAL_UNIT_NAME),
            ("CN", NameOID.COMMON_NAME), ("SERIALNUMBER", NameOID.SERIAL_NUMBER),
            ("DC", NameOID.DOMAIN_COMPONENT), ("UID", NameOID.USER_ID),
            ("EMAILADDRESS", NameOID.EMAIL_ADDRESS), ("E", NameOID.EMAIL_ADDRESS))}
    assert dict(tls._SHORT_NAMES) == expected
    # A session without a host-subject check never needs it.
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, spicebox.cli, spicebox.session; "
                               "print('cryptography.x509' in sys.modules)"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert imported == "False"
