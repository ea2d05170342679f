"""Sound: which device plays the session's sound and which is its microphone, how sound
travels, and a test of each, so a user can tell a box problem from a session one."""

from __future__ import annotations

import asyncio
import functools

from ...audio.devices import AudioDevice
from ...audio.diag import Result, listen, play_tone
from ...config.target import ConfigError
from ..app import Page, SetupApp
from ..widgets import Button, Choice, Note

_DEFAULT, _OFF = "alsa", "none"
_CODECS = [("auto", "Raw on a LAN, Opus beyond"), ("raw", "Raw (no decoding)"),
           ("opus", "Opus (less bandwidth)")]
TEST_SECONDS = 3.0


def _device_options(current: str, cards: list[str]) -> list[tuple[str, str]]:
    options = [(_DEFAULT, "Default device"), *((f"alsa:{card}", card) for card in cards),
               (_OFF, "Off")]
    if current not in (value for value, _ in options):
        # A headset that is unplugged now, or a device set by name: still the choice.
        options.insert(1, (current, f"{current.removeprefix('alsa:')} (not connected)"))
    return options


class AudioPage(Page):
    title = "Sound"

    def __init__(self, app: SetupApp, cards: list[str] | None = None) -> None:
        """``cards``: the sound cards to offer (default: those ALSA sees now)."""
        super().__init__(app)
        if cards is None:
            from ...audio.alsa import sound_cards  # noqa: PLC0415 - ALSA only on this page
            cards = sound_cards()
        audio = app.config().audio
        self.speakers = Choice("Speakers", _device_options(audio.playback, cards),
                               audio.playback)
        self.microphone = Choice("Microphone", _device_options(audio.microphone, cards),
                                 audio.microphone)
        self.codec = Choice("Over the network", _CODECS, audio.codec)
        steps = sorted({*range(0, 101, 10), audio.volume})
        self.volume = Choice("Volume", [(str(v), f"{v} %") for v in steps], str(audio.volume))
        self.before = self._values()
        self.widgets = [
            self.speakers, Note("Where the desktop's sound plays. A headset plugged in later "
                                "appears here the next time this page opens.", small=True),
            self.volume, Note("On top of the desktop's own volume; the test tone plays at "
                              "it too.", small=True),
            self.microphone, Note("What the desktop hears when an application records.",
                                  small=True),
            self.codec, Note("Raw sound costs the box nothing to decode; Opus saves "
                             "bandwidth on slow links.", small=True)]
        self.buttons = [Button("Save", self.save, "primary"),
                        Button("Test sound", self.test_speakers),
                        Button("Test mic", self.test_microphone),
                        Button("Back", self.back)]

    def _values(self) -> dict[str, str]:
        return {"audio.playback": self.speakers.value, "audio.volume": self.volume.value,
                "audio.microphone": self.microphone.value, "audio.codec": self.codec.value}

    def save(self) -> None:
        changes = {k: v for k, v in self._values().items() if v != self.before.get(k)}
        if not changes:
            self.say("Nothing changed")
            return
        try:
            self.app.store.set_many(changes)
        except ConfigError as exc:
            self.say(str(exc), error=True)
            return
        self.before = self._values()
        self.app.settings_changed()
        self.say("Saved: the next session uses it")

    def test_speakers(self) -> None:
        device = AudioDevice.parse(self.speakers.value)
        self.say("Playing a tone…")
        self.start(functools.partial(asyncio.to_thread, play_tone, device,
                                     volume=int(self.volume.value)), self._tested)

    def test_microphone(self) -> None:
        device = AudioDevice.parse(self.microphone.value)
        self.say(f"Listening for {TEST_SECONDS:g} s: speak now…")
        self.start(functools.partial(asyncio.to_thread, listen, device, TEST_SECONDS),
                   self._tested)

    def _tested(self, result: object) -> None:
        if isinstance(result, Result):
            self.say(result.text, error=not result.ok)
        else:
            self.say(f"The test failed: {result}", error=True)
