"""Errors raised by the sans-IO core. Each carries a message fit to show a user."""


class ProtocolError(Exception):
    """The peer sent bytes that do not follow the SPICE protocol."""


class Unsupported(ProtocolError):
    """A well-formed message uses a feature this client cannot render yet; it is skipped."""


class LinkRefused(ProtocolError):
    """The server answered the link with an error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class AccessDenied(ProtocolError):
    """The server, or a broker in front of it, refused the credentials."""


class AuthenticationFailed(LinkRefused, AccessDenied):
    """The server rejected the ticket (wrong or expired password)."""
