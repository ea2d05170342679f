"""Conversions from SPICE bitmap formats to the canvas format: (h, w) uint32 XRGB.

All of it is numpy slicing and vector arithmetic: no per-pixel Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ..spice.constants import BitmapFormat
from ..spice.errors import ProtocolError, Unsupported

Pixels = npt.NDArray[np.uint32]

BYTES_PER_PIXEL = {BitmapFormat.BIT32: 4, BitmapFormat.RGBA: 4, BitmapFormat.BIT24: 3,
                   BitmapFormat.BIT16: 2, BitmapFormat.BIT8: 1}
_BITS_PER_PIXEL = {BitmapFormat.BIT1_LE: 1, BitmapFormat.BIT1_BE: 1,
                   BitmapFormat.BIT4_LE: 4, BitmapFormat.BIT4_BE: 4, BitmapFormat.BIT8_A: 8}


def row_bytes(fmt: int, width: int) -> int:
    if fmt in BYTES_PER_PIXEL:
        return width * BYTES_PER_PIXEL[BitmapFormat(fmt)]
    if fmt in _BITS_PER_PIXEL:
        return (width * _BITS_PER_PIXEL[BitmapFormat(fmt)] + 7) // 8
    raise Unsupported(f"bitmap format {fmt} is not decoded")


def to_rgb(pixels: Pixels) -> npt.NDArray[np.uint8]:
    """(h, w, 3) R, G, B bytes: what a PNG or a screendump holds."""
    rgb = np.empty((*pixels.shape, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = pixels >> 16, pixels >> 8, pixels
    return rgb


def _widen(value: npt.NDArray[Any], bits: int) -> npt.NDArray[Any]:
    # Replicate the high bits into the low ones so all-ones maps to 0xff, as pixman does.
    return value << (8 - bits) | value >> (2 * bits - 8)


def from_rgb555(v: Pixels) -> Pixels:
    xrgb: Pixels = (_widen(v >> 10 & 31, 5) << 16 | _widen(v >> 5 & 31, 5) << 8
                    | _widen(v & 31, 5)).astype(np.uint32, copy=False)
    return xrgb


def from_rgb565(v: Pixels) -> Pixels:
    xrgb: Pixels = (_widen(v >> 11 & 31, 5) << 16 | _widen(v >> 5 & 63, 6) << 8
                    | _widen(v & 31, 5)).astype(np.uint32, copy=False)
    return xrgb


def to_xrgb(data: bytes | bytearray | memoryview, fmt: int, width: int, height: int,
            stride: int, top_down: bool, palette: Sequence[int] | None = None) -> Pixels:
    """View or convert ``height`` rows of ``stride`` bytes. Bottom-up bitmaps (the SPICE
    default) come back flipped, as a view where possible."""
    if width <= 0 or height <= 0:
        raise ProtocolError(f"bitmap of {width}x{height} has no pixels")
    need = row_bytes(fmt, width)
    if stride < need or len(data) < stride * height:
        raise ProtocolError(f"bitmap of {width}x{height} with stride {stride} needs "
                            f"{stride * height} bytes, has {len(data)}")
    rows = np.frombuffer(data, np.uint8, stride * height).reshape(height, stride)[:, :need]
    if not top_down:
        rows = rows[::-1]
    if fmt in (BitmapFormat.BIT32, BitmapFormat.RGBA):
        return rows.view("<u4")  # zero-copy: each row's bytes are contiguous
    if fmt == BitmapFormat.BIT8_A:  # alpha only: kept in the low byte, as on A8 surfaces
        alpha: Pixels = rows.astype(np.uint32)
        return alpha
    if fmt == BitmapFormat.BIT24:
        bgr = rows.reshape(height, width, 3).astype(np.uint32)
        return (bgr[..., 0] | bgr[..., 1] << 8 | bgr[..., 2] << 16).astype(np.uint32, copy=False)
    if fmt == BitmapFormat.BIT16:
        return from_rgb555(np.ascontiguousarray(rows).view("<u2").astype(np.uint32))
    if palette is None:
        raise ProtocolError(f"indexed bitmap (format {fmt}) without a palette")
    if fmt == BitmapFormat.BIT8:
        index = rows
    elif fmt in (BitmapFormat.BIT4_BE, BitmapFormat.BIT4_LE):
        high, low = rows >> 4, rows & 15
        pair = (high, low) if fmt == BitmapFormat.BIT4_BE else (low, high)
        index = np.stack(pair, axis=-1).reshape(height, -1)[:, :width]
    else:
        order: Literal["big", "little"] = "big" if fmt == BitmapFormat.BIT1_BE else "little"
        index = np.unpackbits(rows, axis=1, bitorder=order)[:, :width]
    lut = np.zeros(256, np.uint32)
    lut[:len(palette)] = np.asarray(palette[:256], np.uint32)
    colors: Pixels = lut[index]
    return colors
