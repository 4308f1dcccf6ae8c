"""Signals Switchboard sends inside Django."""

from django.dispatch import Signal

#: An event on a forwarded topic arrived from the hub (POST events/, signature checked).
#: Keyword arguments: topic (str), args (list), kwargs (dict), publisher
#: ({"session", "authid", "authrole"}, values None when the router does not disclose them).
#: A receiver that raises makes the view answer 500, and the hub retries the event (3 tries), so
#: receivers should tolerate seeing an event twice.
event_received = Signal()


class HUB:
    """The `sender` of event_received: connect with sender=HUB, or leave sender out."""
