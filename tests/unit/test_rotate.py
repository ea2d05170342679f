"""A screen mounted turned: the picture is shown turned back, and positions read on the
screen come back as the picture's."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from spicebox.canvas.monitors import Monitor
from spicebox.canvas.surface import Box, Surface
from spicebox.codecs.cursor import CursorShape
from spicebox.display.headless import HeadlessPresenter
from spicebox.display.rotate import Rotated, Rotation
from spicebox.input.events import OutputResized, PointerMotion

W, H = 7, 5


class Screen(HeadlessPresenter):
    """Keeps what it was given to show, as a screen would."""

    def __init__(self, sizes: list[tuple[int, int]] | None = None) -> None:
        super().__init__()
        self.shown: np.ndarray | None = None
        self.damage: list[Box] = []
        self.sizes = sizes

    def present(self, monitors: Sequence[Monitor], damage: Sequence[Sequence[Box]]) -> None:
        self.shown = monitors[0].pixels.copy()
        self.damage = list(damage[0])

    def output_sizes(self) -> list[tuple[int, int]] | None:
        return self.sizes


def picture() -> Surface:
    surface = Surface(0, W, H, 32, True)
    surface.pixels[:] = np.arange(W * H, dtype=np.uint32).reshape(H, W)
    return surface


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_the_screen_shows_the_picture_turned_and_updates_only_what_changed(
        degrees: int) -> None:
    screen, surface = Screen(), picture()
    rotated = Rotated(screen, Rotation(degrees))
    monitor = Monitor(surface, surface.bounds)
    rotated.present([monitor], [[]])  # a new layout is shown whole
    turned = np.rot90(surface.pixels, -degrees // 90)
    assert screen.shown is not None and np.array_equal(screen.shown, turned)
    surface.pixels[1:3, 2:6] = 999
    rotated.present([monitor], [[Box(2, 1, 6, 3)]])
    assert np.array_equal(screen.shown, np.rot90(surface.pixels, -degrees // 90))
    [box] = screen.damage
    assert box.width * box.height == 8  # the changed box only, turned


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_positions_map_both_ways(degrees: int) -> None:
    rotation = Rotation(degrees)
    pixels = picture().pixels
    shown = rotation.pixels_to_screen(pixels)
    for y in range(H):
        for x in range(W):
            sx, sy = rotation.point_to_screen(x, y, W, H)
            assert shown[sy, sx] == pixels[y, x]
            assert rotation.point_to_picture(sx, sy, W, H) == (x, y)


def test_a_pointer_on_an_upside_down_screen() -> None:
    screen, surface = Screen(sizes=[(800, 480)]), picture()
    rotated = Rotated(screen, Rotation(180))
    rotated.present([Monitor(surface, surface.bounds)], [[]])
    # A touch near the screen's top-left is near the picture's bottom-right; moving right
    # on the screen moves left in the picture.
    assert rotated.from_screen(PointerMotion(0, 1, 0, 3, -2)) == \
        PointerMotion(0, W - 2, H - 1, -3, 2)
    assert rotated.output_sizes() == [(800, 480)]
    turned = Rotated(Screen(sizes=[(800, 480)]), Rotation(90))
    assert turned.output_sizes() == [(480, 800)]  # what the guest is asked for
    assert turned.from_screen(OutputResized(800, 480)) == OutputResized(480, 800)
    assert turned.screen_size(480, 800) == (800, 480)  # what evdev touch spans


def test_every_monitor_turns_and_motion_maps_on_its_own_monitor() -> None:
    screen = Screen()
    left, right = Surface(0, 8, 4, 32, True), Surface(1, 6, 4, 32, True)
    rotated = Rotated(screen, Rotation(90))
    assert rotated.from_screen(PointerMotion(0, 2, 3, 1, 0)) == \
        PointerMotion(0, 2, 3, 0, -1)  # nothing shown yet: only the motion turns
    rotated.present([Monitor(left, left.bounds), Monitor(right, right.bounds)], [[], []])
    # On the second monitor (6 wide, 4 high; 4 wide, 6 high on its screen).
    assert rotated.from_screen(PointerMotion(1, 0, 0, 0, 0)) == PointerMotion(1, 0, 3, 0, 0)


def test_the_cursor_turns_with_its_hot_spot() -> None:
    screen = Screen()
    pixels = np.zeros((4, 6), np.uint32)
    pixels[1, 5] = 0xFFFFFFFF  # the tip, at the hot spot
    Rotated(screen, Rotation(90)).set_cursor(CursorShape(pixels, 5, 1), True)
    shape = screen.cursor
    assert shape is not None and shape.pixels.shape == (6, 4)
    assert shape.pixels[shape.hot_y, shape.hot_x] == 0xFFFFFFFF
    assert shape.pixels.flags.c_contiguous
