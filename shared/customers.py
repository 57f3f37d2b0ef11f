"""`crm.customers.v1`: a customer's details and marketing consent, as an upsert."""

from typing import Annotated

from pydantic import Field, StringConstraints

from shared.base import ID_CHARS_MAX, Email, Id, PartialUpdate
from shared.timestamps import Day, Timestamp

__all__ = ["TAGS_MAX", "TAG_CHARS_MAX", "CustomerUpsert", "PersonalText", "customer_key"]

# Mailchimp's own limit on a tag name is 100 characters.
TAG_CHARS_MAX = 100
TAGS_MAX = 100

PersonalText = Annotated[str, StringConstraints(max_length=ID_CHARS_MAX)]
"""A name or phone number as typed at sign-up; may be empty, so a blank form field is harmless."""

Tag = Annotated[str, StringConstraints(min_length=1, max_length=TAG_CHARS_MAX)]


class CustomerUpsert(PartialUpdate):
    """An upsert: a field absent from the payload keeps its stored value, `null` clears it.

    `birthday` is a full date ("1990-04-17"); Mailchimp receives only its month and day.
    `marketing_opt_in: false` unsubscribes; `null` clears consent, which counts as not opted in.
    `tags: null` clears the customer's tags.
    """

    FIXED_FIELDS = frozenset({"event_id", "customer_id", "occurred_at"})

    event_id: Id
    customer_id: Id
    occurred_at: Timestamp | None = None
    email: Email | None = None
    first_name: PersonalText | None = None
    last_name: PersonalText | None = None
    mobile: PersonalText | None = None
    birthday: Day | None = None
    tags: list[Tag] | None = Field(default=None, max_length=TAGS_MAX)
    marketing_opt_in: bool | None = None
    opt_in_source: PersonalText | None = None
    account_number: Id | None = None


def customer_key(customer: CustomerUpsert) -> str:
    return customer.customer_id
