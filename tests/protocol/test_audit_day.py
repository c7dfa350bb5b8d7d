"""The audit report's dates (``utc_day``): pure arithmetic in protocol/, checked against datetime."""

from __future__ import annotations

import datetime

from hypothesis import given
from hypothesis import strategies as st

from protocol.audit_state import utc_day

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


@given(st.integers(min_value=0, max_value=253_402_300_799_999))  # to 9999-12-31T23:59:59.999Z
def test_utc_day_is_the_calendar_day(ms):
    assert utc_day(ms) == (EPOCH + datetime.timedelta(milliseconds=ms)).strftime("%Y-%m-%d")


def test_known_days():
    assert utc_day(0) == "1970-01-01" and utc_day(951_782_400_000) == "2000-02-29"
    assert utc_day(1_796_299_190_821) == "2026-12-03" and utc_day(86_400_000 - 1) == "1970-01-01"
