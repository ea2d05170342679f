"""Isochronous stream bookkeeping (usbredirhost's rules) against fake transfers; the
libusb side runs for real in the image VM (`make test-image`, QEMU's usb-audio)."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno

import pytest

from spicebox.spice import usbredir as u
from spicebox.usb import iso
from spicebox.usb.iso import IsoStream, TransferStatus

IN, OUT = 0x81, 0x02
PACKETS, SIZE = 4, 8


class FakeUrb:
    packets, packet_size = PACKETS, SIZE

    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name
        self.transfer_status = TransferStatus.COMPLETED
        self.results: list[tuple[int, bytes]] = []
        self.filled: list[bytes] = []
        self.refuse: str | None = None
        self.freed = False

    def status(self) -> int:
        return self.transfer_status

    def packet_results(self) -> list[tuple[int, bytes]]:
        return self.results or [(0, bytes([i]) * SIZE) for i in range(PACKETS)]

    def fill(self, index: int, data: bytes) -> None:
        assert index == len(self.filled) or (index == 0 and self.filled)
        self.filled = [*self.filled[:index], data]

    def submit(self) -> bool:
        if self.refuse == "gone":
            return False
        if self.refuse:
            raise OSError(self.refuse)
        self.log.append(f"submit {self.name}")
        return True

    def cancel(self) -> None:
        self.log.append(f"cancel {self.name}")

    def free(self) -> None:
        self.freed = True


class Listener:
    def __init__(self) -> None:
        self.packets: list[tuple[int, u.Status, bytes]] = []
        self.statuses: list[tuple[int, u.Status]] = []
        self.gone = False

    def iso_packet(self, endpoint: int, packet_id: int, status: u.Status,
                   data: bytes) -> None:
        self.packets.append((packet_id, status, data))

    def iso_status(self, endpoint: int, packet_id: int, status: u.Status) -> None:
        self.statuses.append((packet_id, status))

    def iso_gone(self) -> None:
        self.gone = True


def stream(endpoint: int, transfers: int = 4) -> tuple[IsoStream, list[FakeUrb], list[str],
                                                        Listener]:
    log: list[str] = []
    urbs = [FakeUrb(log, str(i)) for i in range(transfers)]
    listener = Listener()
    return IsoStream(endpoint, list(urbs), listener), urbs, log, listener


def test_an_in_stream_keeps_every_transfer_at_the_device_and_numbers_packets_in_order(
        ) -> None:
    s, urbs, log, listener = stream(IN, 3)
    s.start()
    assert log == ["submit 0", "submit 1", "submit 2"]
    for urb in [*urbs, urbs[0]]:  # each completes in turn and goes back
        s.completed(urb)
    assert [packet_id for packet_id, _, _ in listener.packets] == list(range(4 * PACKETS))
    assert listener.packets[0] == (0, u.Status.SUCCESS, bytes(SIZE))
    assert log[3:] == ["submit 0", "submit 1", "submit 2", "submit 0"]


def test_a_failed_in_transfer_is_one_empty_packet_and_the_stream_goes_on() -> None:
    s, urbs, log, listener = stream(IN, 2)
    s.start()
    urbs[0].transfer_status = TransferStatus.ERROR
    s.completed(urbs[0])
    assert listener.packets == [(0, u.Status.IOERROR, b"")]
    assert log[-1] == "submit 0"
    urbs[1].results = [(-errno.EXDEV, b""), (-errno.EPROTO, b""), (0, b"x"), (0, b"y")]
    s.completed(urbs[1])  # a late packet is fine, a broken one says so
    assert [status for _, status, _ in listener.packets[1:]] == [
        u.Status.SUCCESS, u.Status.IOERROR, u.Status.SUCCESS, u.Status.SUCCESS]


def test_an_out_stream_starts_at_half_a_buffer_and_waits_again_when_it_ran_dry() -> None:
    s, urbs, log, listener = stream(OUT, 4)
    s.start()
    for packet_id in range(2 * PACKETS - 1):
        s.put(100 + packet_id, bytes([packet_id]))
    assert log == []
    s.put(100 + 2 * PACKETS - 1, b"last")
    assert log == ["submit 0", "submit 1"]
    assert urbs[1].filled[-1] == b"last"
    for packet_id in range(PACKETS):  # the third fills and goes at once
        s.put(200 + packet_id, b"z")
    assert log[-1] == "submit 2"
    for urb in urbs[:3]:
        s.completed(urb)
    log.clear()
    for packet_id in range(2 * PACKETS):  # dry: half a buffer again before it restarts
        s.put(300 + packet_id, b"a")
    assert log == ["submit 0", "submit 1"]
    assert listener.statuses == [] and listener.packets == []


def test_an_out_stream_the_device_falls_behind_drops_back_to_half_a_buffer() -> None:
    s, urbs, log, _ = stream(OUT, 2)
    for packet_id in range(2 * PACKETS):
        s.put(packet_id, b"a")
    assert log == ["submit 0", "submit 1"]
    s.put(99, b"over")  # every transfer is at the device: dropped, and as many after it
    for packet_id in range(PACKETS):
        s.put(100 + packet_id, b"b")
    assert all(data == b"a" for data in urbs[0].filled)
    s.completed(urbs[0])
    s.put(200, b"c")
    assert urbs[0].filled[0] == b"c"


def test_a_failed_out_transfer_ends_the_stream_with_its_status() -> None:
    s, urbs, _, listener = stream(OUT, 2)
    for packet_id in range(2 * PACKETS):
        s.put(10 + packet_id, b"a")
    urbs[0].transfer_status = TransferStatus.STALL
    s.completed(urbs[0])
    assert listener.statuses == [(10, u.Status.STALL)]
    s.completed(urbs[1])  # its cancellation
    assert s.wait_stopped(0) and all(urb.freed for urb in urbs)


def test_stop_cancels_what_the_device_has_and_frees_once_it_lets_go() -> None:
    s, urbs, log, _ = stream(IN, 2)
    s.start()
    s.stop()
    assert log[-2:] == ["cancel 0", "cancel 1"] and not s.wait_stopped(0)
    urbs[0].transfer_status = urbs[1].transfer_status = TransferStatus.CANCELLED
    s.completed(urbs[0])
    assert not urbs[0].freed
    s.completed(urbs[1])
    assert s.wait_stopped(0) and all(urb.freed for urb in urbs)


def test_an_unplugged_device_ends_the_stream() -> None:
    s, urbs, _, listener = stream(IN, 2)
    s.start()
    urbs[0].transfer_status = TransferStatus.NO_DEVICE
    s.completed(urbs[0])
    assert listener.gone
    urbs[1].refuse = "gone"
    s2, urbs2, _, listener2 = stream(IN, 1)
    urbs2[0].refuse = "gone"
    s2.start()
    assert listener2.gone and s2.wait_stopped(0)


def test_a_transfer_the_device_refuses_stalls_the_stream() -> None:
    s, urbs, _, listener = stream(IN, 2)
    urbs[1].refuse = "LIBUSB_ERROR_INVALID_PARAM"
    s.start()
    assert listener.statuses == [(PACKETS, u.Status.STALL)]
    assert not s.wait_stopped(0)  # the first is still at the device
    urbs[0].transfer_status = TransferStatus.CANCELLED
    s.completed(urbs[0])
    assert s.wait_stopped(0)


# --- the libusb transfer layout, on the real libusb (no device needed) ---------------

@pytest.fixture()
def libusb_urb() -> iso._LibusbUrb:
    name = ctypes.util.find_library("usb-1.0")
    if name is None:
        pytest.skip("libusb-1.0 is not installed")

    class Owner:
        _lib = iso._prototypes(ctypes.CDLL(name))
        _handle = None
        _callback = iso._Callback(lambda transfer: None)

        def _forget(self, urb: object) -> None:
            pass

    return iso._LibusbUrb(Owner(), OUT, SIZE, PACKETS)  # type: ignore[arg-type]


def test_out_packets_are_laid_end_to_end_as_libusb_and_usbfs_expect(
        libusb_urb: iso._LibusbUrb) -> None:
    libusb_urb.fill(0, b"abc")
    libusb_urb.fill(1, b"defgh")
    transfer = libusb_urb._pointer.contents
    assert transfer.num_iso_packets == PACKETS and transfer.length == SIZE * PACKETS
    assert [d.length for d in libusb_urb._descriptors][:2] == [3, 5]
    assert ctypes.string_at(transfer.buffer, 8) == b"abcdefgh"
    libusb_urb.free()


def test_in_packets_are_read_where_their_asked_lengths_put_them(
        libusb_urb: iso._LibusbUrb) -> None:
    ctypes.memmove(libusb_urb._pointer.contents.buffer, bytes(range(32)), 32)
    for index, descriptor in enumerate(libusb_urb._descriptors):
        descriptor.actual_length = index
        descriptor.status = 0
    assert [data for _, data in libusb_urb.packet_results()] == [
        b"", bytes([8]), bytes([16, 17]), bytes([24, 25, 26])]
    libusb_urb.free()
