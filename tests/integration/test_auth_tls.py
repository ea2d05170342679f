"""Ticket authentication and TLS verification against QEMU's SPICE server."""

from __future__ import annotations

from pathlib import Path

import pytest

from spicebox.config.target import Target, parse_uri
from spicebox.net.tls import TlsVerificationFailed
from spicebox.spice.errors import AuthenticationFailed
from tests.rig.certs import SERVER_SUBJECT, make_x509_dir
from tests.rig.client import ClientThread, assert_shows_guest_screen
from tests.rig.qemu import VGA_DEVICES, QemuServer

PASSWORD = "s3cret-ticket"
STD = VGA_DEVICES["std"]


def password_server() -> QemuServer:
    return QemuServer(STD, spice="password-secret=pw",
                      extra_objects=[f"secret,id=pw,data={PASSWORD}"])


def test_right_password_shows_screen() -> None:
    with password_server() as qemu, \
            ClientThread(parse_uri(qemu.uri()), password=PASSWORD) as client:
        assert_shows_guest_screen(client, qemu)


@pytest.mark.parametrize("password", ["wrong", ""])
def test_wrong_password_is_refused(password: str) -> None:
    with password_server() as qemu, \
            ClientThread(parse_uri(qemu.uri()), password=password) as client:
        error = client.wait_done(30)
        assert isinstance(error, AuthenticationFailed), error
        assert "password" in str(error)


@pytest.fixture(scope="module")
def x509_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("x509")
    make_x509_dir(directory)
    return directory


def tls_target(qemu: QemuServer, host: str = "localhost") -> Target:
    return Target(host=host, tls_port=qemu.tls_port)


@pytest.mark.parametrize("subject", [None, SERVER_SUBJECT, "CN=localhost, O=Spicebox Test, C=XX"])
def test_tls_with_trusted_ca(x509_dir: Path, subject: str | None) -> None:
    with QemuServer(STD, spice="disable-ticketing=on", tls_dir=x509_dir) as qemu, \
            ClientThread(tls_target(qemu), ca_file=str(x509_dir / "ca-cert.pem"),
                         host_subject=subject) as client:
        assert_shows_guest_screen(client, qemu)


def test_tls_wrong_host_subject_is_refused(x509_dir: Path) -> None:
    with QemuServer(STD, spice="disable-ticketing=on", tls_dir=x509_dir) as qemu, \
            ClientThread(tls_target(qemu), ca_file=str(x509_dir / "ca-cert.pem"),
                         host_subject="C=XX,O=Spicebox Test,CN=other-host") as client:
        error = client.wait_done(30)
        assert isinstance(error, TlsVerificationFailed), error
        assert "other-host" in str(error)


def test_tls_host_name_mismatch_is_refused(x509_dir: Path) -> None:
    # The certificate names "localhost"; the same server reached by its address is not it.
    with QemuServer(STD, spice="disable-ticketing=on", tls_dir=x509_dir) as qemu, \
            ClientThread(tls_target(qemu, "127.0.0.1"),
                         ca_file=str(x509_dir / "ca-cert.pem")) as client:
        error = client.wait_done(30)
        assert isinstance(error, TlsVerificationFailed), error
        assert "127.0.0.1" in str(error)


def test_tls_untrusted_certificate_is_refused(x509_dir: Path, tmp_path: Path) -> None:
    other_ca = make_x509_dir(tmp_path / "other", ca_name="Another CA")
    with QemuServer(STD, spice="disable-ticketing=on", tls_dir=x509_dir) as qemu, \
            ClientThread(tls_target(qemu), ca_file=str(other_ca)) as client:
        error = client.wait_done(30)
        assert isinstance(error, TlsVerificationFailed), error
