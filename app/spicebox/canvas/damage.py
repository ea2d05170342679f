"""Damage accumulated between two presents: a few boxes, not one bounding box, so two small
changes far apart never cost a full-frame copy."""

from __future__ import annotations

from .surface import Box

# Past this many separate boxes, per-box overhead outweighs the pixels saved.
MAX_BOXES = 16


class Damage:
    def __init__(self) -> None:
        self._boxes: list[Box] = []

    def __bool__(self) -> bool:
        return bool(self._boxes)

    def add(self, box: Box) -> None:
        # Called for nearly every message: the overlap tests are written out rather than
        # built from Box.intersect, which makes a box per comparison.
        left, top, right, bottom = box
        if right <= left or bottom <= top:
            return
        # Merge with every box it overlaps; the union may then overlap others in turn.
        boxes = self._boxes
        i = 0
        while i < len(boxes):
            o = boxes[i]
            if o.left < right and left < o.right and o.top < bottom and top < o.bottom:
                del boxes[i]
                left, top = min(left, o.left), min(top, o.top)
                right, bottom = max(right, o.right), max(bottom, o.bottom)
                i = 0
            else:
                i += 1
        boxes.append(Box(left, top, right, bottom))
        if len(boxes) > MAX_BOXES:
            self._boxes = [Box(min(b.left for b in boxes), min(b.top for b in boxes),
                               max(b.right for b in boxes), max(b.bottom for b in boxes))]

    def take(self) -> list[Box]:
        boxes, self._boxes = self._boxes, []
        return boxes
