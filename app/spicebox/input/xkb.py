"""Text from key codes in the user's keyboard layout, through libxkbcommon (ctypes).

The same library and layout data (xkb-data) as Wayland and X use, so "de", "fr(azerty)"
or "ch(fr)" type here what they type on any Linux desktop. Only the setup UI needs text:
a session sends the guest scancodes, and the guest applies its own layout.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

_KEY_UP, _KEY_DOWN = 0, 1
_EVDEV_OFFSET = 8  # XKB key codes are evdev codes + 8
_LOG_CRITICAL = 10
# Dead keysyms (xkbcommon-keysyms.h) and the spacing characters they stand for.
_DEAD_KEYS = {0xFE50: "`", 0xFE51: "\u00b4", 0xFE52: "^", 0xFE53: "~", 0xFE54: "¯",
              0xFE55: "˘", 0xFE56: "˙", 0xFE57: "¨", 0xFE58: "˚", 0xFE59: "˝",
              0xFE5A: "ˇ", 0xFE5B: "\u00b8", 0xFE5C: "\u02db"}


class LayoutError(ValueError):
    """The layout (or its variant) is not one xkb-data knows."""


class _RuleNames(ctypes.Structure):
    _fields_ = [(name, ctypes.c_char_p)
                for name in ("rules", "model", "layout", "variant", "options")]


@cache
def _library() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("xkbcommon")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    lib.xkb_context_new.restype = ctypes.c_void_p
    lib.xkb_context_new.argtypes = [ctypes.c_int]
    lib.xkb_context_set_log_level.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.xkb_keymap_new_from_names.restype = ctypes.c_void_p
    lib.xkb_keymap_new_from_names.argtypes = [ctypes.c_void_p, ctypes.POINTER(_RuleNames),
                                              ctypes.c_int]
    lib.xkb_state_new.restype = ctypes.c_void_p
    lib.xkb_state_new.argtypes = [ctypes.c_void_p]
    lib.xkb_state_update_key.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int]
    lib.xkb_state_key_get_one_sym.restype = ctypes.c_uint32
    lib.xkb_state_key_get_one_sym.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.xkb_keymap_mod_get_index.restype = ctypes.c_uint32
    lib.xkb_keymap_mod_get_index.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.xkb_state_update_mask.argtypes = [ctypes.c_void_p, *[ctypes.c_uint32] * 6]
    lib.xkb_state_key_get_utf8.restype = ctypes.c_int
    lib.xkb_state_key_get_utf8.argtypes = [ctypes.c_void_p, ctypes.c_uint32,
                                           ctypes.c_char_p, ctypes.c_size_t]
    for name in ("xkb_state_unref", "xkb_keymap_unref", "xkb_context_unref"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    return lib


def available() -> bool:
    return _library() is not None


class XkbKeyboard:
    """One keyboard's state (modifiers, locks, level) in one layout."""

    def __init__(self, layout: str, variant: str = "") -> None:
        lib = _library()
        if lib is None:
            raise LayoutError("libxkbcommon is not installed: only the US layout is known")
        self._lib = lib
        self._context = lib.xkb_context_new(0)
        if not self._context:
            raise LayoutError("libxkbcommon could not start (out of memory?)")
        # Its own error lines on stderr would say what LayoutError says, at length.
        lib.xkb_context_set_log_level(self._context, _LOG_CRITICAL)
        names = _RuleNames(b"evdev", b"pc105", layout.encode(), variant.encode(), b"")
        self._keymap = lib.xkb_keymap_new_from_names(self._context, ctypes.byref(names), 0)
        if not self._keymap:
            lib.xkb_context_unref(self._context)
            shown = f"{layout}({variant})" if variant else layout
            raise LayoutError(f"keyboard layout {shown!r} is not known to xkb-data")
        self._state = lib.xkb_state_new(self._keymap)
        if not self._state:
            lib.xkb_keymap_unref(self._keymap)
            lib.xkb_context_unref(self._context)
            raise LayoutError("libxkbcommon could not start (out of memory?)")
        # NumLock on, as a console and most firmware start: the keypad types digits
        # (a PIN typed there must not vanish).
        numlock = lib.xkb_keymap_mod_get_index(self._keymap, b"Mod2")
        if numlock < 32:
            lib.xkb_state_update_mask(self._state, 0, 0, 1 << numlock, 0, 0, 0)
        self._down: set[int] = set()

    def press(self, code: int) -> str:
        """The text the key types now, then the key goes down (a modifier changes the
        state for the keys after it). A dead key types its accent on its own: composing
        it with the next letter is not done."""
        key = code + _EVDEV_OFFSET
        buffer = ctypes.create_string_buffer(16)
        size = self._lib.xkb_state_key_get_utf8(self._state, key, buffer, len(buffer))
        text = buffer.raw[:max(0, min(size, len(buffer) - 1))].decode(errors="replace")
        if not text:
            text = _DEAD_KEYS.get(self._lib.xkb_state_key_get_one_sym(self._state, key), "")
        self._lib.xkb_state_update_key(self._state, key, _KEY_DOWN)
        self._down.add(code)
        return text

    def release(self, code: int) -> None:
        self._lib.xkb_state_update_key(self._state, code + _EVDEV_OFFSET, _KEY_UP)
        self._down.discard(code)

    def release_all(self) -> None:
        """Keys held when the focus went: their releases will not be seen."""
        for code in list(self._down):
            self.release(code)

    def __del__(self) -> None:
        lib = getattr(self, "_lib", None)
        if lib is not None and getattr(self, "_keymap", None):
            lib.xkb_state_unref(self._state)
            lib.xkb_keymap_unref(self._keymap)
            lib.xkb_context_unref(self._context)


def check_layout(layout: str, variant: str = "") -> None:
    """LayoutError unless xkb-data has this layout (nothing to check without the
    library: the US table is used then)."""
    if available():
        XkbKeyboard(layout, variant)
