"""The display path replayed cold: for comparing two trees on a recorded session.

`python -m bench.replay FILE` (FILE from `spicebox connect --record`) feeds the recorded
display messages, one per read, through what the running client does with them:
`DisplayChannel.received` (framing, decoding), `Canvas.apply` and `Damage.add`. Between
two messages it evicts the CPU's caches, because in the running client other processes
run between two reads: a warm loop over the same messages takes a third to a quarter of
the CPU they take live. It prints the median CPU time of seven replays and the number
of Python calls in one (cProfile's count: exact from run to run, so it shows a change
that the machine's noise hides). Run it with `PYTHONPATH=<tree>/app` for each tree.
"""

from __future__ import annotations

import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from spicebox.canvas.canvas import Canvas
from spicebox.canvas.damage import Damage
from spicebox.spice.constants import ChannelType, ImageCompression
from spicebox.spice.display import DisplayChannel
from spicebox.spice.framing import MINI_HEADER
from spicebox.spice.policy import DecodingPolicy
from spicebox.spice.recording import read_recording
from spicebox.spice.wire import Message
from tests.unit.server_bytes import link_reply, link_result

EVICT_BYTES = 6 << 20  # more than this machine's 2 MiB L2 and than a Pi's caches
REPLAYS = 7


def display_stream(path: Path) -> list[bytes]:
    """Each recorded display message as it came over the wire (mini header, body)."""
    return [MINI_HEADER.pack(r.msg_type, len(r.body)) + bytes(r.body)
            for r in read_recording(path.read_bytes())
            if r.channel_type == ChannelType.DISPLAY]


def replay(reads: list[bytes], evict: bool = True) -> float:
    """CPU seconds to take ``reads`` through the display path, caches evicted between."""
    policy = DecodingPolicy.for_device(ImageCompression.OFF)
    channel = DisplayChannel(0, 1, "", policy)
    channel.initiate()
    channel.receive_data(link_reply())
    channel.receive_data(link_result())
    canvas = Canvas(policy.pixmap_cache_pixels, policy.glz_window_pixels)
    damage = Damage()
    junk = np.zeros(EVICT_BYTES, np.uint8)
    spent = 0.0
    for i, data in enumerate(reads):
        if evict:
            junk[::64] = i & 0xFF  # a write to every cache line
        view = memoryview(data)
        while view:
            target = channel.receive_buffer()
            n = min(len(target), len(view))
            target[:n] = view[:n]  # the socket's copy, in the client
            view = view[n:]
            started = time.process_time()
            for event in channel.received(n):
                if isinstance(event, Message):
                    box = canvas.apply(event)
                    if box is not None:
                        damage.add(box)
            spent += time.process_time() - started
        damage.take()
    return spent


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m bench.replay RECORDING (from spicebox connect --record)")
        return 2
    reads = display_stream(Path(sys.argv[1]))
    replay(reads)  # decoders compiled, caches and libraries loaded
    cold = statistics.median(replay(reads) for _ in range(REPLAYS))
    profile = cProfile.Profile()
    profile.runcall(replay, reads, False)
    calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    print(f"{len(reads)} display messages replayed cold: {cold * 1000:.1f} ms of CPU "
          f"(median of {REPLAYS}), {calls} Python calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
