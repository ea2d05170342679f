"""The agent's stream: chunking, reassembly, tokens, capabilities, and bad input that
costs the agent, never the session."""

from __future__ import annotations

import struct

import pytest

from spicebox.spice import messages as m
from spicebox.spice.agent import (
    MAX_CHUNK,
    AgentCap,
    AgentMessage,
    AgentOutbox,
    AgentStream,
    AgentType,
    capabilities,
    encode_message,
    monitors_config,
    parse_capabilities,
)
from spicebox.spice.errors import ProtocolError
from spicebox.spice.events import AgentChanged
from spicebox.spice.main import MainChannel

from .server_bytes import frame, link_reply, link_result, sent


def test_messages_survive_any_cut() -> None:
    messages = [AgentMessage(AgentType.CLIPBOARD, bytes(range(256)) * 20, 7),
                AgentMessage(AgentType.REPLY, b"\2\0\0\0\1\0\0\0")]
    data = b"".join(encode_message(msg) for msg in messages)
    for cut in (1, 19, 20, 21, 2048, len(data)):
        stream, got = AgentStream(), []
        for i in range(0, len(data), cut):
            got += stream.feed(data[i:i + cut])
        assert got == messages


def test_oversized_and_foreign_messages_are_refused_before_buffering() -> None:
    with pytest.raises(ProtocolError, match="limit"):
        AgentStream().feed(struct.pack("<IIQI", 1, 4, 0, 2**31))
    with pytest.raises(ProtocolError, match="protocol 2"):
        AgentStream().feed(struct.pack("<IIQI", 2, 4, 0, 0))


def test_pieces_wait_for_tokens() -> None:
    outbox = AgentOutbox()
    outbox.put(AgentMessage(AgentType.CLIPBOARD, bytes(5000)))  # 5020 bytes: 3 pieces
    assert outbox.take() == []
    outbox.tokens = 2
    first = outbox.take()
    assert [len(p) for p in first] == [MAX_CHUNK, MAX_CHUNK]
    outbox.tokens += 5
    assert [len(p) for p in outbox.take()] == [5020 - 2 * MAX_CHUNK]
    assert outbox.tokens == 4


def test_capabilities_round_trip() -> None:
    caps = {AgentCap.MONITORS_CONFIG, AgentCap.MONITORS_CONFIG_POSITION}
    msg = capabilities(caps, request=True)
    assert parse_capabilities(msg.data) == (True, frozenset(caps))


def test_monitors_config_layout() -> None:
    msg = monitors_config([(0, 0, 1280, 800), (1280, 0, 1024, 768)])
    assert struct.unpack("<II5I5I", msg.data) == (2, 1, 800, 1280, 32, 0, 0,
                                                 768, 1024, 32, 1280, 0)


def agent_data(*messages: AgentMessage) -> bytes:
    return b"".join(frame(m.AgentData(memoryview(encode_message(msg)))) for msg in messages)


def test_main_channel_starts_the_agent_and_resizes_once_it_can() -> None:
    main = MainChannel("pw")
    main.initiate()
    main.receive_data(link_reply())
    main.receive_data(link_result())
    main.data_to_send()
    events = main.receive_data(frame(m.MainInit(1, 1, 1, 1, 1, 3, 0, 0)))
    assert AgentChanged(True, frozenset()) in events
    out = sent(main)
    assert out[0] == m.AgentStart(0xFFFFFFFF)
    assert isinstance(out[1], m.AgentDataOut)  # our capabilities, asking for the guest's
    assert not main.send_monitors([(0, 0, 800, 600)])  # the agent has not said it can
    events = main.receive_data(agent_data(capabilities({AgentCap.MONITORS_CONFIG}, True)))
    assert events == [AgentChanged(True, frozenset({AgentCap.MONITORS_CONFIG}))]
    assert main.send_monitors([(0, 0, 800, 600)])
    # Three tokens from INIT: the capabilities, the reply to the guest's request, the
    # layout; the next message waits for AGENT_TOKEN.
    assert len(sent(main)) == 2
    assert main.send_monitors([(0, 0, 1024, 768)])  # queued...
    assert sent(main) == []  # ...until the server hands out a token
    main.receive_data(frame(m.AgentToken(1)))
    [piece] = sent(main)
    assert isinstance(piece, m.AgentDataOut)


def test_a_garbled_agent_stream_costs_the_agent_not_the_session() -> None:
    main = MainChannel("pw")
    main.initiate()
    main.receive_data(link_reply())
    main.receive_data(link_result())
    main.receive_data(frame(m.MainInit(1, 1, 1, 1, 1, 3, 0, 0)))
    events = main.receive_data(frame(m.AgentData(memoryview(struct.pack("<IIQI", 9, 1, 0, 0)))))
    assert events == [AgentChanged(False, frozenset())]
    assert not main.agent_connected
