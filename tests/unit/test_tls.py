from __future__ import annotations

import pytest

from spicebox.net.tls import TlsVerificationFailed, parse_subject


def test_subject_order_and_spacing_do_not_matter() -> None:
    assert parse_subject("C=XX, O=Org,CN=host") == parse_subject("CN=host,O=Org,C=XX")


def test_escaped_comma_stays_in_value() -> None:
    assert ("2.5.4.10", "Org, Inc") in parse_subject("O=Org\\, Inc,CN=h")


@pytest.mark.parametrize("text", ["CN", "XYZ=1", ""])
def test_malformed_subject(text: str) -> None:
    with pytest.raises(TlsVerificationFailed, match="host-subject"):
        parse_subject(text)
