"""pixman's float path, which it takes for the operators whose formulas divide: SATURATE,
the disjoint and conjoint families, and the PDF blend modes COLOR_DODGE, COLOR_BURN,
SOFT_LIGHT and the four HSL ones.

Everything is single precision in the order pixman-combine-float.c computes it, so that
the last-bit differences land the same way when results go back to 8 bits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

# (..., 4): A, R, G, B, as pixman's argb_t; single precision throughout (numpy keeps
# float32 through arithmetic with Python scalars).
Floats = npt.NDArray[np.floating[Any]]

_F = np.float32
_MIN = np.finfo(np.float32).tiny  # FLT_MIN
_ONE_255 = _F(1.0) / _F(255.0)  # what pixman multiplies 8-bit channels by


def _is_zero(f: Floats) -> npt.NDArray[np.bool_]:
    result: npt.NDArray[np.bool_] = (f > -_MIN) & (f < _MIN)
    return result


def expand(bgra: npt.NDArray[np.int32], has_alpha: bool, inside: npt.NDArray[np.bool_]
           ) -> Floats:
    """8-bit channels (B, G, R, A order) to floats; formats without alpha read as 1, and
    samples from outside an image (``inside`` False) are all zero."""
    out = (bgra[..., ::-1].astype(np.float32) * _ONE_255).astype(np.float32)
    if not has_alpha:
        out[..., 0] = 1.0
    out[~inside] = 0.0
    return out


def to_unorm(f: Floats) -> npt.NDArray[np.int32]:
    """Back to 8-bit channels (B, G, R, A order): clamp, scale by 256, then take the top
    value down by one."""
    u = (np.clip(f, 0.0, 1.0) * _F(256.0)).astype(np.int32)
    result: npt.NDArray[np.int32] = (u - (u >> 8))[..., ::-1]
    return result


# --- Porter-Duff operators with factors (the disjoint and conjoint families) -------------

Factor = Callable[[Floats, Floats], Floats]


def _clamp(f: Floats) -> Floats:
    result: Floats = np.where(f < 0, _F(0), np.where(f > 1.0, _F(1), f))
    return result


def _ratio(num: Floats, den: Floats, if_zero: float) -> Floats:
    safe = np.where(_is_zero(den), _F(1), den)
    result: Floats = np.where(_is_zero(den), _F(if_zero), _clamp(num / safe))
    return result


def _one_minus_ratio(num: Floats, den: Floats) -> Floats:
    safe = np.where(_is_zero(den), _F(1), den)
    result: Floats = np.where(_is_zero(den), _F(0), _clamp(1 - num / safe))
    return result


_FACTORS: dict[str, Factor] = {
    "zero": lambda sa, da: np.zeros_like(sa),
    "one": lambda sa, da: np.ones_like(sa),
    "sa": lambda sa, da: sa,
    "da": lambda sa, da: da,
    "inv_sa": lambda sa, da: 1 - sa,
    "inv_da": lambda sa, da: 1 - da,
    "sa/da": lambda sa, da: _ratio(sa, da, 1.0),
    "da/sa": lambda sa, da: _ratio(da, sa, 1.0),
    "inv_sa/da": lambda sa, da: _ratio(1 - sa, da, 1.0),
    "inv_da/sa": lambda sa, da: _ratio(1 - da, sa, 1.0),
    "1-sa/da": _one_minus_ratio,
    "1-da/sa": lambda sa, da: _one_minus_ratio(da, sa),
    "1-inv_da/sa": lambda sa, da: _one_minus_ratio(1 - da, sa),
    "1-inv_sa/da": lambda sa, da: _one_minus_ratio(1 - sa, da),
}

# CLEAR to XOR (op & 0xF from 0 to 0xB): the source and destination factors of the
# disjoint (0x1?) and conjoint (0x2?) operators.
_DISJOINT = (("zero", "zero"), ("one", "zero"), ("zero", "one"), ("one", "inv_sa/da"),
             ("inv_da/sa", "one"), ("1-inv_da/sa", "zero"), ("zero", "1-inv_sa/da"),
             ("inv_da/sa", "zero"), ("zero", "inv_sa/da"), ("1-inv_da/sa", "inv_sa/da"),
             ("inv_da/sa", "1-inv_sa/da"), ("inv_da/sa", "inv_sa/da"))
_CONJOINT = (("zero", "zero"), ("one", "zero"), ("zero", "one"), ("one", "1-sa/da"),
             ("1-da/sa", "one"), ("da/sa", "zero"), ("zero", "sa/da"), ("1-da/sa", "zero"),
             ("zero", "1-sa/da"), ("da/sa", "1-sa/da"), ("1-da/sa", "sa/da"),
             ("1-da/sa", "1-sa/da"))
_SATURATE = ("inv_da/sa", "one")

Channel = Callable[[Floats, Floats, Floats, Floats], Floats]  # (sa, s, da, d) -> result


def _porter_duff(a: str, b: str) -> tuple[Channel, Channel]:
    fa, fb = _FACTORS[a], _FACTORS[b]

    def channel(sa: Floats, s: Floats, da: Floats, d: Floats) -> Floats:
        result: Floats = np.minimum(_F(1), s * fa(sa, da) + d * fb(sa, da))
        return result
    return channel, channel


# --- separable PDF blend modes -----------------------------------------------------------

def _color_dodge(sa: Floats, s: Floats, da: Floats, d: Floats) -> Floats:
    safe = np.where(_is_zero(sa - s), _F(1), sa - s)
    result: Floats = np.where(
        _is_zero(d), _F(0),
        np.where((d * sa >= sa * da - s * da) | _is_zero(sa - s), sa * da,
                 sa * sa * d / safe))
    return result


def _color_burn(sa: Floats, s: Floats, da: Floats, d: Floats) -> Floats:
    safe = np.where(_is_zero(s), _F(1), s)
    result: Floats = np.where(
        d >= da, sa * da,
        np.where((sa * (da - d) >= s * da) | _is_zero(s), _F(0),
                 sa * (da - sa * (da - d) / safe)))
    return result


def _soft_light(sa: Floats, s: Floats, da: Floats, d: Floats) -> Floats:
    safe = np.where(_is_zero(da), _F(1), da)
    dark = d * sa - d * (da - d) * (sa - 2 * s) / safe
    near = d * sa + (2 * s - sa) * d * ((16 * d / safe - 12) * d / safe + 3)
    far = d * sa + (np.sqrt(d * da) - d) * (2 * s - sa)
    result: Floats = np.where(_is_zero(da), d * sa,
                              np.where(2 * s <= sa, dark, np.where(4 * d <= da, near, far)))
    return result


def _separable(blend: Channel) -> tuple[Channel, Channel]:
    def alpha(sa: Floats, s: Floats, da: Floats, d: Floats) -> Floats:
        result: Floats = da + sa - da * sa
        return result

    def colour(sa: Floats, s: Floats, da: Floats, d: Floats) -> Floats:
        result: Floats = (1 - sa) * d + (1 - da) * s + blend(sa, s, da, d)
        return result
    return alpha, colour


# --- non-separable PDF blend modes (HSL) -------------------------------------------------

def _lum(c: Floats) -> Floats:
    result: Floats = c[..., 0] * _F(0.3) + c[..., 1] * _F(0.59) + c[..., 2] * _F(0.11)
    return result


def _sat(c: Floats) -> Floats:
    result: Floats = c.max(-1) - c.min(-1)
    return result


def _clip_color(c: Floats, a: Floats) -> Floats:
    lum, low, high = _lum(c)[..., None], c.min(-1)[..., None], c.max(-1)[..., None]
    t = lum - low
    c = np.where(low < 0, np.where(_is_zero(t), _F(0),
                                   lum + ((c - lum) * lum) / np.where(_is_zero(t), _F(1), t)),
                 c)
    t = high - lum
    a = a[..., None]
    clipped: Floats = np.where(high > a, np.where(_is_zero(t), a, lum + ((c - lum) * (a - lum)
                                                 / np.where(_is_zero(t), _F(1), t))), c)
    return clipped


def _set_lum(c: Floats, a: Floats, lum: Floats) -> Floats:
    return _clip_color(c + (lum - _lum(c))[..., None], a)


def _set_sat(c: Floats, sat: Floats) -> Floats:
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    # Which channel is largest, middle and smallest, ties broken as pixman's branches do.
    r_g, r_b, g_b = r > g, r > b, g > b
    high = np.where(r_g, np.where(r_b, 0, 2), np.where(r_b, 1, np.where(g_b, 1, 2)))
    mid = np.where(r_g, np.where(r_b, np.where(g_b, 1, 2), 0), np.where(r_b, 0,
                                                                       np.where(g_b, 2, 1)))
    low = 3 - high - mid
    vmax = np.take_along_axis(c, high[..., None], -1)[..., 0]
    vmid = np.take_along_axis(c, mid[..., None], -1)[..., 0]
    vmin = np.take_along_axis(c, low[..., None], -1)[..., 0]
    t = vmax - vmin
    flat = _is_zero(t)
    out = np.empty_like(c)
    np.put_along_axis(out, high[..., None], np.where(flat, _F(0), sat)[..., None], -1)
    np.put_along_axis(out, mid[..., None], np.where(
        flat, _F(0), ((vmid - vmin) * sat) / np.where(flat, _F(1), t))[..., None], -1)
    np.put_along_axis(out, low[..., None], np.zeros_like(t)[..., None], -1)
    return out


HslBlend = Callable[[Floats, Floats, Floats, Floats], Floats]  # (dc, da, sc, sa) -> rc


def _hue(dc: Floats, da: Floats, sc: Floats, sa: Floats) -> Floats:
    return _set_lum(_set_sat(sc * da[..., None], _sat(dc) * sa), sa * da, _lum(dc) * sa)


def _saturation(dc: Floats, da: Floats, sc: Floats, sa: Floats) -> Floats:
    return _set_lum(_set_sat(dc * sa[..., None], _sat(sc) * da), sa * da, _lum(dc) * sa)


def _color(dc: Floats, da: Floats, sc: Floats, sa: Floats) -> Floats:
    return _set_lum(sc * da[..., None], sa * da, _lum(dc) * sa)


def _luminosity(dc: Floats, da: Floats, sc: Floats, sa: Floats) -> Floats:
    return _set_lum(dc * sa[..., None], sa * da, _lum(sc) * da)


_HSL: dict[int, HslBlend] = {0x3B: _hue, 0x3C: _saturation, 0x3D: _color, 0x3E: _luminosity}

_CHANNELS: dict[int, tuple[Channel, Channel]] = {
    0x0D: _porter_duff(*_SATURATE),
    **{0x10 + i: _porter_duff(a, b) for i, (a, b) in enumerate(_DISJOINT)},
    **{0x20 + i: _porter_duff(a, b) for i, (a, b) in enumerate(_CONJOINT)},
    0x35: _separable(_color_dodge),
    0x36: _separable(_color_burn),
    0x38: _separable(_soft_light),
}
FLOAT_OPS = frozenset({*_CHANNELS, *_HSL})


def combine(op: int, s: Floats, m: Floats | None, d: Floats, component_alpha: bool
            ) -> Floats:
    """One float combiner on A, R, G, B floats."""
    sa, da = s[..., 0], d[..., 0]
    if op in _HSL:
        if m is not None and component_alpha:
            return d  # pixman makes the HSL modes no-ops with component alpha
        sc = s[..., 1:]
        if m is not None:
            ma = m[..., 0]
            sa = sa * ma
            # pixman scales green twice and blue not at all; so must this.
            sc = np.stack((sc[..., 0] * ma, sc[..., 1] * ma * ma, sc[..., 2]), -1)
        dc = d[..., 1:]
        rc = _HSL[op](dc, da, sc, sa)
        out = np.empty_like(d)
        out[..., 0] = sa + da - sa * da
        out[..., 1:] = (1 - sa)[..., None] * dc + (1 - da)[..., None] * sc + rc
        return out
    alpha, colour = _CHANNELS[op]
    if m is None:
        fs = np.repeat(sa[..., None], 4, -1)
    elif component_alpha:
        s = np.concatenate((m[..., :1] * sa[..., None], s[..., 1:] * m[..., 1:]), -1)
        fs = m * sa[..., None]
        sa = s[..., 0]
    else:
        s = s * m[..., :1]
        sa = s[..., 0]
        fs = np.repeat(sa[..., None], 4, -1)
    out = np.empty_like(d)
    out[..., 0] = alpha(fs[..., 0], sa, da, da)
    for i in (1, 2, 3):
        out[..., i] = colour(fs[..., i], s[..., i], da, d[..., i])
    return out
