"""What a SPICE server would send, built with the project's own encoders, for unit tests,
and what a channel sent back, decoded."""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from spicebox.spice.channel import Channel
from spicebox.spice.constants import MAGIC, CommonCap, LinkError
from spicebox.spice.framing import MINI_HEADER, Framer
from spicebox.spice.link import LINK_HEADER, LINK_REPLY, caps_to_words
from spicebox.spice.wire import CLIENT, Message, decode, encode, lookup

SERVER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)
SERVER_COMMON = (CommonCap.PROTOCOL_AUTH_SELECTION, CommonCap.AUTH_SPICE, CommonCap.MINI_HEADER)


def link_reply(common: tuple[int, ...] = SERVER_COMMON, channel: tuple[int, ...] = (),
               error: int = LinkError.OK) -> bytes:
    key = SERVER_KEY.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    cw, hw = caps_to_words(common), caps_to_words(channel)
    body = LINK_REPLY.pack(error, key, len(cw), len(hw), LINK_REPLY.size)
    body += struct.pack(f"<{len(cw) + len(hw)}I", *cw, *hw)
    return LINK_HEADER.pack(MAGIC, 2, 2, len(body)) + body


def decrypt_ticket(ticket: bytes) -> str:
    sha1 = hashes.SHA1()
    plain = SERVER_KEY.decrypt(ticket, padding.OAEP(mgf=padding.MGF1(sha1), algorithm=sha1,
                                                    label=None))
    assert plain.endswith(b"\0")
    return plain[:-1].decode()


def link_result(code: int = LinkError.OK) -> bytes:
    return struct.pack("<I", code)


def frame(msg: Message) -> bytes:
    body = encode(msg)
    return MINI_HEADER.pack(msg.spec.number, len(body)) + body


def raw_frame(msg_type: int, body: bytes) -> bytes:
    return MINI_HEADER.pack(msg_type, len(body)) + body


def sent(channel: Channel) -> list[Message]:
    """The messages ``channel`` queued since it was last asked (mini headers)."""
    out: list[Message] = []
    for msg_type, body, _ in Framer(True).feed(channel.data_to_send()):
        spec = lookup(CLIENT, channel.channel_type, msg_type)
        assert spec is not None, msg_type
        out.append(decode(spec.cls, body))
    return out
