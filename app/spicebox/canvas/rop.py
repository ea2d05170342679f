"""The sixteen two-operand raster ops spice-gtk reduces a ROP descriptor to (SpiceROP).

A code is the op's truth table, numbered like X11's GX functions: bit ``(!s << 1) | !d``
holds the result for source bit s and destination bit d, so 0x3 copies the source, 0x6 is
XOR and 0x5 leaves the destination alone.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt

from ..spice.constants import Ropd

CLEAR, AND, AND_REVERSE, COPY, AND_INVERTED, NOOP, XOR, OR = range(8)
NOR, EQUIV, INVERT, OR_REVERSE, COPY_INVERTED, OR_INVERTED, NAND, SET = range(8, 16)

UInt = npt.NDArray[np.uint32] | np.uint32


def _code(f: Any) -> int:
    return sum(f(s, d) << ((1 - s) << 1 | (1 - d)) for s in (0, 1) for d in (0, 1))


@functools.cache  # a handful of descriptors recur on every draw
def from_ropd(ropd: int, src_invert: int, dest_invert: int) -> int:
    """The op for a descriptor whose operands are told apart by which of its INVERS_SRC,
    INVERS_BRUSH and INVERS_DEST flags apply to them (spice-gtk's ropd_descriptor_to_rop):
    the first of PUT, OR, AND, XOR, BLACKNESS, WHITENESS, INVERS present decides, and a
    descriptor with none of them copies."""
    inv_s, inv_d = bool(ropd & src_invert), bool(ropd & dest_invert)
    inv_r = bool(ropd & Ropd.INVERS_RES)
    if ropd & Ropd.OP_PUT:
        return COPY_INVERTED if inv_s != inv_r else COPY
    for flag, op in ((Ropd.OP_OR, int.__or__), (Ropd.OP_AND, int.__and__),
                     (Ropd.OP_XOR, int.__xor__)):
        if ropd & flag:
            return _code(lambda s, d, op=op: op(s ^ inv_s, d ^ inv_d) ^ inv_r)
    if ropd & Ropd.OP_BLACKNESS:
        return CLEAR
    if ropd & Ropd.OP_WHITENESS:
        return SET
    if ropd & Ropd.OP_INVERS:
        return INVERT
    return COPY


def apply(code: int, src: UInt, dst: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """``code`` on every bit of ``src`` and ``dst``."""
    s1 = np.asarray(src, np.uint32)
    result = np.zeros(np.broadcast_shapes(s1.shape, dst.shape), np.uint32)
    for s, s_bits in ((0, ~s1), (1, s1)):
        for d, d_bits in ((0, ~dst), (1, dst)):
            if code >> ((1 - s) << 1 | (1 - d)) & 1:
                np.bitwise_or(result, np.bitwise_and(s_bits, d_bits), out=result)
    return result


def apply_times(code: int, src: UInt, dst: npt.NDArray[np.uint32],
                times: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.uint32]:
    """``code`` applied ``times`` (at least once) over, per pixel, with the same source.

    Per bit an op either sets a constant or keeps or flips the destination, so n
    applications are one: constants stay, flips cancel in pairs."""
    zeros = np.zeros_like(dst)
    at_zero, at_one = apply(code, src, zeros), apply(code, src, ~zeros)
    follows = at_zero ^ at_one  # bits where the result depends on the destination
    flips = np.where(times & 1 == 1, at_zero & follows, np.uint32(0)).astype(np.uint32)
    result: npt.NDArray[np.uint32] = (dst & follows) ^ (at_zero & ~follows) ^ flips
    return result
