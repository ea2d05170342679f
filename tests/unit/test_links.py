"""When the kiosk hears that the network is back: rtnetlink address messages, as the
kernel sends them."""

from __future__ import annotations

import struct

from spicebox.net.links import RTM_DELADDR, RTM_NEWADDR, AddressWatch

RT_SCOPE_LINK = 253
RTM_NEWLINK = 16


def message(kind: int, scope: int = 0, attributes: bytes = b"") -> bytes:
    """A nlmsghdr and an ifaddrmsg (AF_INET, /24, interface 2), then rtattrs."""
    body = struct.pack("=BBBBI", 2, 24, 0, scope, 2) + attributes
    return struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body


ADDRESS = struct.pack("=HH4s", 8, 1, bytes([10, 0, 2, 15]))  # IFA_ADDRESS 10.0.2.15


def test_the_network_is_back_when_an_address_returns() -> None:
    watch = AddressWatch(connected=True)
    assert not watch.feed(message(RTM_NEWADDR, attributes=ADDRESS))  # a lease renewed
    assert not watch.feed(message(RTM_DELADDR, attributes=ADDRESS))  # the cable pulled
    assert not watch.feed(message(RTM_NEWADDR, RT_SCOPE_LINK))  # IPv6 link-local first
    assert watch.feed(message(RTM_NEWADDR, attributes=ADDRESS))  # DHCP again


def test_a_box_that_had_no_address_waits_for_its_first() -> None:
    watch = AddressWatch(connected=False)
    assert watch.feed(message(RTM_NEWLINK) + message(RTM_NEWADDR, attributes=ADDRESS))


def test_several_messages_in_one_read_are_all_seen() -> None:
    watch = AddressWatch(connected=True)
    assert watch.feed(message(RTM_DELADDR, attributes=ADDRESS) + message(RTM_NEWADDR))
    assert not watch.feed(message(RTM_NEWADDR) + message(RTM_DELADDR))  # lost again


def test_garbage_is_ignored() -> None:
    watch = AddressWatch(connected=False)
    assert not watch.feed(b"\x00" * 40)  # a zero length: the rest is not read
    assert not watch.feed(message(RTM_NEWADDR)[:20])  # cut short
    assert watch.feed(message(RTM_NEWADDR))
