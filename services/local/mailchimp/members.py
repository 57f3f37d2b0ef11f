"""Member lifecycle: what add, add-or-update and update do to a member's status.

The rules, as Mailchimp applies them (sources are public reports of real API answers):

* New member (PUT): the status is `status_if_new`, or `status` when only that is sent; one of
  them is required. `status_if_new` applies to new members only, so an existing member's
  status never changes through it (MailChimp.Net issues #251 and #263: an unsubscribed member
  stays unsubscribed under `StatusIfNew = Subscribed`).
* Existing member: only an explicit `status` changes the status.
  - `cleaned` (hard bounce or abuse) cannot go back to `subscribed`, `pending` or
    `transactional`: 400 "Member In Compliance State" (mailchimp/mc-magento#448: a cleaned
    address is in a compliance state and cannot be added back outside a double opt-in signup).
  - `unsubscribed` by the recipient (their unsubscribe link; here `/_admin/.../unsubscribe`)
    cannot be set to `subscribed` by the API: 400 "Member In Compliance State"
    (ibericode/mailchimp-for-wordpress#798, mailchimp/wordpress#117). `pending` is allowed
    and would send an opt-in email (beabee-communityrm/monorepo#106, forem/forem#6256).
  - `unsubscribed` through the API (PUT/PATCH `status: unsubscribed`) can be set back to
    `subscribed` with an explicit `status` (MailChimp.Net#251: send both `Status` and
    `StatusIfNew` to resubscribe).
* Archived (DELETE) members are re-added by POST or PUT; their history still counts, so an
  archived member who had unsubscribed or was cleaned keeps the rules above.
* Permanently deleted members cannot be re-added at all: 400 "Forgotten Email Not Subscribed"
  (ibericode/mailchimp-for-wordpress#666 and #673, even with `pending`).
* `tags` in the body apply only when the member is created; later changes go through
  POST .../tags.
"""

from __future__ import annotations

from typing import Any

from .errors import (
    compliance_state,
    field_error,
    forgotten_email,
    invalid_resource,
    member_exists,
    not_found,
    validation_failed,
)
from .state import AudienceList, Member, TagRef, now_iso, subscriber_hash
from .validation import MERGE_FIELDS, check_email, check_merge_fields, check_status, check_tag_names

_OPTED_IN = ("subscribed", "pending", "transactional")


def find(audience: AudienceList, member_hash: str) -> Member:
    member = audience.members.get(member_hash.lower())
    if member is None:
        raise not_found()
    return member


def add(audience: AudienceList, body: dict[str, Any]) -> Member:
    """POST /lists/{id}/members: a new member, or 400 Member Exists."""
    email = check_email(body.get("email_address"))
    if "status" not in body:
        raise validation_failed([field_error("", "Required fields were not provided: status")])
    status = check_status(body["status"])
    merge_fields = check_merge_fields(body.get("merge_fields"))
    existing = audience.members.get(subscriber_hash(email))
    if existing is not None and existing.status != "archived":
        raise member_exists(existing.email_address)
    return _create_or_restore(audience, email, status, status, merge_fields, body)


def upsert(audience: AudienceList, member_hash: str, body: dict[str, Any]) -> Member:
    """PUT /lists/{id}/members/{hash}: add or update, by the rules in the module docstring."""
    member_hash = member_hash.lower()
    existing = audience.members.get(member_hash)
    if existing is not None and "email_address" not in body:
        email = existing.email_address  # Mailchimp needs the address only for new members
    else:
        email = check_email(body.get("email_address"))
    if subscriber_hash(email) != member_hash:
        if subscriber_hash(email) in audience.members:
            raise member_exists(email)  # what Mailchimp answers for a non-lower-cased hash
        message = "The subscriber hash in the URL must be the MD5 of the lower-cased address."
        raise invalid_resource(message, [field_error("email_address", message)])
    status = check_status(body["status"]) if "status" in body else None
    status_if_new = (
        check_status(body["status_if_new"], "status_if_new") if "status_if_new" in body else None
    )
    merge_fields = check_merge_fields(body.get("merge_fields"))
    if existing is not None and existing.status != "archived":
        _update(existing, status, merge_fields, body)
        return existing
    initial = status_if_new or status
    if initial is None:
        missing = "Required fields were not provided: status_if_new"
        raise validation_failed([field_error("", missing)])
    return _create_or_restore(audience, email, initial, status, merge_fields, body)


def patch(audience: AudienceList, member_hash: str, body: dict[str, Any]) -> Member:
    """PATCH /lists/{id}/members/{hash}: update an existing member, address changes included."""
    member = find(audience, member_hash)
    status = check_status(body["status"]) if "status" in body else None
    merge_fields = check_merge_fields(body.get("merge_fields"))
    if "email_address" in body:
        email = check_email(body["email_address"])
        new_hash = subscriber_hash(email)
        if new_hash != member.id:
            if new_hash in audience.members or new_hash in audience.forgotten:
                raise member_exists(email)
            del audience.members[member.id]
            member.id = new_hash
            audience.members[new_hash] = member
        member.email_address = email
    _update(member, status, merge_fields, body)
    return member


def _create_or_restore(
    audience: AudienceList,
    email: str,
    initial: str,
    explicit: str | None,
    merge_fields: dict[str, str],
    body: dict[str, Any],
) -> Member:
    member_hash = subscriber_hash(email)
    if member_hash in audience.forgotten:
        raise forgotten_email(email)
    archived = audience.members.get(member_hash)
    if archived is not None and archived.archived_from not in _OPTED_IN:
        # History survives archiving: restore the old status, then apply an explicit one.
        archived.status = archived.archived_from or "unsubscribed"
        archived.archived_from = None
        _update(archived, explicit, merge_fields, body)
        return archived
    member = archived or Member(
        id=member_hash,
        email_address=email,
        status=initial,
        merge_fields=dict.fromkeys(MERGE_FIELDS, ""),
        timestamp_signup=now_iso(),
    )
    member.archived_from = None
    _set_status(member, initial)
    member.merge_fields.update(merge_fields)
    _apply_plain_fields(member, body)
    for name in check_tag_names(body.get("tags")):
        member.tags.setdefault(name, TagRef(audience.tag_id(name), name, now_iso()))
    audience.members[member_hash] = member
    return member


def _update(
    member: Member, status: str | None, merge_fields: dict[str, str], body: dict[str, Any]
) -> None:
    # An archived member is judged by the status it had before archiving.
    current = member.archived_from if member.status == "archived" else member.status
    if status is not None and status != member.status:
        if current == "cleaned" and status in _OPTED_IN:
            raise compliance_state(member.email_address)
        if (
            current == "unsubscribed"
            and member.unsubscribed_by == "user"
            and status == "subscribed"
        ):
            raise compliance_state(member.email_address)
        member.archived_from = None
        _set_status(member, status)
    member.merge_fields.update(merge_fields)
    _apply_plain_fields(member, body)
    member.last_changed = now_iso()


def _set_status(member: Member, status: str) -> None:
    member.status = status
    member.last_changed = now_iso()
    if status == "subscribed":
        member.timestamp_opt = now_iso()
    if status == "unsubscribed":
        member.unsubscribed_by = "api"
        member.unsubscribe_reason = "N/A (Unsubscribed by an admin)"
    else:
        member.unsubscribed_by = None
        member.unsubscribe_reason = ""


def _apply_plain_fields(member: Member, body: dict[str, Any]) -> None:
    if body.get("email_type") in ("html", "text"):
        member.email_type = body["email_type"]
    if isinstance(body.get("language"), str):
        member.language = body["language"]
    if isinstance(body.get("vip"), bool):
        member.vip = body["vip"]


def archive(audience: AudienceList, member_hash: str) -> None:
    member = find(audience, member_hash)
    if member.status != "archived":
        member.archived_from = member.status
        member.status = "archived"
        member.last_changed = now_iso()


def delete_permanently(audience: AudienceList, member_hash: str) -> None:
    member = find(audience, member_hash)
    del audience.members[member.id]
    audience.forgotten.add(member.id)


def unsubscribe_by_recipient(member: Member, reason: str) -> None:
    """What a click on the unsubscribe link in a campaign does (admin simulation)."""
    _set_status(member, "unsubscribed")
    member.archived_from = None
    member.unsubscribed_by = "user"
    member.unsubscribe_reason = reason


def clean(member: Member) -> None:
    """What a hard bounce does: Mailchimp marks the address `cleaned`."""
    member.archived_from = None
    _set_status(member, "cleaned")
