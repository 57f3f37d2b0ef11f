"""Stored replies: what the inbox keeps is what a repeated message republishes, byte for byte."""

from __future__ import annotations

from services.common.messages import Outgoing, decode_replies, encode_replies


def test_stored_replies_come_back_identical_in_order() -> None:
    replies = [
        Outgoing("tally.totals.v1", "a", b'{"event_id":"e-1","total":3}'),
        Outgoing("tally.totals.v1", None, '{"note":"caf\u00e9 \u2014 \\"quoted\\""}'.encode()),
        Outgoing("tally.events.v1.dlq", "k", b"{}"),
    ]
    assert decode_replies(encode_replies(replies)) == replies


def test_no_replies_are_stored_as_an_empty_list() -> None:
    assert decode_replies(encode_replies([])) == []
