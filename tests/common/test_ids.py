"""Derived ids: the same cause gives the same id, and the fast path is RFC 4122's version 5."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from services.common.ids import _NAMESPACE, derived_id, name_based_uuid


@given(st.text())
def test_name_based_uuid_is_uuid5(name: str) -> None:
    assert name_based_uuid(name) == str(uuid.uuid5(_NAMESPACE, name))


@given(st.text(min_size=1), st.lists(st.text(), max_size=3))
def test_derived_id_is_the_prefix_and_the_uuid5_of_all_parts(prefix: str, parts: list[str]) -> None:
    made = derived_id(prefix, *parts)
    assert made == derived_id(prefix, *parts)
    assert made == f"{prefix}-{uuid.uuid5(_NAMESPACE, chr(31).join((prefix, *parts)))}"
    assert uuid.UUID(made.removeprefix(f"{prefix}-")).version == 5


def test_different_causes_give_different_ids() -> None:
    assert derived_id("d", "e1") != derived_id("d", "e2")
    assert derived_id("ev", "c1", "account_opened") != derived_id("ev", "c1", "account_changed")
