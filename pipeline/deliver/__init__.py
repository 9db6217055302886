"""Delivery: the digest and the alerts reach people, and feed readers can subscribe.

Apprise is the one delivery layer (``channels``: email through any SMTP server and
~150 services by URL); ``messages`` renders the digest model and stored items in the
form each channel takes; ``atom`` writes the Atom feeds; ``outbox`` makes every
delivery durable (recorded before it is sent, marked after, retried with backoff
across cycles and restarts); ``options`` parses the ``delivery`` config and the
alerts' ``notify`` lists; ``dispatch`` holds the calls the service and the CLI make
(``after_cycle``, ``after_digest``, ``send_digest``, ``notify_test``, ``listing``).

An edge orchestrator like ``digest``'s writer: it reads through ``storage`` (never
SQL of its own) and may import ``pipeline.config``, ``errors``, ``records``,
``redact``, ``match.snippet`` and the digest's model and renderers; no stage
imports it. Importing the package is cheap: Apprise loads on first use.
"""

from __future__ import annotations

_LAZY = {"after_cycle", "after_digest", "send_digest", "deliver_round", "notify_test",
         "listing", "retry_failed"}


def __getattr__(name: str):
    # pipeline.config imports options from here at start-up: the rest (Apprise,
    # feedgen, storage) only when a delivery actually happens
    if name in _LAZY:
        from pipeline.deliver import dispatch

        return getattr(dispatch, name)
    raise AttributeError(f"module 'pipeline.deliver' has no attribute {name!r}")
