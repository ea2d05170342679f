"""Knowing when the network comes back, so the kiosk reconnects then instead of at the end
of its backoff: the kernel announces every address an interface gains or loses on an
rtnetlink socket (RTM_NEWADDR, RTM_DELADDR). NetworkManager or not, a cable plugged back
in ends with a global address being added."""

from __future__ import annotations

import asyncio
import socket
import struct

from .interfaces import interfaces

RTM_NEWADDR, RTM_DELADDR = 20, 21
RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR = 0x10, 0x100
RT_SCOPE_UNIVERSE = 0  # a global address (link-local and host ones do not reach a server)
_HEADER = struct.Struct("=IHHII")  # struct nlmsghdr: length, type, flags, seq, pid
_IFADDR = struct.Struct("=BBBBI")  # struct ifaddrmsg: family, prefix, flags, scope, index


class AddressWatch:
    """Sans-IO: fed the rtnetlink messages, says when the network is back, that is when a
    global address is added after one was removed, or after there was none."""

    def __init__(self, connected: bool) -> None:
        self.lost = not connected

    def feed(self, data: bytes) -> bool:
        back = False
        offset = 0
        while offset + _HEADER.size + _IFADDR.size <= len(data):
            length, kind, _, _, _ = _HEADER.unpack_from(data, offset)
            if length < _HEADER.size:
                break  # not a netlink message: nothing after it can be trusted either
            scope = _IFADDR.unpack_from(data, offset + _HEADER.size)[3]
            if scope == RT_SCOPE_UNIVERSE and kind == RTM_DELADDR:
                self.lost, back = True, False
            elif scope == RT_SCOPE_UNIVERSE and kind == RTM_NEWADDR and self.lost:
                self.lost, back = False, True
            offset += (length + 3) & ~3
        return back


async def network_back(up_now_counts: bool = False) -> None:
    """Returns once the network has come back (see :class:`AddressWatch`); with
    ``up_now_counts``, at once if it is up now."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK,
                       socket.NETLINK_ROUTE) as sock:
        sock.bind((0, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
        # Listening first, then looking: an address added in between is not missed.
        connected = any(i.addresses for i in interfaces())
        if connected and up_now_counts:
            return
        watch = AddressWatch(connected)
        loop = asyncio.get_running_loop()
        while not watch.feed(await loop.sock_recv(sock, 1 << 16)):
            pass
