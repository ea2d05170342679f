"""Inputs channel: keys as set-1 scancodes, the pointer in either mouse mode, lock keys.

Pointer messages follow spice-gtk's flow control: the server acknowledges them in bunches
of MOTION_ACK_BUNCH; with two bunches unacknowledged, motion is merged (relative) or
replaced (absolute) until an acknowledgement comes, so a slow link sees fewer, larger
moves instead of a growing queue.
"""

from __future__ import annotations

from typing import ClassVar

from ..input.scancodes import set1_bytes, spice_key_code
from . import messages as m
from .channel import Channel
from .constants import (
    MOTION_ACK_BUNCH,
    ChannelType,
    InputsCap,
    KeyModifiers,
    MouseButton,
    MouseButtonMask,
)
from .events import ChannelEvent, GuestLocks
from .wire import Message

_MASKS = {button: MouseButtonMask(1 << (button - 1)) for button in MouseButton}
_WHEEL = (MouseButton.UP, MouseButton.DOWN)


class InputsChannel(Channel):
    channel_type: ClassVar[ChannelType] = ChannelType.INPUTS

    def __init__(self, channel_id: int, connection_id: int, password: str) -> None:
        super().__init__(channel_id, connection_id, password, (InputsCap.KEY_SCANCODE,))
        self.guest_locks = KeyModifiers(0)
        self.buttons = MouseButtonMask(0)
        self.pressed: set[int] = set()  # evdev codes the guest has seen go down
        self.pointer_messages = 0  # sent, for diagnostics and tests
        self._unacked = 0
        self._dx = self._dy = 0
        self._position: tuple[int, int, int] | None = None  # x, y, display channel

    def handle(self, msg: Message) -> list[ChannelEvent]:
        if isinstance(msg, m.InputsInit):
            self.guest_locks = KeyModifiers(msg.keyboard_modifiers & 7)
            return [GuestLocks(self.guest_locks)]
        if isinstance(msg, m.InputsKeyModifiers):
            self.guest_locks = KeyModifiers(msg.modifiers & 7)
            return [GuestLocks(self.guest_locks)]
        if isinstance(msg, m.MouseMotionAck):
            self._unacked = max(0, self._unacked - MOTION_ACK_BUNCH)
            self._flush_pointer()
            return []
        return super().handle(msg)

    # --- keyboard -------------------------------------------------------------------

    def key(self, evdev_code: int, pressed: bool) -> bool:
        """Send a key going down or up; False if set 1 has no code for it."""
        if not self.linked or self.closed:
            return True  # not connected yet: nothing to tell, and not the key's fault
        if not pressed and evdev_code not in self.pressed:
            return True  # its press went elsewhere (before the session, or to a hotkey)
        code = spice_key_code(evdev_code, pressed)
        if pressed:
            if not code:
                return False
            self.send(m.KeyDown(code))
            self.pressed.add(evdev_code)
        else:
            self.pressed.discard(evdev_code)
            if code:  # Hangeul and Hanja go down only
                self.send(m.KeyUp(code))
        return True

    def tap(self, evdev_code: int) -> None:
        """Press and release a key at once: one KEY_SCANCODE message where the server
        takes them (spice-gtk's press-and-release), else KEY_DOWN then KEY_UP."""
        if not self.linked or self.closed:
            return
        if InputsCap.KEY_SCANCODE in self.channel_caps:
            data = set1_bytes(evdev_code, True) + set1_bytes(evdev_code, False)
            if data:
                self.send(m.KeyScancode(memoryview(data)))
        elif self.key(evdev_code, True):
            self.key(evdev_code, False)

    def release_all(self) -> None:
        """Lift every key the guest believes held (the client lost the keyboard)."""
        for code in sorted(self.pressed):
            self.key(code, False)

    def set_locks(self, locks: KeyModifiers) -> None:
        """Make the guest's Caps/Num/Scroll Lock match ``locks``."""
        if self.linked and not self.closed and locks != self.guest_locks:
            self.send(m.SetKeyModifiers(int(locks)))

    # --- pointer --------------------------------------------------------------------

    def motion(self, dx: int, dy: int) -> None:
        """Relative motion (server mouse mode)."""
        if dx or dy:
            self._dx += dx
            self._dy += dy
            self._flush_pointer()

    def position(self, x: int, y: int, display: int) -> None:
        """Absolute position on a display channel's surface (client mouse mode)."""
        self._position = (x, y, display)
        self._flush_pointer()

    def button(self, button: MouseButton, pressed: bool) -> None:
        if not self.linked or self.closed:
            return
        # The button acts where the pointer is now, so pending motion goes first.
        self._flush_pointer(force=True)
        if button not in _WHEEL:
            mask = _MASKS[button]
            self.buttons = self.buttons | mask if pressed else self.buttons & ~mask
        state = int(self.buttons)
        self.send(m.MousePress(button, state) if pressed else m.MouseRelease(button, state))

    def _flush_pointer(self, force: bool = False) -> None:
        if not self.linked or self.closed:
            return
        if not force and self._unacked >= 2 * MOTION_ACK_BUNCH:
            return
        if self._dx or self._dy:
            self.send(m.MouseMotion(self._dx, self._dy, int(self.buttons)))
            self._dx = self._dy = 0
            self._sent_pointer()
        if self._position is not None:
            x, y, display = self._position
            self.send(m.MousePosition(max(0, x), max(0, y), int(self.buttons), display))
            self._position = None
            self._sent_pointer()

    def _sent_pointer(self) -> None:
        self._unacked += 1
        self.pointer_messages += 1
