"""The ticket every SPICE channel link sends: the password, RSA-OAEP encrypted (SHA-1 and
MGF1-SHA-1, RFC 8017 section 7.1) with the 1024-bit key in the server's link reply.

Written out rather than taken from cryptography: that is one public-key operation per
channel, and importing cryptography's bindings for it costs a session 7 MiB of resident
memory. Only the public key is involved, so there is no secret to keep from timing; the
tests decrypt with cryptography's private-key implementation.
"""

from __future__ import annotations

import hashlib
import os

from .errors import ProtocolError

# DER of AlgorithmIdentifier's OID 1.2.840.113549.1.1.1 (rsaEncryption).
_RSA_ENCRYPTION = bytes.fromhex("2a864886f70d010101")
_SEQUENCE, _INTEGER, _BIT_STRING, _NULL, _OID = 0x30, 0x02, 0x03, 0x05, 0x06
_HASH_BYTES = 20  # SHA-1
_EMPTY_LABEL_HASH = hashlib.sha1(b"").digest()
# spice-server's key is 1024 bits; a key this small or large is not a server's.
MIN_KEY_BITS, MAX_KEY_BITS = 512, 8192


def encrypt_ticket(public_key_der: bytes, password: str) -> bytes:
    """RSA-OAEP of the NUL-terminated password, as spice-server decrypts it."""
    n, e = rsa_public_key(public_key_der)
    size = (n.bit_length() + 7) // 8
    message = password.encode() + b"\0"
    if len(message) > size - 2 * _HASH_BYTES - 2:
        raise ProtocolError("the password is too long for the server's ticket key")
    block = (_EMPTY_LABEL_HASH + bytes(size - len(message) - 2 * _HASH_BYTES - 2) + b"\x01"
             + message)
    seed = os.urandom(_HASH_BYTES)
    masked_block = _xor(block, _mgf1(seed, len(block)))
    masked_seed = _xor(seed, _mgf1(masked_block, _HASH_BYTES))
    encoded = int.from_bytes(b"\0" + masked_seed + masked_block, "big")
    return pow(encoded, e, n).to_bytes(size, "big")


def rsa_public_key(der: bytes) -> tuple[int, int]:
    """Modulus and exponent of a DER SubjectPublicKeyInfo holding an RSA key."""
    info, rest = _element(der, _SEQUENCE)
    _no_more(rest)
    algorithm, info = _element(info, _SEQUENCE)
    oid, parameters = _element(algorithm, _OID)
    if oid != _RSA_ENCRYPTION:
        raise ProtocolError("the server's ticket key is not an RSA key")
    if parameters:  # absent, or NULL
        null, parameters = _element(parameters, _NULL)
        _no_more(null + parameters)
    bits, info = _element(info, _BIT_STRING)
    _no_more(info)
    if not bits or bits[0] != 0:
        raise _unusable("its key bits are not whole bytes")
    key, rest = _element(bits[1:], _SEQUENCE)
    _no_more(rest)
    n, key = _integer(key)
    e, key = _integer(key)
    _no_more(key)
    if not MIN_KEY_BITS <= n.bit_length() <= MAX_KEY_BITS or n % 2 == 0:
        raise _unusable(f"a {n.bit_length()}-bit modulus")
    if not 3 <= e < n or e % 2 == 0:
        raise _unusable("its public exponent is impossible")
    return n, e


def _mgf1(seed: bytes, length: int) -> bytes:
    out = b"".join(hashlib.sha1(seed + counter.to_bytes(4, "big")).digest()
                   for counter in range((length + _HASH_BYTES - 1) // _HASH_BYTES))
    return out[:length]


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _element(data: bytes, tag: int) -> tuple[bytes, bytes]:
    """The content of the DER element ``data`` starts with, which must be a ``tag``, and
    what follows it."""
    if len(data) < 2 or data[0] != tag:
        raise _unusable("it is not DER of the expected shape")
    length, start = data[1], 2
    if length & 0x80:  # long form: the next (length & 0x7F) bytes hold the length
        count = length & 0x7F
        if not 1 <= count <= 4 or len(data) < 2 + count or data[2] == 0:
            raise _unusable("a DER length is malformed")
        length, start = int.from_bytes(data[2:2 + count], "big"), 2 + count
        if length < 0x80:
            raise _unusable("a DER length is malformed")
    if len(data) < start + length:
        raise _unusable("it is cut short")
    return data[start:start + length], data[start + length:]


def _integer(data: bytes) -> tuple[int, bytes]:
    content, rest = _element(data, _INTEGER)
    if not content or content[0] & 0x80:
        raise _unusable("a key number is negative or empty")
    return int.from_bytes(content, "big"), rest


def _no_more(rest: bytes) -> None:
    if rest:
        raise _unusable("it has bytes past its end")


def _unusable(why: str) -> ProtocolError:
    return ProtocolError(f"the server's ticket key is unusable: {why}")
