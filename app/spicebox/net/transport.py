"""Runs one sans-IO channel over an asyncio TCP stream, with TLS started on it when asked.

Connecting and starting TLS are separate steps so that an HTTP CONNECT proxy can sit
between them later without touching either. Timeouts use ``asyncio.timeout``: Python
3.11's ``wait_for`` can turn a cancellation into a TimeoutError, and a swallowed
cancellation keeps a session from ever ending.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from ..spice.channel import Channel
from ..spice.events import ChannelEvent
from .tls import TlsVerificationFailed, TlsVerifier

READ_SIZE = 256 * 1024
CONNECT_TIMEOUT = 10.0
LINK_TIMEOUT = 10.0  # a server that accepts but never answers the link is as good as down
CLOSE_TIMEOUT = 2.0


class CannotConnect(Exception):
    """The server could not be reached, or the connection to it was lost."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    tls: TlsVerifier | None = None

    def __str__(self) -> str:
        return f"{self.host}:{self.port}{' (TLS)' if self.tls else ''}"


async def open_stream(endpoint: Endpoint) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
    except TimeoutError:
        raise CannotConnect(f"no answer from {endpoint} within {CONNECT_TIMEOUT:.0f} s: "
                            f"check the address and the network") from None
    except OSError as exc:
        raise CannotConnect(f"cannot connect to {endpoint}: {exc.strerror or exc}: "
                            f"check the address, the port, and that the server runs") from None
    if endpoint.tls is not None:
        try:
            await _start_tls(writer, endpoint, endpoint.tls)
        except BaseException:
            writer.transport.abort()
            raise
    return reader, writer


async def _start_tls(writer: asyncio.StreamWriter, endpoint: Endpoint,
                     verifier: TlsVerifier) -> None:
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await writer.start_tls(verifier.context, server_hostname=endpoint.host)
    except ssl.SSLCertVerificationError as exc:
        raise TlsVerificationFailed(
            f"the certificate of {endpoint} is not trusted ({exc.verify_message}): "
            f"pass the server's CA with --ca-file, or check the host name") from None
    except ssl.SSLError as exc:
        raise CannotConnect(f"TLS handshake with {endpoint} failed ({exc.reason}): is that "
                            f"port the server's tls-port?") from None
    except (OSError, TimeoutError) as exc:
        raise CannotConnect(f"TLS handshake with {endpoint} failed: {exc or 'timed out'}"
                            ) from None
    verifier.check_peer(writer.get_extra_info("ssl_object"))


class ChannelConnection:
    """Pumps bytes between a socket and a channel; events go to ``on_event``."""

    def __init__(self, channel: Channel, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter,
                 on_event: Callable[[Channel, ChannelEvent], None]) -> None:
        self.channel = channel
        self._reader = reader
        self._writer = writer
        self._on_event = on_event
        # Whatever the channel queues, from a reply or from the user, leaves at once.
        channel.set_wakeup(self.flush)

    def flush(self) -> None:
        data = self.channel.data_to_send()
        if data and not self._writer.is_closing():
            self._writer.write(data)

    async def run(self) -> None:
        """Link and serve the channel until it is closed; the socket is always released."""
        try:
            self._writer.write(self.channel.initiate())
            while True:
                timeout = None if self.channel.linked else LINK_TIMEOUT
                try:
                    async with asyncio.timeout(timeout):
                        data = await self._reader.read(READ_SIZE)
                except TimeoutError:
                    raise CannotConnect(f"{self.channel.name}: the server accepted the "
                                        f"connection but never answered the link") from None
                except (OSError, ssl.SSLError) as exc:
                    if self.channel.closed:  # the server dropped it after our goodbye
                        return
                    raise CannotConnect(f"{self.channel.name}: connection lost: {exc}") from None
                if not data:
                    if self.channel.closed:
                        return
                    raise CannotConnect(f"the server closed the {self.channel.name} channel")
                for event in self.channel.receive_data(data):
                    self._on_event(self.channel, event)
                try:
                    await self._writer.drain()
                except (OSError, ssl.SSLError) as exc:
                    if self.channel.closed:
                        return
                    raise CannotConnect(f"{self.channel.name}: connection lost: {exc}") from None
        finally:
            if not self._writer.is_closing():
                self._writer.transport.abort()

    async def close(self) -> None:
        """Say goodbye and close, within CLOSE_TIMEOUT whatever the peer does."""
        self.channel.disconnect()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                with contextlib.suppress(OSError, ssl.SSLError):
                    await self._writer.drain()
                    self._writer.close()
                    # TLS waits here for the peer's close_notify, which a dead or impolite
                    # server never sends.
                    await self._writer.wait_closed()
        except TimeoutError:
            self._writer.transport.abort()
