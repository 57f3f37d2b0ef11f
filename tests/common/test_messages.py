"""Stored replies: what the inbox keeps is what a repeated message republishes, byte for byte."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.messages import Outgoing, decode_replies, encode_replies

replies_strategy = st.lists(
    st.builds(
        Outgoing,
        topic=st.text(min_size=1, max_size=60),
        key=st.none() | st.text(max_size=80),
        value=st.binary(max_size=600),
    ),
    max_size=6,
)


def test_stored_replies_come_back_identical_in_order() -> None:
    replies = [
        Outgoing("tally.totals.v1", "a", b'{"event_id":"e-1","total":3}'),
        Outgoing("tally.totals.v1", None, '{"note":"caf\u00e9 \u2014 \\"quoted\\""}'.encode()),
        Outgoing("tally.events.v1.dlq", "", b"{}"),
    ]
    assert decode_replies(encode_replies(replies)) == replies


@given(replies_strategy)
def test_any_replies_come_back_identical(replies: list[Outgoing]) -> None:
    assert decode_replies(encode_replies(replies)) == replies


def test_no_replies_are_stored_as_an_empty_list() -> None:
    assert decode_replies(encode_replies([])) == []


def test_replies_stored_as_json_before_the_framing_are_still_read() -> None:
    value = '{"note":"caf\u00e9 \\"quoted\\""}'
    blob = orjson.dumps([["tally.totals.v1", "a", value], ["tally.events.v1.dlq", None, "{}"]])
    assert decode_replies(blob) == [
        Outgoing("tally.totals.v1", "a", value.encode()),
        Outgoing("tally.events.v1.dlq", None, b"{}"),
    ]


def test_the_values_are_stored_as_they_are_not_escaped_again() -> None:
    value = b'{"event_id":"d-1","note":"\\"quoted\\"","amount":"10.00"}'
    framed = encode_replies([Outgoing("credit.decisions.v1", "ACC-1", value)])
    assert value in framed
    as_json = orjson.dumps([["credit.decisions.v1", "ACC-1", value.decode()]])
    assert len(framed) < len(as_json)


@pytest.mark.parametrize("cut", [1, 5, 12, 20])
def test_a_cut_off_blob_is_an_error_not_a_shorter_list(cut: int) -> None:
    blob = encode_replies([Outgoing("credit.decisions.v1", "ACC-1", b'{"event_id":"d-1"}')])
    with pytest.raises(ValueError, match="end inside a reply"):
        decode_replies(blob[: len(blob) - cut])


def test_an_unknown_format_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        decode_replies(b"\x07junk")
