"""Signals the plumbing sends so that domain apps can act without the plumbing importing them.

``cs_project.core`` knows no domain app (ARCHITECTURE: plumbing ← customers ← the other apps). Where it must
tell the domain something, it sends one of these signals; the owner of the domain record subscribes in its
``AppConfig.ready()`` (``customers`` audits token changes). Receivers run synchronously, inside the sender's
transaction, and an exception in a receiver rolls the change back: an unaudited token change cannot happen.
"""

from django.dispatch import Signal

# Sent by cs_project.core.auth after an API token is issued or revoked, inside the same transaction.
# Keyword arguments: token (ApiToken), action ("core.api_token.created" / "core.api_token.revoked"),
# actor (cs_project.core.context.Actor), data (dict: what the audit record may show — never the raw token).
token_changed = Signal()
