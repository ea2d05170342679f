"""usbredir as usbredirparser.c speaks it: every packet round-trips in the direction it
flows, the layouts follow the capabilities both ends have, and a malformed packet is an
error that says what is wrong."""

from __future__ import annotations

import contextlib
import random
import struct

import pytest

from spicebox.spice import usbredir as u
from spicebox.spice.usbredir import Cap, UsbredirError, UsbredirParser

IN, OUT = 0x81, 0x02

TO_GUEST: list[u.Packet] = [
    u.DeviceConnect(u.Speed.HIGH, 0, 0, 0, 0x46F4, 0x0001, 0x0200),
    u.DeviceDisconnect(),
    u.InterfaceInfo((u.Interface(0, 8, 6, 80), u.Interface(1, 3, 1, 1))),
    u.EpInfo(tuple(u.Endpoint(u.TransferType.BULK, 0, 0, 512, 0) if i in (0x01, 0x12)
                   else u.Endpoint() for i in range(32))),
    u.ConfigurationStatus(u.Status.SUCCESS, 1),
    u.AltSettingStatus(u.Status.SUCCESS, 0, 1),
    u.IsoStreamStatus(u.Status.STALL, 0x83),
    u.InterruptReceivingStatus(u.Status.SUCCESS, 0x84),
    u.BulkStreamsStatus(0b110, 4, u.Status.SUCCESS),
    u.FilterFilter("0x03,-1,-1,-1,0|-1,-1,-1,-1,1"),
    u.BulkReceivingStatus(1, 0x81, u.Status.SUCCESS),
    u.ControlPacket(0x80, 6, 0x80, u.Status.SUCCESS, 0x0100, 0, 3, b"\x12\x01\x00"),
    u.ControlPacket(0x00, 9, 0x00, u.Status.SUCCESS, 1, 0, 0),
    u.BulkPacket(IN, u.Status.SUCCESS, 4, 0, b"data"),
    u.BulkPacket(OUT, u.Status.SUCCESS, 70000),  # the answer to a 70000-byte write
    u.IsoPacket(0x83, u.Status.SUCCESS, 2, b"\x01\x02"),
    u.InterruptPacket(0x84, u.Status.SUCCESS, 1, b"\x07"),
    u.BufferedBulkPacket(1, 3, 0x81, u.Status.SUCCESS, b"abc"),
]
TO_HOST: list[u.Packet] = [
    u.Reset(), u.SetConfiguration(1), u.GetConfiguration(), u.SetAltSetting(0, 1),
    u.GetAltSetting(0), u.StartIsoStream(0x83, 8, 4), u.StopIsoStream(0x83),
    u.StartInterruptReceiving(0x84), u.StopInterruptReceiving(0x84),
    u.AllocBulkStreams(0b110, 4), u.FreeBulkStreams(0b110), u.CancelDataPacket(),
    u.FilterReject(), u.FilterFilter("-1,-1,-1,-1,1"), u.DeviceDisconnectAck(),
    u.StartBulkReceiving(1, 16384, 0x81, 4), u.StopBulkReceiving(1, 0x81),
    u.ControlPacket(0x80, 6, 0x80, 0, 0x0100, 0, 18),  # a read: the length asked for
    u.ControlPacket(0x00, 9, 0x00, 0, 1, 0, 2, b"\x01\x02"),
    u.BulkPacket(OUT, 0, 70000, 0, bytes(70000)),
    u.BulkPacket(IN, 0, 65536),
    u.IsoPacket(0x03, 0, 2, b"\x05\x06"),
    u.InterruptPacket(0x04, 0, 1, b"\x09"),
]


def pair(host_caps: frozenset[int] | None = None,
         guest_caps: frozenset[int] | None = None) -> tuple[UsbredirParser, UsbredirParser]:
    host, guest = UsbredirParser(True, host_caps), UsbredirParser(False, guest_caps)
    assert guest.receive_data(host.hello())[0][1] == u.Hello(u.VERSION, host.caps)
    assert host.receive_data(guest.hello())[0][1] == u.Hello(u.VERSION, guest.caps)
    return host, guest


def test_every_packet_round_trips_the_way_it_flows() -> None:
    host, guest = pair()
    for packet_id, packet in enumerate(TO_GUEST, start=2**40):  # 64-bit ids agreed
        assert guest.receive_data(host.send(packet, packet_id)) == [(packet_id, packet)]
    for packet_id, packet in enumerate(TO_HOST):
        assert host.receive_data(guest.send(packet, packet_id)) == [(packet_id, packet)]


def test_without_capabilities_the_short_layouts_are_used() -> None:
    host, guest = pair(host_caps=frozenset(), guest_caps=frozenset(Cap))
    connect = host.send(u.DeviceConnect(u.Speed.FULL, 0, 0, 0, 1, 2, 0x0110))
    assert len(connect) == 12 + 8  # 32-bit id header, no device_version_bcd
    assert guest.receive_data(connect) == [(0, u.DeviceConnect(u.Speed.FULL, 0, 0, 0, 1, 2))]
    assert len(host.send(u.EpInfo(()))) == 12 + 96
    with pytest.raises(ValueError, match="needs 32-bit lengths"):
        host.send(u.BulkPacket(IN, 0, 70000, 0, bytes(70000)))
    with pytest.raises(ValueError, match="needs 64-bit ids"):
        host.send(u.DeviceDisconnect(), 2**33)


def test_ep_info_with_packet_sizes_but_no_streams() -> None:
    caps = frozenset(Cap) - {Cap.BULK_STREAMS}
    host, guest = pair(caps, caps)
    eps = tuple(u.Endpoint(u.TransferType.BULK, 0, 0, 64, 0) for _ in range(32))
    data = host.send(u.EpInfo(eps))
    assert len(data) == 16 + 96 + 64
    assert guest.receive_data(data) == [(0, u.EpInfo(eps))]


def test_bytes_may_arrive_in_any_pieces() -> None:
    host, guest = pair()
    stream = b"".join(guest.send(p, i) for i, p in enumerate(TO_HOST))
    got = []
    for i in range(0, len(stream), 7):
        got += host.receive_data(stream[i:i + 7])
    assert [p for _, p in got] == TO_HOST


def header(kind: int, length: int, packet_id: int = 0) -> bytes:
    return struct.pack("<IIQ", kind, length, packet_id)


@pytest.mark.parametrize(("data", "message"), [
    (header(99, 0), "unknown usbredir packet type 99"),
    (header(1, 10), "DeviceConnect sent the wrong way"),
    (header(6, 0), "SetConfiguration of 0 bytes, where its header takes 1"),
    (header(7, 4) + b"xxxx", "GetConfiguration of 4 bytes, where its header takes 0"),
    (header(101, 10) + struct.pack("<BBHIH", OUT, 0, 4, 0, 0) + b"",
     "says 4 bytes and carries 0"),
    (header(101, 14) + struct.pack("<BBHIH", IN, 0, 4, 0, 0) + b"abcd",
     "carries data the wrong way"),
    (header(102, 4) + struct.pack("<BBH", 0x83, 0, 4), "IsoPacket sent the wrong way"),
    (header(103, 4) + struct.pack("<BBH", 0x84, 0, 4), "InterruptPacket sent the wrong way"),
    (header(23, 3) + b"abc", "filter_filter without its 0-terminated rules"),
    (header(0, 64), "a second hello"),
    (header(101, u.MAX_PACKET_SIZE + 1), "more than usbredir allows"),
])
def test_malformed_packets_are_errors(data: bytes, message: str) -> None:
    host, _ = pair()
    with pytest.raises(UsbredirError, match=message):
        host.receive_data(data + bytes(64) if message == "a second hello" else data)


def test_a_host_does_not_send_what_only_guests_send() -> None:
    host, _ = pair()
    with pytest.raises(ValueError, match="usb-host does not send SetConfiguration"):
        host.send(u.SetConfiguration(1))


def test_endpoint_slots() -> None:
    assert u.endpoint_index(0x81) == 0x11 and u.endpoint_index(0x02) == 0x02
    assert u.endpoint_address(0x11) == 0x81 and u.endpoint_address(0x02) == 0x02


def test_corrupted_streams_only_ever_raise_usbredir_errors() -> None:
    """Valid traffic with bytes flipped, cut or inserted: a UsbredirError or packets,
    never another exception."""
    rng = random.Random(7)
    _, guest = pair()
    stream = b"".join(guest.send(p, i) for i, p in enumerate(TO_HOST))
    for _ in range(2000):
        data = bytearray(stream)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            data[at] = rng.randrange(256)
        if rng.random() < 0.3:
            cut = rng.randrange(len(data))
            data = data[:cut] + data[cut + rng.randint(1, 16):]
        host, _ = pair()
        with contextlib.suppress(UsbredirError):
            host.receive_data(bytes(data))
