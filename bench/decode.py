"""`make bench`: the pixel path against reference programs measured in the same run.

Ratios, not seconds, are the result: the machine is shared and noisy, the ratio is not.
References: python-lz4 decompressing the same bytes as one block (the floor for any LZ4
decoder in Python), and a numpy copy of the decoded frame (the floor for any decoder).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable

import lz4.block
import numpy as np

from spicebox.codecs.lz4 import decode_lz4
from spicebox.codecs.pixels import to_xrgb
from spicebox.spice.constants import BitmapFormat

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


if __name__ == "__main__":
    main()
