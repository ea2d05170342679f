"""The boot splash, plymouth's script theme (its .plymouth file is in
firmware/rootfs/usr/share/plymouth/themes/spicebox): the name in the setup UI's font and
colours on its background, so the screen goes from splash to setup or session without a
change of style, and a line of the UI's accent for the boot's progress. The image builder
writes the script and its pictures from the UI's own colours."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..canvas.surface import Box
from ..display.screenshot import save_png
from .paint import ACCENT, BACKGROUND, TEXT, Painter, line_height, text_width

NAME = "Spicebox"
SIZE = 96  # drawn large; the theme scales it to a twelfth of the screen's height
SCRIPT = """# The boot splash: the name (logo.png) in the middle of the setup UI's background, a
# twelfth of the screen high, and under it a thin line in the UI's accent (progress.png)
# that grows with the boot. Written by the image builder (spicebox.ui.splash).
Window.SetBackgroundTopColor({red} / 255, {green} / 255, {blue} / 255);
Window.SetBackgroundBottomColor({red} / 255, {green} / 255, {blue} / 255);

logo.original = Image("logo.png");
logo.height = Math.Int(Window.GetHeight() / 12);
logo.width = Math.Int(logo.original.GetWidth() * logo.height / logo.original.GetHeight());
logo.sprite = Sprite(logo.original.Scale(logo.width, logo.height));
logo.x = Window.GetX() + Math.Int((Window.GetWidth() - logo.width) / 2);
logo.y = Window.GetY() + Math.Int((Window.GetHeight() - logo.height) / 2);
logo.sprite.SetPosition(logo.x, logo.y, 0);

progress.original = Image("progress.png");
progress.height = Math.Max(2, Math.Int(logo.height / 24));
progress.sprite = Sprite();
progress.sprite.SetPosition(logo.x, logo.y + logo.height + progress.height * 4, 1);

fun boot_progress(duration, fraction) {{
    progress.sprite.SetImage(progress.original.Scale(
        Math.Max(1, Math.Int(logo.width * fraction)), progress.height));
}}
Plymouth.SetBootProgressFunction(boot_progress);
"""


def save_theme(directory: Path) -> None:
    """spicebox.script, and the logo.png and progress.png it shows."""
    red, green, blue = BACKGROUND
    (directory / "spicebox.script").write_text(SCRIPT.format(red=red, green=green, blue=blue))
    width, height = text_width(NAME, SIZE) + SIZE // 2, line_height(SIZE)
    pixels = np.zeros((height, width), np.uint32)
    painter = Painter(pixels)
    painter.fill(Box(0, 0, width, height), BACKGROUND)
    painter.text(NAME, SIZE // 4, height // 2, SIZE, TEXT, center=True)
    save_png(pixels, directory / "logo.png")
    accent = ACCENT[0] << 16 | ACCENT[1] << 8 | ACCENT[2]
    save_png(np.full((1, 1), accent, np.uint32), directory / "progress.png")
