"""DRAW_COMPOSITE, computed the way spice-gtk has pixman_image_composite32 compute it.

Pixels are premultiplied ARGB; pixman's 8-bit path rounds every product with ``div255``
and saturates every sum, and this module does the same, channel by channel, on whole
arrays. The operators whose pixman implementation divides (SATURATE, the disjoint and
conjoint families, and seven of the PDF blend modes) run on pixman's float path instead,
in ``composite_float``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from ..codecs.pixels import Pixels
from ..spice.errors import ProtocolError, Unsupported
from . import composite_float
from .composite_float import FLOAT_OPS, Floats
from .region import Region
from .surface import Box

Channels = npt.NDArray[np.int32]  # (..., 4) B, G, R, A: a uint32 ARGB pixel's bytes

Samples = npt.NDArray[Any]  # Channels, or Floats on the float path
ALPHA = slice(3, 4)  # the alpha channel, kept as an axis so it broadcasts over the others


class Op(IntEnum):
    """pixman_op_t: DRAW_COMPOSITE carries pixman's own operator numbers."""

    CLEAR = 0x00
    SRC = 0x01
    DST = 0x02
    OVER = 0x03
    OVER_REVERSE = 0x04
    IN = 0x05
    IN_REVERSE = 0x06
    OUT = 0x07
    OUT_REVERSE = 0x08
    ATOP = 0x09
    ATOP_REVERSE = 0x0A
    XOR = 0x0B
    ADD = 0x0C
    SATURATE = 0x0D
    DISJOINT_CLEAR = 0x10  # to DISJOINT_XOR = 0x1B, in the order of CLEAR to XOR
    CONJOINT_CLEAR = 0x20  # to CONJOINT_XOR = 0x2B
    MULTIPLY = 0x30
    SCREEN = 0x31
    OVERLAY = 0x32
    DARKEN = 0x33
    LIGHTEN = 0x34
    COLOR_DODGE = 0x35
    COLOR_BURN = 0x36
    HARD_LIGHT = 0x37
    SOFT_LIGHT = 0x38
    DIFFERENCE = 0x39
    EXCLUSION = 0x3A
    HSL_HUE = 0x3B
    HSL_SATURATION = 0x3C
    HSL_COLOR = 0x3D
    HSL_LUMINOSITY = 0x3E


class Filter(IntEnum):
    """pixman_filter_t."""

    FAST = 0
    GOOD = 1
    BEST = 2
    NEAREST = 3
    BILINEAR = 4
    CONVOLUTION = 5
    SEPARABLE_CONVOLUTION = 6


class Repeat(IntEnum):
    """pixman_repeat_t."""

    NONE = 0
    NORMAL = 1
    PAD = 2
    REFLECT = 3


class Format(IntEnum):
    """How pixman reads an operand's uint32 pixels.

    An A8 surface keeps its 8-bit value in the low byte of the canvas's uint32 pixels: the
    ROP, fill and copy code is bytewise and so already treats that byte as spice-gtk
    treats an a8 pixel (a fill stores the colour's low byte), and composite reads it as
    pixman does, as alpha over zero colour.
    """

    XRGB = 0  # alpha reads as 255 whatever the top byte holds
    ARGB = 1
    A8 = 2


@dataclass(frozen=True)
class Picture:
    """An operand with its pixman sampling state. ``transform`` is the top two rows of a
    16.16 affine matrix, signed, mapping destination to image coordinates."""

    pixels: Pixels
    format: Format
    filter: int = Filter.NEAREST
    repeat: int = Repeat.NONE
    transform: tuple[int, int, int, int, int, int] | None = None


# pixman's 8-bit path computes bilinear weights to this many bits.
_BILINEAR_BITS = 7
# Rows are composited in bands of about this many pixels, to bound temporary memory.
_BAND_PIXELS = 1 << 16


def div255(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """pixman's exact rounding of x / 255 (x up to 255 * 255)."""
    t = x + 128
    result: npt.NDArray[Any] = (t + (t >> 8)) >> 8
    return result


def _sat(x: Channels) -> Channels:
    result: Channels = np.minimum(x, 255)
    return result


def _channels(pixels: Pixels, fmt: Format) -> Channels:
    """uint32 pixels as pixman expands them to a8r8g8b8."""
    if fmt == Format.A8:
        out = np.zeros((*pixels.shape, 4), np.int32)
        out[..., 3] = pixels & 0xFF
        return out
    out = np.ascontiguousarray(pixels).view(np.uint8).reshape(*pixels.shape, 4).astype(np.int32)
    if fmt == Format.XRGB:
        out[..., 3] = 255
    return out


def _pack(c: Channels, fmt: Format) -> Pixels:
    """Channels stored back in a destination format (pixman drops what it cannot hold)."""
    if fmt == Format.A8:
        a8: Pixels = c[..., 3].astype(np.uint32)
        return a8
    packed: Pixels = c.astype(np.uint8).view(np.uint32)[..., 0]
    if fmt == Format.XRGB:
        packed = packed & np.uint32(0x00FFFFFF)
    return packed


def _wrap(coords: npt.NDArray[np.int64], size: int, repeat: int) -> npt.NDArray[np.int64]:
    """Pixel coordinates after the repeat mode; -1 where REPEAT_NONE falls outside."""
    if repeat == Repeat.NORMAL:
        return coords % size
    if repeat == Repeat.PAD:
        return np.clip(coords, 0, size - 1)
    if repeat == Repeat.REFLECT:
        c = coords % (2 * size)
        reflected: npt.NDArray[np.int64] = np.where(c >= size, 2 * size - c - 1, c)
        return reflected
    return np.where((coords >= 0) & (coords < size), coords, -1)


def _fetch(pic: Picture, xs: npt.NDArray[np.int64], ys: npt.NDArray[np.int64], wide: bool
           ) -> Samples:
    """The picture's pixels at integer image coordinates, transparent where none: 8-bit
    channels, or floats for the float path."""
    h, w = pic.pixels.shape
    cx, cy = _wrap(xs, w, pic.repeat), _wrap(ys, h, pic.repeat)
    inside = (cx >= 0) & (cy >= 0)
    out = _channels(pic.pixels[np.maximum(cy, 0), np.maximum(cx, 0)], pic.format)
    if wide:
        return composite_float.expand(out, pic.format != Format.XRGB, inside)
    out[~inside] = 0
    return out


def _sample(pic: Picture, xs: npt.NDArray[np.int64], ys: npt.NDArray[np.int64],
            wide: bool = False) -> Samples:
    """The picture at pixel centres (xs + 0.5, ys + 0.5) of its own coordinate space, i.e.
    before its transform; xs is a row vector and ys a column vector."""
    if pic.filter not in (Filter.FAST, Filter.GOOD, Filter.BEST, Filter.NEAREST,
                          Filter.BILINEAR):
        raise Unsupported(f"pixman filter {pic.filter} is not rendered")
    if pic.transform is None:
        # Both filters sample pixel centres exactly: the pixels themselves.
        return _fetch(pic, xs, ys, wide)
    t00, t01, t02, t10, t11, t12 = pic.transform
    # pixman_transform_point_3d of the centre ((x << 16) + 0x8000, (y << 16) + 0x8000): the
    # integer parts are exact and the two half-pixel terms are rounded once.
    fx = t00 * xs + t01 * ys + t02 + (((t00 + t01) * 0x8000 + 0x8000) >> 16)
    fy = t10 * xs + t11 * ys + t12 + (((t10 + t11) * 0x8000 + 0x8000) >> 16)
    if pic.filter in (Filter.FAST, Filter.NEAREST):
        # pixman_fixed_e below the point
        return _fetch(pic, (fx - 1) >> 16, (fy - 1) >> 16, wide)
    fx, fy = fx - 0x8000, fy - 0x8000
    x1, y1 = fx >> 16, fy >> 16
    if wide:
        # Weights from the whole 16-bit fraction, in single precision.
        dx = ((fx & 0xFFFF).astype(np.float32) / np.float32(65536))[..., None]
        dy = ((fy & 0xFFFF).astype(np.float32) / np.float32(65536))[..., None]
        mixed: Floats = (_fetch(pic, x1, y1, True) * ((1 - dx) * (1 - dy))
                         + _fetch(pic, x1 + 1, y1, True) * (dx * (1 - dy))
                         + _fetch(pic, x1, y1 + 1, True) * ((1 - dx) * dy)
                         + _fetch(pic, x1 + 1, y1 + 1, True) * (dx * dy))
        return mixed
    wx = (fx >> (16 - _BILINEAR_BITS)) & ((1 << _BILINEAR_BITS) - 1)
    wy = (fy >> (16 - _BILINEAR_BITS)) & ((1 << _BILINEAR_BITS) - 1)
    one = 1 << _BILINEAR_BITS
    total = (_fetch(pic, x1, y1, False) * ((one - wx) * (one - wy))[..., None]
             + _fetch(pic, x1 + 1, y1, False) * (wx * (one - wy))[..., None]
             + _fetch(pic, x1, y1 + 1, False) * ((one - wx) * wy)[..., None]
             + _fetch(pic, x1 + 1, y1 + 1, False) * (wx * wy)[..., None])
    result: Channels = (total >> (2 * _BILINEAR_BITS)).astype(np.int32)
    return result


# --- the 8-bit combiners (pixman-combine32.c), unified and component alpha -------------

def _blend_result(ra: Channels, sum_c: Channels) -> Channels:
    """The PDF blend modes' last step: clamp the 255 * 255-scaled results, then divide.
    The colour sums are unsigned in pixman: a negative one wraps and clamps to the top."""
    out = np.empty_like(sum_c)
    out[..., :3] = div255(np.where(sum_c[..., :3] < 0, 255 * 255,
                                   np.minimum(sum_c[..., :3], 255 * 255)))
    out[..., 3:] = div255(np.minimum(ra, 255 * 255))
    return out


def _screen(d: Channels, da: Channels, s: Channels, sa: Channels) -> Channels:
    result: Channels = s * da + d * sa - s * d
    return result


def _overlay(d: Channels, da: Channels, s: Channels, sa: Channels) -> Channels:
    result: Channels = np.where(2 * d < da, 2 * s * d, sa * da - 2 * (da - d) * (sa - s))
    return result


def _darken(d: Channels, da: Channels, s: Channels, sa: Channels) -> Channels:
    result: Channels = np.minimum(s * da, d * sa)
    return result


def _lighten(d: Channels, da: Channels, s: Channels, sa: Channels) -> Channels:
    result: Channels = np.maximum(s * da, d * sa)
    return result


def _hard_light(d: Channels, da: Channels, s: Channels, sa: Channels) -> Channels:
    result: Channels = np.where(2 * s < sa, 2 * s * d, sa * da - 2 * (da - d) * (sa - s))
    return result


def _difference(d: Channels, da: Channels, s: Channels, sa: Channels) -> Channels:
    result: Channels = np.abs(s * da - d * sa)
    return result


def _exclusion(d: Channels, da: Channels, s: Channels, sa: Channels) -> Channels:
    result: Channels = s * da + d * sa - 2 * d * s
    return result


Blend = Callable[[Channels, Channels, Channels, Channels], Channels]
_BLENDS: dict[int, Blend] = {
    Op.SCREEN: _screen, Op.OVERLAY: _overlay, Op.DARKEN: _darken, Op.LIGHTEN: _lighten,
    Op.HARD_LIGHT: _hard_light, Op.DIFFERENCE: _difference, Op.EXCLUSION: _exclusion,
}
NARROW_OPS = frozenset({*range(Op.CLEAR, Op.ADD + 1), Op.MULTIPLY, *_BLENDS})


def _combine(op: int, s: Channels, m: Channels | None, d: Channels, ca: bool) -> Channels:
    """One 8-bit combiner: ``s`` the source, ``m`` the mask, ``d`` the destination."""
    sa, da = s[..., ALPHA], d[..., ALPHA]
    if m is None or not ca:
        if m is not None:
            s = div255(s * m[..., ALPHA])  # unified alpha: the mask's alpha scales it all
        ms = s[..., ALPHA]
    else:
        # Component alpha: each channel of the mask scales that channel of the source, and
        # the destination keeps 255 - ms of itself, per channel.
        ms = div255(m * sa)
        s = div255(s * m)
    if op == Op.CLEAR:
        return np.zeros_like(d)
    if op == Op.SRC:
        return s
    if op == Op.DST:
        return d
    if op == Op.OVER:
        return _sat(s + div255(d * (255 - ms)))
    if op == Op.OVER_REVERSE:
        return _sat(d + div255(s * (255 - da)))
    if op == Op.IN:
        return div255(s * da)
    if op == Op.IN_REVERSE:
        return div255(d * ms)
    if op == Op.OUT:
        return div255(s * (255 - da))
    if op == Op.OUT_REVERSE:
        return div255(d * (255 - ms))
    if op == Op.ATOP:
        return _sat(div255(s * da) + div255(d * (255 - ms)))
    if op == Op.ATOP_REVERSE:
        return _sat(div255(s * (255 - da)) + div255(d * ms))
    if op == Op.XOR:
        return _sat(div255(s * (255 - da)) + div255(d * (255 - ms)))
    if op == Op.ADD:
        return _sat(s + d)
    if op == Op.MULTIPLY:
        return _sat(div255(d * s) + _sat(div255(s * (255 - da)) + div255(d * (255 - ms))))
    blend = _BLENDS.get(op)
    if blend is None:
        raise ProtocolError(f"composite operator {op:#x} is not an 8-bit pixman operator")
    s_alpha = s[..., ALPHA]
    ra = da * 255 + s_alpha * 255 - s_alpha * da
    colour = (255 - ms) * d + (255 - da) * s + blend(d, da, s, ms)
    return _blend_result(ra, colour)


# --- what pixman decides before compositing (pixman_image_composite32) -------------------

_FIXED_MIN, _FIXED_MAX = -(1 << 31), (1 << 31) - 1


def _transformed_extents(t: tuple[int, ...] | None, left: int, top: int, right: int,
                         bottom: int) -> tuple[int, int, int, int] | None:
    """The bounds of the first and last pixel centres of a box after the transform, in
    16.16; None where pixman's point transform overflows."""
    x1, y1 = (left << 16) + 0x8000, (top << 16) + 0x8000
    x2, y2 = (right << 16) - 0x8000, (bottom << 16) - 0x8000
    if t is None:
        return x1, y1, x2, y2
    xs, ys = [], []
    for x, y in ((x2, y2), (x1, y2), (x2, y1), (x1, y1)):
        tx = (t[0] * x + t[1] * y + t[2] * 0x10000 + 0x8000) >> 16
        ty = (t[3] * x + t[4] * y + t[5] * 0x10000 + 0x8000) >> 16
        if not (_FIXED_MIN <= tx <= _FIXED_MAX and _FIXED_MIN <= ty <= _FIXED_MAX):
            return None
        xs.append(tx)
        ys.append(ty)
    return min(xs), min(ys), max(xs), max(ys)


def _bilinear(pic: Picture) -> bool:
    return pic.filter in (Filter.GOOD, Filter.BEST, Filter.BILINEAR)


def _samples_nearest(pic: Picture) -> bool:
    """Whether pixman samples the picture as NEAREST: its filter, or a bilinear one whose
    transform puts every sample on a pixel centre."""
    if pic.filter in (Filter.FAST, Filter.NEAREST):
        return True
    t = pic.transform
    if not _bilinear(pic) or t is None:
        return _bilinear(pic)
    whole = (t[0] | t[1] | t[2] | t[3] | t[4] | t[5]) & 0xFFFF == 0
    odd = ((t[0] + t[1]) & (t[3] + t[4])) >> 16
    near = all(-30000 << 16 <= v <= 30000 << 16 for v in (t[2], t[5]))
    return whole and odd > 0 and odd % 2 == 1 and near


def _analyze(pic: Picture, left: int, top: int, right: int, bottom: int
             ) -> tuple[bool, bool]:
    """pixman's analyze_extent for the box a picture is sampled over (in its own space):
    whether the composite goes ahead at all, and whether every sample falls inside the
    picture, which makes an opaque format opaque whatever the repeat mode."""
    if not all(-(1 << 15) <= v < 1 << 15 for v in (left - 1, top - 1, right + 1, bottom + 1)):
        return False, False
    h, w = pic.pixels.shape
    if pic.transform is None and left >= 0 and top >= 0 and right <= w and bottom <= h:
        return True, pic.filter in (Filter.FAST, Filter.NEAREST) or _samples_nearest(pic)
    reach, size = (0x8000, 0x10000) if _bilinear(pic) else (1, 0)
    t = _transformed_extents(pic.transform, left, top, right, bottom)
    grown = _transformed_extents(pic.transform, left - 1, top - 1, right + 1, bottom + 1)
    if t is None or grown is None:
        return False, False
    x1, y1, x2, y2 = grown
    if not (x1 - reach - 8 >= _FIXED_MIN and y1 - reach - 8 >= _FIXED_MIN
            and x2 - reach + 8 + size <= _FIXED_MAX and y2 - reach + 8 + size <= _FIXED_MAX):
        return False, False
    x1, y1, x2, y2 = t
    nearest = ((x1 - 1) >> 16 >= 0 and (y1 - 1) >> 16 >= 0 and (x2 - 1) >> 16 < w
               and (y2 - 1) >> 16 < h)
    bilinear = ((x1 - 0x8000) >> 16 >= 0 and (y1 - 0x8000) >> 16 >= 0
                and (x2 + 0x8000) >> 16 < w and (y2 + 0x8000) >> 16 < h)
    covered = (_samples_nearest(pic) and nearest) or (_bilinear(pic) and bilinear)
    return True, covered


def _effective_op(op: int, src: Picture, src_origin: tuple[int, int], mask: Picture | None,
                  mask_origin: tuple[int, int], component_alpha: bool,
                  size: tuple[int, int]) -> int | None:
    """The operator pixman really runs (optimize_operator), or None when it refuses the
    composite. Most substitutions give the same pixels; those that matter trade a float
    operator for an 8-bit one: a disjoint or conjoint CLEAR, SRC or DST always, and
    SATURATE over an opaque source. (spice-gtk's destination copy never counts as opaque.)
    """
    ok, covered = _analyze(src, *src_origin, src_origin[0] + size[0], src_origin[1] + size[1])
    opaque = src.format == Format.XRGB and (src.repeat != Repeat.NONE or covered)
    if mask is not None:
        ok_mask, mask_covered = _analyze(mask, *mask_origin, mask_origin[0] + size[0],
                                         mask_origin[1] + size[1])
        ok = ok and ok_mask
        opaque = opaque and not component_alpha and mask.format == Format.XRGB \
            and (mask.repeat != Repeat.NONE or mask_covered)
    if not ok:
        return None
    if op & 0xF0 in (Op.DISJOINT_CLEAR, Op.CONJOINT_CLEAR) and op & 0xF <= Op.DST:
        return op & 0xF
    if op == Op.SATURATE and opaque:
        return Op.OVER_REVERSE
    return op


def composite(op: int, src: Picture, src_origin: tuple[int, int], mask: Picture | None,
              mask_origin: tuple[int, int], component_alpha: bool, dest: Pixels,
              dest_format: Format, dest_origin: tuple[int, int], box: Box,
              size: tuple[int, int]) -> None:
    """pixman_image_composite32 of a ``size`` rectangle, onto ``dest``: the surface's
    pixels over ``box``.

    Destination pixel (x, y) is composite pixel (x, y) - ``dest_origin``; composite pixel
    (i, j) samples the source at its coordinates (i, j) + ``src_origin`` and the mask at
    (i, j) + ``mask_origin``, each through its own transform."""
    if op not in NARROW_OPS and op not in FLOAT_OPS:
        raise ProtocolError(f"composite operator {op:#x} is not a pixman operator")
    effective = _effective_op(op, src, src_origin, mask, mask_origin, component_alpha, size)
    if effective is None:
        return
    op = effective
    xs = np.arange(box.left, box.right, dtype=np.int64)[None, :] - dest_origin[0]
    band = max(1, _BAND_PIXELS // max(box.width, 1))
    for top in range(box.top, box.bottom, band):
        bottom = min(top + band, box.bottom)
        ys = np.arange(top, bottom, dtype=np.int64)[:, None] - dest_origin[1]
        view = dest[top - box.top:bottom - box.top]
        wide = op in FLOAT_OPS
        s = _sample(src, xs + src_origin[0], ys + src_origin[1], wide)
        m = (None if mask is None else
             _sample(mask, xs + mask_origin[0], ys + mask_origin[1], wide))
        d = _channels(view, dest_format)
        if wide:
            result = composite_float.to_unorm(composite_float.combine(
                op, s, m, composite_float.expand(d, dest_format != Format.XRGB,
                                                 np.ones(d.shape[:-1], np.bool_)),
                component_alpha))
        else:
            result = _combine(op, s, m, d, component_alpha)
        view[...] = _pack(result, dest_format)


def composite_region(pixels: Pixels, fmt: Format, region: Region, limit: Box | None, op: int,
                     src: Picture, src_origin: tuple[int, int], mask: Picture | None,
                     mask_origin: tuple[int, int], component_alpha: bool,
                     dest_origin: tuple[int, int], size: tuple[int, int]) -> Box | None:
    """``composite`` on a surface's ``pixels`` inside ``region`` (and ``limit``), each
    pixel once however the clip rectangles overlap; the box it may have changed."""
    box = region.extents if limit is None else region.extents.intersect(limit)
    if box.empty:
        return None
    view = pixels[box.top:box.bottom, box.left:box.right]
    inside = region.within(box)
    target = view if inside is None else view.copy()
    composite(op, src, src_origin, mask, mask_origin, component_alpha, target, fmt,
              dest_origin, box, size)
    if inside is not None:
        np.copyto(view, target, where=inside)
    return box
