from __future__ import annotations

from pathlib import Path

import pytest

from spicebox.spice.errors import ProtocolError
from spicebox.spice.recording import Recorder, read_recording


def test_records_round_trip(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "r.rec")
    recorder.write(2, 0, 302, memoryview(b"abc"))
    recorder.write(2, 1, 4, memoryview(b""))
    recorder.close()
    records = list(read_recording((tmp_path / "r.rec").read_bytes()))
    assert [(r.channel_type, r.channel_id, r.msg_type, bytes(r.body)) for r in records] == \
        [(2, 0, 302, b"abc"), (2, 1, 4, b"")]


def test_truncated_or_foreign_files_are_refused(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "r.rec")
    recorder.write(2, 0, 302, memoryview(b"abc"))
    recorder.close()
    data = (tmp_path / "r.rec").read_bytes()
    with pytest.raises(ProtocolError, match="inside a message"):
        list(read_recording(data[:-1]))
    with pytest.raises(ProtocolError, match="not a spicebox recording"):
        list(read_recording(b"PNG" + data))
