"""Fetching from the provisioning site: bounded in size, with HTTP caching, and every
failure one line."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from typing import IO

from ..config.target import ConfigError
from .site import Refused

TIMEOUT = 20.0


def fetched(url: str, context: ssl.SSLContext, limit: int) -> bytes:
    result = fetch(url, context, limit, None)
    assert result is not None  # only a conditional request is answered 304
    return result[0]


def fetch(url: str, context: ssl.SSLContext, limit: int,
          etag: str | None) -> tuple[bytes, str | None] | None:
    """The body and its ETag; None if ``etag`` still names it (HTTP caching: a box that
    polls an unchanged site costs the server a few hundred bytes)."""
    request = urllib.request.Request(url, headers={"If-None-Match": etag} if etag else {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=context) as reply:
            data: bytes = reply.read(limit + 1)
            tag = reply.headers.get("ETag")
    except urllib.error.HTTPError as exc:
        if exc.code == 304 and etag:
            return None
        raise ConfigError(f"{url}: the server says {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigError(f"cannot fetch {url}: {reason}") from None
    if len(data) > limit:
        raise Refused(f"{url} is larger than any provisioning document is: refused")
    return data, tag


def opened(url: str, context: ssl.SSLContext) -> IO[bytes]:
    """A large download (a firmware bundle) to read as it comes."""
    try:
        reply: IO[bytes] = urllib.request.urlopen(url, timeout=TIMEOUT, context=context)
    except urllib.error.HTTPError as exc:
        raise ConfigError(f"{url}: the server says {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ConfigError(f"cannot fetch {url}: {getattr(exc, 'reason', exc)}") from None
    return reply
