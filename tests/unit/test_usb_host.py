"""The usb-host state machine against a guest-side parser, with a fake device (the real
one is exercised in the image VM, where QEMU emulates USB devices)."""

from __future__ import annotations

import asyncio
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

import lz4.block
import pytest

from spicebox.spice import messages as m
from spicebox.spice import usbredir as u
from spicebox.spice.constants import DataCompression
from spicebox.spice.errors import ProtocolError
from spicebox.spice.events import UsbData
from spicebox.spice.usbchannel import UsbredirChannel
from spicebox.spice.usbredir import UsbredirParser
from spicebox.usb import device, redirect
from spicebox.usb.device import DeviceGone, Location, TransferFailed
from spicebox.usb.filter import UsbDevice, UsbInterface, parse
from spicebox.usb.host import UsbredirHost
from spicebox.usb.iso import IsoStream, Listener
from spicebox.usb.redirect import UsbPolicy, UsbRedirection

from .server_bytes import frame, link_reply, link_result

BULK_IN, BULK_OUT, INT_IN, ISO_OUT, ISO_IN = 0x81, 0x02, 0x83, 0x04, 0x85


class FakeStick:
    speed = u.Speed.HIGH

    def __init__(self) -> None:
        self.opened = self.closed = False
        self.config, self.alt = 1, {0: 0, 1: 0}
        self.written: list[tuple[int, bytes]] = []
        self.events: list[bytes] = [b"\x01\x02"]
        self.unplugged = threading.Event()
        self.streams: list[FakeStream] = []

    def describe(self) -> UsbDevice:
        return UsbDevice(0, 0x46F4, 0x0001, 0x0200, (UsbInterface(8, 6, 0x50),))

    def open(self) -> None:
        self.opened = True

    def close(self) -> None:
        self.closed = True

    def configuration(self) -> int:
        return self.config

    def interfaces(self) -> tuple[u.Interface, ...]:
        return (u.Interface(0, 8, 6, 0x50),)

    def endpoints(self) -> tuple[u.Endpoint, ...]:
        eps = [u.Endpoint() for _ in range(32)]
        eps[0x11] = u.Endpoint(u.TransferType.BULK, 0, 0, 512)
        eps[0x02] = u.Endpoint(u.TransferType.BULK, 0, 0, 512)
        eps[0x13] = u.Endpoint(u.TransferType.INTERRUPT, 10, 0, 8)
        eps[0x04] = eps[0x15] = u.Endpoint(u.TransferType.ISO, 1, 0, 192)
        return tuple(eps)

    def set_configuration(self, value: int) -> None:
        if value > 1:
            raise TransferFailed(u.Status.STALL)
        self.config = value

    def alt_setting(self, interface: int) -> int:
        return self.alt[interface]

    def set_alt_setting(self, interface: int, alt: int) -> None:
        self.alt[interface] = alt

    def control(self, requesttype: int, request: int, value: int, index: int,
                data_or_length: bytes | int, timeout_ms: int) -> bytes:
        if request == 0xFF:
            raise TransferFailed(u.Status.STALL)
        return b"\x12\x01" if isinstance(data_or_length, int) else b""

    def read(self, endpoint: int, length: int, timeout_ms: int) -> bytes:
        if self.unplugged.is_set():
            raise DeviceGone("gone")
        if endpoint == INT_IN:
            if self.events:
                return self.events.pop(0)
            time.sleep(timeout_ms / 1000 / 50)
            raise TransferFailed(u.Status.TIMEOUT)
        return bytes(range(length % 256)) if length < 256 else bytes(length)

    def write(self, endpoint: int, data: bytes, timeout_ms: int) -> int:
        self.written.append((endpoint, data))
        return len(data)

    def reset(self) -> None:
        pass

    def iso_stream(self, endpoint: int, packet_size: int, packets: int, transfers: int,
                   listener: Listener) -> IsoStream:
        stream = FakeStream(endpoint, packet_size, packets, transfers, listener)
        self.streams.append(stream)
        return stream  # type: ignore[return-value]


class FakeStream:
    def __init__(self, endpoint: int, packet_size: int, packets: int, transfers: int,
                 listener: Listener) -> None:
        self.endpoint, self.shape = endpoint, (packet_size, packets, transfers)
        self.listener = listener
        self.put_packets: list[tuple[int, bytes]] = []
        self.started = self.stopped = self.ended = False
        self.packet_size, self.reading = packet_size, bool(endpoint & u.ENDPOINT_IN)

    def start(self) -> None:
        self.started = True

    def put(self, packet_id: int, data: bytes) -> None:
        self.put_packets.append((packet_id, data))

    def stop(self) -> None:
        self.stopped = True

    def wait_stopped(self, timeout: float = 0) -> bool:
        return self.stopped


class Rig:
    def __init__(self, device: FakeStick | None = None) -> None:
        self.device = device or FakeStick()
        self.guest = UsbredirParser(host=False)
        self.received: list[tuple[int, u.Packet]] = []
        self.lock = threading.Lock()
        self.ended: list[str] = []
        self.host = UsbredirHost(self.device, self.ended.append)

    def _from_host(self, data: bytes) -> None:
        with self.lock:
            self.received += self.guest.receive_data(data)

    def send(self, packet: u.Packet, packet_id: int = 0) -> None:
        self.host.receive(self.guest.send(packet, packet_id))

    def wait_for(self, count: int) -> list[tuple[int, u.Packet]]:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    got, self.received = self.received[:count], self.received[count:]
                    return got
            time.sleep(0.005)
        raise AssertionError(f"only {self.received} came")


def connected() -> Rig:
    rig = Rig()
    rig.host.start(rig._from_host)
    assert rig.wait_for(1)[0][1] == u.Hello(u.VERSION, rig.host.parser.caps)
    rig.host.receive(rig.guest.hello())
    info, eps, connect = (p for _, p in rig.wait_for(3))
    assert info == u.InterfaceInfo((u.Interface(0, 8, 6, 0x50),))
    assert isinstance(eps, u.EpInfo) and eps.endpoints[0x11].max_packet_size == 512
    assert connect == u.DeviceConnect(u.Speed.HIGH, 0, 0, 0, 0x46F4, 0x0001, 0x0200)
    assert rig.device.opened
    return rig


def test_the_device_is_described_once_the_guest_says_hello() -> None:
    connected()


def test_control_and_configuration_requests() -> None:
    rig = connected()
    rig.send(u.ControlPacket(0x80, 6, 0x80, 0, 0x0100, 0, 18), 7)
    assert rig.wait_for(1) == [(7, u.ControlPacket(0x80, 6, 0x80, u.Status.SUCCESS, 0x0100,
                                                   0, 2, b"\x12\x01"))]
    rig.send(u.ControlPacket(0x00, 0xFF, 0x40, 0, 0, 0, 1, b"\x01"), 8)
    assert rig.wait_for(1)[0] == (8, u.ControlPacket(0x00, 0xFF, 0x40, u.Status.STALL, 0, 0,
                                                     0))
    rig.send(u.SetConfiguration(2), 9)
    assert rig.wait_for(1)[0] == (9, u.ConfigurationStatus(u.Status.STALL, 1))
    rig.send(u.SetConfiguration(1), 10)
    # The interfaces and endpoints come first: the guest may use them once it has the status.
    info, eps, status = rig.wait_for(3)
    assert status == (10, u.ConfigurationStatus(u.Status.SUCCESS, 1))
    assert isinstance(info[1], u.InterfaceInfo) and isinstance(eps[1], u.EpInfo)
    rig.send(u.SetAltSetting(0, 1), 11)
    assert rig.wait_for(3)[2] == (11, u.AltSettingStatus(u.Status.SUCCESS, 0, 1))
    rig.send(u.GetAltSetting(0), 12)
    assert rig.wait_for(1) == [(12, u.AltSettingStatus(u.Status.SUCCESS, 0, 1))]


def test_bulk_reads_and_writes_with_64_bit_ids_and_32_bit_lengths() -> None:
    rig = connected()
    rig.send(u.BulkPacket(BULK_OUT, 0, 70000, 0, bytes(70000)), 2**40)
    rig.send(u.BulkPacket(BULK_IN, 0, 100000), 2**40 + 1)
    replies = dict(rig.wait_for(2))
    assert replies[2**40] == u.BulkPacket(BULK_OUT, u.Status.SUCCESS, 70000)
    assert replies[2**40 + 1] == u.BulkPacket(BULK_IN, u.Status.SUCCESS, 100000, 0,
                                              bytes(100000))
    assert rig.device.written == [(BULK_OUT, bytes(70000))]


def test_interrupt_receiving_sends_what_the_device_reports_until_stopped() -> None:
    rig = connected()
    rig.send(u.StartInterruptReceiving(INT_IN), 3)
    status, event = rig.wait_for(2)
    assert status == (3, u.InterruptReceivingStatus(u.Status.SUCCESS, INT_IN))
    assert event[1] == u.InterruptPacket(INT_IN, u.Status.SUCCESS, 2, b"\x01\x02")
    rig.send(u.StopInterruptReceiving(INT_IN), 4)
    assert rig.wait_for(1) == [(4, u.InterruptReceivingStatus(u.Status.SUCCESS, INT_IN))]


def test_iso_streams_carry_the_guests_packets_and_the_devices_both_ways() -> None:
    rig = connected()
    rig.send(u.StartIsoStream(ISO_OUT, 8, 4), 5)
    assert rig.wait_for(1) == [(5, u.IsoStreamStatus(u.Status.SUCCESS, ISO_OUT))]
    out = rig.device.streams[0]
    assert out.shape == (192, 8, 4) and out.started
    rig.send(u.IsoPacket(ISO_OUT, 0, 192, bytes(192)), 6)
    rig.send(u.IsoPacket(ISO_OUT, 0, 3, b"abc"), 7)
    assert out.put_packets == [(6, bytes(192)), (7, b"abc")]
    rig.send(u.StartIsoStream(ISO_IN, 2, 2), 8)
    assert rig.wait_for(1) == [(8, u.IsoStreamStatus(u.Status.SUCCESS, ISO_IN))]
    rig.host.iso_packet(ISO_IN, 0, u.Status.SUCCESS, b"heard")
    assert rig.wait_for(1) == [(0, u.IsoPacket(ISO_IN, u.Status.SUCCESS, 5, b"heard"))]
    rig.host.iso_status(ISO_OUT, 7, u.Status.IOERROR)  # one packet refused: it goes on
    assert rig.wait_for(1) == [(7, u.IsoStreamStatus(u.Status.IOERROR, ISO_OUT))]
    rig.send(u.IsoPacket(ISO_OUT, 0, 1, b"d"), 8)
    assert out.put_packets[-1] == (8, b"d")
    rig.send(u.SetAltSetting(1, 0), 10)  # another interface's: the streams go on
    assert rig.wait_for(3)[2] == (10, u.AltSettingStatus(u.Status.SUCCESS, 1, 0))
    assert not out.stopped
    rig.send(u.StopIsoStream(ISO_OUT), 9)
    assert rig.wait_for(1) == [(9, u.IsoStreamStatus(u.Status.SUCCESS, ISO_OUT))]
    assert out.stopped
    rig.send(u.SetAltSetting(0, 0), 12)  # the interface the IN stream is on: it stops
    assert rig.wait_for(3)[2] == (12, u.AltSettingStatus(u.Status.SUCCESS, 0, 0))
    assert rig.device.streams[1].stopped
    rig.send(u.StartIsoStream(ISO_IN, 2, 2), 13)
    assert rig.wait_for(1) == [(13, u.IsoStreamStatus(u.Status.SUCCESS, ISO_IN))]
    rig.send(u.Reset())  # a reset ends every stream
    rig.send(u.GetAltSetting(0), 14)  # (after the reset, on the same worker)
    assert rig.wait_for(1) == [(14, u.AltSettingStatus(u.Status.SUCCESS, 0, 0))]
    assert rig.device.streams[2].stopped


def test_iso_requests_the_device_cannot_take_are_refused() -> None:
    rig = connected()
    for packet_id, packet in enumerate([
            u.StartIsoStream(BULK_IN, 8, 4),  # not an isochronous endpoint
            u.StartIsoStream(ISO_OUT, 33, 4),  # usbredirhost's limits
            u.StartIsoStream(ISO_OUT, 8, 0)]):
        rig.send(packet, packet_id)
        assert rig.wait_for(1) == [(packet_id, u.IsoStreamStatus(u.Status.STALL,
                                                                 packet.endpoint))]
    rig.send(u.IsoPacket(ISO_OUT, 0, 1, b"x"), 10)  # no stream started
    assert rig.wait_for(1) == [(10, u.IsoStreamStatus(u.Status.INVAL, ISO_OUT))]
    rig.send(u.StartIsoStream(ISO_OUT, 8, 4), 11)
    rig.send(u.StartIsoStream(ISO_OUT, 8, 4), 12)
    rig.send(u.IsoPacket(ISO_OUT, 0, 193, bytes(193)), 13)  # over the packet size
    assert [p for _, p in rig.wait_for(3)] == [
        u.IsoStreamStatus(u.Status.SUCCESS, ISO_OUT),
        u.IsoStreamStatus(u.Status.INVAL, ISO_OUT), u.IsoStreamStatus(u.Status.INVAL,
                                                                      ISO_OUT)]
    rig.host.iso_gone()
    assert rig.wait_for(1)[0][1] == u.DeviceDisconnect()
    assert rig.ended == ["the device was unplugged"]


def test_unplugged_mid_transfer_disconnects_and_gives_the_device_back() -> None:
    rig = connected()
    rig.device.unplugged.set()
    rig.send(u.BulkPacket(BULK_IN, 0, 512), 6)
    assert rig.wait_for(1)[0][1] == u.DeviceDisconnect()
    deadline = time.monotonic() + 5
    while not rig.device.closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert rig.ended == ["the device was unplugged"] and rig.device.closed


def test_the_servers_filter_can_refuse_the_device() -> None:
    rig = connected()
    rig.send(u.FilterFilter("0x08,-1,-1,-1,0|-1,-1,-1,-1,1"))
    assert rig.wait_for(1)[0][1] == u.DeviceDisconnect()
    assert rig.ended == ["the server's filter (rule 0x08,-1,-1,-1,0) refuses it"]


def test_a_broken_stream_ends_only_this_redirection() -> None:
    rig = connected()
    rig.host.receive(b"\x63\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0")
    assert rig.ended == ["the server's usbredir stream is broken: unknown usbredir packet "
                         "type 99"]


def test_a_cancelled_transfer_is_answered_as_cancelled() -> None:
    rig = connected()
    gate = threading.Event()
    original = rig.device.read

    def slow_read(endpoint: int, length: int, timeout_ms: int) -> bytes:
        gate.wait(5)
        return original(endpoint, length, timeout_ms)
    rig.device.read = slow_read  # type: ignore[method-assign]
    rig.send(u.BulkPacket(BULK_IN, 0, 64), 20)
    rig.send(u.CancelDataPacket(), 20)
    gate.set()
    assert rig.wait_for(1) == [(20, u.BulkPacket(BULK_IN, u.Status.CANCELLED, 0))]


# --- which devices go where ------------------------------------------------------------


class Plugged(FakeStick):
    def __init__(self, port: int, info: UsbDevice | None = None) -> None:
        super().__init__()
        self.location = Location(1, (port,))
        self._info = info

    def describe(self) -> UsbDevice:
        return self._info or super().describe()

    def product(self) -> str:
        return "Fake"


KEYBOARD = UsbDevice(0, 0x046D, 0xC31C, 0x0100, (UsbInterface(3, 1, 1),))


def test_devices_are_auto_redirected_as_channels_allow_and_released_when_they_end() -> None:
    plugged: list[Plugged] = [Plugged(1), Plugged(2, KEYBOARD)]
    redirection = UsbRedirection(UsbPolicy(parse("-1,-1,-1,-1,1"), parse("-1,-1,-1,-1,1")),
                                 lambda: plugged)
    connected: list[tuple[int, UsbredirHost]] = []
    closed: list[int] = []
    redirection.start([0, 1], lambda c, h: connected.append((c, h)), closed.append)
    redirection.scan()
    assert [c for c, _ in connected] == [0]  # the keyboard stays with the box
    plugged += [Plugged(3), Plugged(4)]
    redirection.scan()
    assert [c for c, _ in connected] == [0, 1]  # two channels: the fourth stick waits
    assert Location(1, (4,)) not in redirection.redirected
    connected[0][1].end("the device was unplugged")
    assert closed == [0] and Location(1, (1,)) not in redirection.redirected
    redirection.scan()  # the waiting stick takes the freed channel
    assert connected[-1][0] == 0 and Location(1, (4,)) in redirection.redirected


def test_a_device_the_redirect_filter_blocks_stays_local() -> None:
    redirection = UsbRedirection(UsbPolicy(parse("0x08,-1,-1,-1,0|-1,-1,-1,-1,1"),
                                           parse("-1,-1,-1,-1,1")), lambda: [])
    redirection.start([0], lambda c, h: None, lambda c: None)
    assert redirection.redirect(Plugged(1)) == (
        "the redirect filter's rule 0x08,-1,-1,-1,0 blocks it")



class _Stop(Exception):
    pass


Look = frozenset[tuple[str, int]] | None


class Looks:
    """sysfs as ``watch()`` sees it, one look a round (a callable: something happens
    first); the watch ends when they run out."""

    def __init__(self, *looks: Look | Callable[[], Look]) -> None:
        self.left = list(looks)

    def __call__(self) -> Look:
        if not self.left:
            raise _Stop
        look = self.left.pop(0)
        return look() if callable(look) else look


def watch_until_out_of_looks(redirection: UsbRedirection,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redirect, "POLL_SECONDS", 0)
    with pytest.raises(_Stop):
        asyncio.run(redirection.watch())


def test_devices_are_listed_only_when_something_was_plugged_or_pulled(
        monkeypatch: pytest.MonkeyPatch) -> None:
    listings = []

    def nothing_plugged() -> list[Plugged]:
        listings.append(1)
        return []
    one, two = frozenset({("1-1", 10)}), frozenset({("1-1", 11)})  # plugged out and in
    redirection = UsbRedirection(UsbPolicy(parse("-1,-1,-1,-1,1"), parse("-1,-1,-1,-1,1")),
                                 nothing_plugged, Looks(one, one, one, two, two, None, None))
    redirection.start([0], lambda c, h: None, lambda c: None)
    watch_until_out_of_looks(redirection, monkeypatch)
    assert len(listings) == 4  # the first look, the change, and each unknown


def test_a_listing_that_failed_is_tried_again_though_nothing_changed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = []

    def libusb_once_busy() -> list[Plugged]:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("busy")
        return [Plugged(1)]
    same = frozenset({("1-1", 10)})
    redirection = UsbRedirection(UsbPolicy(parse("-1,-1,-1,-1,1"), parse("-1,-1,-1,-1,1")),
                                 libusb_once_busy, Looks(same, same, same))
    redirection.start([0], lambda c, h: None, lambda c: None)
    watch_until_out_of_looks(redirection, monkeypatch)
    assert len(attempts) == 2 and Location(1, (1,)) in redirection.redirected


def test_a_device_waiting_for_a_channel_is_looked_at_every_round(
        monkeypatch: pytest.MonkeyPatch) -> None:
    plugged = [Plugged(1), Plugged(2)]
    connected: list[tuple[int, UsbredirHost]] = []

    def first_let_go() -> Look:
        assert Location(1, (2,)) not in redirection.redirected  # one channel: it waits
        connected[0][1].end("the guest let it go")
        return frozenset()  # nothing plugged or pulled meanwhile
    redirection = UsbRedirection(UsbPolicy(parse("-1,-1,-1,-1,1"), parse("-1,-1,-1,-1,1")),
                                 lambda: plugged, Looks(frozenset(), first_let_go))
    redirection.start([0], lambda c, h: connected.append((c, h)), lambda c: None)
    watch_until_out_of_looks(redirection, monkeypatch)
    assert Location(1, (2,)) in redirection.redirected


def test_sysfs_tells_a_device_plugged_out_and_in_from_one_left_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    devices = tmp_path / "bus" / "usb" / "devices"
    monkeypatch.setattr(device, "SYSFS_DEVICES", devices)
    assert device.plugged() is None  # no sysfs: the caller lists every time
    (tmp_path / "bus").mkdir()
    assert device.plugged() == frozenset()  # no USB bus: nothing can be plugged in
    devices.mkdir(parents=True)
    (devices / "1-1").mkdir()
    first = device.plugged()
    assert first is not None and first == device.plugged()
    (devices / "1-1").rmdir()
    (devices / "other").mkdir()  # takes the freed inode number, if reused
    (devices / "1-1").mkdir()
    again = device.plugged()
    assert again is not None and dict(again)["1-1"] != dict(first)["1-1"]


# --- the SPICE channel that carries the stream -----------------------------------------


def test_the_usbredir_channel_passes_the_stream_both_ways() -> None:
    channel = UsbredirChannel(0, 1, "")
    channel.initiate()
    channel.receive_data(link_reply())
    channel.receive_data(link_result())
    channel.data_to_send()
    packed = lz4.block.compress(b"usbredir" * 100, store_size=False)
    events = channel.receive_data(
        frame(m.SpicevmcData(memoryview(b"abc")))
        + frame(m.SpicevmcCompressedData(DataCompression.LZ4,
                                         memoryview(struct.pack("<I", 800) + packed))))
    assert events == [UsbData(b"abc"), UsbData(b"usbredir" * 100)]
    channel.send_usb(b"hello")
    assert channel.data_to_send().endswith(b"hello")
    with pytest.raises(ProtocolError, match="undecodable LZ4 usbredir data"):
        channel.receive_data(frame(m.SpicevmcCompressedData(
            DataCompression.LZ4, memoryview(struct.pack("<I", 800) + b"\xff\xff"))))
