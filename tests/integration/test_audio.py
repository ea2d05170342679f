"""Sound both ways against a real server: the console guest plays a tone through QEMU's
Intel HDA device and the client must write it out (raw, and as Opus); the client plays a
recording as the microphone and the guest must hear its tone. The ALSA path runs for real
too, through ALSA's file plugin over its null device (this machine has no sound card)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from spicebox.audio.devices import AudioDevice, AudioDevices
from spicebox.config.target import parse_uri
from spicebox.spice.constants import AudioDataMode, ImageCompression
from spicebox.spice.policy import DecodingPolicy
from tests.guests import console
from tests.rig.client import ClientThread
from tests.rig.qemu import AUDIO_DEVICES, VGA_DEVICES, QemuServer

RATE = console.AUDIO_RATE
GAP_FRAMES = RATE // 100  # one period of the client's sound path: 10 ms
MIC_HZ = 440


def dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.argmax(spectrum)) * RATE / len(samples)


def longest_silence(samples: np.ndarray) -> int:
    """The longest run of near-silent frames between the first and the last loud one."""
    loud = np.flatnonzero(np.abs(samples) > 2000)
    if len(loud) < 2:
        return len(samples)
    return int(np.diff(loud).max()) - 1


def assert_is_the_tone(samples: np.ndarray) -> None:
    loud = np.flatnonzero(np.abs(samples) > 2000)
    assert len(loud), "no sound arrived"
    sound = samples[loud[0]:loud[-1] + 1]
    seconds = len(sound) / RATE
    assert seconds > console.TONE_SECONDS - 0.5, f"only {seconds:.2f} s of the tone arrived"
    assert dominant_hz(sound) == pytest.approx(console.TONE_HZ, abs=5)
    assert longest_silence(sound) < GAP_FRAMES, "the tone has a gap"
    assert np.abs(sound).max() > console.TONE_AMPLITUDE * 0.8  # not attenuated


def play_in_guest(serial: console.SerialConsole) -> None:
    serial.send("play")
    serial.wait_for(f"{console.AUDIO} played", 120)


def record_in_guest(serial: console.SerialConsole, seconds: int) -> tuple[int, int]:
    """The guest records; its (dominant frequency, peak) of what it heard."""
    serial.send(f"record {seconds}")
    line = serial.wait_for(f"{console.AUDIO} recorded", 120)
    found = re.search(r"hz=(\d+) peak=(\d+)", line)
    assert found, line
    return int(found[1]), int(found[2])


def write_tone(path: Path, hz: float, seconds: float) -> None:
    t = np.arange(int(seconds * RATE)) / RATE
    mono = (np.sin(2 * np.pi * hz * t) * 12000).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.repeat(mono, 2).tobytes())


def first_channel(path: Path) -> np.ndarray:
    with wave.open(str(path)) as saved:
        assert (saved.getframerate(), saved.getnchannels()) == (RATE, 2)
        data = saved.readframes(saved.getnframes())
    return np.frombuffer(data, dtype="<i2").reshape(-1, 2)[:, 0]


def audio_server(guest: console.ConsoleGuest) -> QemuServer:
    return QemuServer(VGA_DEVICES["std"] + guest.qemu_args() + AUDIO_DEVICES, serial=True)


@pytest.mark.parametrize("codec", ["raw", "opus"])
def test_the_guests_sound_plays_on_the_client(console_guest: console.ConsoleGuest,
                                              tmp_path: Path, codec: str) -> None:
    out = tmp_path / "out.wav"
    policy = DecodingPolicy.for_device(ImageCompression.OFF, audio_codec=codec)
    with audio_server(console_guest) as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial, \
                ClientThread(parse_uri(qemu.uri()), policy=policy,
                             audio=AudioDevices(playback=AudioDevice("wav", str(out)))) \
                as client:
            serial.wait_for(console.READY, 120)
            play_in_guest(serial)
            # The server stops the stream once the guest's has drained.
            deadline = time.monotonic() + 30
            while client.in_loop(lambda: client.session.speaker is not None
                                 and client.session.speaker.stream is not None) \
                    and time.monotonic() < deadline:
                time.sleep(0.2)
            speaker, channel = client.session.speaker, client.session.playback
            assert speaker is not None and channel is not None
            assert speaker.packets > 0
            assert channel.mode == (AudioDataMode.OPUS if codec == "opus"
                                    else AudioDataMode.RAW)
    assert_is_the_tone(first_channel(out))


def test_a_recording_is_the_guests_microphone(console_guest: console.ConsoleGuest,
                                              tmp_path: Path) -> None:
    mic = tmp_path / "mic.wav"
    write_tone(mic, MIC_HZ, 30)
    with audio_server(console_guest) as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial, \
                ClientThread(parse_uri(qemu.uri()),
                             audio=AudioDevices(microphone=AudioDevice("wav", str(mic)))) \
                as client:
            serial.wait_for(console.READY, 120)
            hz, peak = record_in_guest(serial, 2)
            assert client.session.microphone is not None
            assert client.session.microphone.frames_sent > 100
    assert hz == pytest.approx(MIC_HZ, abs=10)
    assert peak > 6000


def test_alsa_plays_and_records_through_the_configured_devices(
        console_guest: console.ConsoleGuest, tmp_path: Path) -> None:
    """`spicebox connect` with ALSA's default device, which ~/.asoundrc makes the file
    plugin over null: what is played lands in out.raw, what is recorded comes from in.raw."""
    played, mic = tmp_path / "out.raw", tmp_path / "in.raw"
    t = np.arange(30 * RATE) / RATE
    mic.write_bytes(np.repeat((np.sin(2 * np.pi * MIC_HZ * t) * 12000).astype("<i2"),
                              2).tobytes())
    (tmp_path / ".asoundrc").write_text(f"""
pcm.!default {{
    type asym
    playback.pcm {{ type file; slave.pcm "null"; file "{played}"; format "raw" }}
    capture.pcm {{ type file; slave.pcm "null"; file "/dev/null"; infile "{mic}";
                   format "raw" }}
}}
""")
    env = {**os.environ, "HOME": str(tmp_path)}
    with audio_server(console_guest) as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial:
            client = subprocess.Popen(
                [sys.executable, "-m", "spicebox", "connect", qemu.uri(), "--backend",
                 "headless", "--audio", "alsa", "--mic", "alsa", "--audio-codec", "raw"],
                env=env, stderr=subprocess.PIPE, text=True)
            try:
                serial.wait_for(console.READY, 120)
                play_in_guest(serial)
                hz, peak = record_in_guest(serial, 2)
            finally:
                client.terminate()
                _, log = client.communicate(timeout=30)
    assert "playing sound on default (48000 Hz, 2 channels)" in log, log
    assert hz == pytest.approx(MIC_HZ, abs=10), log
    assert peak > 6000
    samples = np.frombuffer(played.read_bytes(), dtype="<i2").reshape(-1, 2)[:, 0]
    loud = np.flatnonzero(np.abs(samples) > 2000)
    assert len(loud), "nothing was played"
    assert dominant_hz(samples[loud[0]:loud[-1] + 1]) == pytest.approx(console.TONE_HZ, abs=5)
