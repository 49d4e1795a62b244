"""Account changes that other apps act on, announced without customers importing them (ARCHITECTURE).

The apps that own rows about an account (expansion's renewals, retention's campaigns) depend on customers, so
customers cannot call them. Instead it sends one of these signals and each app subscribes in its
``AppConfig.ready()`` with its own service:

- ``client_churned`` — the client moved to lifecycle ``churned`` (RULES §7.1: open renewals lost, active
  retention campaigns closed with outcome ``churned``). Keyword arguments: ``client``, ``actor``, ``now``.
- ``contract_end_moved`` — ``update_client_info`` changed the contract end date (RULES §12.3: an open renewal
  whose date is now passed is won). Keyword arguments: ``client``, ``new_end`` (date), ``actor``, ``now``.

They are sent inside the customers service's transaction, after customers' own changes, with the client
row locked. A receiver writes its own audit entries and returns the ``side_effects`` entries
(``[{"type": …, "id": …}]``) the customers service reports; an exception in a receiver rolls the whole change
back, so an account is never churned with its renewals still open. Receivers run in ``INSTALLED_APPS``
order.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

from customers.models import Client

client_churned = Signal()
contract_end_moved = Signal()


def send_collecting_side_effects(signal: Signal, **kwargs: Any) -> list[dict[str, Any]]:
    """Send ``signal`` from ``Client`` and concatenate the side-effect lists the receivers return."""
    effects: list[dict[str, Any]] = []
    for _receiver, response in signal.send(sender=Client, **kwargs):
        effects.extend(response or [])
    return effects
