"""In-memory state of the stand-in: settings, audiences, members, batches and test knobs.

Everything is mutated on the server's event loop only (handlers, the batch runner and the
admin routes all run there), so no locks are needed.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_API_KEY = "0123456789abcdef0123456789abcdef-us1"
DEFAULT_AUDIENCE_ID = "a1b2c3d4e5"


def now_iso() -> str:
    """Mailchimp's timestamp format, e.g. 2015-10-21T15:41:36+00:00."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 of the lower-cased address."""
    return hashlib.md5(email.lower().encode("utf-8")).hexdigest()


def short_id() -> str:
    # Mailchimp's list, webhook and unique-email ids are ten hex digits.
    return secrets.token_hex(5)


@dataclass
class Settings:
    api_key: str = DEFAULT_API_KEY
    audience_id: str = DEFAULT_AUDIENCE_ID
    audience_name: str = "Tabs customers"
    max_connections: int = 10
    latency: float = 0.0
    retry_after: float | None = None
    batch_op_delay: float = 0.0


@dataclass
class TagRef:
    id: int
    name: str
    date_added: str


@dataclass
class Member:
    id: str
    email_address: str
    status: str
    merge_fields: dict[str, str]
    unique_email_id: str = field(default_factory=short_id)
    web_id: int = field(default_factory=lambda: secrets.randbelow(10**9))
    contact_id: str = field(default_factory=lambda: secrets.token_hex(16))
    email_type: str = "html"
    language: str = ""
    vip: bool = False
    tags: dict[str, TagRef] = field(default_factory=dict)
    timestamp_signup: str = ""
    timestamp_opt: str = ""
    last_changed: str = field(default_factory=now_iso)
    # Who put the member in `unsubscribed`: "user" (the recipient, in Mailchimp) or "api".
    unsubscribed_by: str | None = None
    unsubscribe_reason: str = ""
    # The status a member had before being archived (DELETE), restored rules on re-add.
    archived_from: str | None = None


@dataclass
class Webhook:
    id: str
    url: str
    events: dict[str, bool]
    sources: dict[str, bool]


@dataclass
class AudienceList:
    id: str
    name: str
    web_id: int = field(default_factory=lambda: secrets.randbelow(10**6))
    date_created: str = field(default_factory=now_iso)
    members: dict[str, Member] = field(default_factory=dict)
    # Hashes of permanently deleted members: Mailchimp refuses to re-import them.
    forgotten: set[str] = field(default_factory=set)
    webhooks: dict[str, Webhook] = field(default_factory=dict)
    tag_ids: dict[str, int] = field(default_factory=dict)

    def tag_id(self, name: str) -> int:
        if name not in self.tag_ids:
            self.tag_ids[name] = len(self.tag_ids) + 1
        return self.tag_ids[name]


@dataclass
class Batch:
    id: str
    operations: list[dict[str, Any]]
    status: str = "pending"
    finished_operations: int = 0
    errored_operations: int = 0
    submitted_at: str = field(default_factory=now_iso)
    completed_at: str = ""
    response_body_url: str = ""
    archive: bytes | None = None
    task: asyncio.Task[None] | None = None


@dataclass
class FaultRule:
    """Fail the next `remaining` API requests whose path (/3.0/...) contains `path_contains`."""

    status: int
    remaining: int = 1
    path_contains: str = ""
    method: str | None = None
    retry_after: float | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.remaining > 0 and self.path_contains in path


class ServerState:
    def __init__(self, settings: Settings) -> None:
        self.initial = settings
        self.reset()

    def reset(self) -> None:
        """Back to a fresh server: one empty audience, the configured knobs, no history."""
        for batch in getattr(self, "batches", {}).values():
            if batch.task is not None:
                batch.task.cancel()
        s = self.initial
        self.settings = Settings(**vars(s))
        self.lists: dict[str, AudienceList] = {
            s.audience_id: AudienceList(id=s.audience_id, name=s.audience_name)
        }
        self.batches: dict[str, Batch] = {}
        self.faults: list[FaultRule] = []
        self.request_counts: Counter[str] = Counter()
        # Calls in progress survive a reset: each one gives its slot back when it ends.
        self.in_flight: int = getattr(self, "in_flight", 0)
        self.webhook_deliveries: list[dict[str, Any]] = []

    def take_fault(self, method: str, path: str) -> FaultRule | None:
        for rule in self.faults:
            if rule.matches(method, path):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self.faults.remove(rule)
                return rule
        return None
