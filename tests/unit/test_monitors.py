"""Heads and display channels as monitors (the layout a Linux QXL guest sends for two
outputs is one surface with two heads side by side)."""

from __future__ import annotations

from spicebox.canvas.canvas import Canvas
from spicebox.canvas.surface import Box
from spicebox.spice import messages as m
from spicebox.spice.constants import SurfaceFlags


def two_head_canvas(heads: tuple[m.Head, ...]) -> Canvas:
    c = Canvas()
    c.apply(m.SurfaceCreate(0, 2048, 768, 32, SurfaceFlags.PRIMARY))
    c.apply(m.MonitorsConfig(len(heads), 4, heads))
    return c


def test_heads_on_one_surface_are_monitors_in_head_order() -> None:
    c = two_head_canvas((m.Head(1, 0, 1024, 768, 1024, 0, 0), m.Head(0, 0, 1024, 768, 0, 0, 0)))
    assert [mon.area for mon in c.monitor_list()] == [Box(0, 0, 1024, 768),
                                                     Box(1024, 0, 2048, 768)]
    assert c.primary is not None
    c.primary.pixels[5, 1030] = 7
    second = c.monitor_list()[1]
    assert second.pixels[5, 6] == 7
    assert second.damage([Box(1000, 0, 1030, 10)]) == [Box(0, 0, 6, 10)]


def test_heads_off_the_surface_or_empty_fall_back_to_the_whole_surface() -> None:
    c = two_head_canvas((m.Head(0, 0, 4096, 768, 0, 0, 0), m.Head(1, 9, 10, 10, 0, 0, 0),
                         m.Head(2, 0, 0, 0, 0, 0, 0)))
    assert [mon.area for mon in c.monitor_list()] == [Box(0, 0, 2048, 768)]


def test_the_monitors_follow_the_layout_and_the_primary_surface() -> None:
    c = two_head_canvas((m.Head(0, 0, 1024, 768, 0, 0, 0), m.Head(1, 0, 1024, 768, 1024, 0, 0)))
    assert len(c.monitor_list()) == 2
    c.apply(m.MonitorsConfig(1, 4, (m.Head(0, 0, 2048, 768, 0, 0, 0),)))
    assert [mon.area for mon in c.monitor_list()] == [Box(0, 0, 2048, 768)]
    c.apply(m.SurfaceCreate(0, 800, 600, 32, SurfaceFlags.PRIMARY))  # the head is off it now
    assert [(mon.surface, mon.area) for mon in c.monitor_list()] == [(c.primary,
                                                                      Box(0, 0, 800, 600))]
    c.apply(m.SurfaceDestroy(0))
    assert c.monitor_list() == ()
