"""The setup UI driven by keyboard only, by pointer only and by touch with the on-screen
keyboard; the result is checked in the configuration it leaves behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from evdev import ecodes as e

from spicebox.cli import EXIT_USAGE, _hotkeys, main
from spicebox.codecs.pixels import to_rgb
from spicebox.config.settings import pin_matches
from spicebox.input.events import FocusLost, Key
from spicebox.input.xkb import available as xkb_available
from spicebox.ui import keys
from spicebox.ui.app import CLOSE, CONNECT
from spicebox.ui.pages.audio import AudioPage
from spicebox.ui.pages.home import HomePage
from spicebox.ui.pages.lock import THROTTLE
from spicebox.ui.pages.profiles import ProfilePage
from spicebox.ui.pages.reconnect import ReconnectPage
from spicebox.ui.pages.settings import SectionPage
from spicebox.ui.pages.usb import UsbPage
from spicebox.ui.paint import ERROR, FOCUS
from spicebox.ui.widgets import Note
from spicebox.usb.filter import UsbDevice, UsbInterface
from tests.rig.client import load_png
from tests.rig.ui import UiDriver, choice, field


@pytest.fixture(autouse=True)
def _fresh_pin_throttle() -> None:
    THROTTLE.passed()  # one process runs every test: no test pays for another's guesses


def home(tmp_path: Path, **kwargs: object) -> UiDriver:
    ui = UiDriver(tmp_path / "config", **kwargs)  # type: ignore[arg-type]
    ui.open(HomePage(ui.app))
    return ui


def test_a_profile_set_up_with_the_keyboard_only(tmp_path: Path) -> None:
    ui = home(tmp_path)
    ui.focus_by_keys("Connection profiles")
    ui.key(e.KEY_ENTER)
    ui.focus_by_keys("New profile")
    ui.key(e.KEY_ENTER)
    assert ui.page.title == "New profile"
    ui.key(e.KEY_TAB)                   # past the kind of profile: a SPICE server
    ui.type("desk")
    ui.key(e.KEY_TAB)
    ui.type("vdi.example.org")
    ui.key(e.KEY_ENTER)                 # Enter moves on, like Tab
    ui.type("5900")
    ui.key(e.KEY_TAB)
    ui.key(e.KEY_TAB)
    ui.type("Secret-1!")
    ui.focus_by_keys("Save")
    ui.key(e.KEY_ENTER)
    assert ui.page.title == "Connection profiles"
    assert ui.page.status == "Saved profile desk"
    config = ui.store.load()
    assert config.default_profile == "desk"  # the first profile is the default
    profile = config.profile()
    assert (profile.host, profile.port, profile.password) == ("vdi.example.org", 5900,
                                                               "Secret-1!")
    ui.key(e.KEY_ESC)
    assert ui.page.title == "Spicebox setup"
    ui.key(e.KEY_ESC)
    assert ui.app.result == CLOSE


def test_a_profile_set_up_by_touch_with_the_on_screen_keyboard(tmp_path: Path) -> None:
    ui = home(tmp_path)
    ui.tap("Connection profiles")
    ui.tap("New profile")
    ui.tap("Name")
    assert ui.app.keyboard_shown  # a text field tapped: the keyboard comes up
    ui.tap_keys("Desk-2")
    ui.tap("Server")
    ui.tap_keys("10.0.0.7")
    ui.tap("TLS port")
    ui.tap_keys("5901")
    ui.tap_at(*next((b.left + 1, b.top + 1) for b, k in ui.app.keyboard._keys
                    if k.command == "hide"))
    assert not ui.app.keyboard_shown
    ui.tap("Save")
    profile = ui.store.load().profile("Desk-2")
    assert (profile.host, profile.tls_port, profile.port) == ("10.0.0.7", 5901, None)


def test_a_bad_value_is_refused_with_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    ui = home(tmp_path)
    ui.open(ProfilePage(ui.app, None))
    field(ui.page, "Name").text = "desk"
    field(ui.page, "Server").text = "vdi"
    field(ui.page, "Port").text = "99999"
    ui.focus_by_keys("Save")
    ui.key(e.KEY_ENTER)
    assert ui.page.title == "New profile"  # still there, with what was typed
    assert ui.page.status_color == ERROR
    assert "profiles.desk.port = '99999' is not valid" in ui.page.status
    assert not (tmp_path / "config" / "spicebox.toml").exists()
    field(ui.page, "Port").text = ""
    ui.key(e.KEY_ENTER)
    assert "has neither port nor tls-port" in ui.page.status


def test_editing_renames_and_deleting_forgets(tmp_path: Path) -> None:
    ui = home(tmp_path)
    ui.store.set_many({"profiles.a.host": "h", "profiles.a.port": "1",
                       "profiles.a.password": "pw", "default-profile": "a"})
    ui.open(ProfilePage(ui.app, "a"))
    name = field(ui.page, "Name")
    name.text = "b"
    ui.tap("Save")
    config = ui.store.load()
    assert list(config.profiles) == ["b"] and config.default_profile == "b"
    assert config.profiles["b"].password == "pw"  # the secret moved with it
    ui.open(ProfilePage(ui.app, "b"))
    ui.tap("Delete")
    assert ui.store.load().profiles == {}
    assert ui.store.load().default_profile is None


def test_a_settings_page_saves_its_section(tmp_path: Path) -> None:
    ui = home(tmp_path)
    ui.open(SectionPage(ui.app, "display", "Display"))
    ui.focus_by_keys("compression")
    ui.key(e.KEY_RIGHT)
    assert choice(ui.page, "compression").value != "auto"
    wanted = choice(ui.page, "compression").value
    field(ui.page, "resolution").text = "1280x800,1024x768"
    ui.tap("Save")
    display = ui.store.load().display
    assert display.compression == wanted
    assert display.resolution == ((1280, 800), (1024, 768))
    field(ui.page, "resolution").text = "huge"
    ui.tap("Save")
    assert ui.page.status.startswith("display.resolution = 'huge' is not valid")
    assert ui.store.load().display.resolution == ((1280, 800), (1024, 768))


def test_the_admin_pin_guards_every_page_but_the_choice_of_profile(tmp_path: Path) -> None:
    ui = home(tmp_path)
    ui.store.set_many({"profiles.a.host": "h", "profiles.a.port": "1",
                       "profiles.b.host": "h", "profiles.b.port": "2",
                       "default-profile": "a"})
    ui.tap("System")
    ui.tap("Admin PIN…")
    ui.tap("Set PIN")
    assert ui.page.status == "Type a PIN of 4 to 12 digits"  # empty is not "remove"
    field(ui.page, "New admin PIN").text = field(ui.page, "The PIN again").text = "12"
    ui.tap("Set PIN")
    assert "4 to 12 digits" in ui.page.status
    field(ui.page, "New admin PIN").text = "2468"
    field(ui.page, "The PIN again").text = "2486"
    ui.tap("Set PIN")
    assert "differ" in ui.page.status and ui.store.load().system.admin_pin is None
    field(ui.page, "New admin PIN").text = field(ui.page, "The PIN again").text = "2468"
    ui.tap("Set PIN")
    stored = ui.store.load().system.admin_pin
    assert stored is not None and "2468" not in stored and pin_matches(stored, "2468")
    assert "2468" not in (tmp_path / "config" / "secrets.toml").read_text()

    ui = home(tmp_path)  # a new visit: locked
    ui.key(e.KEY_RIGHT)  # the profile choice has the focus: no PIN needed
    assert ui.store.load().default_profile == "b"
    ui.tap("Connection profiles")
    assert ui.page.title == "Admin PIN"
    ui.type("1111")
    ui.key(e.KEY_ENTER)
    assert ui.page.status == "Wrong PIN" and ui.page.title == "Admin PIN"
    ui.type("2468")
    ui.key(e.KEY_ENTER)
    assert ui.page.title == "Connection profiles"
    ui.key(e.KEY_ESC)
    ui.tap("Display")  # once per visit
    assert ui.page.title == "Display"


def test_wrong_pins_are_slowed_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(THROTTLE, "clock", lambda: now[0])
    ui = home(tmp_path)
    ui.store.set("system.admin-pin", "2468")
    ui.tap("System")
    for _ in range(3):
        ui.type("0000")
        ui.key(e.KEY_ENTER)
    ui.type("2468")
    ui.key(e.KEY_ENTER)
    assert ui.page.title == "Admin PIN" and "wait 30 s" in ui.page.status
    ui.app.stack.pop()
    ui.tap("System")  # a new page does not start the count again
    ui.type("2468")
    ui.key(e.KEY_ENTER)
    assert "wait 30 s" in ui.page.status
    now[0] += 31
    ui.key(e.KEY_ENTER)  # the field was not cleared when the guess was refused
    assert ui.page.title == "System"


def test_the_reconnect_screen_counts_down_and_offers_setup(tmp_path: Path) -> None:
    ui = UiDriver(tmp_path / "config", kiosk=True)
    ui.open(ReconnectPage(ui.app, "vdi:5900", "cannot connect: refused", 4.0))
    assert "Trying again in 4 s" in ui.texts()
    ui.tick(1.5)
    assert "Trying again in 3 s" in ui.texts()
    ui.tap("Setup")
    assert ui.page.title == "Spicebox setup"
    ui.tap("Connect")  # nothing to connect to yet
    assert ui.app.result is None and "profile first" in ui.page.status
    ui.key(e.KEY_ESC)
    assert ui.page.title == "Not connected"
    ui.tick(3)
    assert ui.app.result == CONNECT


def test_a_vv_file_is_imported_from_a_usb_stick(tmp_path: Path) -> None:
    stick = tmp_path / "media" / "user" / "STICK"
    stick.mkdir(parents=True)
    vv = stick / "desk.vv"
    vv.write_text("[virt-viewer]\ntype=spice\nhost=10.9.8.7\nport=5900\ntitle=Desk\n"
                  "password=pw\ndelete-this-file=1\n")
    ui = home(tmp_path, import_dirs=(tmp_path / "media",))
    ui.tap("Connection profiles")
    ui.tap("Import a .vv file from a USB stick")
    ui.tap("desk.vv")
    assert ui.page.status == "Imported desk.vv as profile Desk, now the default"
    assert ui.store.load().profile().host == "10.9.8.7"
    assert not vv.exists()  # it asked to be deleted: it held a password


def test_keyboard_focus_scrolls_into_view_on_the_smallest_screen(tmp_path: Path) -> None:
    ui = home(tmp_path)
    ui.open(ProfilePage(ui.app, None))
    ui.focus_by_keys("Trust the server's certificate…")
    layout = ui.app._layout()
    box = next(b for w, b in layout.rows if w is ui.app.focused())
    assert layout.body.top <= box.top and box.bottom <= layout.body.bottom
    assert ui.page.scroll > 0


@pytest.mark.parametrize("size", [(800, 480), (1280, 800), (3840, 2160)])
def test_pages_scale_with_the_screen(tmp_path: Path, size: tuple[int, int]) -> None:
    ui = home(tmp_path, size=size)
    pixels = ui.render()
    assert pixels.shape == (size[1], size[0])
    # The focus ring is drawn, and scaled: its width grows with the screen.
    focus = (FOCUS[0] << 16) | (FOCUS[1] << 8) | FOCUS[2]
    rows = np.nonzero(((pixels & 0xFFFFFF) == focus).any(axis=1))[0]
    assert len(rows) > 0
    ring_top = rows[0]
    thickness = int(((pixels[ring_top:ring_top + 40, size[0] // 2] & 0xFFFFFF) == focus).sum())
    assert thickness == max(1, round(3 * min(size[0] / 800, size[1] / 480)))


def test_the_reconnect_screen_tries_again_when_the_network_comes_back(
        tmp_path: Path) -> None:
    ui = UiDriver(tmp_path / "config", kiosk=True)
    ui.open(ReconnectPage(ui.app, "vdi:5900", "unreachable", 30.0,
                          network=lambda: asyncio.sleep(0)))
    ui.settle()
    assert ui.app.result == CONNECT


def test_the_network_coming_back_does_not_leave_setup(tmp_path: Path) -> None:
    ui = UiDriver(tmp_path / "config", kiosk=True)
    ui.open(ReconnectPage(ui.app, "vdi:5900", "unreachable", 30.0,
                          network=lambda: asyncio.sleep(0)))
    ui.tap("Setup")
    ui.settle()
    assert ui.app.result is None and ui.page.title == "Spicebox setup"


def test_without_rtnetlink_the_countdown_goes_on(tmp_path: Path) -> None:
    async def unsupported() -> None:
        raise OSError(97, "Address family not supported by protocol")
    ui = UiDriver(tmp_path / "config", kiosk=True)
    ui.open(ReconnectPage(ui.app, "vdi:5900", "unreachable", 4.0, network=unsupported))
    ui.settle()
    assert ui.app.result is None
    ui.tick(5)
    assert ui.app.result == CONNECT


def test_a_locked_box_has_no_setup(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    ui = UiDriver(config_dir, kiosk=True)
    ui.store.set("system.ui-locked", "true")
    assert main(["setup", "--config-dir", str(config_dir), "--backend", "headless",
                 "--exit-after", "0"]) == EXIT_USAGE
    assert "setup" not in _hotkeys("setup=ctrl+alt+f1", ui.store.load()).bindings
    ui.open(ReconnectPage(ui.app, "vdi:5900", "refused", 4.0, setup=False))
    assert "Setup" not in ui.texts()


def test_the_setup_command_shows_the_home_page(tmp_path: Path) -> None:
    png = tmp_path / "setup.png"
    assert main(["setup", "--config-dir", str(tmp_path / "config"), "--backend", "headless",
                 "--resolution", "1280x800", "--screenshot", str(png),
                 "--screenshot-after", "0", "--exit-after", "0.3"]) == 0
    ui = home(tmp_path, size=(1280, 800))
    assert np.array_equal(load_png(png), to_rgb(ui.render()))


def test_a_held_key_repeats(tmp_path: Path) -> None:
    ui = home(tmp_path)
    ui.open(ProfilePage(ui.app, None))
    ui.key(e.KEY_TAB)
    ui.type("abcdefgh")
    ui.app.handle(Key(e.KEY_BACKSPACE, True))
    ui.tick(0.3)
    assert field(ui.page, "Name").text == "abcdefg"  # not yet
    ui.tick(0.25)
    ui.tick(0.05)
    assert field(ui.page, "Name").text == "abcde"
    ui.app.handle(Key(e.KEY_BACKSPACE, False))
    ui.tick(1.0)
    assert field(ui.page, "Name").text == "abcde"


@pytest.mark.skipif(not xkb_available(), reason="libxkbcommon (Debian's libxkbcommon0)")
def test_text_is_typed_in_the_configured_keyboard_layout(tmp_path: Path) -> None:
    ui = home(tmp_path)
    ui.open(SectionPage(ui.app, "input", "Keyboard and input"))
    field(ui.page, "keyboard-layout").text = "de"
    field(ui.page, "keyboard-variant").text = "bogus"
    ui.tap("Save")
    assert ui.page.status == "keyboard layout 'de(bogus)' is not known to xkb-data"
    assert ui.store.load().input.keyboard_layout == "us"  # nothing saved
    field(ui.page, "keyboard-variant").text = ""
    ui.tap("Save")
    assert ui.store.load().input.keyboard_layout == "de"
    ui.open(ProfilePage(ui.app, None))
    ui.key(e.KEY_TAB)
    # German keys: Y and Z swapped, Shift+2 is ", AltGr+Q is @, the key right of L is ö.
    for code in (e.KEY_Y, e.KEY_Z):
        ui.key(code)
    ui.key(e.KEY_2, shift=True)
    ui.app.handle(Key(e.KEY_RIGHTALT, True))
    ui.key(e.KEY_Q)
    ui.app.handle(Key(e.KEY_RIGHTALT, False))
    ui.key(e.KEY_SEMICOLON)
    ui.key(e.KEY_EQUAL)  # a dead key: its accent, on its own
    ui.key(e.KEY_KP7)  # NumLock is on
    assert field(ui.page, "Name").text == 'zy"@ö\u00b47'
    ui.app.handle(Key(e.KEY_LEFTSHIFT, True))
    ui.app.handle(FocusLost())  # its release goes elsewhere
    ui.key(e.KEY_A)
    assert field(ui.page, "Name").text.endswith("7a")


def test_without_libxkbcommon_the_us_layout_is_built_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "xkb_available", lambda: False)
    reader = keys.KeyReader("de")
    typed = []
    for code, shift in ((e.KEY_Y, False), (e.KEY_2, True), (e.KEY_A, True)):
        if shift:
            reader.feed(e.KEY_LEFTSHIFT, True)
        press = reader.feed(code, True)
        reader.feed(code, False)
        reader.feed(e.KEY_LEFTSHIFT, False)
        assert press is not None
        typed.append(press.char)
    assert typed == ["y", "@", "A"]


def test_the_screen_goes_dark_when_idle_and_the_first_tap_only_wakes_it(
        tmp_path: Path) -> None:
    ui = home(tmp_path)  # display.blank-after: 10 minutes by default
    ui.tick(599)
    assert not ui.app.blanked
    ui.tick(1)
    assert ui.app.blanked and not ui.render().any()
    ui.tap("Connection profiles")
    assert not ui.app.blanked and ui.page.title == "Spicebox setup"  # woken, not pressed
    ui.tap("Connection profiles")
    assert ui.page.title == "Connection profiles"
    ui.tick(590)
    ui.key(e.KEY_DOWN)  # input keeps it lit
    ui.tick(590)
    assert not ui.app.blanked

    ui.store.set("display.blank-after", "0")
    never = home(tmp_path)
    never.tick(86400)
    assert not never.app.blanked


def test_the_sound_page_offers_the_cards_and_saves_the_choice(tmp_path: Path) -> None:
    ui = home(tmp_path)
    ui.store.set("audio.microphone", "alsa:Headset")  # unplugged since
    ui.open(AudioPage(ui.app, cards=["PCH"]))
    speakers, microphone = choice(ui.page, "Speakers"), choice(ui.page, "Microphone")
    assert [label for _, label in speakers.options] == ["Default device", "PCH", "Off"]
    assert microphone.value == "alsa:Headset"
    assert microphone.options[microphone.index][1] == "Headset (not connected)"
    ui.focus_by_keys("Speakers")
    ui.key(e.KEY_RIGHT)
    ui.focus_by_keys("Volume")
    ui.key(e.KEY_LEFT)
    ui.tap("Save")
    audio = ui.store.load().audio
    assert (audio.playback, audio.microphone, audio.volume) == ("alsa:PCH", "alsa:Headset",
                                                                90)
    assert ui.page.status == "Saved: the next session uses it"
    ui.tap("Save")
    assert ui.page.status == "Nothing changed"


def test_the_usb_page_makes_a_rule_per_device_and_keeps_the_rest(tmp_path: Path) -> None:
    ui = home(tmp_path)
    ui.store.set("usb.auto-redirect-filter", "0x08,-1,-1,-1,0|-1,-1,-1,-1,1")
    stick = UsbDevice(0, 0x0781, 0x5581, 0x0100, (UsbInterface(8, 6, 0x50),))
    pad = UsbDevice(0, 0x056A, 0x00A8, 0x0100, (UsbInterface(3, 0, 0),))
    keyboard = UsbDevice(0, 0x046D, 0xC31C, 0x6400, (UsbInterface(3, 1, 1),))
    ui.open(UsbPage(ui.app, [("Stick", stick), ("Pad", pad), ("Keyboard", keyboard)]))
    stick_choice = choice(ui.page, "Stick (0781:5581)")
    assert stick_choice.value == "box"  # storage stays, by the administrator's rule
    assert choice(ui.page, "Pad (056a:00a8)").value == "desktop"
    assert next(w for w in ui.page.widgets if isinstance(w, Note)).text == (
        "Keyboard (046d:c31c): a keyboard or mouse, stays with this box")
    ui.focus_by_keys("Stick (0781:5581)")
    ui.key(e.KEY_RIGHT)
    ui.tap("Save")
    assert ui.store.load().usb.auto_redirect_filter == (
        "-1,0x0781,0x5581,-1,1|0x08,-1,-1,-1,0|-1,-1,-1,-1,1")
    ui.focus_by_keys("Stick (0781:5581)")
    ui.key(e.KEY_RIGHT)  # and back: its rule is replaced, not added to
    ui.tap("Save")
    assert ui.store.load().usb.auto_redirect_filter == (
        "-1,0x0781,0x5581,-1,0|0x08,-1,-1,-1,0|-1,-1,-1,-1,1")
