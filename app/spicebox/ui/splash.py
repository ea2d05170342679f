"""The boot splash's pictures: the name in the setup UI's font and colours, so the screen
goes from splash to setup or session without a change of style, and a pixel of the UI's
accent for the progress line. The image builder draws them into plymouth's theme
(firmware/rootfs/usr/share/plymouth/themes/spicebox), which centres the name on the UI's
background and scales both with the screen."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..canvas.surface import Box
from ..display.screenshot import save_png
from .paint import ACCENT, BACKGROUND, TEXT, Painter, line_height, text_width

NAME = "Spicebox"
SIZE = 96  # drawn large; the theme scales it to a twelfth of the screen's height


def save_theme_images(directory: Path) -> None:
    """logo.png and progress.png, for spicebox.script."""
    width, height = text_width(NAME, SIZE) + SIZE // 2, line_height(SIZE)
    pixels = np.zeros((height, width), np.uint32)
    painter = Painter(pixels)
    painter.fill(Box(0, 0, width, height), BACKGROUND)
    painter.text(NAME, SIZE // 4, height // 2, SIZE, TEXT, center=True)
    save_png(pixels, directory / "logo.png")
    red, green, blue = ACCENT
    save_png(np.full((1, 1), red << 16 | green << 8 | blue, np.uint32),
             directory / "progress.png")
