"""Sound: the playback and record channels as spice-server drives them, Opus, the jitter
buffer, levels, pacing, and the WAV devices, each against what it must do to the samples."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import pytest

from spicebox.audio.devices import AudioDevice
from spicebox.audio.diag import describe_sound, tone
from spicebox.audio.jitter import FADE_MS, JitterBuffer
from spicebox.audio.microphone import Microphone
from spicebox.audio.opus import OpusDecoder, OpusEncoder
from spicebox.audio.pacing import Pacer
from spicebox.audio.pcm import apply_level
from spicebox.audio.speaker import Speaker
from spicebox.audio.wav import WavInput, WavOutput
from spicebox.cli import main
from spicebox.config.target import ConfigError
from spicebox.spice import messages as m
from spicebox.spice.constants import (
    RECORD_MAX_DATA_BYTES,
    AudioDataMode,
    AudioFormat,
    PlaybackCap,
    RecordCap,
)
from spicebox.spice.errors import ProtocolError
from spicebox.spice.events import (
    AudioData,
    AudioLatency,
    AudioLevel,
    AudioStart,
    AudioStop,
    ChannelEvent,
)
from spicebox.spice.playback import PlaybackChannel
from spicebox.spice.policy import DecodingPolicy
from spicebox.spice.record import RecordChannel
from spicebox.spice.wire import Message

from .server_bytes import frame, link_reply, link_result, sent

RATE = 48000
S16 = AudioFormat.S16


def sine(hz: float, seconds: float, channels: int = 2, amplitude: float = 0.5) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    mono = (np.sin(2 * np.pi * hz * t) * amplitude * 32767).astype("<i2")
    return np.repeat(mono, channels).tobytes()


def dominant_hz(data: bytes, channels: int = 2) -> float:
    samples = np.frombuffer(data, dtype="<i2").reshape(-1, channels)[:, 0].astype(float)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum)) * RATE / len(samples)


def playback(opus: bool = False) -> PlaybackChannel:
    channel = PlaybackChannel(0, 1, "", opus)
    channel.initiate()
    channel.receive_data(link_reply())
    channel.receive_data(link_result())
    return channel


def record(opus: bool = False, server_caps: tuple[int, ...] = ()) -> RecordChannel:
    channel = RecordChannel(0, 1, "", opus)
    channel.initiate()
    channel.receive_data(link_reply(channel=server_caps))
    channel.receive_data(link_result())
    channel.data_to_send()  # the ticket
    return channel


def feed(channel: PlaybackChannel | RecordChannel, *msgs: Message) -> list[ChannelEvent]:
    return channel.receive_data(b"".join(frame(msg) for msg in msgs))


# --- playback channel ---------------------------------------------------------------------


def test_playback_offers_opus_only_when_asked() -> None:
    assert PlaybackCap.OPUS not in PlaybackChannel(0, 1, "", False)._link.channel_caps
    caps = PlaybackChannel(0, 1, "", True)._link.channel_caps
    assert {PlaybackCap.OPUS, PlaybackCap.VOLUME, PlaybackCap.LATENCY} <= caps


def test_playback_stream_as_spice_server_sends_it() -> None:
    channel = playback()
    pcm = sine(1000, 0.01)
    events = feed(channel, m.PlaybackMode(5, AudioDataMode.RAW, memoryview(b"")),
                  m.PlaybackVolume((65535, 32768)), m.PlaybackMute(0),
                  m.PlaybackStart(2, S16, RATE, 7), m.PlaybackData(8, memoryview(pcm)),
                  m.PlaybackLatency(120), m.PlaybackStop())
    assert events == [AudioLevel((65535, 32768), False), AudioLevel((65535, 32768), False),
                      AudioStart(2, RATE, AudioDataMode.RAW), AudioData(8, pcm),
                      AudioLatency(120), AudioStop()]
    # Data after the stream stopped has nowhere to go.
    assert feed(channel, m.PlaybackData(9, memoryview(pcm))) == []


def test_playback_in_a_mode_it_cannot_decode_stays_silent() -> None:
    channel = playback()
    events = feed(channel, m.PlaybackMode(5, AudioDataMode.CELT_0_5_1, memoryview(b"")),
                  m.PlaybackStart(2, S16, RATE, 7), m.PlaybackData(8, memoryview(b"xx")))
    assert events == []


def test_playback_in_a_format_it_cannot_play_stays_silent() -> None:
    channel = playback()
    assert feed(channel, m.PlaybackStart(2, AudioFormat.INVALID, RATE, 7)) == []
    assert feed(channel, m.PlaybackStart(6, S16, RATE, 7)) == []
    assert feed(channel, m.PlaybackStart(2, S16, 1000, 7)) == []


def test_raw_playback_of_part_frames_is_a_protocol_error() -> None:
    channel = playback()
    feed(channel, m.PlaybackStart(2, S16, RATE, 7))
    with pytest.raises(ProtocolError, match="not whole 4-byte frames"):
        feed(channel, m.PlaybackData(8, memoryview(b"\0" * 6)))


def test_a_second_start_stops_the_first_stream() -> None:
    channel = playback()
    feed(channel, m.PlaybackStart(2, S16, RATE, 7))
    assert feed(channel, m.PlaybackStart(1, S16, 44100, 9)) == [
        AudioStop(), AudioStart(1, 44100, AudioDataMode.RAW)]


# --- record channel -----------------------------------------------------------------------


def test_record_sends_mode_and_mark_then_data_in_pieces_the_server_can_read() -> None:
    channel = record()
    assert feed(channel, m.RecordStart(2, S16, RATE)) == [AudioStart(2, RATE,
                                                                     AudioDataMode.RAW)]
    channel.send_audio(100, sine(440, 0.025))  # 4800 bytes: more than one message holds
    first = sent(channel)
    assert [type(msg) for msg in first] == [m.RecordMode, m.RecordStartMark, m.RecordData,
                                            m.RecordData, m.RecordData]
    assert first[0] == m.RecordMode(100, AudioDataMode.RAW, memoryview(b""))
    data = [msg for msg in first if isinstance(msg, m.RecordData)]
    assert all(len(msg.data) <= RECORD_MAX_DATA_BYTES for msg in data)
    assert b"".join(bytes(msg.data) for msg in data) == sine(440, 0.025)
    channel.send_audio(110, b"\0" * 1920)
    assert [type(msg) for msg in sent(channel)] == [m.RecordData]
    # Stopped: nothing goes out; a new start marks again.
    assert feed(channel, m.RecordStop()) == [AudioStop()]
    channel.send_audio(120, b"\0" * 1920)
    assert sent(channel) == []
    feed(channel, m.RecordStart(2, S16, RATE))
    channel.send_audio(130, b"\0" * 4)
    assert [type(msg) for msg in sent(channel)] == [m.RecordMode, m.RecordStartMark,
                                                    m.RecordData]


@pytest.mark.parametrize(("asked", "server_caps", "frequency", "mode"), [
    (True, (RecordCap.OPUS,), RATE, AudioDataMode.OPUS),
    (True, (), RATE, AudioDataMode.RAW),  # the server cannot decode it
    (True, (RecordCap.OPUS,), 44100, AudioDataMode.RAW),  # Opus runs at 48 kHz only
    (False, (RecordCap.OPUS,), RATE, AudioDataMode.RAW),
])
def test_record_mode(asked: bool, server_caps: tuple[int, ...], frequency: int,
                     mode: AudioDataMode) -> None:
    channel = record(asked, server_caps)
    assert feed(channel, m.RecordStart(2, S16, frequency)) == [AudioStart(2, frequency, mode)]


def test_record_volume_and_mute() -> None:
    channel = record()
    assert feed(channel, m.RecordVolume((100, 200)), m.RecordMute(1)) == [
        AudioLevel((100, 200), False), AudioLevel((100, 200), True)]


def test_audio_codec_policy() -> None:
    auto = DecodingPolicy()
    assert not auto.audio_opus("192.168.1.20")
    assert not auto.audio_opus("127.0.0.1")
    assert not auto.audio_opus("fe80::1%eth0")
    assert auto.audio_opus("151.101.1.1")
    assert auto.audio_opus(None)
    assert DecodingPolicy(audio_codec="opus").audio_opus("10.0.0.1")
    assert not DecodingPolicy(audio_codec="raw").audio_opus("151.101.1.1")
    assert "audio raw on a LAN, else Opus" in auto.describe()


# --- samples ------------------------------------------------------------------------------


def test_opus_round_trip_keeps_the_tone() -> None:
    encoder, decoder = OpusEncoder(RATE, 2), OpusDecoder(RATE, 2)
    pcm = sine(1000, 0.5)
    out = b"".join(decoder.decode(encoder.encode(pcm[i:i + 1920]))
                   for i in range(0, len(pcm), 1920))
    assert len(out) == len(pcm)
    assert dominant_hz(out[len(out) // 2:]) == pytest.approx(1000, abs=5)
    with pytest.raises(ProtocolError, match="undecodable Opus packet"):
        decoder.decode(b"\xff" * 3)
    encoder.close()
    decoder.close()


def test_level_is_linear_per_channel_and_mute_is_silence() -> None:
    pcm = np.array([[10000, 10000], [-20000, -20000]], dtype="<i2").tobytes()
    assert apply_level(pcm, 2, (), False) == pcm
    assert apply_level(pcm, 2, (65535, 65535), False) == pcm
    half = np.frombuffer(apply_level(pcm, 2, (65535, 32768), False), dtype="<i2")
    assert half.tolist() == [10000, 5000, -20000, -10000]
    assert apply_level(pcm, 2, (65535, 65535), True) == bytes(len(pcm))


# --- jitter buffer ------------------------------------------------------------------------


def packet(value: int, frames: int = 480) -> bytes:
    return np.full(frames * 2, value, dtype="<i2").tobytes()


def values(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2")[::2]


def test_jitter_buffer_primes_to_its_target_then_plays_in_order() -> None:
    jitter = JitterBuffer(RATE, 2, target_frames=960, limit_frames=2880)
    jitter.put(1000, packet(100))
    assert values(jitter.take(480)).tolist() == [0] * 480  # not primed yet
    jitter.put(1010, packet(200))
    first = values(jitter.take(480))
    fade = RATE * FADE_MS // 1000
    assert first[0] == 0 and first[-1] == 100  # faded in
    assert first[:fade].tolist() != [100] * fade
    assert jitter.next_time == 1010
    assert values(jitter.take(240)).tolist() == [200] * 240
    assert jitter.next_time == 1015  # half a packet in
    assert jitter.underruns == 0


def test_jitter_buffer_fades_out_when_it_runs_dry_and_waits_for_the_target() -> None:
    jitter = JitterBuffer(RATE, 2, target_frames=480, limit_frames=2880)
    jitter.put(0, packet(300))
    jitter.take(480)
    jitter.put(10, packet(300, 240))
    out = values(jitter.take(480))
    assert jitter.underruns == 1
    assert out[0] == 300 and out[239] == 0 and out[240:].tolist() == [0] * 240
    jitter.put(20, packet(300, 240))  # below the target again: still silent
    assert values(jitter.take(240)).tolist() == [0] * 240


def test_jitter_buffer_drops_the_oldest_back_to_its_target_past_its_limit() -> None:
    jitter = JitterBuffer(RATE, 2, target_frames=960, limit_frames=1920)
    for i in range(5):
        jitter.put(i * 10, packet(i))
    assert jitter.held_frames == 960
    assert jitter.dropped_frames == 1440
    assert jitter.next_time == 30


# --- pacing, devices ----------------------------------------------------------------------


def test_pacer_waits_only_when_ahead_of_real_time() -> None:
    now = [0.0]
    slept: list[float] = []
    pacer = Pacer(1000, slack_frames=100, clock=lambda: now[0], sleep=slept.append)
    pacer.passed(100)  # within the slack: a device buffer's worth
    assert slept == []
    pacer.passed(50)
    assert slept == [pytest.approx(0.05)]
    now[0] = 10.0  # far behind (the device stalled): no burst to catch up
    pacer.passed(10)
    pacer.passed(10)
    assert len(slept) == 1


def test_sound_device_names() -> None:
    assert AudioDevice.parse("alsa") == AudioDevice("alsa", "")
    assert AudioDevice.parse("alsa:hw:CARD=Headset,DEV=0").name == "hw:CARD=Headset,DEV=0"
    assert AudioDevice.parse("wav:/tmp/x.wav") == AudioDevice("wav", "/tmp/x.wav")
    assert str(AudioDevice.parse("none")) == "none"
    for bad in ("pulse", "wav", "none:x", ""):
        with pytest.raises(ConfigError, match="none, alsa, alsa:DEVICE"):
            AudioDevice.parse(bad)


def test_wav_output_keeps_every_stream_of_its_format(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    output = WavOutput(path)
    output.start(RATE, 2)
    output.write(packet(1))
    output.stop()
    output.start(RATE, 1)  # another format: left out
    output.write(b"\0\0")
    output.start(RATE, 2)
    output.write(packet(2))
    output.close()
    with wave.open(str(path)) as saved:
        assert (saved.getframerate(), saved.getnchannels(), saved.getnframes()) == (RATE, 2,
                                                                                    960)


def write_wav(path: Path, data: bytes, channels: int, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(data)


def test_wav_input_plays_mono_on_both_channels_then_silence(tmp_path: Path) -> None:
    path = tmp_path / "in.wav"
    write_wav(path, np.arange(1, 481, dtype="<i2").tobytes(), 1)
    source = WavInput(path)
    source.start(RATE, 2)
    first = np.frombuffer(source.read(480), dtype="<i2").reshape(-1, 2)
    assert first[:, 0].tolist() == first[:, 1].tolist() == list(range(1, 481))
    assert source.read(480) == bytes(1920)
    source.stop()


def test_wav_input_at_another_rate_says_so(tmp_path: Path) -> None:
    path = tmp_path / "in.wav"
    write_wav(path, bytes(4), 2, rate=44100)
    with pytest.raises(OSError, match=r"44100 Hz, 2 channels.*server records 48000 Hz"):
        WavInput(path).start(RATE, 2)
    (tmp_path / "broken.wav").write_bytes(b"RIFF")
    with pytest.raises(OSError, match=r"cannot read .* as a WAV file"):
        WavInput(tmp_path / "broken.wav").start(RATE, 2)


# --- speaker and microphone ---------------------------------------------------------------


class DeviceOutput:
    """A paced output that records what it is given (the device thread's side)."""

    paced, name, latency_ms = True, "test", 40

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.started: list[tuple[int, int]] = []
        self.stops = 0

    def start(self, rate: int, channels: int) -> None:
        self.started.append((rate, channels))

    def write(self, frames: bytes) -> None:
        self.written.append(frames)
        time.sleep(0.001)

    def stop(self) -> None:
        self.stops += 1

    def close(self) -> None:
        pass


def test_speaker_feeds_a_device_from_its_jitter_buffer_and_reports_the_time() -> None:
    output, heard = DeviceOutput(), list[int]()
    speaker = Speaker(output, heard.append)
    speaker.start(AudioStart(2, RATE, AudioDataMode.RAW))
    speaker.set_level(AudioLevel((65535, 65535), False))
    for i in range(5):
        speaker.data(AudioData(1000 + 10 * i, packet(1000 + i)))
    deadline = 200
    while sum(values(chunk).astype(bool).sum() for chunk in output.written) < 5 * 480 - 960 \
            and deadline:
        deadline -= 1
        time.sleep(0.01)
    speaker.close()
    played = np.concatenate([values(chunk) for chunk in output.written]).tolist()
    plateau = [v for v in played if v >= 1000]  # between the fade in and the fade out
    assert plateau == sorted(plateau) and set(plateau) == {1000, 1001, 1002, 1003, 1004}
    assert output.started == [(RATE, 2)] and output.stops == 1
    assert all(len(chunk) == 1920 for chunk in output.written)  # whole periods
    assert heard[0] == (1000 - 40) & 0xFFFFFFFF


def test_speaker_decodes_opus_and_writes_an_unpaced_output_as_it_comes(tmp_path: Path) -> None:
    encoder = OpusEncoder(RATE, 2)
    output, heard = WavOutput(tmp_path / "out.wav"), list[int]()
    speaker = Speaker(output, heard.append)
    speaker.start(AudioStart(2, RATE, AudioDataMode.OPUS))
    pcm = sine(1000, 0.2)
    for i in range(0, len(pcm), 1920):
        speaker.data(AudioData(i // 192, encoder.encode(pcm[i:i + 1920])))
    speaker.data(AudioData(0, b"\xff\xff\xff"))  # skipped, said once
    speaker.close()
    with wave.open(str(tmp_path / "out.wav")) as saved:
        assert saved.getnframes() == len(pcm) // 4
        assert dominant_hz(saved.readframes(saved.getnframes())) == pytest.approx(1000, abs=5)
    assert heard == [i // 192 for i in range(0, len(pcm), 1920)]


def test_speaker_without_its_device_stays_silent() -> None:
    class Missing(DeviceOutput):
        def start(self, rate: int, channels: int) -> None:
            raise OSError("cannot open ALSA device hw:9: No such device")

    speaker = Speaker(Missing(), lambda t: None)
    speaker.start(AudioStart(2, RATE, AudioDataMode.RAW))
    speaker.data(AudioData(0, packet(1)))
    speaker.close()
    assert speaker.stream is None


def test_microphone_sends_ten_millisecond_frames_at_the_guest_volume(tmp_path: Path) -> None:
    path = tmp_path / "mic.wav"
    write_wav(path, sine(440, 0.1), 2)
    frames: list[bytes] = []
    microphone = Microphone(WavInput(path), frames.append)
    microphone.set_level(AudioLevel((32768, 32768), False))
    microphone.start(AudioStart(2, RATE, AudioDataMode.RAW))
    deadline = time.monotonic() + 10
    while len(frames) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    microphone.stop()
    assert all(len(frame_) == 1920 for frame_ in frames)
    sound = np.frombuffer(b"".join(frames[:10]), dtype="<i2")
    assert 0.45 * 32767 * 0.5 < np.abs(sound).max() < 0.55 * 32767 * 0.5


def test_describe_sound() -> None:
    assert describe_sound(bytes(400), 2, RATE) == "silence"
    assert describe_sound(tone(0.5), 2, RATE).endswith("loudest at 440 Hz")


def test_an_opus_stream_opus_cannot_decode_stays_silent(tmp_path: Path) -> None:
    output = WavOutput(tmp_path / "out.wav")
    speaker = Speaker(output, lambda t: None)
    speaker.start(AudioStart(2, 44100, AudioDataMode.OPUS))  # Opus has no 44.1 kHz
    speaker.data(AudioData(0, b"\0"))
    speaker.close()
    assert speaker.stream is None and speaker.packets == 0


def test_diag_audio_plays_a_tone_and_measures_the_microphone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tone_file = tmp_path / "tone.wav"
    assert main(["diag", "audio", "--config-dir", str(tmp_path / "config"), "--audio",
                 f"wav:{tone_file}", "--mic", "none"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"playback: played a 440 Hz tone for 1 s on wav:{tone_file}",
        "microphone: none configured"]
    assert main(["diag", "audio", "--config-dir", str(tmp_path / "config"), "--audio",
                 "none", "--mic", f"wav:{tone_file}", "--seconds", "0.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "playback: none configured"
    assert lines[1].startswith(f"microphone: 0.5 s from wav:{tone_file}: peak -10.")
    assert lines[1].endswith("loudest at 440 Hz")


def test_the_boxs_volume_scales_the_guests(tmp_path: Path) -> None:
    output = WavOutput(tmp_path / "out.wav")
    speaker = Speaker(output, lambda t: None, volume=50)
    speaker.start(AudioStart(2, RATE, AudioDataMode.RAW))
    speaker.set_level(AudioLevel((65535, 32768), False))
    speaker.data(AudioData(0, packet(20000)))
    speaker.close()
    with wave.open(str(tmp_path / "out.wav")) as saved:
        frames = np.frombuffer(saved.readframes(saved.getnframes()), dtype="<i2")
    assert frames[:2].tolist() == [9999, 5000]  # half, and half of a half
