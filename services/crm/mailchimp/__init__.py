"""Talking to Mailchimp: the official client behind a connection limit shared by every CRM
process, retries with backoff, batch operations, and the sync loop that drains the queue."""
