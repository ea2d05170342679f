from __future__ import annotations

import struct

import pytest

from spicebox.spice.constants import ChannelType, CommonCap, LinkError
from spicebox.spice.errors import AuthenticationFailed, LinkRefused, ProtocolError
from spicebox.spice.link import LINK_HEADER, LINK_MESS, LinkHandshake, caps_to_words, words_to_caps

from .server_bytes import decrypt_ticket, link_reply, link_result

COMMON = (CommonCap.PROTOCOL_AUTH_SELECTION, CommonCap.AUTH_SPICE, CommonCap.MINI_HEADER)


def handshake(password: str = "pw") -> LinkHandshake:
    return LinkHandshake(ChannelType.DISPLAY, 1, 0xABCD, password, COMMON, (5, 6, 40))


def test_link_message_layout() -> None:
    data = handshake().start()
    magic, major, minor, size = LINK_HEADER.unpack_from(data)
    assert (magic, major, minor, size) == (b"REDQ", 2, 2, len(data) - LINK_HEADER.size)
    conn, ctype, cid, n_common, n_chan, offset = LINK_MESS.unpack_from(data, LINK_HEADER.size)
    assert (conn, ctype, cid, n_common, n_chan, offset) == (0xABCD, 2, 1, 1, 2, LINK_MESS.size)
    words = struct.unpack_from("<3I", data, LINK_HEADER.size + offset)
    assert words_to_caps(words[:1]) == set(COMMON)
    assert words_to_caps(words[1:]) == {5, 6, 40}


def test_caps_words_round_trip() -> None:
    assert caps_to_words([0, 3, 33]) == [0b1001, 0b10]
    assert words_to_caps([0b1001, 0b10]) == {0, 3, 33}


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_full_handshake_in_any_chunking(chunk: int) -> None:
    link = handshake("secret")
    link.start()
    server = link_reply(channel=(1, 6)) + link_result() + b"first-message"
    out, fed = b"", 0
    while not link.done:
        out += link.receive_data(server[fed:fed + chunk])
        fed += chunk
    assert link.result is not None
    assert link.result.mini_header and link.result.channel_caps == {1, 6}
    (mechanism,) = struct.unpack_from("<I", out)
    assert mechanism == CommonCap.AUTH_SPICE
    assert decrypt_ticket(out[4:]) == "secret"
    assert link.leftover + server[fed:] == b"first-message"


def test_without_auth_selection_only_the_ticket_is_sent() -> None:
    link = handshake("")
    link.start()
    out = link.receive_data(link_reply(common=(CommonCap.AUTH_SPICE,)))
    assert len(out) == 128 and decrypt_ticket(out) == ""


def test_wrong_password() -> None:
    link = handshake()
    link.start()
    link.receive_data(link_reply())
    with pytest.raises(AuthenticationFailed, match="password"):
        link.receive_data(link_result(LinkError.PERMISSION_DENIED))


def test_reply_error_explains_tls() -> None:
    link = handshake()
    link.start()
    with pytest.raises(LinkRefused, match="tls-port") as info:
        link.receive_data(link_reply(error=LinkError.NEED_SECURED))
    assert info.value.code == LinkError.NEED_SECURED


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 400 Bad Request\r\n\r\n",
    LINK_HEADER.pack(b"REDQ", 1, 0, 200) + bytes(200),
    LINK_HEADER.pack(b"REDQ", 2, 2, 10**9),
    LINK_HEADER.pack(b"REDQ", 2, 2, 4),
])
def test_malformed_reply_is_a_protocol_error(reply: bytes) -> None:
    link = handshake()
    link.start()
    with pytest.raises(ProtocolError):
        link.receive_data(reply)


def test_caps_outside_reply() -> None:
    reply = bytearray(link_reply())
    struct.pack_into("<I", reply, LINK_HEADER.size + 4 + 162, 1000)  # common cap count
    link = handshake()
    link.start()
    with pytest.raises(ProtocolError, match="capability"):
        link.receive_data(bytes(reply))


def test_truncated_reply_waits_without_output() -> None:
    link = handshake()
    link.start()
    assert link.receive_data(link_reply()[:100]) == b""
    assert not link.done


def test_overlong_password_is_refused_before_connecting() -> None:
    with pytest.raises(ValueError, match="60"):
        handshake("x" * 61)


def test_unusable_ticket_key_is_a_protocol_error() -> None:
    reply = bytearray(link_reply())
    reply[LINK_HEADER.size + 4:LINK_HEADER.size + 4 + 162] = b"\x30" * 162
    link = handshake()
    link.start()
    with pytest.raises(ProtocolError, match="ticket key"):
        link.receive_data(bytes(reply))
