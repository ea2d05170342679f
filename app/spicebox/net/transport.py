"""Runs one sans-IO channel over an asyncio TCP or TLS stream."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from ..spice.channel import Channel
from ..spice.events import ChannelEvent
from .tls import TlsVerificationFailed, check_subject

READ_SIZE = 256 * 1024
CONNECT_TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0


class CannotConnect(Exception):
    """The server could not be reached, or closed the connection."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    tls: ssl.SSLContext | None = None
    host_subject: str | None = None

    def __str__(self) -> str:
        return f"{self.host}:{self.port}{' (TLS)' if self.tls else ''}"


async def open_stream(endpoint: Endpoint) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(endpoint.host, endpoint.port, ssl=endpoint.tls,
                                    server_hostname=endpoint.host if endpoint.tls else None),
            CONNECT_TIMEOUT)
    except ssl.SSLCertVerificationError as exc:
        raise TlsVerificationFailed(
            f"the certificate of {endpoint} is not trusted ({exc.verify_message}): "
            f"pass the server's CA with --ca-file, or check the host name") from None
    except ssl.SSLError as exc:
        raise CannotConnect(f"TLS handshake with {endpoint} failed ({exc.reason}): is that "
                            f"port the server's tls-port?") from None
    except TimeoutError:
        raise CannotConnect(f"no answer from {endpoint} within {CONNECT_TIMEOUT:.0f} s: "
                            f"check the address and the network") from None
    except OSError as exc:
        raise CannotConnect(f"cannot connect to {endpoint}: {exc.strerror or exc}: "
                            f"check the address, the port, and that the server runs") from None
    if endpoint.tls and endpoint.host_subject is not None:
        ssl_object = writer.get_extra_info("ssl_object")
        try:
            check_subject(ssl_object.getpeercert(binary_form=True), endpoint.host_subject)
        except TlsVerificationFailed:
            writer.close()
            raise
    return reader, writer


class ChannelConnection:
    """Pumps bytes between a socket and a channel; events go to ``on_event``."""

    def __init__(self, channel: Channel, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter,
                 on_event: Callable[[Channel, ChannelEvent], None]) -> None:
        self.channel = channel
        self._reader = reader
        self._writer = writer
        self._on_event = on_event

    def flush(self) -> None:
        data = self.channel.data_to_send()
        if data and not self._writer.is_closing():
            self._writer.write(data)

    async def run(self) -> None:
        """Link and serve the channel until the server closes it."""
        self._writer.write(self.channel.initiate())
        while True:
            try:
                data = await self._reader.read(READ_SIZE)
            except (ConnectionError, ssl.SSLError) as exc:
                raise CannotConnect(f"{self.channel.name}: connection lost: {exc}") from None
            if not data:
                if self.channel.closed:
                    return
                raise CannotConnect(f"the server closed the {self.channel.name} channel")
            events = self.channel.receive_data(data)
            self.flush()
            for event in events:
                self._on_event(self.channel, event)
            self.flush()
            await self._writer.drain()

    async def close(self) -> None:
        self.channel.disconnect()
        self.flush()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self._writer.drain()
        self._writer.close()
        # A TLS close waits for the peer's close_notify, which a dead or impolite server
        # never sends; leaving must not hang on it.
        with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(self._writer.wait_closed(), CLOSE_TIMEOUT)
