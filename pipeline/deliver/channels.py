"""Apprise, the one delivery layer: email (``mailto://``, ``mailtos://``) and
about 150 services (Signal, Telegram, Matrix, ntfy, webhooks …) by URL.

This is the one boundary where Apprise is called: its exceptions and its
False results become :class:`DeliveryError`, with a reason taken from its own
log entries for that send and scrubbed of every piece of the channel's URL
(Apprise names the URL in some of its messages, e.g. "Could not load E-Mail
URL: mailto://…"). Its logger does not propagate to ours for the same reason.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator
from urllib.parse import quote, unquote

from pipeline.deliver.messages import Message
from pipeline.deliver.options import Channel
from pipeline.errors import DeliveryError
from pipeline.redact import redact_text

# Apprise's own lines can carry a URL with its secrets, and urllib3's (under
# Apprise's requests) name the path, where services keep tokens (Telegram's
# /bot<TOKEN>/…): neither reaches our logs; we log redacted lines instead.
# (Newswatch's own fetching is httpx, which does not log through urllib3.)
logging.getLogger("apprise").propagate = False
logging.getLogger("urllib3").propagate = False



@lru_cache(maxsize=1)
def _apprise():
    """Apprise and our asset, imported on first use: a quiet cycle with no
    channel configured never pays for it. The asset: never a picture fetched
    from GitHub by the reader's phone (Apprise's default icon URLs), no state
    files in the home folder, one service per call."""
    import apprise

    asset = apprise.AppriseAsset(app_id="Newswatch", app_desc="Newswatch news monitoring",
                                 app_url="https://github.com/newswatch/newswatch",
                                 image_url_mask=None, image_url_logo=None, async_mode=False,
                                 storage_mode="memory")
    return apprise, asset

# Services whose HTML is an email: they get the whole digest as an HTML page.
_EMAIL_SERVICES = frozenset({"email", "ses", "sendgrid", "mailgun", "sparkpost", "smtp2go",
                             "office365", "resend", "brevo", "postmark", "mailersend"})


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def _apprise_warnings() -> Iterator[list[str]]:
    handler = _Collect()
    logger = logging.getLogger("apprise")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


def _plugin(channel: Channel):
    apprise, asset = _apprise()
    try:
        return apprise.Apprise.instantiate(channel.url, asset=asset)
    except Exception:      # a plugin's constructor may raise on odd input
        return None


def unknown_reason(channel: Channel) -> str | None:
    """Why Apprise cannot use this URL, or None when it can."""
    with _apprise_warnings() as lines:
        plugin = _plugin(channel)
    if plugin is not None:
        return None
    said = scrub("; ".join(lines), channel)
    return ("not a notification URL that Apprise knows" + (f" ({said})" if said else "")
            + "; see https://github.com/caronc/apprise/wiki for the URL of each service")


def body_format(channel: Channel) -> str:
    """What to render for this channel: "email" (the HTML page of an email),
    "html" (the few tags chat services take), "markdown" or "text". The
    plugin's own default, or the URL's ``?format=``: rendered in the form the
    service wants, nothing is converted a second time."""
    plugin = _plugin(channel)
    if plugin is None:
        return "text"
    fmt = plugin.resolve_format(None).value
    module = type(plugin).__module__.split(".")
    if fmt == "html" and len(module) > 2 and module[2] in _EMAIL_SERVICES:
        return "email"
    return fmt


def send(channel: Channel, message: Message) -> None:
    """Send one message to one channel, or raise DeliveryError saying why."""
    plugin = _plugin(channel)
    if plugin is None:
        raise DeliveryError("not a notification URL that Apprise knows", url=channel.shown)
    apprise, asset = _apprise()
    notifier = apprise.Apprise(asset=asset)
    notifier.add(plugin)
    with _apprise_warnings() as lines:
        try:
            result = notifier.notify(body=message.body, title=message.title,
                                     body_format=message.body_format)
        except Exception as exc:   # noqa: BLE001 - a plugin's bug is this channel's failure
            # "from None": the chained exception's text may hold the URL's secrets
            raise DeliveryError(scrub(f"{type(exc).__name__}: {exc}", channel),
                                url=channel.shown) from None
    if not result:
        said = [e.message for e in result.logs()
                if e.level in ("WARNING", "ERROR", "CRITICAL")] or lines
        reason = scrub("; ".join(dict.fromkeys(said)), channel)
        raise DeliveryError(reason or "the service did not take the message", url=channel.shown)


def scrub(text: str, channel: Channel) -> str:
    """``text`` without the channel's secrets or any other piece of its URL
    (tokens, user names, addresses) that its shown form does not already hold."""
    keep = {k for k in re.split(r"[/:@?&=#*\[\]\s]+", channel.shown) if len(k) >= 4}
    pieces = set(channel.secrets) | {quote(s, safe="") for s in channel.secrets}
    for form in (channel.url, unquote(channel.url)):
        pieces.update(re.split(r"[/:@?&=#,;+\s]+", form))
    pieces = sorted((p for p in pieces if len(p) >= 4 and p not in keep), key=len, reverse=True)
    if not pieces:
        return redact_text(text).strip()
    # what the shown form holds (the host) stays whole: "example.org" of an
    # address is hidden, "smtp.example.org" is not cut in two
    kept = re.compile("(" + "|".join(map(re.escape, sorted(keep, key=len, reverse=True)))
                      + ")") if keep else None
    parts = kept.split(text) if kept else [text]
    for i in range(0, len(parts), 2):          # odd indexes are the kept pieces
        for piece in pieces:
            parts[i] = parts[i].replace(piece, "***")
    return redact_text("".join(parts)).strip()
