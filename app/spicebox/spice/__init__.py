"""Sans-IO SPICE: wire codecs, link handshake and per-channel state machines."""
