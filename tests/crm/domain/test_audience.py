"""What the audience should hold for a customer, and what the CRM sends to get it there."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.crm.domain.audience import (
    Leave,
    MemberRecord,
    Subscribe,
    Unsubscribe,
    merge_fields,
    needs_sync,
    new_consent,
    plan_sync,
    subscriber_hash,
)
from services.crm.domain.customers import Customer, upsert

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def customer(**fields: object) -> Customer:
    return upsert(None, "C-1", {"email": "Pat@Example.com", **fields}, NOW)


def test_subscriber_hash_is_md5_of_the_lower_cased_address() -> None:
    assert subscriber_hash("Pat@Example.com") == subscriber_hash("pat@example.com")
    assert subscriber_hash("pat@example.com") == "3ddcaf169f35457c40bc5960e69c4601"


def test_merge_fields_send_birthday_as_month_and_day_and_clear_empty_ones() -> None:
    fields = merge_fields(customer(first_name="Pat", birthday=date(1990, 4, 7)))
    assert fields == {"FNAME": "Pat", "LNAME": "", "PHONE": "", "BIRTHDAY": "04/07"}


def test_customer_never_asked_is_never_created() -> None:
    assert isinstance(plan_sync(customer(), MemberRecord(), resubscribe=False), Leave)
    assert isinstance(plan_sync(customer(marketing_opt_in=False), MemberRecord(), False), Leave)


def test_opted_in_customer_is_upserted_with_status_if_new_only() -> None:
    plan = plan_sync(customer(marketing_opt_in=True, tags=("vip",)), MemberRecord(), False)
    assert isinstance(plan, Subscribe)
    body = plan.member_body()
    assert body["status_if_new"] == "subscribed" and "status" not in body
    assert body["tags"] == ["vip"]


def test_new_consent_sends_an_explicit_status() -> None:
    before = customer(marketing_opt_in=False)
    after = upsert(before, "C-1", {"marketing_opt_in": True}, NOW)
    assert new_consent(before, after)
    plan = plan_sync(after, MemberRecord("pat@example.com", "unsubscribed", "mailchimp"), True)
    assert isinstance(plan, Subscribe) and plan.member_body()["status"] == "subscribed"


def test_same_consent_sent_again_is_not_new_consent() -> None:
    before = customer(marketing_opt_in=True)
    assert not new_consent(before, upsert(before, "C-1", {"marketing_opt_in": True}, NOW))


def test_unsubscribe_made_in_mailchimp_is_not_overridden_without_new_consent() -> None:
    record = MemberRecord("pat@example.com", "unsubscribed", "mailchimp")
    plan = plan_sync(customer(marketing_opt_in=True), record, resubscribe=False)
    assert isinstance(plan, Subscribe) and not plan.explicit_status


def test_an_unsubscribe_the_crm_made_is_undone_when_consent_stands() -> None:
    record = MemberRecord("pat@example.com", "unsubscribed", "crm")
    plan = plan_sync(customer(marketing_opt_in=True), record, resubscribe=False)
    assert isinstance(plan, Subscribe) and plan.explicit_status


def test_opt_out_unsubscribes_the_member_the_crm_subscribed() -> None:
    record = MemberRecord("old@example.com", "subscribed", "crm")
    plan = plan_sync(customer(marketing_opt_in=False), record, resubscribe=False)
    assert plan == Unsubscribe("C-1", "old@example.com")


def test_email_change_moves_the_member() -> None:
    record = MemberRecord("old@example.com", "subscribed", "crm", ("vip",))
    plan = plan_sync(customer(marketing_opt_in=True), record, resubscribe=False)
    assert isinstance(plan, Subscribe) and plan.moved_from == "old@example.com"


def test_only_tags_the_crm_put_there_are_removed() -> None:
    record = MemberRecord("pat@example.com", "subscribed", "crm", ("vip", "trade"))
    plan = plan_sync(customer(marketing_opt_in=True, tags=("vip", "new")), record, False)
    assert isinstance(plan, Subscribe)
    present = ("vip", "trade", "marketers-own")
    assert plan.tag_changes(present) == [
        {"name": "new", "status": "active"},
        {"name": "trade", "status": "inactive"},
    ]


def test_a_new_member_gets_its_tags_with_it_in_a_batch() -> None:
    plan = plan_sync(customer(marketing_opt_in=True, tags=("vip",)), MemberRecord(), False)
    assert isinstance(plan, Subscribe) and plan.tag_changes() == []


def test_only_audience_fields_need_a_sync() -> None:
    before = customer(marketing_opt_in=True)
    assert not needs_sync(before, upsert(before, "C-1", {"opt_in_source": "till"}, NOW))
    assert needs_sync(before, upsert(before, "C-1", {"last_name": "Lee"}, NOW))
