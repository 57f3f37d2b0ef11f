"""A Mailchimp Marketing API v3 stand-in for tests and the local dev stack.

    server = MailchimpServer()
    await server.start()                     # or ThreadedMailchimpServer() for sync code
    client = make_client(server.api_url, server.api_key)   # the official client
    client.lists.set_list_member(server.audience_id, subscriber_hash(email), {...})

See members.py for the status rules, http_api.py for auth and throttling, routes_admin.py for
the test controls under /_admin.
"""

from .client import mailchimp_api_url, make_client
from .server import MailchimpServer, ThreadedMailchimpServer
from .state import DEFAULT_API_KEY, DEFAULT_AUDIENCE_ID, subscriber_hash

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_AUDIENCE_ID",
    "MailchimpServer",
    "ThreadedMailchimpServer",
    "mailchimp_api_url",
    "make_client",
    "subscriber_hash",
]
