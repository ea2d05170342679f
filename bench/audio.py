"""`make bench`, part four: the CPU a client spends per minute of sound, against remote-viewer.

Both clients in turn play the console guest's tone (played again and again for
PLAY_SECONDS) from a fresh QEMU with Intel HDA. The result is each process's CPU time while
sound plays, less what it spends idle over the same time, per minute of sound. This
machine has no sound card, so each plays into a clocked null sink: spicebox into ALSA's
null device (through its jitter buffer and device thread, paced as a card would pace
them), remote-viewer into GStreamer's fakesink synchronised to the pipeline's clock,
behind spice-gtk's own elements (appsrc ! queue ! audioconvert ! audioresample). Each
takes its default codec: spicebox raw from a local server, remote-viewer Opus (spice-gtk
offers it); spicebox with Opus is measured too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.desktop import cpu_seconds, remote_viewer
from spicebox.spice.constants import ChannelType
from tests.guests import console
from tests.rig.qemu import AUDIO_DEVICES, VGA_DEVICES, QemuServer
from tests.rig.xvfb import xvfb

IDLE_SECONDS = 10.0
PLAY_SECONDS = 30.0
GST_SINK = ('appsrc is-live=1 do-timestamp=0 name="appsrc" caps="audio/x-raw,format=S16LE,'
            'channels=2,rate=48000,layout=interleaved" ! queue ! audioconvert ! '
            'audioresample ! fakesink sync=true name="audiosink"')


def playback_linked(qemu: QemuServer) -> bool:
    assert qemu.qmp is not None
    channels = qemu.qmp.execute("query-spice").get("channels", [])
    return any(c.get("channel-type") == ChannelType.PLAYBACK for c in channels)


def cpu_per_minute(guest: console.ConsoleGuest, command: list[str],
                   env: dict[str, str]) -> float:
    with QemuServer(VGA_DEVICES["std"] + guest.qemu_args() + AUDIO_DEVICES,
                    serial=True) as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial:
            serial.wait_for(console.READY, 120)
            client = subprocess.Popen([*command, qemu.uri()], env={**os.environ, **env},
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 60
                while not playback_linked(qemu):
                    if time.monotonic() > deadline or client.poll() is not None:
                        raise RuntimeError(f"{command[0]} did not open the playback channel")
                    time.sleep(0.2)
                time.sleep(2)  # the first screen, outside the measurement
                start = cpu_seconds(client.pid)
                time.sleep(IDLE_SECONDS)
                idle_rate = (cpu_seconds(client.pid) - start) / IDLE_SECONDS
                start, began = cpu_seconds(client.pid), time.monotonic()
                while time.monotonic() - began < PLAY_SECONDS:
                    serial.send("play")
                    serial.wait_for(f"{console.AUDIO} played", 60)
                elapsed = time.monotonic() - began
                playing = cpu_seconds(client.pid) - start - idle_rate * elapsed
                return max(playing, 0.0) * 60 / elapsed
            finally:
                client.terminate()
                client.wait(10)


def main() -> int:
    viewer = remote_viewer()
    if viewer is None:
        return 1
    guest = console.build(console.default_cache_dir())
    ours_command = [sys.executable, "-m", "spicebox", "connect", "--backend", "headless",
                    "--audio", "alsa:null", "--mic", "none"]
    with xvfb("1024x768x24") as display:
        ours = cpu_per_minute(guest, ours_command, {})
        ours_opus = cpu_per_minute(guest, [*ours_command, "--audio-codec", "opus"], {})
        theirs = cpu_per_minute(guest, [viewer], {"DISPLAY": display,
                                                  "SPICE_GST_AUDIOSINK": GST_SINK})
    print("sound playback, client CPU per minute of sound (beyond idle):")
    print(f"  spicebox raw {ours:6.2f} s, spicebox Opus {ours_opus:6.2f} s, remote-viewer "
          f"(Opus) {theirs:6.2f} s: ratio {ours / max(theirs, 1e-9):5.2f}x "
          f"(Opus against Opus {ours_opus / max(theirs, 1e-9):5.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
