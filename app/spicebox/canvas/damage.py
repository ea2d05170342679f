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
        if box.empty:
            return
        # Merge with every box it overlaps; the union may then overlap others in turn.
        merged = True
        while merged:
            merged = False
            for i, other in enumerate(self._boxes):
                if not box.intersect(other).empty:
                    box = box.union(self._boxes.pop(i))
                    merged = True
                    break
        self._boxes.append(box)
        if len(self._boxes) > MAX_BOXES:
            total = self._boxes[0]
            for other in self._boxes[1:]:
                total = total.union(other)
            self._boxes = [total]

    def take(self) -> list[Box]:
        boxes, self._boxes = self._boxes, []
        return boxes
