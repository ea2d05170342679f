"""Calls to system services over the system bus, with dbus-fast.

Plain method calls and properties only, no introspection: the services' interfaces are
stable and documented, and a call that fails says which service and why in one line.
``$DBUS_SYSTEM_BUS_ADDRESS`` chooses the bus (the tests start one of their own).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

PROPERTIES = "org.freedesktop.DBus.Properties"


class ServiceError(Exception):
    """A system service is missing, refused, or failed what was asked."""


# D-Bus errors people meet, in words that say what to do.
_HINTS = {
    "org.freedesktop.DBus.Error.ServiceUnknown": "is not running on this device",
    "org.freedesktop.DBus.Error.AccessDenied": "refused: the service user may not do this "
                                               "(check its polkit rules)",
    "org.freedesktop.DBus.Error.NoReply": "did not answer",
    # What a kiosk without the image's polkit rules gets.
    "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired":
        "refused: the service user may not do this (check its polkit rules)",
    "org.freedesktop.NetworkManager.PermissionDenied":
        "refused: the service user may not do this (check its polkit rules)",
}
CALL_TIMEOUT = 25.0  # a hung service must not leave a page waiting forever


class SystemBus:
    """One connection to the system bus (``async with SystemBus() as bus``)."""

    def __init__(self) -> None:
        self._bus: MessageBus | None = None

    async def __aenter__(self) -> SystemBus:
        try:
            self._bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        except (OSError, ValueError) as exc:
            raise ServiceError(f"cannot reach the system bus: {exc}") from None
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._bus is not None:
            self._bus.disconnect()

    async def call(self, service: str, path: str, interface: str, member: str,
                   signature: str = "", body: Sequence[Any] = ()) -> list[Any]:
        assert self._bus is not None, "use SystemBus in an async with"
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                reply = await self._bus.call(Message(
                    destination=service, path=path, interface=interface, member=member,
                    signature=signature, body=list(body)))
        except TimeoutError:
            raise ServiceError(f"{_name_of(service)} did not answer {member} within "
                               f"{CALL_TIMEOUT:.0f} s") from None
        assert reply is not None
        if reply.message_type == MessageType.ERROR:
            # One line: a service's message may be a whole traceback (its last line says).
            detail = str(reply.body[0] if reply.body else reply.error_name).strip()
            detail = detail.splitlines()[-1] if detail else str(reply.error_name)
            hint = _HINTS.get(reply.error_name or "", f"failed {member}: {detail}")
            raise ServiceError(f"{_name_of(service)} {hint}")
        return list(reply.body)

    async def properties(self, service: str, path: str, interface: str) -> dict[str, Any]:
        """Every property of the object's interface, as plain values."""
        [found] = await self.call(service, path, PROPERTIES, "GetAll", "s", [interface])
        return {name: plain(value) for name, value in found.items()}


T = TypeVar("T")


async def on_system_bus(work: Callable[[SystemBus], Awaitable[T]]) -> T:
    """``work`` on a connection of its own (the setup UI's pages each ask one thing)."""
    async with SystemBus() as bus:
        return await work(bus)


def plain(value: Any) -> Any:
    """A value without its D-Bus variant wrappers."""
    while isinstance(value, Variant):
        value = value.value
    return value


_SERVICE_NAMES = {"org.freedesktop.hostname1": "systemd-hostnamed",
                  "org.freedesktop.timedate1": "systemd-timedated",
                  "org.freedesktop.login1": "systemd-logind"}


def _name_of(service: str) -> str:
    """The name a person knows the service by: NetworkManager, systemd-logind..."""
    return _SERVICE_NAMES.get(service, service.rsplit(".", 1)[-1])
