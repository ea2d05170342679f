"""Isochronous streams (USB audio, webcams): packets that must flow every (micro)frame.

pyusb only does one isochronous transfer at a time, and a stream must never run dry: the
next transfer has to wait at the device before the one in flight ends. So a stream keeps
several transfers submitted. IsoStream is the bookkeeping usbredirhost does (which
transfer fills next, when an OUT stream starts or ran dry, the ids the guest sees); it
drives Urbs, which Libusb makes on libusb's asynchronous API. Completions arrive on a
thread handling libusb's events.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import threading
from enum import IntEnum
from typing import Any, Protocol

from ..spice import usbredir as u

log = logging.getLogger(__name__)

MAX_PACKETS_PER_TRANSFER = 32  # usbredirhost's limits on what a guest may ask for
MAX_TRANSFERS = 16
TRANSFER_TIMEOUT_MS = 1000
STOP_WAIT_SECONDS = 2.0


class TransferStatus(IntEnum):
    """libusb_transfer_status."""

    COMPLETED = 0
    ERROR = 1
    TIMED_OUT = 2
    CANCELLED = 3
    STALL = 4
    NO_DEVICE = 5
    OVERFLOW = 6


_REDIR_STATUS: dict[int, u.Status] = {TransferStatus.COMPLETED: u.Status.SUCCESS,
                 TransferStatus.TIMED_OUT: u.Status.TIMEOUT,
                 TransferStatus.CANCELLED: u.Status.CANCELLED,
                 TransferStatus.STALL: u.Status.STALL,
                 TransferStatus.OVERFLOW: u.Status.BABBLE}


def redir_status(status: int) -> u.Status:
    # A packet that missed its frame comes back as -EXDEV; the stream goes on (usbredirhost).
    if status == -errno.EXDEV:
        return u.Status.SUCCESS
    return _REDIR_STATUS.get(status, u.Status.IOERROR)


class Urb(Protocol):
    """One transfer of ``packets`` packets of at most ``packet_size`` bytes."""

    packets: int
    packet_size: int

    def status(self) -> int: ...
    def packet_results(self) -> list[tuple[int, bytes]]: ...  # libusb status, bytes read
    def fill(self, index: int, data: bytes) -> None: ...
    def submit(self) -> bool: ...  # False: the device is gone; OSError: it refused
    def cancel(self) -> None: ...
    def free(self) -> None: ...


class Listener(Protocol):
    """Who hears from a stream (the usbredir host), on libusb's event thread."""

    def iso_packet(self, endpoint: int, packet_id: int, status: u.Status,
                   data: bytes) -> None: ...
    def iso_status(self, endpoint: int, packet_id: int, status: u.Status) -> None: ...
    def iso_gone(self) -> None: ...


_SUBMITTED = -1  # an Urb's fill level while the device has it


class IsoStream:
    """An IN stream reads into every transfer at once and hands each packet on as it
    completes; an OUT stream fills transfers with the guest's packets and starts once half
    of them are full, so a late packet from the network does not starve the device."""

    def __init__(self, endpoint: int, urbs: list[Urb], listener: Listener) -> None:
        self.endpoint = endpoint
        self._urbs = urbs
        self._listener = listener
        self._lock = threading.Lock()
        self._filled = {id(urb): 0 for urb in urbs}  # packets in it, or _SUBMITTED
        self._ids = {id(urb): 0 for urb in urbs}  # the id of its first packet
        self._next = 0  # the Urb the guest's next OUT packet goes into
        self._drop = 0  # OUT packets to drop after an overflow
        self._started = False
        self._stopping = False
        self._stopped = threading.Event()
        self.packet_size = urbs[0].packet_size if urbs else 0
        # For the log line at the end: how it went.
        self.packets = self.dropped = self.dry = 0

    @property
    def reading(self) -> bool:
        return bool(self.endpoint & u.ENDPOINT_IN)

    @property
    def ended(self) -> bool:
        """Stopped, or ended by a failure: it takes no more packets."""
        return self._stopping

    def start(self) -> None:
        """An IN stream begins to read; an OUT one waits for packets (``put``)."""
        if self.reading:
            with self._lock:
                self._start()

    def put(self, packet_id: int, data: bytes) -> None:
        """One packet from the guest for an OUT endpoint."""
        with self._lock:
            if self._stopping:
                return
            if self._drop:
                self._drop -= 1
                self.dropped += 1
                return
            urb = self._urbs[self._next]
            filled = self._filled[id(urb)]
            if filled == _SUBMITTED:
                # The device is behind: drop back to half a buffer, as usbredirhost does.
                self._drop = len(self._urbs) * urb.packets // 2
                self.dropped += 1
                return
            if filled == 0:
                self._ids[id(urb)] = packet_id
            urb.fill(filled, data)
            filled = self._filled[id(urb)] = filled + 1
            self.packets += 1
            if filled == urb.packets:
                self._next = (self._next + 1) % len(self._urbs)
            if self._started:
                if filled == urb.packets:
                    self._submit(urb)
            elif self._next * urb.packets + self._filled[id(self._urbs[self._next])] \
                    == len(self._urbs) * urb.packets // 2:
                self._start()

    def stop(self) -> None:
        """Cancel what the device has; the transfers are freed once it lets them go."""
        with self._lock:
            if not self._stopping:
                self._end()
        log.info("USB endpoint %02x: %d packets, %d dropped (the device was behind), "
                 "ran dry %d times", self.endpoint, self.packets, self.dropped, self.dry)

    def wait_stopped(self, timeout: float = STOP_WAIT_SECONDS) -> bool:
        return self._stopped.wait(timeout)

    def completed(self, urb: Urb) -> None:
        """libusb is done with ``urb`` (its event thread calls this)."""
        with self._lock:
            self._filled[id(urb)] = 0
            if self._stopping:
                self._free_idle()
                return
            status = urb.status()
            packet_id = self._ids[id(urb)]
            if status == TransferStatus.NO_DEVICE:
                self._end()
                self._listener.iso_gone()
                return
            if status != TransferStatus.COMPLETED:
                self._failed(urb, packet_id, redir_status(status))
                return
            results = urb.packet_results()
            if self.reading:
                for status, data in results:
                    self._listener.iso_packet(self.endpoint, packet_id, redir_status(status),
                                              data)
                    packet_id += 1
                    self.packets += 1
                self._resubmit(urb, packet_id)
                return
            for status, _ in results:
                if redir_status(status) != u.Status.SUCCESS:
                    self._listener.iso_status(self.endpoint, packet_id, redir_status(status))
                    break
            if not any(self._filled[id(other)] == _SUBMITTED for other in self._urbs):
                log.debug("USB endpoint %02x ran dry: waiting for half a buffer again",
                          self.endpoint)
                self.dry += 1
                self._filled = dict.fromkeys(self._filled, 0)
                self._next, self._drop, self._started = 0, 0, False

    # --- with the lock held ----------------------------------------------------------

    def _start(self) -> None:
        count = len(self._urbs) if self.reading else len(self._urbs) // 2
        for index, urb in enumerate(self._urbs[:count]):
            if self.reading:
                self._ids[id(urb)] = index * urb.packets
            if not self._submit(urb):
                return
        self._started = True

    def _submit(self, urb: Urb) -> bool:
        try:
            submitted = urb.submit()
        except OSError as exc:
            log.warning("USB endpoint %02x: the device refuses the stream (%s)",
                        self.endpoint, exc)
            self._end()
            self._listener.iso_status(self.endpoint, self._ids[id(urb)], u.Status.STALL)
            return False
        if not submitted:
            self._end()
            self._listener.iso_gone()
            return False
        self._filled[id(urb)] = _SUBMITTED
        return True

    def _end(self) -> None:
        self._stopping = True
        for urb in self._urbs:
            if self._filled[id(urb)] == _SUBMITTED:
                urb.cancel()
        self._free_idle()

    def _resubmit(self, urb: Urb, next_id: int) -> None:
        # Each IN transfer goes to the back of the queue: its next packets follow those
        # of the transfers already waiting.
        self._ids[id(urb)] = next_id + (len(self._urbs) - 1) * urb.packets
        self._submit(urb)

    def _failed(self, urb: Urb, packet_id: int, status: u.Status) -> None:
        """The whole transfer failed. A read says so in one empty packet and goes on, as
        usbredirhost does; a stall or a failed write ends the stream."""
        if self.reading and status != u.Status.STALL:
            self._listener.iso_packet(self.endpoint, packet_id, status, b"")
            self._resubmit(urb, packet_id + urb.packets)
            return
        self._end()
        self._listener.iso_status(self.endpoint, packet_id, status)

    def _free_idle(self) -> None:
        if any(self._filled[id(urb)] == _SUBMITTED for urb in self._urbs):
            return
        for urb in self._urbs:
            urb.free()
        self._urbs = []
        self._filled.clear()
        self._stopped.set()


# --- libusb -------------------------------------------------------------------------

class _IsoPacketDescriptor(ctypes.Structure):
    _fields_ = [("length", ctypes.c_uint), ("actual_length", ctypes.c_uint),
                ("status", ctypes.c_int)]


class _Transfer(ctypes.Structure):
    _fields_ = [("dev_handle", ctypes.c_void_p), ("flags", ctypes.c_uint8),
                ("endpoint", ctypes.c_uint8), ("type", ctypes.c_uint8),
                ("timeout", ctypes.c_uint), ("status", ctypes.c_int),
                ("length", ctypes.c_int), ("actual_length", ctypes.c_int),
                ("callback", ctypes.c_void_p), ("user_data", ctypes.c_void_p),
                ("buffer", ctypes.c_void_p), ("num_iso_packets", ctypes.c_int),
                # A flexible array in C: its offset is where the descriptors begin.
                ("iso_packet_desc", _IsoPacketDescriptor * 0)]


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


_TransferPointer = ctypes.POINTER(_Transfer)
_Callback = ctypes.CFUNCTYPE(None, _TransferPointer)
_ISOCHRONOUS = 1  # LIBUSB_TRANSFER_TYPE_ISOCHRONOUS
_ERROR_NO_DEVICE = -4
EVENT_WAIT_SECONDS = 0.1


def _prototypes(lib: ctypes.CDLL) -> ctypes.CDLL:
    lib.libusb_alloc_transfer.argtypes = [ctypes.c_int]
    lib.libusb_alloc_transfer.restype = _TransferPointer
    lib.libusb_free_transfer.argtypes = [_TransferPointer]
    lib.libusb_free_transfer.restype = None
    lib.libusb_submit_transfer.argtypes = [_TransferPointer]
    lib.libusb_cancel_transfer.argtypes = [_TransferPointer]
    lib.libusb_handle_events_timeout_completed.argtypes = [
        ctypes.c_void_p, ctypes.POINTER(_Timeval), ctypes.POINTER(ctypes.c_int)]
    lib.libusb_reset_device.argtypes = [ctypes.c_void_p]
    lib.libusb_error_name.argtypes = [ctypes.c_int]
    lib.libusb_error_name.restype = ctypes.c_char_p
    return lib


class Libusb:
    """What pyusb does not do for a device it has open: libusb's asynchronous API, and a
    reset that keeps the device's interfaces (pyusb's lets them go and closes the
    handle, and the kernel's own driver takes them back meanwhile). pyusb keeps no
    public handle to the device, so this reaches into its libusb1 backend (the library
    it loaded, its context and the device's handle) in this one place."""

    def __init__(self, dev: Any) -> None:
        backend = dev._ctx.backend
        handle = dev._ctx.managed_open()
        # The same library pyusb loaded (dlopen hands back the loaded one), with
        # prototypes of our own for the calls pyusb's wrapper does not have.
        self._lib = _prototypes(ctypes.CDLL(backend.lib._name))
        self._context = backend.ctx
        self._handle = handle.handle
        self._callback = _Callback(self._completed)
        self._urbs: dict[int, tuple[_LibusbUrb, IsoStream]] = {}
        self._lock = threading.Lock()
        self._running = False
        self._events = threading.Thread(target=self._handle_events, name="usb-events",
                                        daemon=True)

    def reset(self) -> int:
        """libusb's reset: 0, or a libusb error (then the device is not ours any more)."""
        return int(self._lib.libusb_reset_device(self._handle))

    def error_name(self, error: int) -> str:
        return str(self._lib.libusb_error_name(error).decode())

    def stream(self, endpoint: int, packet_size: int, packets: int, transfers: int,
               listener: Listener) -> IsoStream:
        urbs = [_LibusbUrb(self, endpoint, packet_size, packets) for _ in range(transfers)]
        stream = IsoStream(endpoint, list(urbs), listener)
        with self._lock:
            for urb in urbs:
                self._urbs[urb.address] = (urb, stream)
            if not self._running:
                self._running = True
                self._events.start()
        return stream

    def close(self) -> None:
        if self._running:
            self._running = False
            self._events.join(2 * EVENT_WAIT_SECONDS + 1)

    def _handle_events(self) -> None:
        wait = _Timeval(0, int(EVENT_WAIT_SECONDS * 1e6))
        while self._running:
            result = self._lib.libusb_handle_events_timeout_completed(
                self._context, ctypes.byref(wait), None)
            if result < 0 and result != -10:  # LIBUSB_ERROR_INTERRUPTED
                log.warning("libusb cannot handle events: %s", self.error_name(result))
                return

    def _completed(self, transfer: Any) -> None:
        # An exception must not unwind into libusb.
        try:
            with self._lock:
                urb, stream = self._urbs[ctypes.addressof(transfer.contents)]
            stream.completed(urb)
        except Exception:
            log.exception("isochronous transfer completion failed")

    def _forget(self, urb: _LibusbUrb) -> None:
        with self._lock:
            self._urbs.pop(urb.address, None)


class _LibusbUrb:
    def __init__(self, owner: Libusb, endpoint: int, packet_size: int, packets: int) -> None:
        self._owner = owner
        self._lib = owner._lib
        self.packets, self.packet_size = packets, packet_size
        self._pointer = self._lib.libusb_alloc_transfer(packets)
        if not self._pointer:
            raise MemoryError("libusb cannot allocate a transfer")
        self._buffer = (ctypes.c_ubyte * (packet_size * packets))()
        transfer = self._pointer.contents
        self.address = ctypes.addressof(transfer)
        transfer.dev_handle = owner._handle
        transfer.endpoint = endpoint
        transfer.type = _ISOCHRONOUS
        transfer.timeout = TRANSFER_TIMEOUT_MS
        transfer.length = len(self._buffer)
        transfer.callback = ctypes.cast(owner._callback, ctypes.c_void_p)
        transfer.buffer = ctypes.addressof(self._buffer)
        transfer.num_iso_packets = packets
        self._descriptors = (_IsoPacketDescriptor * packets).from_address(
            self.address + _Transfer.iso_packet_desc.offset)
        self._offset = 0
        for descriptor in self._descriptors:
            descriptor.length = packet_size

    def status(self) -> int:
        return int(self._pointer.contents.status)

    def packet_results(self) -> list[tuple[int, bytes]]:
        # A packet's bytes start where the lengths asked for before it end (libusb and
        # usbfs lay them out so), however much each of them got.
        results, offset = [], 0
        raw = ctypes.string_at(self._buffer, len(self._buffer))
        for descriptor in self._descriptors:
            results.append((int(descriptor.status),
                            raw[offset:offset + descriptor.actual_length]))
            offset += descriptor.length
        return results

    def fill(self, index: int, data: bytes) -> None:
        if index == 0:
            self._offset = 0
        ctypes.memmove(ctypes.addressof(self._buffer) + self._offset, data, len(data))
        self._descriptors[index].length = len(data)
        self._offset += len(data)

    def submit(self) -> bool:
        result = self._lib.libusb_submit_transfer(self._pointer)
        if result == _ERROR_NO_DEVICE:
            return False
        if result < 0:
            raise OSError(self._owner.error_name(result))
        return True

    def cancel(self) -> None:
        self._lib.libusb_cancel_transfer(self._pointer)

    def free(self) -> None:
        if self._pointer:
            self._owner._forget(self)
            self._lib.libusb_free_transfer(self._pointer)
            self._pointer = _TransferPointer()
