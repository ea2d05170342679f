"""What the client asks the server for so that the device decodes as little as possible.

LZ4 costs a low-power board a fraction of what QUIC or GLZ cost and still saves most of
the bandwidth; on a fast LAN raw bitmaps (OFF) cost nothing to decode at all. Caches and
the GLZ dictionary stay off by default: they save bandwidth, not CPU, and cost memory.
Video comes as MJPEG only (libjpeg is cheap and everywhere); a stream in any codec the
policy leaves out is refused, and the server then sends that region as images.
"""

from __future__ import annotations

from dataclasses import dataclass

from .constants import DisplayCap, ImageCompression, VideoCodec


@dataclass(frozen=True)
class DecodingPolicy:
    image_compression: ImageCompression = ImageCompression.LZ4
    pixmap_cache_pixels: int = 0
    glz_window_pixels: int = 0
    video_codecs: frozenset[VideoCodec] = frozenset({VideoCodec.MJPEG})

    def display_caps(self) -> frozenset[int]:
        # STREAM_REPORT lets the display channel turn unwanted streams back into images.
        # Without MULTI_CODEC the server assumes MJPEG, which is all this client plays.
        caps = {DisplayCap.MONITORS_CONFIG, DisplayCap.PREF_COMPRESSION,
                DisplayCap.STREAM_REPORT, DisplayCap.SIZED_STREAM}
        if self.image_compression == ImageCompression.LZ4:
            caps.add(DisplayCap.LZ4_COMPRESSION)
        return frozenset(caps)

    def describe(self) -> str:
        return (f"image compression {self.image_compression.name}, "
                f"pixmap cache {self.pixmap_cache_pixels} px, "
                f"GLZ window {self.glz_window_pixels} px, video "
                f"{', '.join(sorted(c.name for c in self.video_codecs)) or 'refused'}")
