from __future__ import annotations

from spicebox.canvas.damage import MAX_BOXES, Damage
from spicebox.canvas.surface import Box


def test_far_apart_changes_stay_separate() -> None:
    d = Damage()
    d.add(Box(0, 0, 10, 10))
    d.add(Box(1000, 700, 1010, 710))
    assert sorted(d.take()) == [Box(0, 0, 10, 10), Box(1000, 700, 1010, 710)]
    assert not d


def test_overlaps_merge_transitively() -> None:
    d = Damage()
    d.add(Box(0, 0, 10, 10))
    d.add(Box(20, 0, 30, 10))
    d.add(Box(5, 5, 25, 6))  # bridges the two
    assert d.take() == [Box(0, 0, 30, 10)]


def test_many_boxes_collapse_to_their_bounds() -> None:
    d = Damage()
    for i in range(MAX_BOXES + 1):
        d.add(Box(i * 10, 0, i * 10 + 5, 5))
    assert d.take() == [Box(0, 0, MAX_BOXES * 10 + 5, 5)]


def test_empty_boxes_are_ignored() -> None:
    d = Damage()
    d.add(Box(5, 5, 5, 9))
    assert not d
