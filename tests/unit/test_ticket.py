"""The ticket's RSA-OAEP, decrypted by cryptography's own implementation."""

from __future__ import annotations

import contextlib
import random

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from spicebox.spice.errors import ProtocolError
from spicebox.spice.ticket import encrypt_ticket, rsa_public_key

_KEYS: dict[tuple[int, int], rsa.RSAPrivateKey] = {}


def private_key(bits: int = 1024, exponent: int = 65537) -> rsa.RSAPrivateKey:
    if (bits, exponent) not in _KEYS:
        _KEYS[bits, exponent] = rsa.generate_private_key(exponent, bits)
    return _KEYS[bits, exponent]


def der(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def decrypt(key: rsa.RSAPrivateKey, ticket: bytes) -> bytes:
    sha1 = hashes.SHA1()
    return key.decrypt(ticket, padding.OAEP(mgf=padding.MGF1(sha1), algorithm=sha1,
                                            label=None))


@pytest.mark.parametrize(("bits", "exponent"), [(1024, 65537), (2048, 65537), (1024, 3)])
@pytest.mark.parametrize("password", ["", "secret", "\u00e9t\u00e9 \u2603", "x" * 60])
def test_the_server_decrypts_the_password(bits: int, exponent: int, password: str) -> None:
    key = private_key(bits, exponent)
    ticket = encrypt_ticket(der(key), password)
    assert len(ticket) == bits // 8
    assert decrypt(key, ticket) == password.encode() + b"\0"


def test_each_ticket_is_padded_afresh() -> None:
    key = der(private_key())
    assert encrypt_ticket(key, "secret") != encrypt_ticket(key, "secret")


def test_the_key_is_read_as_cryptography_reads_it() -> None:
    numbers = private_key().public_key().public_numbers()
    assert rsa_public_key(der(private_key())) == (numbers.n, numbers.e)


def test_a_key_of_another_kind_is_refused() -> None:
    with pytest.raises(ProtocolError, match="not an RSA key"):
        encrypt_ticket(der(ec.generate_private_key(ec.SECP256R1())), "secret")


def test_a_password_the_key_cannot_hold_is_refused() -> None:
    with pytest.raises(ProtocolError, match="too long"):
        encrypt_ticket(der(private_key(1024)), "x" * 100)


def test_every_cut_of_the_key_is_a_protocol_error() -> None:
    key = der(private_key())
    for end in range(len(key)):
        with pytest.raises(ProtocolError, match="ticket key"):
            rsa_public_key(key[:end])
    with pytest.raises(ProtocolError, match="past its end"):
        rsa_public_key(key + b"\0")


def test_damaged_keys_give_protocol_errors_or_keys() -> None:
    """Whatever a server sends as its key, the link fails with a ProtocolError or
    encrypts (a flipped bit inside the modulus still makes a key)."""
    key = der(private_key())
    rng = random.Random(4)
    for _ in range(2000):
        damaged = bytearray(key)
        for _ in range(rng.randint(1, 3)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        with contextlib.suppress(ProtocolError):
            encrypt_ticket(bytes(damaged), "secret")
