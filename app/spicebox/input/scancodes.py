"""Linux evdev key codes to the PC/XT set-1 scancodes SPICE sends.

Every source (evdev on devices, SDL on the development backend) reports keys as evdev
codes; this module is the one place they become scancode bytes.
"""

from __future__ import annotations

from .keymap import LINUX_TO_SET1, USB_TO_LINUX

_EXTENDED = 0xE0
_RELEASE = 0x80

# SDL 2's scancodes are USB HID keyboard usages below 256; the media and application
# keys it numbers itself (SDL_SCANCODE_AUDIONEXT = 258, ...), as evdev codes.
_SDL_EXTRA_TO_LINUX = {
    258: 163,  # AUDIONEXT -> KEY_NEXTSONG
    259: 165,  # AUDIOPREV -> KEY_PREVIOUSSONG
    260: 166,  # AUDIOSTOP -> KEY_STOPCD
    261: 164,  # AUDIOPLAY -> KEY_PLAYPAUSE
    262: 113,  # AUDIOMUTE -> KEY_MUTE
    263: 226,  # MEDIASELECT -> KEY_MEDIA
    264: 150,  # WWW -> KEY_WWW
    265: 155,  # MAIL -> KEY_MAIL
    266: 140,  # CALCULATOR -> KEY_CALC
    267: 157,  # COMPUTER -> KEY_COMPUTER
    268: 217,  # AC_SEARCH -> KEY_SEARCH
    269: 172,  # AC_HOME -> KEY_HOMEPAGE
    270: 158,  # AC_BACK -> KEY_BACK
    271: 159,  # AC_FORWARD -> KEY_FORWARD
    272: 128,  # AC_STOP -> KEY_STOP
    273: 173,  # AC_REFRESH -> KEY_REFRESH
    274: 156,  # AC_BOOKMARKS -> KEY_BOOKMARKS
    281: 161,  # EJECT -> KEY_EJECTCD
    282: 142,  # SLEEP -> KEY_SLEEP
}


def set1_bytes(evdev_code: int, pressed: bool) -> bytes:
    """The scancode bytes of a key going down or up; empty for a key set 1 lacks."""
    code = LINUX_TO_SET1.get(evdev_code)
    if code is None:
        return b""
    low = code & 0xFF
    if not pressed:
        if low & _RELEASE:
            return b""  # Hangeul and Hanja (0xF2, 0xF1) have no break code
        low |= _RELEASE
    return bytes((_EXTENDED, low)) if code >> 8 == _EXTENDED else bytes((low,))


def spice_key_code(evdev_code: int, pressed: bool) -> int:
    """KEY_DOWN/KEY_UP's code: the scancode bytes packed little-endian (0 if none)."""
    return int.from_bytes(set1_bytes(evdev_code, pressed), "little")


def linux_from_sdl(scancode: int) -> int | None:
    """The evdev code of an SDL 2 scancode, or None for one no keyboard sends."""
    if scancode < 256:
        return USB_TO_LINUX.get(scancode)
    return _SDL_EXTRA_TO_LINUX.get(scancode)
