"""Finding the provisioning site on the network: the DNS SRV question and answer (a real
dnsmasq answers in the integration suite), and the DHCP option as NetworkManager shows it
(a real dbus-daemon carries it there)."""

from __future__ import annotations

import struct

import pytest

from spicebox.provisioning.dns import Srv, parse_srv, query, resolv_conf

NAME = "_spicebox._tcp.example.test"


def answer(ident: int, records: list[tuple[int, int, int, bytes]], rcode: int = 0) -> bytes:
    """A reply to query(NAME, ident), each record's name a pointer to the question's,
    and each target written out (the last one's tail compressed to the question's)."""
    question = query(NAME, ident)[12:]
    body = b""
    for priority, weight, port, target in records:
        rdata = struct.pack(">HHH", priority, weight, port) + target
        body += b"\xc0\x0c" + struct.pack(">HHIH", 33, 1, 60, len(rdata)) + rdata
    return struct.pack(">HHHHHH", ident, 0x8180 | rcode, 1, len(records), 0, 0) + question \
        + body


def test_the_question_asks_for_srv_records_recursively() -> None:
    packet = query(NAME, 0x1234)
    assert packet[:4] == b"\x12\x34\x01\x00"
    assert packet[12:] == b"\x09_spicebox\x04_tcp\x07example\x04test\x00\x00\x21\x00\x01"


def test_the_answers_are_read_with_compressed_names() -> None:
    records = parse_srv(answer(7, [(10, 5, 8443, b"\x05sites\x07example\x04test\x00"),
                                   (20, 0, 443, b"\x06backup\xc0\x1b")]), 7)
    assert records == [Srv(10, 5, 8443, "sites.example.test"),
                       Srv(20, 0, 443, "backup.example.test")]


def test_a_name_without_the_record_has_none() -> None:
    assert parse_srv(answer(7, [], rcode=3), 7) == []


@pytest.mark.parametrize(("reply", "problem"), [
    (answer(8, []), "not the answer"),
    (answer(7, [], rcode=2), "error 2"),
    (answer(7, [(1, 1, 1, b"\x05sites\x07exam")]), "cut short"),
    (answer(7, [(1, 1, 1, b"\xc0\x2d")])[:-1], "cut short"),
    (answer(7, [(1, 1, 1, b"\xc0\x3f")]), "loop"),
    (b"\x00\x07", "cut short"),
])
def test_a_malformed_reply_is_refused(reply: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_srv(reply, 7)


def test_resolv_conf_gives_servers_and_the_last_search_line() -> None:
    assert resolv_conf("# NM\nnameserver 10.0.2.3\nnameserver ::1 # v6\ndomain old\n"
                       "search example.test lab.test\n") == (
        ["10.0.2.3", "::1"], ["example.test", "lab.test"])


def test_the_dhcp_option_is_read_as_hex_or_text_and_must_be_an_address() -> None:
    from spicebox.provisioning.dhcp import site_in  # noqa: PLC0415

    hexed = ":".join(f"{b:02x}" for b in b"https://a.example/\0")
    assert site_in([{"domain_name": "x"}, {"private_224": hexed}]) == "https://a.example/"
    assert site_in([{"private_224": "http://b.example"}]) == "http://b.example"
    assert site_in([{"private_224": "ftp://c.example"}, {}]) is None
    assert site_in([]) is None
