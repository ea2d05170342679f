"""QUIC against spice-server's own encoder (tests/fixtures/quic.rec.xz, recorded from QEMU
showing the console guest's images 0, 1 and 0), streams from spice-common's quic.c for the
types QEMU does not send, and damaged streams."""

from __future__ import annotations

import base64
import functools
import hashlib
import lzma
import random
import struct

import numpy as np
import numpy.typing as npt
import pytest

from spicebox.codecs.pixels import Pixels, to_rgb
from spicebox.codecs.quic import GRAY, QUIC_MAGIC, RGB16, RGB24, RGB32, RGBA, decode_quic
from spicebox.spice import messages as m
from spicebox.spice.constants import ImageType
from spicebox.spice.errors import ProtocolError
from spicebox.spice.recording import read_recording
from spicebox.spice.wire import SERVER, Message, decode, lookup
from tests.guests.console import render_image

from .replay import FIXTURES


@functools.cache
def recorded() -> tuple[Message, ...]:
    records = read_recording(lzma.decompress((FIXTURES / "quic.rec.xz").read_bytes()))
    specs = ((lookup(SERVER, r.channel_type, r.msg_type), r.body) for r in records)
    return tuple(decode(spec.cls, body) for spec, body in specs if spec is not None)


def quic_payload(msg: Message) -> tuple[memoryview, int, int] | None:
    if not (isinstance(msg, m.DrawCopy) and msg.src_bitmap is not None
            and msg.src_bitmap.descriptor.type == ImageType.QUIC):
        return None
    d, payload = msg.src_bitmap.descriptor, msg.src_bitmap.payload
    assert isinstance(payload, m.BinaryData)
    return payload.data, d.width, d.height


def recorded_image(width: int, height: int) -> memoryview:
    """The first recorded QUIC image of that size."""
    for msg in recorded():
        image = quic_payload(msg)
        if image is not None and image[1:] == (width, height):
            return image[0]
    raise LookupError(f"no {width}x{height} QUIC image in the recording")


def test_recorded_screens_decode_exactly() -> None:
    """Every QUIC image QEMU sent, painted where it was drawn: each time a pass over the
    guest's 1024x768 screen reaches its bottom-right corner, the screen is the image the
    guest showed."""
    screen: Pixels | None = None
    shown: list[npt.NDArray[np.uint8]] = []
    for msg in recorded():
        if isinstance(msg, m.SurfaceCreate):
            screen = np.zeros((msg.height, msg.width), np.uint32)
        image = quic_payload(msg)
        if image is None:
            continue
        assert isinstance(msg, m.DrawCopy) and screen is not None
        pixels = decode_quic(*image)
        box, src = msg.base.box, msg.src_area
        screen[box.top:box.bottom, box.left:box.right] = pixels[src.top:src.bottom,
                                                                src.left:src.right]
        if screen.shape == (768, 1024) and (box.bottom, box.right) == (768, 1024):
            shown.append(to_rgb(screen))
    assert len(shown) == 3
    for rgb, index in zip(shown, (0, 1, 0), strict=True):
        np.testing.assert_array_equal(rgb, render_image(index))


def test_recorded_boot_screen_matches_spice_common() -> None:
    # 640 columns put the wait-mask steps (every 2048 pixels) mid-row. The digest is of
    # what spice-common's quic_decode() writes for this image, as little-endian XRGB.
    pixels = decode_quic(recorded_image(640, 480), 640, 480)
    assert hashlib.sha256(pixels.astype("<u4").tobytes()).hexdigest() == (
        "e384bf629007d43adf0f17d6e240e3368cbdc0f1f5a2659672490122e314b9ac")


def test_rgb24_streams_are_coded_as_rgb32() -> None:
    data = recorded_image(32, 768)
    as_rgb24 = bytearray(data)
    struct.pack_into("<I", as_rgb24, 8, RGB24)
    np.testing.assert_array_equal(decode_quic(memoryview(as_rgb24), 32, 768),
                                  decode_quic(data, 32, 768))


def sample(width: int, height: int) -> Pixels:
    """ARGB blocks, a diagonal and sparse sharp dots: runs, long codewords and all."""
    y, x = np.mgrid[0:height, 0:width].astype(np.uint32)
    pixels: Pixels = ((x // 8 + y // 4) * 9 * 0x01030507 + 0x40302010).astype(np.uint32)
    pixels[y == x] = 0xFF00FF00
    pixels[3::9, 5::11] ^= 0x5AA55AA5
    return pixels


# quic_encode() of sample(), as bytes; the GRAY image is the blue channel, the RGB16 one
# keeps each channel's top 5 bits. 50x43 puts the first wait-mask step mid-row.
ENCODED = {
    GRAY: (50, 43, """
UVVJQwAAAAABAAAAMgAAACsAAAADAACAIBEhoAFtAAAAgEMIAMCfDQDgzwYA8GcDAPizAQAA2QAAAIADADwg1Ai9
CwAAcAh4GkQBPwAAwyAyiDQAQTQIDg2if6ABg2AQgAoA5AgwEgAyiRI0sxQgQQAG/mGsA20pjwIAAC4AAPiACwAA
AOADAAdSLQEkpiH4DwB/DD8F8dd18FcQHgQEBAaBQKj8oyAQkIJACiAIrCDVZUAggTAIAlLgHwUUAikEIBAIgQI6
6YL+QCGIkEIgBX4QSCGCCwAAwHMkEvoB4JfipyB+pyD+CggEf+AFzOcSgH8Q0IEUCKRHQSAFQCAQ+GYuAJT4Z0AH
SIFAGAUCKRBAQOAfARAogQjowMwQGAP/EAUCKz/4o0AUEAiI4wdEgs+cC/xaANjtJyD/Bn8Ca6k58mFg4M9//BkI
CJj2moA/YcAxQCCQAgKQAv8ogUBgBnsj8CfoAgAApIBACsA/CgggEAikE/gnQSAKZLkoEESBIIgC//zzAx9qUCC/
5JfACtc/fgogPwXyUAKBQDYVUCAEQkAFVsA/CgSBFASCJBAImwogCgQaoAJSwD8YBIEUBARJEAhUAEEURIAKLMAf
YBCBFARSQoDgBz4UxEd850Yg6R/4BcQfg/gEQfwUJAcICDQQCDB3BH3y/gFUAXBMHQISDAQmOBAoSwiYAsADgRYI
3BDIBaTAPwoCgRQIQKAZkCkQJIFItwQCUiCIggBBFARfgoD4H/gpiAQy8tTyUyC/4B8/BRAogUCCAv8oCERqYiCQ
gkAQCPyjFARJIAqIAn8ZiNQCgkAYBEAg8I9RECSBAUEU/AJRWkAQBIMg+IE/UIFfgoBQEH/9WAGB+CB+ARnDP/DT
EAgE8rAC/yQYCKIggQCN0BTwDwYQCASBoFcOEEnQwD9AkAVmE8hKgBDYCA0f8wQwPMA44GeBQMCA2xj4NBIIpP5R
QAO/ECAF++WfHyuwvwKOnQL7gf3zzxAQ2E8FBEogBFJAYNLDHQVSIBACIBAIBAIrCJKPgiAKGWkA4YIgGAQIkiAI
IAoCKyTgj4IGQUQeCD4gCEF8JAQ+FMRfgPz0B4CENIB8aCC/FgQCgRAYA0FIgT9QiUoYEBAMggBJEARBBYEVBIEU
+AMIUREEIAiiIEkBBIINggBmYEGzBEsBAv4GAhFwUAiGOo88IBp8LBCQ/UOGgfJXID/gPz4FBI75SAoESRAIpIA/
nwKBFRBQgP+CIOAPR4EgCQKBFPAAViCwAAX4CwAA/MEAAAAA"""),
    RGB16: (32, 10, """
UVVJQwAAAAACAAAAIAAAAAoAAAAdAGCEVIQQBgEI7O4tDAMAAAL/bw4PABBAgP/u9wcACB0AfncRQAAEENYAYDhA
IPB+IRB6iS8EAgAAICAIIABEwuQUsCACviD1ghC9A0BAVbAYAkBgIAAkACDtAQUTIgM4BAB0RhJsDwCygkmJHxgM
hjFGEhCQAC4AACAIaAMBAMBpAwNcCIQVADA4jgJhGLlSVB8XLAWRJJGq0QMjrBIjB0aqEpIkqag6WcJIVcFJNURV
YoJIFfXAloCkpIhUHk+iKjFREIp6YECQC4ExjpNCEgtaND0uCCEcEEIQJJIQVeC1JokAEvACJggRCgVEoT4AABVF
AAAAAA=="""),
    RGBA: (24, 8, """
UVVJQwAAAAAFAAAAGAAAAAgAAAAAgIGAgLATAAjoAAAgFAgIAM4xxACABAAAAEAChoABbf8wwhCABACAAEACAI7j
2QAUCPw/AADgBQBVBQQAAFUtAEDYCQAAcAAXAACarAEAgDDUAQAAAB4QAABAAV0AAODA6AEBIXAAAAAAAvg8YM8b
XtABBQABgSAAagIAAGgCAAAAXgDSA7AGwyUEIQ+HD8EAQD0EEyQTAMAFCdiEEEItDgAgIEeED6AFkA6wVwDQQAiO
ZI0ILg4QggUAeq3tClA0A0FygEwAAEDT5Z4AANACWwKVy9y8Dx0AFwAAAEABAAAA4AACAABcQAgAAIO2HAicVQex
HVtA3BDcvA8AaFDCpMBuXgABCIBBwigAwEaKYgSCqjkQBIEg2FKDQB2HuQPiQSAIBkEI4hBBXDyEIEiFxjVgzUEQ
BLUDQRAE5o4tFdw8dBwOQ4gQKowgLjUTgxCEWuOKIQhCEFsqEASHIeYdTgEBQRVGCC7KBEIIAFor4AAAAAA="""),
}


def encoded(kind: int) -> tuple[memoryview, int, int]:
    width, height, text = ENCODED[kind]
    return memoryview(base64.b64decode(text)), width, height


def test_gray_comes_out_grey() -> None:
    data, width, height = encoded(GRAY)
    blue = sample(width, height) & 0xFF
    np.testing.assert_array_equal(decode_quic(data, width, height), blue * 0x010101)


def test_rgb16_channels_widen_to_8_bits() -> None:
    data, width, height = encoded(RGB16)
    pixels = sample(width, height)
    r, g, b = (pixels >> shift & 0xF8 for shift in (16, 8, 0))
    expect = (r | r >> 5) << 16 | (g | g >> 5) << 8 | (b | b >> 5)
    np.testing.assert_array_equal(decode_quic(data, width, height), expect)


def test_rgba_interleaves_alpha_rows() -> None:
    data, width, height = encoded(RGBA)
    np.testing.assert_array_equal(decode_quic(data, width, height), sample(width, height))


def header(kind: int, width: int, height: int, magic: int = QUIC_MAGIC,
           version: int = 0) -> bytes:
    return struct.pack("<5I", magic, version, kind, width, height)


@pytest.mark.parametrize("data", [
    header(RGB32, 32, 10, magic=0x43495552),
    header(RGB32, 32, 10, version=0x10000),
    header(0, 32, 10),
    header(6, 32, 10),
    header(RGB32, 32, 10)[:19],
    header(RGB32, 0, 0) + bytes(64),
], ids=["magic", "version", "type 0", "type 6", "short header", "no pixels"])
def test_bad_headers(data: bytes) -> None:
    width, height = struct.unpack_from("<2I", data.ljust(20, b"\0"), 12)
    with pytest.raises(ProtocolError):
        decode_quic(memoryview(data), width, height)


def test_size_must_match_the_descriptor() -> None:
    data = recorded_image(32, 10)
    with pytest.raises(ProtocolError, match="32x10 in an image of 32x9"):
        decode_quic(data, 32, 9)


def test_every_truncation_is_an_error() -> None:
    # quic.c wants the encoder's final zero word too: its 32-bit look-ahead reads it.
    data = recorded_image(32, 10)
    for end in range(0, len(data) - 1, 7):
        with pytest.raises(ProtocolError):
            decode_quic(data[:end], 32, 10)
    with pytest.raises(ProtocolError, match="truncated"):
        decode_quic(data[:-1], 32, 10)


def test_run_past_the_row() -> None:
    # quic.c's stream for a black 16x2 grey image: row 1 is a run from pixel 3, coded
    # from bit 186 as 8 ones and a 0. With more ones (each adds a whole expected run)
    # the run would overflow the row, where quic.c would write past it.
    valid = header(GRAY, 16, 2) + bytes.fromhex("ffffff80 000000c8 00000000")
    assert decode_quic(memoryview(valid), 16, 2).tolist() == [[0] * 16] * 2
    longer = header(GRAY, 16, 2) + bytes.fromhex("ffffff80 ffffffff 00000000")
    with pytest.raises(ProtocolError, match="run past the end"):
        decode_quic(memoryview(longer), 16, 2)


def test_damage_is_a_protocol_error_or_an_image() -> None:
    rng = random.Random(7)
    sources = [(recorded_image(32, 10), 32, 10), encoded(GRAY), encoded(RGB16), encoded(RGBA)]
    for _ in range(300):
        data, width, height = rng.choice(sources)
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(20, len(damaged))
            damaged[pos] = rng.randrange(256)
        if rng.random() < 0.3:
            damaged = damaged[:rng.randrange(len(damaged))]
        try:
            pixels = decode_quic(memoryview(damaged), width, height)
        except ProtocolError:
            continue
        assert pixels.shape == (height, width) and pixels.dtype == np.uint32

