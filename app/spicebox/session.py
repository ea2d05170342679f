"""A SPICE session: opens the main channel, then the channels it lists, and routes events.

Protocol work happens in the sans-IO channels, pixel work in the canvas; this module only
decides what connects when, and when frames reach the presenter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, cast

from .audio.devices import AudioDevices
from .audio.microphone import Microphone
from .audio.opus import available as opus_available
from .audio.speaker import Speaker
from .canvas.canvas import Canvas
from .canvas.damage import Damage
from .canvas.monitors import MAX_MONITORS, Monitor
from .codecs.pixels import Pixels
from .config.target import Target
from .display.base import Presenter, WindowClipboard
from .display.screenshot import save_png
from .input.evdev_source import EvdevInput
from .input.events import (
    Button,
    FocusLost,
    InputEvent,
    Key,
    LocalClipboardChanged,
    Locks,
    OutputResized,
    PointerMotion,
    QuitRequested,
)
from .input.hotkeys import KEY_DELETE, Hotkeys
from .logonce import LogOnce
from .net.proxy import Proxy
from .net.tls import TlsVerifier
from .net.transport import CLOSE_TIMEOUT, ChannelConnection, Endpoint, open_stream
from .notify import keep_alive
from .spice.agent import ClipboardType
from .spice.channel import Channel
from .spice.constants import (
    ChannelType,
    KeyModifiers,
    MouseButton,
    MouseMode,
    NotifySeverity,
)
from .spice.cursor import CursorChannel
from .spice.display import DisplayChannel
from .spice.errors import Unsupported
from .spice.events import (
    AgentChanged,
    AudioData,
    AudioLatency,
    AudioLevel,
    AudioStart,
    AudioStop,
    ChannelEvent,
    ChannelLinked,
    ChannelsAvailable,
    CursorState,
    GuestClipboard,
    GuestLocks,
    MediaTime,
    MouseModeChanged,
    ServerDisconnecting,
    ServerNotice,
    SessionStarted,
    UsbData,
)
from .spice.inputs import InputsChannel
from .spice.main import MainChannel
from .spice.messages import ChannelId
from .spice.mmclock import MediaClock
from .spice.playback import PlaybackChannel
from .spice.policy import DecodingPolicy, compression_for
from .spice.record import RecordChannel
from .spice.recording import Recorder
from .spice.usbchannel import UsbredirChannel
from .spice.wire import Message
from .usb.host import UsbredirHost
from .usb.redirect import UsbPolicy, UsbRedirection

log = logging.getLogger(__name__)

REFRESH_SECONDS = 1 / 60
IDLE_POLL_SECONDS = 0.05
RESIZE_SETTLE_SECONDS = 0.3


class Session:
    def __init__(self, target: Target, password: str, presenter: Presenter,
                 policy: DecodingPolicy | None = None, ca_file: str | None = None,
                 host_subject: str | None = None, recorder: Recorder | None = None,
                 local_input: EvdevInput | None = None,
                 resolution: list[tuple[int, int]] | None = None,
                 hotkeys: Hotkeys | None = None, audio: AudioDevices | None = None,
                 usb: UsbPolicy | None = None) -> None:
        self.target = target
        self.policy = policy or DecodingPolicy.for_device(compression_for(target.host))
        self.presenter = presenter
        self._password = password
        tls = None
        if target.uses_tls:
            tls = TlsVerifier.create(target.ca_pem, ca_file,
                                     host_subject or target.host_subject, target.fingerprint)
        port = target.tls_port if target.uses_tls else target.port
        assert port is not None
        self.endpoint = Endpoint(target.host, port, tls,
                                 Proxy.parse(target.proxy) if target.proxy else None)
        self.canvas = self._new_canvas()  # display channel 0, the primary monitor
        self._canvases: dict[int, Canvas] = {0: self.canvas}
        self._connections: dict[tuple[int, int], ChannelConnection] = {}
        self._closing = False
        self._tasks: asyncio.TaskGroup | None = None
        self._damage: dict[int, Damage] = {}  # per display channel
        self._frames: asyncio.Future[None] | None = None  # while frames are presented
        self._frame_timer: asyncio.TimerHandle | None = None  # the next present
        self._poll_timer: asyncio.TimerHandle | None = None  # a polled window's next look
        self._next_frame = 0.0  # loop time before which no present starts
        self._first_frame = asyncio.Event()
        self._stop = asyncio.Event()
        self._skip = LogOnce(log, logging.WARNING)
        self._openers: dict[int, Callable[[ChannelId], Channel]] = {
            ChannelType.DISPLAY: self._display_channel,
            ChannelType.INPUTS: self._inputs_channel,
            ChannelType.CURSOR: self._cursor_channel,
        }
        self.audio = audio or AudioDevices()
        # A channel for sound is opened only where it has somewhere to go (or come from).
        if self.audio.playback.kind != "none":
            self._openers[ChannelType.PLAYBACK] = self._playback_channel
        if self.audio.microphone.kind != "none":
            self._openers[ChannelType.RECORD] = self._record_channel
        self.speaker: Speaker | None = None
        self.microphone: Microphone | None = None
        self.playback: PlaybackChannel | None = None
        self.record: RecordChannel | None = None
        self._server_address: str | None = None  # the main channel's peer
        # Local USB devices to the server's usbredir channels (None: none go).
        self.usb = UsbRedirection(usb) if usb is not None else None
        self._usb_hosts: dict[int, UsbredirHost] = {}  # by usbredir channel id
        self.session_id: int | None = None
        self.channels: tuple[ChannelId, ...] = ()  # what the server offers
        self.frames_presented = 0
        self._recorder = recorder
        self.clock = MediaClock()
        self.display_channels: dict[int, DisplayChannel] = {}
        self.inputs: InputsChannel | None = None
        self.cursor = CursorState(None, 0, 0, False)
        self.local_input = local_input  # devices' own keyboards and mice (not x11's)
        self._local_locks: KeyModifiers | None = None
        self.main: MainChannel | None = None
        self.agent = AgentChanged(False, frozenset())
        # The monitor sizes to ask the guest agent for, left to right (dynamic resolution):
        # as given, else the outputs' own (devices), else none (the guest's stays).
        self.resolution = resolution or presenter.output_sizes()
        self.hotkeys = hotkeys or Hotkeys()
        if not presenter.captures_pointer:  # nothing to release: let the guest have the key
            self.hotkeys.bindings.pop("release-pointer", None)
        self.setup_requested = False  # the setup hotkey ended the session
        self.server_ended = False  # the server closed the session, not the user or a timer
        self.clipboard: GuestClipboard | None = None  # what the guest copied last
        self._resize_timer: asyncio.TimerHandle | None = None
        self.mouse_mode = MouseMode.SERVER
        self.pointer_captured = False  # a window's pointer held for server mouse mode
        self._taking_click: set[MouseButton] = set()  # the click that captured it
        self.screenshot_saved = False

    async def run(self, screenshot: Path | None = None, screenshot_after: float = 0.0,
                  exit_after: float | None = None, screenshot_dir: Path | None = None) -> None:
        """Serve the session until the server ends it, the user quits, or ``exit_after``."""
        failure: Exception | None = None
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                serving = tasks.create_task(self._serve_main())
                tasks.create_task(self._present_loop())
                pings = tasks.create_task(keep_alive())
                if self.local_input is not None:
                    self.local_input.start(self._on_local_input)
                if screenshot is not None or screenshot_dir is not None:
                    tasks.create_task(self._screenshots(screenshot, screenshot_dir,
                                                        screenshot_after))
                stopping = tasks.create_task(self._stop.wait())
                await asyncio.wait({serving, stopping}, timeout=exit_after,
                                   return_when=asyncio.FIRST_COMPLETED)
                self.server_ended = serving.done() and not stopping.done()
                if not serving.done():
                    log.info("disconnecting %s", "as asked" if stopping.done()
                             else f"after {exit_after:.1f} s as asked")
                    await self.close()
                    # Channels end by themselves once closed; anything still connecting
                    # is cancelled with the task group.
                    await asyncio.wait({serving}, timeout=CLOSE_TIMEOUT)
                pings.cancel()
                raise _Finished
        except* _Finished:
            pass
        except* Exception as group:
            # Raised after the try statement: Debian 12's Python (3.11.2) wraps whatever
            # an except* clause raises in an ExceptionGroup (fixed in 3.11.4).
            failure = _first(group)
        finally:
            self._capture(False)  # the presenter may show setup next
            if self.local_input is not None:
                self.local_input.close()
            if self._recorder is not None:
                self._recorder.close()
            # Their threads end here, whichever way the session did.
            if self.speaker is not None:
                self.speaker.close()
            if self.microphone is not None:
                self.microphone.stop()
            if self.usb is not None:
                self.usb.close()  # the devices go back to the box
        if failure is not None:
            raise failure from None

    def stop(self) -> None:
        """Ask ``run`` to disconnect cleanly and return (call on the session's loop)."""
        self._stop.set()

    async def close(self) -> None:
        self._closing = True
        await asyncio.gather(*(conn.close() for conn in list(self._connections.values())))

    # --- channels -----------------------------------------------------------------

    async def _serve_main(self) -> None:
        self.main = MainChannel(self._password)
        await self._serve(self.main)

    async def _serve(self, channel: Channel) -> None:
        _, writer = await open_stream(self.endpoint)
        if self._closing:  # stopped while this channel was still connecting
            writer.transport.abort()
            return
        key = (channel.channel_type, channel.channel_id)
        if channel is self.main:
            peer = writer.get_extra_info("peername")
            self._server_address = peer[0] if peer else None
        # TCP, or TLS over it: both read and write. uvloop's transports do both without
        # deriving from asyncio.Transport.
        transport = cast(asyncio.Transport, writer.transport)
        conn = ChannelConnection(channel, transport, self._on_event)
        self._connections[key] = conn
        try:
            await conn.run()
        finally:
            del self._connections[key]

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        assert self._tasks is not None
        self._tasks.create_task(coro)

    def _on_event(self, channel: Channel, event: ChannelEvent) -> None:
        if isinstance(event, Message):
            # Server messages the channel passed on; only display ones matter so far.
            if isinstance(channel, DisplayChannel):
                self._on_display_message(channel, event)
        elif isinstance(event, AudioStart | AudioData | AudioStop | AudioLevel | AudioLatency):
            self._on_audio(channel, event)
        elif isinstance(event, UsbData):
            host = self._usb_hosts.get(channel.channel_id)
            if host is not None:
                host.receive(event.data)
        elif isinstance(event, ChannelLinked):
            log.debug("%s linked (server caps %s/%s)", channel.name,
                      sorted(event.common_caps), sorted(event.channel_caps))
            if channel is self.inputs and self._local_locks is not None:
                self.inputs.set_locks(self._local_locks)  # the guest follows the keyboard
            if isinstance(channel, UsbredirChannel):
                self._start_usb(channel)
        elif isinstance(event, SessionStarted):
            self.session_id = event.session_id
            log.info("connected to %s, session %08x", self.endpoint, event.session_id)
        elif isinstance(event, MediaTime):
            self.clock.set(event.mm_time)
        elif isinstance(event, MouseModeChanged):
            if event.mode != self.mouse_mode:
                log.info("mouse mode: %s", "client (absolute)" if event.mode == MouseMode.CLIENT
                         else "server (relative)")
            self.mouse_mode = event.mode
            if event.mode != MouseMode.SERVER:
                self._capture(False)
        elif isinstance(event, CursorState):
            if (event.shape, event.visible) != (self.cursor.shape, self.cursor.visible):
                self.presenter.set_cursor(event.shape, event.visible)
            if self.mouse_mode == MouseMode.SERVER:  # the guest moves its own pointer
                self.presenter.move_pointer(event.x, event.y)
            self.cursor = event
        elif isinstance(event, AgentChanged):
            if event.connected != self.agent.connected:
                log.info("guest agent %s", "connected" if event.connected else "gone")
            self.agent = event
            self._request_resolution()
        elif isinstance(event, GuestClipboard):
            self.clipboard = event
            if self.presenter.clipboard is not None:
                self._spawn(self._paste_here(self.presenter.clipboard, event))
        elif isinstance(event, GuestLocks):
            log.debug("guest lock keys: %s", event.locks)
            if self.local_input is not None:
                self.local_input.set_locks(event.locks)
        elif isinstance(event, ChannelsAvailable):
            self._open_channels(event)
        elif isinstance(event, ServerNotice):
            level = logging.WARNING if event.severity >= NotifySeverity.WARN else logging.INFO
            log.log(level, "server: %s", event.text)
        elif isinstance(event, ServerDisconnecting):
            log.info("server is disconnecting %s (reason %d)", channel.name, event.reason)

    def _open_channels(self, event: ChannelsAvailable) -> None:
        assert self.session_id is not None
        self.channels = event.channels
        if self.usb is not None:
            loop = asyncio.get_running_loop()
            self.usb.start([ch.id for ch in event.channels if ch.type == ChannelType.USBREDIR],
                           self._connect_usb,
                           lambda channel_id: loop.call_soon_threadsafe(
                               self._disconnect_usb, channel_id))
            self._spawn(self.usb.watch())
        for ch in event.channels:
            opener = self._openers.get(ch.type)
            if opener is None:
                log.debug("channel type %d id %d is not handled yet", ch.type, ch.id)
            else:
                self._spawn(self._serve(opener(ch)))

    def _display_channel(self, ch: ChannelId) -> Channel:
        assert self.session_id is not None
        self._canvases.setdefault(ch.id, self._new_canvas())
        log.debug("opening display:%d with %s", ch.id, self.policy.describe())
        channel = DisplayChannel(ch.id, self.session_id, self._password, self.policy,
                                 self.clock)
        channel.recorder = self._recorder
        self.display_channels[ch.id] = channel
        return channel

    def copy_to_guest(self, kind: ClipboardType, data: bytes) -> bool:
        """Make ``data`` (UTF-8 text, or a PNG image) the guest's clipboard; False
        without an agent that has one."""
        return self.main is not None and self.main.offer_clipboard(kind, data)

    async def _paste_here(self, clipboard: WindowClipboard, copied: GuestClipboard) -> None:
        await clipboard.put(copied.type, copied.data)
        # SDL sends X the selection's new owner only when it next reads events.
        self._window_events()

    async def _copy_local_clipboard(self, clipboard: WindowClipboard) -> None:
        copied = await clipboard.get()
        if copied is not None:
            self.copy_to_guest(*copied)

    def set_resolution(self, sizes: list[tuple[int, int]]) -> None:
        """Ask the guest for monitors of these sizes, left to right (now, or as soon as
        its agent is there)."""
        self.resolution = sizes
        self._request_resolution()

    def _request_resolution(self) -> None:
        if self.resolution is None or self.main is None:
            return
        layout, x = [], 0
        for width, height in self.resolution:
            layout.append((x, 0, width, height))
            x += width
        if self.main.send_monitors(layout):
            log.info("asked the guest agent for %s", ", ".join(
                f"{w}x{h}" for w, h in self.resolution))

    def _inputs_channel(self, ch: ChannelId) -> Channel:
        assert self.session_id is not None
        self.inputs = InputsChannel(ch.id, self.session_id, self._password)
        return self.inputs

    def _playback_channel(self, ch: ChannelId) -> Channel:
        assert self.session_id is not None
        output = self.audio.playback.output()
        assert output is not None
        self.speaker = Speaker(output, self.clock.set, self.audio.volume)
        opus = self._opus()
        log.debug("opening playback:%d, sound %s, on %s", ch.id, "Opus" if opus else "raw",
                  output.name)
        self.playback = PlaybackChannel(ch.id, self.session_id, self._password, opus)
        return self.playback

    def _record_channel(self, ch: ChannelId) -> Channel:
        assert self.session_id is not None
        source = self.audio.microphone.input()
        assert source is not None
        loop = asyncio.get_running_loop()
        self.microphone = Microphone(
            source, lambda data: loop.call_soon_threadsafe(self._send_recorded, data))
        self.record = RecordChannel(ch.id, self.session_id, self._password, self._opus())
        return self.record

    def _opus(self) -> bool:
        if not self.policy.audio_opus(self._server_address):
            return False
        if opus_available():
            return True
        self._skip("opus", "libopus is missing (install libopus0): sound travels raw")
        return False

    def _send_recorded(self, data: bytes) -> None:
        if self.record is not None:
            self.record.send_audio(self.clock.now() or 0, data)

    def _on_audio(self, channel: Channel, event: ChannelEvent) -> None:
        device = self.speaker if isinstance(channel, PlaybackChannel) else self.microphone
        if device is None:
            return
        if isinstance(event, AudioStart):
            device.start(event)
        elif isinstance(event, AudioStop):
            device.stop()
        elif isinstance(event, AudioLevel):
            device.set_level(event)
        elif isinstance(event, AudioData) and isinstance(device, Speaker):
            device.data(event)
        elif isinstance(event, AudioLatency) and isinstance(device, Speaker):
            device.set_latency(event.latency_ms)

    def _connect_usb(self, channel_id: int, host: UsbredirHost) -> None:
        """A usbredir channel for one device; it lasts as long as the redirection."""
        assert self.session_id is not None
        self._usb_hosts[channel_id] = host
        channel = UsbredirChannel(channel_id, self.session_id, self._password)

        async def serve() -> None:
            try:
                await self._serve(channel)
            finally:
                self._usb_hosts.pop(channel_id, None)
                host.end("the server closed its USB channel")
        self._spawn(serve())

    def _start_usb(self, channel: UsbredirChannel) -> None:
        host = self._usb_hosts.get(channel.channel_id)
        if host is None:
            return
        loop = asyncio.get_running_loop()
        try:
            host.start(lambda data: loop.call_soon_threadsafe(channel.send_usb, data))
        except OSError as exc:
            host.end(str(exc))

    def _disconnect_usb(self, channel_id: int) -> None:
        conn = self._connections.get((ChannelType.USBREDIR, channel_id))
        if conn is not None:
            self._spawn(conn.close())

    def _cursor_channel(self, ch: ChannelId) -> Channel:
        assert self.session_id is not None
        return CursorChannel(ch.id, self.session_id, self._password)

    def _new_canvas(self) -> Canvas:
        return Canvas(self.policy.pixmap_cache_pixels, self.policy.glz_window_pixels)

    def _on_display_message(self, channel: DisplayChannel, msg: Message) -> None:
        canvas = self._canvases[channel.channel_id]
        try:
            damage = canvas.apply(msg)
        except Unsupported as exc:
            self._skip(str(exc), "%s: %s; skipping such drawings", channel.name, exc)
            return
        if damage is not None:
            self._damage.setdefault(channel.channel_id, Damage()).add(damage)
            self._frame_soon()

    # --- frames ---------------------------------------------------------------------

    # Frames are driven by callbacks rather than by a task waiting on an event: a frame
    # is one timer and one call, where a task's round adds an event, a future and two
    # task steps, and the display path goes round for nearly every drawing.

    async def _present_loop(self) -> None:
        """Take the window's events and show the server's drawings until the window is
        closed; what goes wrong in a frame ends the session."""
        loop = asyncio.get_running_loop()
        self._frames = loop.create_future()
        for fd in self.presenter.event_fds:
            loop.add_reader(fd, self._window_events)
        try:
            if self.presenter.polled:
                # Nothing to watch: look every IDLE_POLL_SECONDS, so that a window stays
                # responsive (and can be closed) while the remote screen is still.
                self._poll_window()
            self._frame_soon()
            await self._frames
        finally:
            self._frames = None
            for timer in (self._frame_timer, self._poll_timer):
                if timer is not None:
                    timer.cancel()
            self._frame_timer = self._poll_timer = None
            for fd in self.presenter.event_fds:
                loop.remove_reader(fd)

    def _end_frames(self, error: Exception | None = None) -> None:
        if self._frames is not None and not self._frames.done():
            if error is None:
                self._frames.set_result(None)
            else:
                self._frames.set_exception(error)

    def _frame_soon(self) -> None:
        """Present what changed as soon as the refresh allows: damage arriving meanwhile
        is merged, so the window is presented at most once per refresh."""
        if self._frame_timer is None and self._frames is not None:
            loop = asyncio.get_running_loop()
            self._frame_timer = loop.call_at(max(loop.time(), self._next_frame), self._frame)

    def _frame(self) -> None:
        self._frame_timer = None
        started = asyncio.get_running_loop().time()
        try:
            if self._present():
                self._next_frame = started + REFRESH_SECONDS
        except Exception as exc:
            self._end_frames(exc)
            return
        # Presenting may have read window events off the socket, which no descriptor
        # will announce again.
        self._window_events()

    def _poll_window(self) -> None:
        self._window_events()
        self._poll_timer = asyncio.get_running_loop().call_later(IDLE_POLL_SECONDS,
                                                                 self._poll_window)

    def _window_events(self) -> None:
        """Take what the window system has queued: input, resizes, closing."""
        try:
            for event in self.presenter.events():
                if isinstance(event, QuitRequested):
                    log.info("window closed")
                    self.stop()
                    self._end_frames()
                    return
                self._on_input(event)
        except Exception as exc:
            self._end_frames(exc)

    def _on_local_input(self, event: InputEvent) -> None:
        self._on_input(self.presenter.from_screen(event))

    def _on_input(self, event: InputEvent) -> None:
        inputs = self.inputs
        if isinstance(event, Key):
            keys, action = self.hotkeys.feed(event)
            if action is not None:
                self._hotkey(action)
            for key in keys:
                if inputs is not None and not inputs.key(key.code, key.pressed):
                    self._skip(("key", key.code), "key %d has no PC scancode; not sent",
                               key.code)
        elif isinstance(event, Locks):
            self._local_locks = event.modifiers
            if inputs is not None:
                inputs.set_locks(event.modifiers)
        elif isinstance(event, LocalClipboardChanged):
            if self.presenter.clipboard is not None:
                self._spawn(self._copy_local_clipboard(self.presenter.clipboard))
        elif isinstance(event, OutputResized):
            # Dragging a window's edge resizes it many times a second: ask the guest
            # once the size has held still for a moment.
            if self._resize_timer is not None:
                self._resize_timer.cancel()
            self._resize_timer = asyncio.get_running_loop().call_later(
                RESIZE_SETTLE_SECONDS, self.set_resolution, [(event.width, event.height)])
        elif inputs is None:
            return
        elif isinstance(event, PointerMotion):
            if self.mouse_mode == MouseMode.SERVER:
                if self.pointer_captured or not self.presenter.captures_pointer:
                    inputs.motion(event.dx, event.dy)  # not a free pointer crossing a window
            elif self.mouse_mode == MouseMode.CLIENT:
                if event.monitor == 0:
                    self.presenter.move_pointer(event.x, event.y)
                monitors = self.monitors()  # only here: motion is frequent
                if event.monitor < len(monitors):
                    channel, monitor = monitors[event.monitor]
                    inputs.position(monitor.area.left + event.x,
                                    monitor.area.top + event.y, channel)
        elif isinstance(event, Button):
            if (event.pressed and self.mouse_mode == MouseMode.SERVER
                    and self.presenter.captures_pointer and not self.pointer_captured):
                # A click in the window takes the pointer, and is not passed on (as in
                # spice-gtk): it was aimed at the window, not at the guest's screen.
                self._capture(True)
                self._taking_click.add(event.button)
            elif not event.pressed and event.button in self._taking_click:
                self._taking_click.discard(event.button)
            else:
                inputs.button(event.button, event.pressed)
        elif isinstance(event, FocusLost):
            inputs.release_all()
            self._capture(False)

    def _hotkey(self, action: str) -> None:
        if action == "setup":
            log.info("setup hotkey: leaving the session")
            self.setup_requested = True
            self.stop()
        elif action == "ctrl-alt-del" and self.inputs is not None:
            self.inputs.tap(KEY_DELETE)  # Ctrl and Alt are down in the guest already
        elif action == "fullscreen":
            self.presenter.toggle_fullscreen()
        elif action == "release-pointer":
            self._capture(False)

    def _capture(self, captured: bool) -> None:
        if captured != self.pointer_captured:
            self.pointer_captured = captured
            self.presenter.capture_pointer(captured)

    def _present(self) -> bool:
        """Show what changed since the last present; whether there was anything."""
        pending = {channel: d.take() for channel, d in self._damage.items()}
        if not any(pending.values()):  # the loop's first frame, or an empty box drawn
            return False
        monitors = self.monitors()
        damage = [monitor.damage(pending.get(channel, ())) for channel, monitor in monitors]
        if not any(damage):
            return False
        self.presenter.present([monitor for _, monitor in monitors], damage)
        if self.local_input is not None:
            self.local_input.bounds(*self.presenter.screen_size(monitors[0][1].width,
                                                                 monitors[0][1].height))
        self.frames_presented += 1
        self._first_frame.set()
        return True

    def monitors(self) -> list[tuple[int, Monitor]]:
        """Every monitor the server shows (at most MAX_MONITORS), in order, each with the
        display channel it comes from."""
        found = [(channel, monitor) for channel in sorted(self._canvases)
                 for monitor in self._canvases[channel].monitor_list()]
        return found[:MAX_MONITORS]

    def primary_monitor(self) -> Pixels | None:
        """Monitor 0 as the client holds it."""
        monitors = self.monitors()
        return monitors[0][1].pixels if monitors else None

    async def _screenshots(self, path: Path | None, directory: Path | None,
                           delay: float) -> None:
        """Monitor 0 to ``path``, and every monitor to ``directory``/monitor-N.png."""
        await asyncio.sleep(delay)
        await self._first_frame.wait()
        monitors = [monitor for _, monitor in self.monitors()]
        if not monitors:
            log.error("screenshot not saved: the server has removed the screen")
            return
        shots = [(monitors[0], path)] if path is not None else []
        if directory is not None:
            shots += [(monitor, directory / f"monitor-{i}.png")
                      for i, monitor in enumerate(monitors)]
        for monitor, target in shots:
            try:
                save_png(monitor.pixels, target)
            except OSError as exc:
                log.error("screenshot not saved: %s", exc)  # the session itself goes on
                return
            log.info("screenshot of %dx%d saved to %s", monitor.width, monitor.height, target)
        self.screenshot_saved = True


class _Finished(Exception):
    """Ends the task group once the main channel is done."""


def _first(group: BaseExceptionGroup[Exception]) -> Exception:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    assert isinstance(exc, Exception)
    return exc
