"""`make bench`: the pixel path against reference programs measured in the same run.

Ratios, not seconds, are the result: the machine is shared and noisy, the ratio is not.
References: python-lz4 decompressing the same bytes as one block (the floor for any LZ4
decoder in Python), and a numpy copy of the decoded frame (the floor for any decoder).
A full-screen update is also taken through the whole client path, canvas and x11
presenter (on Xvfb), and the fallback codecs' throughput is reported on streams that
spice-server encoded (tests/fixtures).
"""

from __future__ import annotations

import os
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lz4.block
import numpy as np

from spicebox.canvas.canvas import Canvas
from spicebox.canvas.monitors import Monitor
from spicebox.codecs.lz4 import decode_lz4
from spicebox.codecs.pixels import to_xrgb
from spicebox.display.base import Presenter
from spicebox.spice import messages as m
from spicebox.spice.constants import BitmapFormat, ClipType, ImageType, Ropd, SurfaceFlags
from tests.rig.xvfb import xvfb
from tests.unit.replay import replay

WIDTH, HEIGHT = 1920, 1080
BLOCK = 64 * 1024  # spice-server compresses a frame as one stream cut into linked blocks


def desktop_like_frame() -> bytes:
    """Flat areas, gradients and some noise: compresses like a real desktop, not like zeros."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.uint32)
    frame = (x * 255 // WIDTH) << 16 | (y * 255 // HEIGHT) << 8 | 0x40
    frame[200:900, 300:1600] = 0x00F0F0F0
    frame[400:420, 300:1600] = rng.integers(0, 2**24, (20, 1300), dtype=np.uint32)
    data: bytes = frame.astype("<u4").tobytes()
    return data


def spice_lz4(raw: bytes) -> memoryview:
    out = bytearray([1, BitmapFormat.BIT32])
    for i in range(0, len(raw), BLOCK):
        data = lz4.block.compress(raw[i:i + BLOCK], store_size=False,
                                  dict=raw[max(0, i - 65536):i])
        out += struct.pack(">I", len(data)) + data
    return memoryview(bytes(out))


def best_of(fn: Callable[[], object], repeat: int = 15) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def full_screen_update(payload: memoryview, presenter: Presenter) -> float:
    """Seconds for one full-screen LZ4 COPY: decode, draw on the canvas, present."""
    canvas = Canvas()
    canvas.apply(m.SurfaceCreate(0, WIDTH, HEIGHT, 32, SurfaceFlags.PRIMARY))
    screen = m.Rect(0, 0, HEIGHT, WIDTH)
    image = m.Image(m.ImageDescriptor(1, ImageType.LZ4, 0, WIDTH, HEIGHT),
                    m.BinaryData(payload))
    copy = m.DrawCopy(m.DisplayBase(0, screen, m.Clip(ClipType.NONE)), image, screen,
                      Ropd.OP_PUT, 0, m.NO_MASK)
    assert canvas.primary is not None
    monitors = [Monitor(canvas.primary, canvas.primary.bounds)]

    def update() -> None:
        box = canvas.apply(copy)
        assert box is not None
        presenter.present(monitors, [[box]])
    try:
        update()  # the first present sets the output up
        return best_of(update)
    finally:
        presenter.close()


def memory_framebuffer(directory: Path) -> Presenter:
    """The fbdev presenter on a file laid out like a 32 bpp /dev/fb0: the copy a device's
    framebuffer costs, without a device."""
    from spicebox.display.fbdev import FbdevPresenter  # noqa: PLC0415

    sysfs = directory / "fb0"
    sysfs.mkdir()
    (sysfs / "virtual_size").write_text(f"{WIDTH},{HEIGHT}\n")
    (sysfs / "bits_per_pixel").write_text("32\n")
    (sysfs / "stride").write_text(f"{WIDTH * 4}\n")
    (directory / "fb").write_bytes(bytes(WIDTH * HEIGHT * 4))
    return FbdevPresenter(directory / "fb", sysfs)


def fallback_throughput(name: str) -> tuple[float, float]:
    """Megapixels per second and megapixels decoded, replaying a recorded server."""
    canvas = Canvas(glz_window_pixels=4 * 1024 * 1024)
    start = time.perf_counter()
    replay(name, canvas)
    elapsed = time.perf_counter() - start
    pixels = sum(canvas.decoded_pixels.values()) / 1e6
    return pixels / elapsed, pixels


def main() -> None:
    raw = desktop_like_frame()
    payload = spice_lz4(raw)
    one_block = lz4.block.compress(raw, store_size=False)
    frame = np.frombuffer(raw, np.uint32).reshape(HEIGHT, WIDTH)
    ours_lz4 = best_of(lambda: decode_lz4(payload, WIDTH, HEIGHT))
    ref_lz4 = best_of(lambda: lz4.block.decompress(one_block, uncompressed_size=len(raw)))
    copy = best_of(frame.copy)
    ours_bitmap = best_of(lambda: to_xrgb(raw, BitmapFormat.BIT32, WIDTH, HEIGHT, WIDTH * 4,
                                          top_down=False).copy())
    print(f"frame {WIDTH}x{HEIGHT} XRGB, LZ4 payload {len(payload) / len(raw):.1%} of raw")
    print(f"LZ4 image decode / python-lz4 one-block decompress : {ours_lz4 / ref_lz4:5.2f}x"
          f"   ({ours_lz4 * 1e3:.2f} ms per frame)")
    print(f"LZ4 image decode / numpy frame copy                : {ours_lz4 / copy:5.2f}x")
    print(f"BITMAP (bottom-up) decode+copy / numpy frame copy  : {ours_bitmap / copy:5.2f}x"
          f"   ({ours_bitmap * 1e3:.2f} ms per frame)")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        update = full_screen_update(payload, memory_framebuffer(Path(tmp)))
    print(f"LZ4 full-screen decode+draw+present (fbdev) / p-lz4: {update / ref_lz4:5.2f}x"
          f"   ({update * 1e3:.2f} ms, {1 / update:.0f} frames/s on one core)")
    with xvfb(f"{WIDTH}x{HEIGHT}x24") as display:
        os.environ["DISPLAY"] = display
        from spicebox.display.sdl import SdlPresenter  # noqa: PLC0415 (reads DISPLAY)
        x11 = full_screen_update(payload, SdlPresenter("x11", "bench"))
    print(f"the same through the x11 presenter (Xvfb)          : {x11 / ref_lz4:5.2f}x"
          f"   ({x11 * 1e3:.2f} ms; SDL's X11 window surface, development only)")
    for name in ("glz", "quic"):
        rate, pixels = fallback_throughput(name)
        print(f"{name.upper()} (recorded from QEMU, {pixels:.1f} Mpx) decode+draw      : "
              f"{rate:5.1f} Mpx/s")


if __name__ == "__main__":
    main()
