"""Stream reports and the multimedia clock, with time under the test's control."""

from __future__ import annotations

from spicebox.spice import messages as m
from spicebox.spice.display import DisplayChannel
from spicebox.spice.mmclock import MediaClock, mm_diff
from spicebox.spice.policy import DecodingPolicy
from spicebox.spice.streamreport import NO_AUDIO, StreamReporter
from spicebox.spice.wire import decode

from .server_bytes import frame, link_reply, link_result
from .test_channel import sent


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_clock_runs_from_the_last_server_time_and_wraps() -> None:
    now = FakeTime()
    clock = MediaClock(now)
    assert clock.now() is None
    clock.set(0xFFFFFF00)
    now.t += 0.5
    assert clock.now() == (0xFFFFFF00 + 500) & 0xFFFFFFFF
    assert mm_diff(5, 0xFFFFFFFB) == 10 and mm_diff(0xFFFFFFFB, 5) == -10


def test_report_when_the_window_is_full() -> None:
    reporter = StreamReporter(3, 77, max_window=3, timeout_ms=10_000, monotonic=FakeTime())
    assert reporter.frame(100, 90) is None  # 10 ms early
    assert reporter.frame(140, 150) is None  # 10 ms late: a drop
    report = reporter.frame(180, 170)
    assert report == m.StreamReport(3, 77, 100, 180, 3, 1, 10, NO_AUDIO)
    assert reporter.frame(220, 210) is None  # counting starts again


def test_report_after_the_timeout_or_a_run_of_late_frames() -> None:
    now = FakeTime()
    reporter = StreamReporter(3, 77, max_window=100, timeout_ms=500, monotonic=now)
    assert reporter.frame(100, 90) is None
    now.t += 0.6
    report = reporter.frame(700, 690)
    assert report is not None and report.num_frames == 2
    late = [reporter.frame(t, t + 50) for t in (800, 840, 880)]
    assert late[:2] == [None, None]
    assert late[2] is not None and late[2].num_drops == 3 and late[2].last_frame_delay == -50


def test_display_channel_reports_on_accepted_streams() -> None:
    now = FakeTime()
    clock = MediaClock(now)
    clock.set(1000)
    display = DisplayChannel(0, 1, "", DecodingPolicy(), clock)
    display.initiate()
    display.receive_data(link_reply() + link_result())
    display.data_to_send()
    create = m.StreamCreate(0, 3, 0, 1, 0, 8, 8, 8, 8, m.Rect(0, 0, 8, 8), m.Clip(0))
    display.receive_data(frame(create) + frame(m.StreamActivateReport(3, 77, 2, 10_000)))
    assert sent(display) == []
    for stamp in (1020, 1040):
        display.receive_data(frame(m.StreamData(m.StreamDataHeader(3, stamp),
                                                memoryview(b"jpeg"))))
    (msg_type, body), = sent(display)
    assert msg_type == m.StreamReport.spec.number
    assert decode(m.StreamReport, memoryview(body)) == \
        m.StreamReport(3, 77, 1020, 1040, 2, 0, 40, NO_AUDIO)


def test_reports_with_no_window_are_not_activated() -> None:
    display = DisplayChannel(0, 1, "", DecodingPolicy(), MediaClock(FakeTime()))
    display.initiate()
    display.receive_data(link_reply() + link_result())
    create = m.StreamCreate(0, 3, 0, 1, 0, 8, 8, 8, 8, m.Rect(0, 0, 8, 8), m.Clip(0))
    display.receive_data(frame(create) + frame(m.StreamActivateReport(3, 77, 0, 100)))
    display.data_to_send()
    display.receive_data(frame(m.StreamData(m.StreamDataHeader(3, 5), memoryview(b"j"))))
    assert sent(display) == []
