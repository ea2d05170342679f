"""The usb-host side of one redirected device: usbredir packets from the guest become
transfers on the local device, and their results go back.

The protocol work happens on the caller's thread (the session's loop); each endpoint has
a worker thread of its own, so a bulk read that waits for the device holds up neither the
display nor the device's other endpoints. Bytes for the guest leave through ``emit``,
which may be called from any of those threads.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Protocol, TypeVar

from ..config.target import ConfigError
from ..spice import usbredir as u
from ..spice.usbredir import Cap, UsbredirError, UsbredirParser
from .device import DeviceGone, TransferFailed
from .filter import Rule, UsbDevice, decide, parse
from .iso import MAX_PACKETS_PER_TRANSFER, MAX_TRANSFERS, IsoStream, Listener

log = logging.getLogger(__name__)

# What this host offers: no bulk streams (USB 3 UAS) or bulk receiving yet.
CAPS = frozenset({Cap.CONNECT_DEVICE_VERSION, Cap.FILTER, Cap.DEVICE_DISCONNECT_ACK,
                  Cap.EP_INFO_MAX_PACKET_SIZE, Cap.IDS_64BIT, Cap.BULK_LENGTH_32BIT})
CONTROL_TIMEOUT_MS = 5000
# None, as in usbredirhost: a read may wait as long as the device likes (a card reader for
# its card, a serial adapter for its line).
BULK_TIMEOUT_MS = 0
INTERRUPT_POLL_MS = 500  # how often a receiving loop looks whether it was stopped
CONTROL = -1  # the worker for control transfers and requests to the device as a whole
RELEASE_WAIT_SECONDS = 5.0


class Device(Protocol):
    """What the host needs of a device (usb.device.PyusbDevice; a fake in unit tests)."""

    @property
    def speed(self) -> u.Speed: ...

    def describe(self) -> UsbDevice: ...
    def open(self) -> None: ...
    def close(self) -> None: ...
    def configuration(self) -> int: ...
    def interfaces(self) -> tuple[u.Interface, ...]: ...
    def endpoints(self) -> tuple[u.Endpoint, ...]: ...
    def set_configuration(self, value: int) -> None: ...
    def alt_setting(self, interface: int) -> int: ...
    def set_alt_setting(self, interface: int, alt: int) -> None: ...
    def control(self, requesttype: int, request: int, value: int, index: int,
                data_or_length: bytes | int, timeout_ms: int) -> bytes: ...
    def read(self, endpoint: int, length: int, timeout_ms: int) -> bytes: ...
    def write(self, endpoint: int, data: bytes, timeout_ms: int) -> int: ...
    def reset(self) -> None: ...
    def iso_stream(self, endpoint: int, packet_size: int, packets: int, transfers: int,
                   listener: Listener) -> IsoStream: ...


Work = Callable[[], None]
T = TypeVar("T")


class UsbredirHost:
    def __init__(self, device: Device, gone: Callable[[str], object],
                 redirect: tuple[Rule, ...] = ()) -> None:
        """``gone`` is told (once, on any thread) why the redirection ended: unplugged,
        refused by the guest's filter, or a broken stream."""
        self.device = device
        self.info = device.describe()
        self.parser = UsbredirParser(host=True, caps=CAPS)
        self._emit: Callable[[bytes], object] = lambda data: None
        self._gone = gone
        self.redirect = redirect or parse("-1,-1,-1,-1,1")
        self._workers: dict[int, _Worker] = {}
        self._receiving: dict[int, threading.Event] = {}
        self._iso: dict[int, IsoStream] = {}
        self._cancelled: set[int] = set()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)  # for packets the guest did not ask for
        self._ended = False
        self.transfers = 0

    def start(self, emit: Callable[[bytes], object]) -> None:
        """Take the device and say hello; bytes for the guest go to ``emit`` from now on.
        OSError (one line) if the device cannot be taken."""
        self.device.open()
        self._emit = emit
        self._emit(self.parser.hello())

    def receive(self, data: bytes) -> None:
        try:
            packets = self.parser.receive_data(data)
        except UsbredirError as exc:
            self.end(f"the server's usbredir stream is broken: {exc}")
            return
        for packet_id, packet in packets:
            self._handle(packet_id, packet)

    def end(self, why: str) -> None:
        """Stop every transfer and give the device back."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
        for stop in self._receiving.values():
            stop.set()
        streams = list(self._iso.values())
        for stream in streams:
            stream.stop()
        workers = list(self._workers.values())
        for worker in workers:
            worker.stop()
        # The device goes back to the kernel once no transfer runs on it any more (libusb
        # must not close a handle a transfer is using), on a thread: one may be waiting.
        threading.Thread(target=self._release, args=(workers, streams), name="usb-release",
                         daemon=True).start()
        self._gone(why)

    def _release(self, workers: list[_Worker], streams: list[IsoStream]) -> None:
        for stream in streams:
            if not stream.wait_stopped():
                log.warning("the USB device keeps an isochronous stream: it stays taken "
                            "until it lets it go or is unplugged")
                return
        for worker in workers:
            if not worker.join(RELEASE_WAIT_SECONDS):
                log.warning("a transfer on the USB device still waits for it: it stays "
                            "taken until it answers or is unplugged")
                return
        self.device.close()

    # --- packets from the guest ------------------------------------------------------

    def _handle(self, packet_id: int, packet: u.Packet) -> None:
        if isinstance(packet, u.IsoPacket):  # first: a thousand a second or more
            self._iso_out(packet_id, packet)
        elif isinstance(packet, u.Hello):
            log.debug("usbredir guest: %s", packet.version)
            self._connect()
        elif isinstance(packet, u.FilterFilter):
            try:
                rules = parse(packet.rules, "the server's USB filter")
            except ConfigError as exc:
                log.info("%s; ignored", exc)
                return
            allowed, why = decide(self.info, self.redirect, rules)
            if not allowed:
                self._send(u.DeviceDisconnect())
                self.end(why)
        elif isinstance(packet, u.FilterReject):
            self.end("the server's filter refuses this device")
        elif isinstance(packet, u.DeviceDisconnectAck):
            pass
        elif isinstance(packet, u.Reset):
            self._on(CONTROL, self._reset)
        elif isinstance(packet, u.SetConfiguration):
            self._on(CONTROL, lambda: self._set_configuration(packet_id, packet.configuration))
        elif isinstance(packet, u.GetConfiguration):
            self._on(CONTROL, lambda: self._send(u.ConfigurationStatus(
                u.Status.SUCCESS, self.device.configuration()), packet_id))
        elif isinstance(packet, u.SetAltSetting):
            self._on(CONTROL, lambda: self._set_alt(packet_id, packet.interface, packet.alt))
        elif isinstance(packet, u.GetAltSetting):
            self._on(CONTROL, lambda: self._send(u.AltSettingStatus(
                u.Status.SUCCESS, packet.interface,
                self.device.alt_setting(packet.interface)), packet_id))
        elif isinstance(packet, u.ControlPacket):
            self._on(CONTROL, lambda: self._control(packet_id, packet))
        elif isinstance(packet, u.BulkPacket):
            self._on(packet.endpoint, lambda: self._bulk(packet_id, packet))
        elif isinstance(packet, u.InterruptPacket):  # OUT: the guest's data to write
            self._on(packet.endpoint, lambda: self._interrupt_out(packet_id, packet))
        elif isinstance(packet, u.StartInterruptReceiving):
            self._start_receiving(packet_id, packet.endpoint)
        elif isinstance(packet, u.StopInterruptReceiving):
            stop = self._receiving.pop(packet.endpoint, None)
            if stop is not None:
                stop.set()
            self._send(u.InterruptReceivingStatus(u.Status.SUCCESS, packet.endpoint),
                       packet_id)
        elif isinstance(packet, u.CancelDataPacket):
            with self._lock:
                self._cancelled.add(packet_id)
        elif isinstance(packet, u.StartIsoStream):
            self._start_iso(packet_id, packet)
        elif isinstance(packet, u.StopIsoStream):
            stream = self._iso.pop(packet.endpoint, None)
            if stream is not None:
                stream.stop()
            self._send(u.IsoStreamStatus(u.Status.SUCCESS, packet.endpoint), packet_id)
        elif isinstance(packet, u.AllocBulkStreams | u.FreeBulkStreams):
            self._send(u.BulkStreamsStatus(packet.endpoints, 0, u.Status.INVAL), packet_id)
        elif isinstance(packet, u.StartBulkReceiving | u.StopBulkReceiving):
            self._send(u.BulkReceivingStatus(packet.stream_id, packet.endpoint,
                                             u.Status.INVAL), packet_id)

    def _connect(self) -> None:
        """The device's description, as usbredirhost sends it once the guest said hello."""
        device, info = self.device, self.info
        self._describe_endpoints()
        descriptor = u.DeviceConnect(device.speed, info.device_class, 0, 0, info.vendor_id,
                                     info.product_id, info.device_version_bcd)
        self._send(descriptor)

    # --- work on the device (worker threads) -----------------------------------------

    def _reset(self) -> None:
        self._stop_iso(lambda endpoint: True)
        self.device.reset()

    # As usbredirhost: the streams on what changes stop first, and the new interfaces and
    # endpoints go before the status, so the guest never uses an endpoint it does not
    # know yet (an isochronous one, the moment its alternate setting is in).

    def _set_configuration(self, packet_id: int, value: int) -> None:
        self._stop_iso(lambda endpoint: True)
        _, status = _attempt(lambda: self.device.set_configuration(value), None)
        if status == u.Status.SUCCESS:
            self._describe_endpoints()
        self._send(u.ConfigurationStatus(status, self.device.configuration()), packet_id)

    def _set_alt(self, packet_id: int, interface: int, alt: int) -> None:
        endpoints = self.device.endpoints()
        self._stop_iso(lambda endpoint: endpoints[u.endpoint_index(endpoint)].interface
                       == interface)
        _, status = _attempt(lambda: self.device.set_alt_setting(interface, alt), None)
        if status == u.Status.SUCCESS:
            self._describe_endpoints()
        self._send(u.AltSettingStatus(status, interface, self.device.alt_setting(interface)),
                   packet_id)

    def _describe_endpoints(self) -> None:
        self._send(u.InterfaceInfo(self.device.interfaces()))
        self._send(u.EpInfo(self.device.endpoints()))

    def _stop_iso(self, which: Callable[[int], bool]) -> None:
        for endpoint, stream in list(self._iso.items()):  # (a copy: other threads end some)
            if which(endpoint) and self._iso.pop(endpoint, None) is not None:
                stream.stop()

    def _control(self, packet_id: int, packet: u.ControlPacket) -> None:
        reading = bool(packet.requesttype & u.ENDPOINT_IN)
        data, status = _attempt(lambda: self.device.control(
            packet.requesttype, packet.request, packet.value, packet.index,
            packet.length if reading else packet.data, CONTROL_TIMEOUT_MS), b"")
        length = len(data) if reading else (packet.length if status == u.Status.SUCCESS else 0)
        self._reply(packet_id, u.ControlPacket(
            packet.endpoint, packet.request, packet.requesttype, status, packet.value,
            packet.index, length, data if reading else b""))

    def _bulk(self, packet_id: int, packet: u.BulkPacket) -> None:
        if packet.endpoint & u.ENDPOINT_IN:
            data, status = _attempt(
                lambda: self.device.read(packet.endpoint, packet.length, BULK_TIMEOUT_MS), b"")
            reply = u.BulkPacket(packet.endpoint, status, len(data), packet.stream_id, data)
        else:
            written, status = _attempt(lambda: self.device.write(
                packet.endpoint, packet.data, BULK_TIMEOUT_MS), 0)
            reply = u.BulkPacket(packet.endpoint, status, written, packet.stream_id)
        self._reply(packet_id, reply)

    def _interrupt_out(self, packet_id: int, packet: u.InterruptPacket) -> None:
        written, status = _attempt(lambda: self.device.write(
            packet.endpoint, packet.data, CONTROL_TIMEOUT_MS), 0)
        self._reply(packet_id, u.InterruptPacket(packet.endpoint, status, written))

    def _start_receiving(self, packet_id: int, endpoint: int) -> None:
        if endpoint in self._receiving:
            self._send(u.InterruptReceivingStatus(u.Status.SUCCESS, endpoint), packet_id)
            return
        size = self.device.endpoints()[u.endpoint_index(endpoint)].max_packet_size or 64
        stop = self._receiving[endpoint] = threading.Event()
        self._send(u.InterruptReceivingStatus(u.Status.SUCCESS, endpoint), packet_id)

        def receive() -> None:
            while not stop.is_set():
                try:
                    data = self.device.read(endpoint, size, INTERRUPT_POLL_MS)
                except TransferFailed as exc:
                    if exc.status == u.Status.TIMEOUT:
                        continue
                    self._send(u.InterruptPacket(endpoint, exc.status, 0),
                               next(self._ids))
                    stop.wait(0.1)  # a stalled endpoint is not asked again at once
                    continue
                if not stop.is_set():
                    self._send(u.InterruptPacket(endpoint, u.Status.SUCCESS, len(data), data),
                               next(self._ids))
        self._on(endpoint, receive)

    def _start_iso(self, packet_id: int, packet: u.StartIsoStream) -> None:
        endpoint = self.device.endpoints()[u.endpoint_index(packet.endpoint)]
        if packet.endpoint in self._iso:
            status = u.Status.INVAL
        elif (endpoint.type != u.TransferType.ISO or not endpoint.max_packet_size
              or not 1 <= packet.pkts_per_urb <= MAX_PACKETS_PER_TRANSFER
              or not 1 <= packet.no_urbs <= MAX_TRANSFERS):
            log.info("USB endpoint %02x: the guest asks for an isochronous stream it "
                     "cannot have (%d packets per transfer, %d transfers)", packet.endpoint,
                     packet.pkts_per_urb, packet.no_urbs)
            status = u.Status.STALL
        else:
            try:
                stream = self.device.iso_stream(packet.endpoint, endpoint.max_packet_size,
                                                packet.pkts_per_urb, packet.no_urbs, self)
            except (OSError, MemoryError, TransferFailed) as exc:
                log.warning("USB endpoint %02x: no isochronous stream (%s)",
                            packet.endpoint, exc)
                status = u.Status.STALL
            else:
                self._iso[packet.endpoint] = stream
                status = u.Status.SUCCESS
        self._send(u.IsoStreamStatus(status, packet.endpoint), packet_id)
        if status == u.Status.SUCCESS:
            stream.start()

    def _iso_out(self, packet_id: int, packet: u.IsoPacket) -> None:
        """The guest's data for an OUT stream."""
        stream = self._iso.get(packet.endpoint)
        if stream is None or stream.reading or len(packet.data) > stream.packet_size:
            self._send(u.IsoStreamStatus(u.Status.INVAL, packet.endpoint), packet_id)
            return
        stream.put(packet_id, packet.data)

    # --- what isochronous streams say (libusb's event thread) ------------------------

    def iso_packet(self, endpoint: int, packet_id: int, status: u.Status,
                   data: bytes) -> None:
        self._send(u.IsoPacket(endpoint, status, len(data), data), packet_id)

    def iso_status(self, endpoint: int, packet_id: int, status: u.Status) -> None:
        # A packet the device refused is reported and the stream goes on (usbredirhost);
        # only a stream that ended is let go of.
        stream = self._iso.get(endpoint)
        if stream is not None and stream.ended:
            self._iso.pop(endpoint, None)
        self._send(u.IsoStreamStatus(status, endpoint), packet_id)

    def iso_gone(self) -> None:
        self._unplugged()

    def _reply(self, packet_id: int, packet: u.ControlPacket | u.BulkPacket
               | u.InterruptPacket) -> None:
        """A transfer's result; one the guest cancelled meanwhile says so, without data."""
        self.transfers += 1
        with self._lock:
            cancelled = packet_id in self._cancelled
            self._cancelled.discard(packet_id)
        if cancelled:
            if isinstance(packet, u.ControlPacket):
                packet = u.ControlPacket(packet.endpoint, packet.request, packet.requesttype,
                                         u.Status.CANCELLED, packet.value, packet.index, 0)
            elif isinstance(packet, u.BulkPacket):
                packet = u.BulkPacket(packet.endpoint, u.Status.CANCELLED, 0,
                                      packet.stream_id)
            else:
                packet = u.InterruptPacket(packet.endpoint, u.Status.CANCELLED, 0)
        self._send(packet, packet_id)

    def _send(self, packet: u.Packet, packet_id: int = 0) -> None:
        if not self._ended:
            self._emit(self.parser.send(packet, packet_id))

    def _on(self, endpoint: int, work: Work) -> None:
        worker = self._workers.get(endpoint)
        if worker is None:
            worker = self._workers[endpoint] = _Worker(f"usb-{endpoint:x}", self._unplugged)
        worker.put(work)

    def _unplugged(self, exc: DeviceGone | None = None) -> None:
        if not self._ended:
            self._send(u.DeviceDisconnect())
            self.end("the device was unplugged")


def _attempt(work: Callable[[], T], failed: T) -> tuple[T, u.Status]:
    """``work``'s result and SUCCESS, or ``failed`` and the status the device reported."""
    try:
        return work(), u.Status.SUCCESS
    except TransferFailed as exc:
        return failed, exc.status


class _Worker:
    """A thread that runs one endpoint's work in order."""

    def __init__(self, name: str, gone: Callable[[DeviceGone], None]) -> None:
        self._queue: queue.SimpleQueue[Work | None] = queue.SimpleQueue()
        self._gone = gone
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, work: Work) -> None:
        self._queue.put(work)

    def stop(self) -> None:
        self._queue.put(None)

    def join(self, timeout: float) -> bool:
        """Whether the thread ended (its own thread counts as ended: it is ending)."""
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self._thread.is_alive() or self._thread is threading.current_thread()

    def _run(self) -> None:
        while (work := self._queue.get()) is not None:
            try:
                work()
            except DeviceGone as exc:
                self._gone(exc)
                return
            except Exception:
                log.exception("USB transfer failed")
