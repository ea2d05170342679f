"""The console guest's sound, checked without SPICE: QEMU's wav backend keeps what the guest
plays in a file, and its none backend gives the guest silence to record. The SPICE
client's audio tests rely on `play` and `record` doing exactly this."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np

from tests.guests import console
from tests.rig.qemu import AUDIO_DEVICES, VGA_DEVICES, QemuServer


def with_audiodev(audiodev: str) -> list[str]:
    """AUDIO_DEVICES with another of QEMU's audio backends instead of SPICE's."""
    args = list(AUDIO_DEVICES)
    args[args.index("-audiodev") + 1] = audiodev
    return args


def test_play_sends_the_tone_to_qemu(console_guest: console.ConsoleGuest,
                                      tmp_path: Path) -> None:
    played = tmp_path / "played.wav"
    with QemuServer(VGA_DEVICES["std"] + console_guest.qemu_args()
                    + with_audiodev(f"wav,id=snd0,path={played}"), serial=True) as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial:
            serial.wait_for(console.READY, 120)
            serial.send("play")
            serial.wait_for(f"{console.AUDIO} playing", 60)
            serial.wait_for(f"{console.AUDIO} played", 60)
    # QEMU finishes the file's header when it quits. Its wav backend has a rate of its own
    # (44.1 kHz unless told otherwise): QEMU resamples.
    with wave.open(str(played)) as wav:
        assert (wav.getsampwidth(), wav.getnchannels()) == (2, 2)
        rate = wav.getframerate()
        frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2)
    left = frames[:, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(left * np.hanning(len(left))))
    dominant = np.fft.rfftfreq(len(left), 1 / rate)[spectrum.argmax()]
    assert abs(dominant - console.TONE_HZ) < 2, f"the guest played {dominant:.1f} Hz"
    assert np.array_equal(frames[:, 0], frames[:, 1])
    # All of it, at the amplitude it was made with (the guest's mixer passes it at 0 dB):
    # tenths of a second that peak at it.
    tenths = left[:len(left) // (rate // 10) * (rate // 10)].reshape(-1, rate // 10)
    loud = np.abs(tenths).max(axis=1) > console.TONE_AMPLITUDE * 0.98
    assert loud.sum() >= console.TONE_SECONDS * 10 - 2, f"{loud.sum()} tenths of a second"
    assert np.abs(left).max() <= console.TONE_AMPLITUDE + 1


def test_record_reports_silence(console_guest: console.ConsoleGuest) -> None:
    with QemuServer(VGA_DEVICES["std"] + console_guest.qemu_args()
                    + with_audiodev("none,id=snd0"), serial=True) as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial:
            serial.wait_for(console.READY, 120)
            serial.send("record 2")
            line = serial.wait_for(f"{console.AUDIO} recorded", 60)
    match = re.fullmatch(rf"{console.AUDIO} recorded hz=(\d+) peak=(\d+) seconds=([\d.]+)",
                         line)
    assert match is not None, line
    hz, peak, seconds = int(match[1]), int(match[2]), float(match[3])
    assert hz == 0
    assert peak < 100
    assert abs(seconds - 2) < 0.05
