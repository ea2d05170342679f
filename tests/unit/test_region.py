from __future__ import annotations

import random

import numpy as np

from spicebox.canvas.region import disjoint
from spicebox.canvas.surface import Box
from spicebox.spice import messages as m
from spicebox.spice.constants import BrushType, Ropd

from .test_canvas import base, canvas, rect


def coverage(boxes: list[Box]) -> np.ndarray:
    count = np.zeros((40, 40), np.int64)
    for b in boxes:
        count[b.top:b.bottom, b.left:b.right] += 1
    return count


def test_overlapping_boxes_become_disjoint_with_the_same_cover() -> None:
    rng = random.Random(5)
    for _ in range(200):
        boxes = []
        for _ in range(rng.randint(2, 8)):
            left, top = rng.randrange(30), rng.randrange(30)
            boxes.append(Box(left, top, left + rng.randint(1, 10), top + rng.randint(1, 10)))
        before, after = coverage(boxes), coverage(disjoint(boxes))
        assert after.max() == 1
        np.testing.assert_array_equal(after, before > 0)


def test_xor_through_overlapping_clip_rects_applies_once() -> None:
    c = canvas()
    clip = (rect(0, 0, 3, 2), rect(2, 0, 5, 2))  # overlap in column 2
    c.apply(m.DrawFill(base(rect(0, 0, 5, 2), *clip), m.Brush(BrushType.SOLID, 0xFF),
                       Ropd.OP_XOR, m.NO_MASK))
    assert c.primary is not None and c.primary.pixels[:2, :6].tolist() == [[0xFF] * 5 + [0]] * 2
