from __future__ import annotations

import pytest

from spicebox.spice import messages as m
from spicebox.spice.channel import Channel
from spicebox.spice.constants import DisplayCap, ImageCompression, MouseMode
from spicebox.spice.display import DisplayChannel
from spicebox.spice.errors import ProtocolError
from spicebox.spice.events import (
    ChannelEvent,
    ChannelLinked,
    ChannelsAvailable,
    MediaTime,
    MouseModeChanged,
    ServerNotice,
    SessionStarted,
)
from spicebox.spice.framing import Framer
from spicebox.spice.main import MainChannel
from spicebox.spice.policy import DecodingPolicy, compression_for
from spicebox.spice.wire import encode

from .server_bytes import frame, link_reply, link_result, raw_frame


def linked_main() -> tuple[MainChannel, list[ChannelEvent]]:
    main = MainChannel("pw")
    main.initiate()
    main.receive_data(link_reply())
    events = main.receive_data(link_result())
    main.data_to_send()
    return main, events


def sent(channel: Channel) -> list[tuple[int, bytes]]:
    return [(t, bytes(b)) for t, b, _ in Framer(True).feed(channel.data_to_send())]


def test_main_session_setup() -> None:
    main, events = linked_main()
    assert isinstance(events[0], ChannelLinked)
    events = main.receive_data(frame(m.MainInit(0x1234, 1, 3, 1, 0, 10, 99, 0)))
    both = MouseMode.SERVER | MouseMode.CLIENT
    assert events == [SessionStarted(0x1234, 1, False), MediaTime(99),
                      MouseModeChanged(MouseMode.SERVER, both)]
    # The server could do client mode (a tablet or the agent): the client asks for it.
    assert sent(main) == [(m.AttachChannels.spec.number, b""),
                          (m.MouseModeRequest.spec.number, b"\2\0")]
    events = main.receive_data(frame(m.ChannelsList((m.ChannelId(2, 0), m.ChannelId(3, 0)))))
    assert events == [ChannelsAvailable((m.ChannelId(2, 0), m.ChannelId(3, 0)))]


def test_mouse_mode_follows_the_server() -> None:
    main, _ = linked_main()
    main.receive_data(frame(m.MainInit(1, 1, 1, 1, 0, 10, 0, 0)))  # server mode only
    assert [t for t, _ in sent(main)] == [m.AttachChannels.spec.number]
    events = main.receive_data(frame(m.MouseModeMsg(3, 2)))
    assert events == [MouseModeChanged(MouseMode.CLIENT, MouseMode.SERVER | MouseMode.CLIENT)]
    assert sent(main) == []  # already in client mode: nothing to ask


def test_ack_window_and_ping() -> None:
    main, _ = linked_main()
    main.receive_data(frame(m.SetAck(generation=7, window=3)))
    assert sent(main) == [(m.AckSync.spec.number, (7).to_bytes(4, "little"))]
    ping = frame(m.Ping(5, 123456, memoryview(b"x" * 10)))
    main.receive_data(ping + ping)
    assert [t for t, _ in sent(main)] == [m.Pong.spec.number] * 2
    main.receive_data(ping)  # third message since SET_ACK: the window is full
    assert [t for t, _ in sent(main)] == [m.Ack.spec.number, m.Pong.spec.number]


def test_notify_becomes_event() -> None:
    main, _ = linked_main()
    events = main.receive_data(frame(m.Notify(0, 2, 0, 0, memoryview(b"disk full\0"))))
    assert events == [ServerNotice(2, "disk full")]


def test_unknown_message_is_skipped_and_stream_continues() -> None:
    main, _ = linked_main()
    events = main.receive_data(raw_frame(999, b"whatever") + frame(m.MultiMediaTime(5)))
    assert events == [MediaTime(5)]


def test_malformed_known_message_names_itself() -> None:
    main, _ = linked_main()
    with pytest.raises(ProtocolError, match="MainInit"):
        main.receive_data(raw_frame(m.MainInit.spec.number, b"\0" * 5))


@pytest.mark.parametrize(("server_caps", "expect_pref"), [((DisplayCap.PREF_COMPRESSION,), True),
                                                           ((), False)])
def test_display_asks_for_policy(server_caps: tuple[int, ...], expect_pref: bool) -> None:
    policy = DecodingPolicy(image_compression=ImageCompression.LZ4)
    display = DisplayChannel(0, 0x1234, "pw", policy)
    assert DisplayCap.LZ4_COMPRESSION in policy.display_caps()
    display.initiate()
    display.receive_data(link_reply(channel=server_caps))
    display.data_to_send()
    display.receive_data(link_result())
    types = [t for t, _ in sent(display)]
    expected = [m.DisplayInit.spec.number]
    if expect_pref:
        expected.append(m.PreferredCompression.spec.number)
    assert types == expected


def test_channel_list_before_init_is_a_protocol_error() -> None:
    main, _ = linked_main()
    with pytest.raises(ProtocolError, match="before"):
        main.receive_data(frame(m.ChannelsList((m.ChannelId(2, 0),))))


def test_inflated_channel_list_is_refused() -> None:
    main, _ = linked_main()
    main.receive_data(frame(m.MainInit(1, 1, 3, 1, 0, 10, 99, 0)))
    with pytest.raises(ProtocolError, match="65 elements"):
        main.receive_data(frame(m.ChannelsList((m.ChannelId(2, 0),) * 65)))


def test_wakeup_runs_for_every_queued_send() -> None:
    main, _ = linked_main()
    woken: list[int] = []
    main.set_wakeup(lambda: woken.append(1))
    main.receive_data(frame(m.Ping(1, 2, memoryview(b""))))
    pong = (1).to_bytes(4, "little") + (2).to_bytes(8, "little")
    assert woken == [1] and sent(main) == [(m.Pong.spec.number, pong)]


def test_display_refuses_video_streams_it_cannot_decode() -> None:
    display = DisplayChannel(0, 1, "", DecodingPolicy())
    assert DisplayCap.STREAM_REPORT in display.policy.display_caps()
    display.initiate()
    display.receive_data(link_reply() + link_result())
    display.data_to_send()
    assert display.receive_data(frame(m.StreamActivateReport(3, 77, 100, 1000))) == []
    (msg_type, body), = sent(display)
    report = m.StreamReport(3, 77, 0, 0, 0, 0xFFFFFFFF, 0, 0)
    assert (msg_type, body) == (m.StreamReport.spec.number, encode(report))


def test_refused_streams_never_reach_the_canvas() -> None:
    display = DisplayChannel(0, 1, "", DecodingPolicy(video_codecs=frozenset()))
    display.initiate()
    display.receive_data(link_reply() + link_result())
    stream = [
        m.StreamCreate(0, 3, 0, 1, 0, 8, 8, 8, 8, m.Rect(0, 0, 8, 8), m.Clip(0)),
        m.StreamData(m.StreamDataHeader(3, 0), memoryview(b"jpeg")),
        m.StreamClip(3, m.Clip(0)),
        m.StreamDataSized(m.StreamDataHeader(3, 0), 8, 8, m.Rect(0, 0, 8, 8),
                          memoryview(b"jpeg")),
    ]
    sent_bytes = b"".join(frame(msg) for msg in stream)
    assert display.receive_data(sent_bytes) == []
    accepting = DisplayChannel(0, 1, "", DecodingPolicy())
    accepting.initiate()
    accepting.receive_data(link_reply() + link_result())
    assert accepting.receive_data(sent_bytes) == stream


@pytest.mark.parametrize(("memory", "cache_mib", "glz_mib"), [
    (256 << 20, 8, 12),  # small boards still get a useful cache
    (1 << 30, 16, 32),
    (2 << 30, 32, 64),
    (16 << 30, 32, 64),  # past a few GiB a bigger cache only costs memory
])
def test_cache_sizes_follow_the_device_memory(memory: int, cache_mib: int, glz_mib: int) -> None:
    policy = DecodingPolicy.for_device(ImageCompression.AUTO_GLZ, memory)
    assert policy.pixmap_cache_pixels * 4 >> 20 == cache_mib
    assert policy.glz_window_pixels * 4 >> 20 == glz_mib
    # Without GLZ asked for, there is no dictionary to spend memory on.
    assert DecodingPolicy.for_device(ImageCompression.LZ4, memory).glz_window_pixels == 0


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", ImageCompression.OFF), ("::1", ImageCompression.OFF),
    ("localhost", ImageCompression.OFF), ("192.0.2.7", ImageCompression.LZ4),
    ("vdi.example.org", ImageCompression.LZ4),
])
def test_raw_bitmaps_only_when_the_server_is_this_machine(host: str,
                                                          expected: ImageCompression) -> None:
    assert compression_for(host) == expected
