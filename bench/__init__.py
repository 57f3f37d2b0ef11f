"""`tabs bench`: the credit path measured end to end on one machine.

The harness starts the embedded broker and PostgreSQL, runs the credit worker in its own
processes, plays tills against it, and compares it with two references on the same messages:
a bare consumer (the ceiling) and a handler that spends one transaction per message (naive).
It ends by checking the ledger: a fast run that breaks an invariant is a failed run.
"""
