"""What the client asks the server for so that the device decodes as little as possible.

LZ4 costs a low-power board a fraction of what QUIC or GLZ cost and still saves most of
the bandwidth; on a fast link raw bitmaps (OFF) cost nothing to decode at all. The pixmap
cache saves decoding as well as bandwidth (a cached image is never decoded twice), so it
is on, sized to the device's memory; the GLZ dictionary only matters when GLZ is asked
for. Video comes as MJPEG only (libjpeg is cheap and everywhere); a stream in any codec
the policy leaves out is refused, and the server then sends that region as images.
Sound is raw on a LAN (1.5 Mbit/s costs a LAN nothing, and raw costs no decoding), Opus
beyond it.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from .constants import DisplayCap, ImageCompression, VideoCodec

# spice-gtk announces 80 MiB of pixmap cache and a 12-64 MiB GLZ window. A thin client
# spends 1/64 of its memory on the cache, at most 32 MiB (four 1080p screens' worth,
# plenty for icons and toolbars, and it keeps the whole client near 80 MiB), and 1/32 on
# a GLZ window when it asks for GLZ, within spice-gtk's bounds.
_MIB_PIXELS = 1024 * 1024 // 4
MIN_CACHE_PIXELS, MAX_CACHE_PIXELS = 8 * _MIB_PIXELS, 32 * _MIB_PIXELS
MIN_GLZ_WINDOW_PIXELS, MAX_GLZ_WINDOW_PIXELS = 12 * _MIB_PIXELS, 64 * _MIB_PIXELS
_USES_GLZ = (ImageCompression.GLZ, ImageCompression.AUTO_GLZ)
_AUDIO_DESCRIPTIONS = {"auto": "raw on a LAN, else Opus", "raw": "raw", "opus": "Opus"}
AUDIO_CODECS = tuple(_AUDIO_DESCRIPTIONS)


@dataclass(frozen=True)
class DecodingPolicy:
    image_compression: ImageCompression = ImageCompression.LZ4
    pixmap_cache_pixels: int = 0
    glz_window_pixels: int = 0
    video_codecs: frozenset[VideoCodec] = frozenset({VideoCodec.MJPEG})
    audio_codec: str = "auto"  # one of AUDIO_CODECS

    @classmethod
    def for_device(cls, image_compression: ImageCompression,
                   memory_bytes: int | None = None,
                   audio_codec: str = "auto") -> DecodingPolicy:
        """Caches sized to ``memory_bytes`` (this machine's memory by default)."""
        memory = memory_bytes or _physical_memory()
        glz = (min(max(memory // 32 // 4, MIN_GLZ_WINDOW_PIXELS), MAX_GLZ_WINDOW_PIXELS)
               if image_compression in _USES_GLZ else 0)
        cache = min(max(memory // 64 // 4, MIN_CACHE_PIXELS), MAX_CACHE_PIXELS)
        return cls(image_compression, cache, glz, audio_codec=audio_codec)

    def audio_opus(self, server: str | None) -> bool:
        """Whether to offer Opus for sound, given the address the session reached
        (``server``; None if unknown): auto offers it unless that address is local."""
        if self.audio_codec != "auto":
            return self.audio_codec == "opus"
        return server is None or not _on_lan(server)

    def display_caps(self) -> frozenset[int]:
        # STREAM_REPORT lets the display channel turn unwanted streams back into images.
        # Without MULTI_CODEC the server assumes MJPEG, which is all this client plays.
        # COMPOSITE and A8_SURFACE reach the guest's QXL driver, which then renders with
        # RENDER operations on the client instead of sending their results as images.
        caps = {DisplayCap.MONITORS_CONFIG, DisplayCap.PREF_COMPRESSION,
                DisplayCap.STREAM_REPORT, DisplayCap.SIZED_STREAM, DisplayCap.COMPOSITE,
                DisplayCap.A8_SURFACE}
        if self.image_compression == ImageCompression.LZ4:
            caps.add(DisplayCap.LZ4_COMPRESSION)
        return frozenset(caps)

    def describe(self) -> str:
        return (f"image compression {self.image_compression.name}, "
                f"pixmap cache {self.pixmap_cache_pixels * 4 >> 20} MiB, "
                f"GLZ window {self.glz_window_pixels * 4 >> 20} MiB, video "
                f"{', '.join(sorted(c.name for c in self.video_codecs)) or 'refused'}, "
                f"audio {_AUDIO_DESCRIPTIONS[self.audio_codec]}")


def compression_for(host: str) -> ImageCompression:
    """OFF when the server is this machine (nothing to save on the wire), else LZ4."""
    try:
        local = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        local = host == "localhost"
    return ImageCompression.OFF if local else ImageCompression.LZ4


def _on_lan(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]").partition("%")[0])
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_link_local


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 1 << 30
