"""The set of pixels a draw may touch: the union of its clipped boxes, as pixman's region.

Clip rectangles may overlap; drawing box by box would then apply an operation twice to
the pixels they share, which matters for XOR-like ROPs and for compositing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from .surface import Box

# Past this many clip rectangles the overlap check itself would cost more than it saves;
# servers send pixman regions, which never overlap, so only a broken one gets this far.
MAX_CHECKED_BOXES = 4096


def disjoint(boxes: list[Box]) -> list[Box]:
    """``boxes`` covering the same pixels without overlapping, so a draw done box by box
    touches each pixel once (what XOR-like ROPs and blending need)."""
    if len(boxes) < 2 or len(boxes) > MAX_CHECKED_BOXES or not _overlapping(boxes):
        return boxes
    out: list[Box] = []
    for box in boxes:
        pieces = [box]
        for taken in out:
            pieces = [p for piece in pieces for p in _minus(piece, taken)]
        out += pieces
    return out


def _overlapping(boxes: list[Box]) -> bool:
    ordered = sorted(boxes)  # by left edge
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if b.left >= a.right:
                break
            if not a.intersect(b).empty:
                return True
    return False


def _minus(a: Box, b: Box) -> list[Box]:
    """The parts of ``a`` outside ``b``: up to four boxes."""
    c = a.intersect(b)
    if c.empty:
        return [a]
    parts = [Box(a.left, a.top, a.right, c.top), Box(a.left, c.bottom, a.right, a.bottom),
             Box(a.left, c.top, c.left, c.bottom), Box(c.right, c.top, a.right, c.bottom)]
    return [p for p in parts if not p.empty]


class Region:
    def __init__(self, boxes: Sequence[Box]) -> None:
        self.boxes = [b for b in boxes if not b.empty]
        self.extents = Box(0, 0, 0, 0)
        self.mask: npt.NDArray[np.bool_] | None = None  # over extents; None: all of it
        if not self.boxes:
            return
        e = self.boxes[0]
        for b in self.boxes[1:]:
            e = e.union(b)
        self.extents = e
        if len(self.boxes) > 1:
            mask = np.zeros((e.height, e.width), np.bool_)
            for b in self.boxes:
                mask[b.top - e.top:b.bottom - e.top, b.left - e.left:b.right - e.left] = True
            if not mask.all():
                self.mask = mask

    @property
    def empty(self) -> bool:
        return not self.boxes

    def contains(self, xs: npt.NDArray[np.int64], ys: npt.NDArray[np.int64]
                 ) -> npt.NDArray[np.bool_]:
        e = self.extents
        inside = (xs >= e.left) & (xs < e.right) & (ys >= e.top) & (ys < e.bottom)
        if self.mask is not None:
            inside[inside] = self.mask[ys[inside] - e.top, xs[inside] - e.left]
        return inside

    def within(self, box: Box) -> npt.NDArray[np.bool_] | None:
        """The region over ``box`` (a part of the extents); None where it is all inside."""
        if self.mask is None:
            return None
        e = self.extents
        return self.mask[box.top - e.top:box.bottom - e.top, box.left - e.left:box.right - e.left]
