"""Runs one sans-IO channel over an asyncio TCP stream, with TLS started on it when asked.

Connecting, opening an HTTP CONNECT tunnel and starting TLS are separate steps: TLS runs
end to end through the tunnel, the proxy sees only ciphertext. Timeouts use
``asyncio.timeout``: Python 3.11's ``wait_for`` can turn a cancellation into a
TimeoutError, and a swallowed cancellation keeps a session from ever ending.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from ..spice.channel import Channel
from ..spice.events import ChannelEvent
from .proxy import Proxy, ProxyRefused, check_reply
from .tls import ServerCertificate, TlsVerificationFailed, TlsVerifier

CONNECT_TIMEOUT = 10.0
LINK_TIMEOUT = 10.0  # a server that accepts but never answers the link is as good as down
CLOSE_TIMEOUT = 2.0
# A link that died (a cable pulled, a NAT that forgot the connection) ends the session in
# about 11 s instead of the kernel's two hours, so the kiosk can say so and reconnect:
# probes after 5 s of silence, every 2 s, the third unanswered one ends it; data sent and
# not acknowledged for as long ends it too.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_PROBES = 5, 2, 3
USER_TIMEOUT_MS = (KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_PROBES) * 1000


class CannotConnect(Exception):
    """The server could not be reached, or the connection to it was lost."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    tls: TlsVerifier | None = None
    proxy: Proxy | None = None

    def __str__(self) -> str:
        via = f" through {self.proxy}" if self.proxy else ""
        return f"{self.host}:{self.port}{' (TLS)' if self.tls else ''}{via}"


Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _first_hop(endpoint: Endpoint) -> Stream:
    """A TCP connection to the endpoint's proxy, or to the server itself."""
    first_hop = endpoint.proxy or endpoint
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            reader, writer = await asyncio.open_connection(first_hop.host, first_hop.port)
    except TimeoutError:
        raise CannotConnect(f"no answer from {first_hop} within {CONNECT_TIMEOUT:.0f} s: "
                            f"check the address and the network") from None
    except OSError as exc:
        raise CannotConnect(f"cannot connect to {first_hop}: {exc.strerror or exc}: "
                            f"check the address, the port, and that it runs") from None
    _notice_a_dead_link(writer.get_extra_info("socket"))
    return reader, writer


def _notice_a_dead_link(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in ((socket.TCP_KEEPIDLE, KEEPALIVE_IDLE),
                          (socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL),
                          (socket.TCP_KEEPCNT, KEEPALIVE_PROBES),
                          (socket.TCP_USER_TIMEOUT, USER_TIMEOUT_MS)):
        sock.setsockopt(socket.IPPROTO_TCP, option, value)


async def open_stream(endpoint: Endpoint) -> Stream:
    reader, writer = await _first_hop(endpoint)
    try:
        if endpoint.proxy is not None:
            await _tunnel(reader, writer, endpoint, endpoint.proxy)
        if endpoint.tls is not None:
            await _start_tls(writer, endpoint, endpoint.tls)
    except BaseException:
        writer.transport.abort()
        raise
    return reader, writer


async def _tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  endpoint: Endpoint, proxy: Proxy) -> None:
    writer.write(proxy.request(endpoint.host, endpoint.port))
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            # The client speaks first in SPICE and in TLS: nothing follows the head yet.
            head = await reader.readuntil(b"\r\n\r\n")
        check_reply(head)
    except ProxyRefused as exc:
        raise CannotConnect(f"{proxy} {exc}") from None
    except asyncio.LimitOverrunError:
        raise CannotConnect(f"{proxy} answered with an endless header: is it an HTTP "
                            f"proxy?") from None
    except (asyncio.IncompleteReadError, OSError, TimeoutError) as exc:
        raise CannotConnect(f"{proxy} did not open a tunnel to {endpoint.host}:"
                            f"{endpoint.port}: {exc or 'no answer'}") from None


async def _start_tls(writer: asyncio.StreamWriter, endpoint: Endpoint,
                     verifier: TlsVerifier) -> None:
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            # Without a host name check the name is not sent either: Proxmox's tunnel
            # targets ("pvespiceproxy:TICKET:...") are not names TLS can carry.
            await writer.start_tls(verifier.context, server_hostname=endpoint.host
                                   if verifier.context.check_hostname else None)
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


async def fetch_certificate(endpoint: Endpoint) -> ServerCertificate:
    """The certificate the server at ``endpoint`` presents (through its proxy, if any),
    unverified: for the user to decide whether to trust it."""
    probe = Endpoint(endpoint.host, endpoint.port, TlsVerifier.unverified(), endpoint.proxy)
    _, writer = await open_stream(probe)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.transport.abort()
    if not der:
        raise CannotConnect(f"{endpoint} sent no certificate")
    return ServerCertificate(der)


async def round_trip(endpoint: Endpoint) -> float:
    """Seconds to open a TCP connection to the endpoint's first hop (its proxy, or the
    server): the network's latency as diagnostics show it."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    _, writer = await _first_hop(endpoint)
    elapsed = loop.time() - started
    writer.transport.abort()
    return elapsed


class ChannelConnection(asyncio.BufferedProtocol):
    """Pumps bytes between a connection and a channel; events go to ``on_event``.

    It takes the connection over as its protocol, so that received bytes go straight
    from the socket into the channel's buffer: a stream reader would add a task
    wake-up, a future and two copies to every read, which on a busy display channel is a
    good part of the client's CPU time."""

    def __init__(self, channel: Channel, transport: asyncio.Transport,
                 on_event: Callable[[Channel, ChannelEvent], None]) -> None:
        self.channel = channel
        self._transport = transport
        self._on_event = on_event
        loop = asyncio.get_running_loop()
        self._ended: asyncio.Future[None] = loop.create_future()  # run()'s outcome
        self._lost: asyncio.Future[None] = loop.create_future()  # the socket is released
        self._link_timer: asyncio.TimerHandle | None = None
        # The server speaks only after the client's link message, so nothing can wait
        # unread in the stream reader this replaces.
        transport.set_protocol(self)
        # Whatever the channel queues, from a reply or from the user, leaves at once.
        channel.set_wakeup(self.flush)

    def flush(self) -> None:
        data = self.channel.data_to_send()
        if data and not self._transport.is_closing():
            self._transport.write(data)

    async def run(self) -> None:
        """Link and serve the channel until it is closed; the socket is always released."""
        self._link_timer = asyncio.get_running_loop().call_later(LINK_TIMEOUT, self._unlinked)
        try:
            self._transport.write(self.channel.initiate())
            await self._ended
        finally:
            if self._link_timer is not None:
                self._link_timer.cancel()
            if not self._transport.is_closing():
                self._transport.abort()

    def _end(self, error: Exception | None = None) -> None:
        if not self._ended.done():
            if error is None:
                self._ended.set_result(None)
            else:
                self._ended.set_exception(error)

    def _unlinked(self) -> None:
        self._end(CannotConnect(f"{self.channel.name}: the server accepted the connection "
                                f"but never answered the link"))
        self._transport.abort()

    # --- asyncio.BufferedProtocol ----------------------------------------------------

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.channel.receive_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        try:
            events = self.channel.received(nbytes)
            if self.channel.linked and self._link_timer is not None:
                self._link_timer.cancel()
                self._link_timer = None
            for event in events:
                self._on_event(self.channel, event)
        except Exception as exc:  # a malformed message, or one the session cannot take
            self._end(exc)
            self._transport.abort()

    def eof_received(self) -> bool:
        self._end(None if self.channel.closed else
                  CannotConnect(f"the server closed the {self.channel.name} channel"))
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.channel.closed:  # the server dropped it after our goodbye
            self._end()
        elif exc is not None:
            self._end(CannotConnect(f"{self.channel.name}: connection lost: {exc}"))
        else:
            self._end(CannotConnect(f"the server closed the {self.channel.name} channel"))
        if not self._lost.done():
            self._lost.set_result(None)

    # Replies wait while the server is not taking what was sent: read no more meanwhile.
    def pause_writing(self) -> None:
        self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._transport.resume_reading()

    async def close(self) -> None:
        """Say goodbye and close, within CLOSE_TIMEOUT whatever the peer does."""
        self.channel.disconnect()
        # Closing sends what is queued first; TLS then waits for the peer's close_notify,
        # which a dead or impolite server never sends.
        self._transport.close()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.shield(self._lost)
        except TimeoutError:
            self._transport.abort()
