"""HTTPS requests to connection brokers (Proxmox VE's API), verified like SPICE's TLS.

Brokers are asked a handful of small questions per connection, so the standard library's
HTTP client runs in a worker thread rather than a second HTTP stack on the event loop.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from ..spice.errors import ProtocolError
from .tls import TlsVerificationFailed, TlsVerifier
from .transport import CONNECT_TIMEOUT, CannotConnect

MAX_REPLY = 4 * 1024 * 1024  # a VM list of a large cluster; nothing a broker sends is bigger


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    body: bytes

    def json(self, what: str) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise ProtocolError(f"the answer to {what} is not JSON: is the URL right?"
                                ) from None


async def request(url: str, method: str, path: str, verifier: TlsVerifier,
                  headers: Mapping[str, str] | None = None,
                  form: Mapping[str, str] | None = None) -> Reply:
    """One request to the HTTPS server of ``url`` (its path is ignored: ``path`` is used);
    CannotConnect when it cannot be reached, TlsVerificationFailed when it is not
    trusted."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise CannotConnect(f"{url} is not an https:// address")
    all_headers = dict(headers or {})
    body = None
    if form is not None:
        body = urlencode(form).encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    return await asyncio.to_thread(_request, parts.hostname, parts.port or 443, method, path,
                                   all_headers, body, verifier)


def _request(host: str, port: int, method: str, path: str, headers: dict[str, str],
             body: bytes | None, verifier: TlsVerifier) -> Reply:
    where = f"https://{host}:{port}"
    conn = http.client.HTTPSConnection(host, port, context=verifier.context,
                                       timeout=CONNECT_TIMEOUT)
    try:
        try:
            conn.connect()
        except ssl.SSLCertVerificationError as exc:
            raise TlsVerificationFailed(
                f"the certificate of {where} is not trusted ({exc.verify_message}): trust "
                f"it in the profile (its fingerprint is shown), or give its CA") from None
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise CannotConnect(f"cannot connect to {where}: {reason}") from None
        assert isinstance(conn.sock, ssl.SSLSocket)
        verifier.check_peer(conn.sock)
        try:
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            data = response.read(MAX_REPLY + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise CannotConnect(f"{where} did not answer {method} {path}: {exc}") from None
        if len(data) > MAX_REPLY:
            raise ProtocolError(f"{where} sent more than {MAX_REPLY} bytes for {path}")
        return Reply(response.status, response.reason, data)
    finally:
        conn.close()
