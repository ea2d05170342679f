"""A usbredir channel (spicevmc): the opaque usbredir byte stream of one redirected device,
both ways. spice-gtk connects one only while a device is redirected to it, and so does
this client: QEMU's usb-redir starts a fresh usbredir conversation on each connection."""

from __future__ import annotations

import struct
from typing import ClassVar

import lz4.block

from . import messages as m
from .channel import Channel
from .constants import ChannelType, DataCompression
from .errors import ProtocolError
from .events import ChannelEvent, UsbData
from .wire import Message

_SIZE = struct.Struct("<I")
# spice-server compresses at most one usbredir write at a time; far below this.
MAX_UNCOMPRESSED = 256 * 1024 * 1024


class UsbredirChannel(Channel):
    channel_type: ClassVar[ChannelType] = ChannelType.USBREDIR

    def __init__(self, channel_id: int, connection_id: int, password: str) -> None:
        # No DATA_COMPRESS_LZ4: compressing USB traffic costs the device more than a LAN.
        super().__init__(channel_id, connection_id, password)

    def handle(self, msg: Message) -> list[ChannelEvent]:
        if isinstance(msg, m.SpicevmcData):
            return [UsbData(bytes(msg.data))]
        if isinstance(msg, m.SpicevmcCompressedData):
            return [UsbData(self._decompress(msg))]
        return super().handle(msg)

    def send_usb(self, data: bytes) -> None:
        if self.linked and not self.closed:
            self.send(m.SpicevmcDataOut(memoryview(data)))

    def _decompress(self, msg: m.SpicevmcCompressedData) -> bytes:
        if msg.type == DataCompression.NONE:
            return bytes(msg.data)
        if msg.type != DataCompression.LZ4 or len(msg.data) < _SIZE.size:
            raise ProtocolError(f"{self.name}: compressed data of type {msg.type}")
        (size,) = _SIZE.unpack_from(msg.data)
        if size > MAX_UNCOMPRESSED:
            raise ProtocolError(f"{self.name}: {size} bytes of compressed usbredir data")
        try:
            data: bytes = lz4.block.decompress(bytes(msg.data[_SIZE.size:]),
                                               uncompressed_size=size)
        except lz4.block.LZ4BlockError as exc:
            raise ProtocolError(f"{self.name}: undecodable LZ4 usbredir data ({exc})") from None
        return data
