"""usbredir, sans-IO: the byte stream a SPICE usbredir channel carries (one per device).

The client is the *usb-host* side (it owns the real device); QEMU's usb-redir device is
the *usb-guest*. Numbers, layouts and rules follow usbredir's usbredirproto.h and
usbredirparser.c (protocol 0.7):

- every packet is a header (u32 type, u32 length, id) and a type header, then data for
  the types that carry any; the id is 32 bits wide unless both sides announced
  64bits_ids in their hellos;
- some type headers grow with capabilities both sides have: device_connect's
  device_version_bcd, ep_info's max_packet_size and max_streams, bulk packets' high 16
  bits of length;
- each control packet travels one way only (the host announces, the guest commands), and
  a data packet carries data only in the direction it flows: IN data goes to the guest,
  OUT data to the host; the other way it carries the length asked for.

``UsbredirParser.receive_data`` takes bytes and returns (id, packet) pairs, ``send``
returns the bytes for a packet. A malformed packet raises UsbredirError, which names what
is wrong; the stream cannot be trusted after it, so its device is let go.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar, TypeVar

VERSION = "spicebox usbredir 0.7"
MAX_BULK_TRANSFER_SIZE = 128 * 1024 * 1024
MAX_PACKET_SIZE = 1024 + MAX_BULK_TRANSFER_SIZE
MAX_INTERFACES = MAX_ENDPOINTS = 32
ENDPOINT_IN = 0x80


class UsbredirError(Exception):
    """The usbredir stream broke a rule of the protocol."""


class Cap(IntEnum):
    BULK_STREAMS = 0
    CONNECT_DEVICE_VERSION = 1
    FILTER = 2
    DEVICE_DISCONNECT_ACK = 3
    EP_INFO_MAX_PACKET_SIZE = 4
    IDS_64BIT = 5
    BULK_LENGTH_32BIT = 6
    BULK_RECEIVING = 7


class Status(IntEnum):
    SUCCESS = 0
    CANCELLED = 1
    INVAL = 2
    IOERROR = 3
    STALL = 4
    TIMEOUT = 5
    BABBLE = 6


class TransferType(IntEnum):
    CONTROL = 0
    ISO = 1
    BULK = 2
    INTERRUPT = 3
    INVALID = 255


class Speed(IntEnum):
    LOW = 0
    FULL = 1
    HIGH = 2
    SUPER = 3
    UNKNOWN = 255


class Packet:
    """A usbredir packet. ``type`` is its number; ``to_host``: whether the guest sends
    it (None: either side may)."""

    type: ClassVar[int]
    to_host: ClassVar[bool | None]


_registry: dict[int, type[Packet]] = {}


P = TypeVar("P", bound="Packet")


def _packet(number: int, to_host: bool | None) -> Callable[[type[P]], type[P]]:
    def register(cls: type[P]) -> type[P]:
        cls.type, cls.to_host = number, to_host
        _registry[number] = cls
        return cls
    return register


# --- control packets ------------------------------------------------------------------


@_packet(0, None)
@dataclass(frozen=True)
class Hello(Packet):
    version: str
    caps: frozenset[int]


@_packet(1, False)
@dataclass(frozen=True)
class DeviceConnect(Packet):
    speed: int
    device_class: int
    device_subclass: int
    device_protocol: int
    vendor_id: int
    product_id: int
    device_version_bcd: int = 0  # sent when both sides have CONNECT_DEVICE_VERSION


@_packet(2, False)
@dataclass(frozen=True)
class DeviceDisconnect(Packet):
    pass


@_packet(3, True)
@dataclass(frozen=True)
class Reset(Packet):
    pass


@dataclass(frozen=True)
class Interface:
    number: int
    interface_class: int
    subclass: int
    protocol: int


@_packet(4, False)
@dataclass(frozen=True)
class InterfaceInfo(Packet):
    interfaces: tuple[Interface, ...]


@dataclass(frozen=True)
class Endpoint:
    """One of the 32 endpoint slots: index = (address & 0x0f) | (0x10 if IN)."""

    type: int = TransferType.INVALID
    interval: int = 0
    interface: int = 0
    max_packet_size: int = 0  # with EP_INFO_MAX_PACKET_SIZE
    max_streams: int = 0  # with BULK_STREAMS


def endpoint_index(address: int) -> int:
    return (address & 0x0F) | (0x10 if address & ENDPOINT_IN else 0)


def endpoint_address(index: int) -> int:
    return (index & 0x0F) | (ENDPOINT_IN if index & 0x10 else 0)


@_packet(5, False)
@dataclass(frozen=True)
class EpInfo(Packet):
    endpoints: tuple[Endpoint, ...]  # always 32, by endpoint_index


@_packet(6, True)
@dataclass(frozen=True)
class SetConfiguration(Packet):
    configuration: int


@_packet(7, True)
@dataclass(frozen=True)
class GetConfiguration(Packet):
    pass


@_packet(8, False)
@dataclass(frozen=True)
class ConfigurationStatus(Packet):
    status: int
    configuration: int


@_packet(9, True)
@dataclass(frozen=True)
class SetAltSetting(Packet):
    interface: int
    alt: int


@_packet(10, True)
@dataclass(frozen=True)
class GetAltSetting(Packet):
    interface: int


@_packet(11, False)
@dataclass(frozen=True)
class AltSettingStatus(Packet):
    status: int
    interface: int
    alt: int


@_packet(12, True)
@dataclass(frozen=True)
class StartIsoStream(Packet):
    endpoint: int
    pkts_per_urb: int
    no_urbs: int


@_packet(13, True)
@dataclass(frozen=True)
class StopIsoStream(Packet):
    endpoint: int


@_packet(14, False)
@dataclass(frozen=True)
class IsoStreamStatus(Packet):
    status: int
    endpoint: int


@_packet(15, True)
@dataclass(frozen=True)
class StartInterruptReceiving(Packet):
    endpoint: int


@_packet(16, True)
@dataclass(frozen=True)
class StopInterruptReceiving(Packet):
    endpoint: int


@_packet(17, False)
@dataclass(frozen=True)
class InterruptReceivingStatus(Packet):
    status: int
    endpoint: int


@_packet(18, True)
@dataclass(frozen=True)
class AllocBulkStreams(Packet):
    endpoints: int  # a bit per endpoint index
    no_streams: int


@_packet(19, True)
@dataclass(frozen=True)
class FreeBulkStreams(Packet):
    endpoints: int


@_packet(20, False)
@dataclass(frozen=True)
class BulkStreamsStatus(Packet):
    endpoints: int
    no_streams: int
    status: int


@_packet(21, True)
@dataclass(frozen=True)
class CancelDataPacket(Packet):
    pass  # the id of the packet to cancel is this packet's id


@_packet(22, True)
@dataclass(frozen=True)
class FilterReject(Packet):
    pass


@_packet(23, None)
@dataclass(frozen=True)
class FilterFilter(Packet):
    rules: str  # class,vendor,product,version,allow|... (see usb/filter.py)


@_packet(24, True)
@dataclass(frozen=True)
class DeviceDisconnectAck(Packet):
    pass


@_packet(25, True)
@dataclass(frozen=True)
class StartBulkReceiving(Packet):
    stream_id: int
    bytes_per_transfer: int
    endpoint: int
    no_transfers: int


@_packet(26, True)
@dataclass(frozen=True)
class StopBulkReceiving(Packet):
    stream_id: int
    endpoint: int


@_packet(27, False)
@dataclass(frozen=True)
class BulkReceivingStatus(Packet):
    stream_id: int
    endpoint: int
    status: int


# --- data packets ------------------------------------------------------------------------


@_packet(100, None)
@dataclass(frozen=True)
class ControlPacket(Packet):
    endpoint: int
    request: int
    requesttype: int
    status: int
    value: int
    index: int
    length: int
    data: bytes = field(default=b"", repr=False)


@_packet(101, None)
@dataclass(frozen=True)
class BulkPacket(Packet):
    endpoint: int
    status: int
    length: int
    stream_id: int = 0
    data: bytes = field(default=b"", repr=False)


@_packet(102, None)
@dataclass(frozen=True)
class IsoPacket(Packet):
    endpoint: int
    status: int
    length: int
    data: bytes = field(default=b"", repr=False)


@_packet(103, None)
@dataclass(frozen=True)
class InterruptPacket(Packet):
    endpoint: int
    status: int
    length: int
    data: bytes = field(default=b"", repr=False)


@_packet(104, False)
@dataclass(frozen=True)
class BufferedBulkPacket(Packet):
    stream_id: int
    length: int
    endpoint: int
    status: int
    data: bytes = field(default=b"", repr=False)


DATA_PACKETS = (ControlPacket, BulkPacket, IsoPacket, InterruptPacket, BufferedBulkPacket)

# Fixed type headers (those that grow with capabilities are handled in _layout).
_FIXED: dict[type[Packet], struct.Struct] = {
    DeviceDisconnect: struct.Struct("<"), Reset: struct.Struct("<"),
    SetConfiguration: struct.Struct("<B"), GetConfiguration: struct.Struct("<"),
    ConfigurationStatus: struct.Struct("<BB"), SetAltSetting: struct.Struct("<BB"),
    GetAltSetting: struct.Struct("<B"), AltSettingStatus: struct.Struct("<BBB"),
    StartIsoStream: struct.Struct("<BBB"), StopIsoStream: struct.Struct("<B"),
    IsoStreamStatus: struct.Struct("<BB"), StartInterruptReceiving: struct.Struct("<B"),
    StopInterruptReceiving: struct.Struct("<B"), InterruptReceivingStatus: struct.Struct("<BB"),
    AllocBulkStreams: struct.Struct("<II"), FreeBulkStreams: struct.Struct("<I"),
    BulkStreamsStatus: struct.Struct("<IIB"), CancelDataPacket: struct.Struct("<"),
    FilterReject: struct.Struct("<"), DeviceDisconnectAck: struct.Struct("<"),
    StartBulkReceiving: struct.Struct("<IIBB"), StopBulkReceiving: struct.Struct("<IB"),
    BulkReceivingStatus: struct.Struct("<IBB"), ControlPacket: struct.Struct("<BBBBHHH"),
    IsoPacket: struct.Struct("<BBH"), InterruptPacket: struct.Struct("<BBH"),
    BufferedBulkPacket: struct.Struct("<IIBB"),
}
_HELLO_VERSION = struct.Struct("<64s")
_NO_HEADER = struct.Struct("<")
_INTERFACE_INFO = struct.Struct("<I32s32s32s32s")
_CONNECT = struct.Struct("<BBBBHH")
_CONNECT_BCD = struct.Struct("<BBBBHHH")
_EP_BASE = struct.Struct("<32s32s32s")
_EP_PACKET_SIZES = struct.Struct("<32H")
_EP_STREAMS = struct.Struct("<32I")
_BULK_16 = struct.Struct("<BBHI")
_BULK_32 = struct.Struct("<BBHIH")
_HEADER_32 = struct.Struct("<III")
_HEADER_64 = struct.Struct("<IIQ")


class UsbredirParser:
    """One end of a usbredir stream. ``host``: this end owns the device (the client)."""

    def __init__(self, host: bool = True, caps: frozenset[int] | None = None,
                 version: str = VERSION) -> None:
        self.host = host
        self.caps = frozenset(Cap) if caps is None else caps
        self.version = version
        self.peer: Hello | None = None  # the other end's hello, once it came
        self._buffer = bytearray()

    # --- negotiated layout ---------------------------------------------------------

    def both(self, cap: Cap) -> bool:
        return self.peer is not None and cap in self.caps and cap in self.peer.caps

    def _header(self) -> struct.Struct:
        return _HEADER_64 if self.both(Cap.IDS_64BIT) else _HEADER_32

    def _layout(self, cls: type[Packet]) -> struct.Struct:
        if cls is DeviceConnect:
            return _CONNECT_BCD if self.both(Cap.CONNECT_DEVICE_VERSION) else _CONNECT
        if cls is BulkPacket:
            return _BULK_32 if self.both(Cap.BULK_LENGTH_32BIT) else _BULK_16
        if cls is EpInfo:
            size = _EP_BASE.size
            if self.both(Cap.BULK_STREAMS):
                size += _EP_PACKET_SIZES.size + _EP_STREAMS.size
            elif self.both(Cap.EP_INFO_MAX_PACKET_SIZE):
                size += _EP_PACKET_SIZES.size
            return struct.Struct(f"<{size}s")
        if cls is Hello:
            return _HELLO_VERSION
        if cls is FilterFilter:
            return _NO_HEADER
        if cls is InterfaceInfo:
            return _INTERFACE_INFO
        return _FIXED[cls]

    # --- sending -------------------------------------------------------------------

    def hello(self) -> bytes:
        return self.send(Hello(self.version, self.caps))

    def send(self, packet: Packet, packet_id: int = 0) -> bytes:
        cls = type(packet)
        if cls.to_host is not None and cls.to_host == self.host:
            raise ValueError(f"the usb-{'host' if self.host else 'guest'} does not send "
                             f"{cls.__name__}")
        type_header, data = self._encode(packet)
        self._check_data(packet, len(data), sending=True)
        # A hello goes out before the other end's arrives (usbredirparser queues it at
        # start), so before any 64-bit ids can have been agreed.
        header = _HEADER_32 if isinstance(packet, Hello) else self._header()
        if header is _HEADER_32 and packet_id > 0xFFFFFFFF:
            raise ValueError(f"packet id {packet_id} needs 64-bit ids, which are not agreed")
        return header.pack(cls.type, len(type_header) + len(data), packet_id) + type_header \
            + data

    def _encode(self, packet: Packet) -> tuple[bytes, bytes]:
        if isinstance(packet, Hello):
            words = 0
            for cap in packet.caps:
                words |= 1 << cap
            return _HELLO_VERSION.pack(packet.version.encode()[:63]), struct.pack("<I", words)
        if isinstance(packet, DeviceConnect):
            values = (packet.speed, packet.device_class, packet.device_subclass,
                      packet.device_protocol, packet.vendor_id, packet.product_id)
            if self.both(Cap.CONNECT_DEVICE_VERSION):
                return _CONNECT_BCD.pack(*values, packet.device_version_bcd), b""
            return _CONNECT.pack(*values), b""
        if isinstance(packet, InterfaceInfo):
            if len(packet.interfaces) > MAX_INTERFACES:
                raise ValueError(f"{len(packet.interfaces)} interfaces, more than 32")
            columns = [bytes(getattr(i, name) for i in packet.interfaces).ljust(32, b"\0")
                       for name in ("number", "interface_class", "subclass", "protocol")]
            return _INTERFACE_INFO.pack(len(packet.interfaces), *columns), b""
        if isinstance(packet, EpInfo):
            eps = list(packet.endpoints) + [Endpoint()] * (MAX_ENDPOINTS - len(packet.endpoints))
            out = _EP_BASE.pack(bytes(e.type for e in eps), bytes(e.interval for e in eps),
                                bytes(e.interface for e in eps))
            if self.both(Cap.BULK_STREAMS) or self.both(Cap.EP_INFO_MAX_PACKET_SIZE):
                out += _EP_PACKET_SIZES.pack(*(e.max_packet_size for e in eps))
            if self.both(Cap.BULK_STREAMS):
                out += _EP_STREAMS.pack(*(e.max_streams for e in eps))
            return out, b""
        if isinstance(packet, FilterFilter):
            return b"", packet.rules.encode() + b"\0"
        if isinstance(packet, BulkPacket):
            if self.both(Cap.BULK_LENGTH_32BIT):
                return _BULK_32.pack(packet.endpoint, packet.status, packet.length & 0xFFFF,
                                     packet.stream_id, packet.length >> 16), packet.data
            if packet.length > 0xFFFF:
                raise ValueError(f"a bulk packet of {packet.length} bytes needs 32-bit "
                                 f"lengths, which are not agreed")
            return _BULK_16.pack(packet.endpoint, packet.status, packet.length,
                                 packet.stream_id), packet.data
        fixed = [getattr(packet, f.name) for f in dataclasses.fields(packet)  # type: ignore[arg-type]
                 if f.name != "data"]
        return _FIXED[type(packet)].pack(*fixed), getattr(packet, "data", b"")

    # --- receiving -----------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[tuple[int, Packet]]:
        self._buffer += data
        out: list[tuple[int, Packet]] = []
        while True:
            header = self._header()  # a hello can change it for the next packet
            if len(self._buffer) < header.size:
                return out
            kind, length, packet_id = header.unpack_from(self._buffer)
            cls = _registry.get(kind)
            if cls is None:
                raise UsbredirError(f"unknown usbredir packet type {kind}")
            if cls.to_host is not None and cls.to_host != self.host:
                raise UsbredirError(f"{cls.__name__} sent the wrong way (to the "
                                    f"usb-{'host' if self.host else 'guest'})")
            if length > MAX_PACKET_SIZE:
                raise UsbredirError(f"{cls.__name__} of {length} bytes, more than usbredir "
                                    f"allows")
            layout = self._layout(cls)
            if length < layout.size or (length > layout.size and cls not in (
                    Hello, FilterFilter, *DATA_PACKETS)):
                raise UsbredirError(f"{cls.__name__} of {length} bytes, where its header "
                                    f"takes {layout.size}")
            if len(self._buffer) < header.size + length:
                return out
            body = bytes(self._buffer[header.size:header.size + length])
            del self._buffer[:header.size + length]
            packet = self._decode(cls, body[:layout.size], body[layout.size:])
            self._check_data(packet, length - layout.size, sending=False)
            if isinstance(packet, Hello):
                if self.peer is not None:
                    raise UsbredirError("a second hello")
                self.peer = packet
            out.append((packet_id, packet))

    def _decode(self, cls: type[Packet], head: bytes, data: bytes) -> Packet:
        if cls is Hello:
            (version,) = _HELLO_VERSION.unpack(head)
            words = struct.unpack(f"<{len(data) // 4}I", data[:len(data) // 4 * 4])
            caps = frozenset(bit + 32 * i for i, word in enumerate(words) for bit in range(32)
                             if word >> bit & 1)
            return Hello(version.split(b"\0", 1)[0].decode(errors="replace"), caps)
        if cls is DeviceConnect:
            return DeviceConnect(*struct.unpack(self._layout(cls).format, head))
        if cls is InterfaceInfo:
            count, *columns = _INTERFACE_INFO.unpack(head)
            if count > MAX_INTERFACES:
                raise UsbredirError(f"interface_info lists {count} interfaces, more than 32")
            return InterfaceInfo(tuple(Interface(*(column[i] for column in columns))
                                       for i in range(count)))
        if cls is EpInfo:
            types, intervals, interfaces = _EP_BASE.unpack_from(head)
            sizes = (_EP_PACKET_SIZES.unpack_from(head, _EP_BASE.size)
                     if len(head) > _EP_BASE.size else (0,) * 32)
            streams = (_EP_STREAMS.unpack_from(head, _EP_BASE.size + _EP_PACKET_SIZES.size)
                       if len(head) > _EP_BASE.size + _EP_PACKET_SIZES.size else (0,) * 32)
            return EpInfo(tuple(Endpoint(types[i], intervals[i], interfaces[i], sizes[i],
                                         streams[i]) for i in range(MAX_ENDPOINTS)))
        if cls is FilterFilter:
            if not data or data[-1] != 0:
                raise UsbredirError("filter_filter without its 0-terminated rules")
            return FilterFilter(data[:-1].decode(errors="replace"))
        if cls is BulkPacket:
            if self.both(Cap.BULK_LENGTH_32BIT):
                endpoint, status, low, stream, high = _BULK_32.unpack(head)
                return BulkPacket(endpoint, status, high << 16 | low, stream, data)
            endpoint, status, length, stream = _BULK_16.unpack(head)
            return BulkPacket(endpoint, status, length, stream, data)
        values: tuple[Any, ...] = _FIXED[cls].unpack(head)
        if cls in DATA_PACKETS:
            values += (data,)
        return cls(*values)

    def _check_data(self, packet: Packet, data_length: int, sending: bool) -> None:
        """A data packet carries data only in the direction it flows, exactly ``length``
        of it; the rules of usbredirparser_verify_type_header."""
        if not isinstance(packet, DATA_PACKETS):
            return
        name = type(packet).__name__
        if packet.length > MAX_BULK_TRANSFER_SIZE:
            raise UsbredirError(f"{name} of {packet.length} bytes, more than usbredir allows")
        to_host = self.host != sending
        carries = bool(packet.endpoint & ENDPOINT_IN) != to_host
        if carries:
            if data_length != packet.length:
                raise UsbredirError(f"{name} on endpoint {packet.endpoint:#04x} says "
                                    f"{packet.length} bytes and carries {data_length}")
            return
        if data_length:
            raise UsbredirError(f"{name} on endpoint {packet.endpoint:#04x} carries data "
                                f"the wrong way")
        if isinstance(packet, IsoPacket | BufferedBulkPacket) or (
                isinstance(packet, InterruptPacket) and to_host):
            raise UsbredirError(f"{name} sent the wrong way for endpoint "
                                f"{packet.endpoint:#04x}")
