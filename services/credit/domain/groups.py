"""Group accounts: a parent's credit pays for its members' sales, fully or by category."""

from __future__ import annotations

from collections.abc import Iterable

from services.credit.domain.accounts import Account, Funding
from services.credit.domain.errors import (
    AccountNotActive,
    AlreadyMember,
    MemberCurrencyMismatch,
    NestedGroup,
    NotAMember,
)


def add_member(
    parent: Account, member: Account, funding: Funding, *, member_has_members: bool
) -> None:
    """Both active, the same currency, and one level only: a parent is no member, a member
    no parent."""
    for account in (parent, member):
        if account.status != "active":
            raise AccountNotActive(f"account {account.number} is {account.status}, not active")
    if parent.parent_account_number is not None:
        raise NestedGroup(
            f"account {parent.number} is itself a member of {parent.parent_account_number}"
        )
    if member_has_members:
        raise NestedGroup(f"account {member.number} has members of its own")
    if member.parent_account_number not in (None, parent.number):
        raise AlreadyMember(
            f"account {member.number} is a member of {member.parent_account_number}"
        )
    if member.currency != parent.currency:
        raise MemberCurrencyMismatch(
            f"member {member.number} is in {member.currency}, the group in {parent.currency}"
        )
    member.parent_account_number = parent.number
    member.funding = funding


def remove_member(parent: Account, member: Account) -> None:
    if member.parent_account_number != parent.number:
        raise NotAMember(f"account {member.number} is not a member of {parent.number}")
    member.parent_account_number = None
    member.funding = None


def is_funded(funding: Funding | None, categories: Iterable[str | None]) -> bool:
    """A category-funded member's sale is paid only when every line is in a funded category."""
    if funding is None or funding == "full":
        return funding == "full"
    return all(category in funding for category in categories)
