"""When the kiosk hears that the network is back: rtnetlink address messages, as the
kernel sends them; and its first connection at boot, which waits for an address."""

from __future__ import annotations

import asyncio
import struct

import pytest

from spicebox import cli
from spicebox.net.interfaces import Interface
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


def test_the_kiosk_waits_for_an_address_before_its_first_connection(
        monkeypatch: pytest.MonkeyPatch) -> None:
    woken: list[str] = []

    async def address_added(up_now_counts: bool) -> None:
        assert up_now_counts  # an address that came since the first look counts
        woken.append("network back")
    monkeypatch.setattr(cli, "network_back", address_added)
    monkeypatch.setattr(cli, "interfaces", lambda: [Interface("eth0", "up", ())])
    asyncio.run(cli._network(30))
    assert woken == ["network back"]
    monkeypatch.setattr(cli, "interfaces", lambda: [Interface("eth0", "up", ("10.0.2.15",))])
    asyncio.run(cli._network(30))  # already there: no waiting
    assert woken == ["network back"]


def test_without_a_network_the_kiosk_connects_anyway(monkeypatch: pytest.MonkeyPatch) -> None:
    async def never(up_now_counts: bool) -> None:
        await asyncio.Event().wait()
    monkeypatch.setattr(cli, "network_back", never)
    monkeypatch.setattr(cli, "interfaces", lambda: [])
    asyncio.run(cli._network(0.05))  # returns: the reconnect screen takes it from there
