"""What is sent: renderers of the digest model and of stored items, one per
form a channel takes ("email", "html", "markdown", "text").

* the digest: "email" is the HTML digest's content laid out for mail clients
  (templates/digest.email.html.j2); "markdown" is the digest's own Markdown;
  "html" the few tags chat services accept (Telegram, Matrix); "text" plain.
* alerts: one message per new alerted item, or one grouped message when
  more arrive at once; title, source, rules, matched terms, snippet, link.

Feed text is never trusted: HTML is autoescaped and only http(s) links are
made, Markdown is escaped, and each piece of feed text carries its direction.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from pipeline.digest.model import safe_url
from pipeline.match.snippet import snippet
from pipeline.records import StoredItem

GROUP_LIST_MAX = 40            # items listed in one grouped message; the rest are counted
_MD_SPECIAL = set("\\`*_[]()#!|<>~&$")


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    body_format: str           # Apprise's body_format: "html", "markdown" or "text"


@dataclass(frozen=True)
class AlertView:
    """A stored item as an alert shows it."""

    title: str
    url: str | None            # http(s) only, credentials removed
    source: str
    time: str
    rules: tuple[str, ...]
    keywords: tuple[str, ...]
    snippet: tuple[tuple[str, bool], ...]
    note: str | None = None
    also_reported_by: tuple = ()


def alert_view(item: StoredItem, tz: ZoneInfo) -> AlertView:
    when = (item.published or item.fetched_at).astimezone(tz)
    keywords: dict[str, None] = {}
    for m in item.alerts:
        keywords.update(dict.fromkeys(m.keywords))
    note = "article page unavailable; text is the feed's summary" \
        if item.extraction == "entry" else None
    return AlertView(title=item.title or item.url, url=safe_url(item.url), source=item.source,
                     time=when.strftime("%Y-%m-%d %H:%M %Z"),
                     rules=tuple(m.rule for m in item.alerts), keywords=tuple(keywords),
                     snippet=tuple(_excerpt(item)), note=note)


def _excerpt(item: StoredItem) -> list[tuple[str, bool]]:
    """Around the first matched words, in the field they were found in."""
    hits = [h for m in item.alerts for h in m.hits]
    for name in ("text", "summary", "title"):
        source = getattr(item, name)
        if source and any(h.field == name for h in hits):
            return snippet(source, hits, field=name)
    return snippet(item.text or item.summary, ())


def text_dir(text: str) -> str:
    """"rtl" or "ltr" by the first strongly directional letter (what
    ``dir="auto"`` does in a browser, decided here because several mail
    clients ignore ``auto``); "auto" when there is none."""
    for ch in str(text):
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "auto"


# --- styles of the email templates: inline, since mail clients drop <style> ----

_FONT = "font-family:-apple-system,'Segoe UI',Roboto,Arial,'Noto Naskh Arabic',sans-serif;"
STYLES = {
    "body": "margin:0;padding:0;background-color:#f3f3f3;",
    "outer": "background-color:#f3f3f3;",
    "sheet": "max-width:680px;background-color:#ffffff;border:1px solid #dddddd;",
    "content": _FONT + "padding:20px 24px;font-size:15px;line-height:1.5;color:#1a1a1a;",
    "h1": "font-size:22px;line-height:1.3;margin:0 0 8px 0;color:#1a1a1a;",
    "h2": "font-size:18px;margin:28px 0 8px 0;padding-bottom:3px;"
          "border-bottom:1px solid #dddddd;color:#1a1a1a;",
    "p": "margin:8px 0;",
    "meta": "margin:2px 0;color:#555555;font-size:13px;",
    "item": "margin:0 0 18px 0;",
    "title": "font-size:16px;font-weight:bold;margin:0;",
    "link": "color:#0b57d0;text-decoration:underline;",
    "snippet": "margin:4px 0 0 0;color:#333333;",
    "mark": "background-color:#ffe58a;color:#1a1a1a;",
    "note": "color:#8a5a00;font-size:13px;",
    "also": "font-size:13px;color:#333333;",
    "address": "font-size:12px;color:#777777;word-break:break-all;margin-top:2px;",
    "address_link": "color:#777777;text-decoration:none;",
    "ul": "margin:4px 0;padding-left:22px;",
    "li": "margin:2px 0;",
    "fail": "color:#8b0000;",
    "footer": "margin:28px 0 0 0;color:#888888;font-size:12px;",
}

_env = Environment(loader=PackageLoader("pipeline.deliver", "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   trim_blocks=True, lstrip_blocks=True)
_env.filters["dir"] = text_dir


# --- the digest ----------------------------------------------------------------

def digest_message(digest, form: str) -> Message:
    """The digest (``pipeline.digest``'s model) in the form a channel takes."""
    n_alerts = digest.summary.alerts
    title = (f"Newswatch digest {digest.day}: {digest.summary.reports} new reports in "
             f"{digest.summary.stories} stories, {n_alerts} alert{'s' if n_alerts != 1 else ''}")
    if form == "email":
        body = _env.get_template("digest.email.html.j2").render(
            d=digest, s=STYLES, channels=_failing_channels(digest))
        return Message(title, body, "html")
    if form == "markdown":
        return Message(title, _digest_markdown(digest), "markdown")
    if form == "html":
        return Message(title, _digest_chat_html(digest), "html")
    return Message(title, digest_text(digest), "text")


def _digest_markdown(digest) -> str:
    # the digest's own renderer (a rename at the digest package's split)
    from pipeline.digest import render_markdown

    return render_markdown(digest)


def _failing_channels(digest) -> list[dict]:
    return list(getattr(digest, "failing_channels", None) or [])


def digest_text(digest) -> str:
    """Plain text: for services that show text only (ntfy, Signal, SMS …)."""
    lines = [f"Newswatch digest {digest.day}",
             f"Items found {digest.covers} ({digest.timezone}). New: {digest.counts.get('new', 0)},"
             f" duplicates suppressed: {digest.counts.get('duplicate', 0)},"
             f" off-topic: {digest.counts.get('off_topic', 0)},"
             f" failed: {digest.counts.get('failed', 0)}."]
    for heading, stories in (("ALERTS", digest.alert_stories),
                             ("OTHER NEW STORIES", digest.other_stories)):
        if stories:
            lines += ["", f"{heading} ({len(stories)})"]
            lines += [row for st in stories for row in _story_text(st)]
    if not digest.stories:
        lines += ["", "No new on-topic items were found on this day."]
    if digest.feeds_to_update:
        lines += ["", f"FEEDS TO UPDATE ({len(digest.feeds_to_update)})"]
        lines += [f"- {_line(f.name)}: {_line(f.notice)}" for f in digest.feeds_to_update]
    if digest.failing_feeds:
        lines += ["", f"FAILING FEEDS ({len(digest.failing_feeds)})"]
        lines += [f"- {_line(f.name)}: {_line(f.error)} (since {f.since})"
                  for f in digest.failing_feeds]
    for c in _failing_channels(digest):
        lines.append(f"Delivery channel failing: {c.channel} since {c.since}")
    return "\n".join(lines) + "\n"


def _story_text(st) -> list[str]:
    tags = "".join(f"[{_line(a)}] " for a in st.alerts)
    rows = ["", f"* {tags}{_line(st.headline)} ({len(st.outlets)} outlet"
                f"{'s' if len(st.outlets) != 1 else ''})"]
    rows += [f"  new: {_line(n.text)} ({_line(st.reports[n.report].source)})"
             for n in st.new_sentences]
    return rows + [row for r in st.reports for row in _item_text(r)]


def _item_text(i) -> list[str]:
    rows = [f"- {_line(i.title)}",
            f"  {_line(i.source)} · {i.time}"
            + (f" · matched: {', '.join(map(_line, i.keywords))}" if i.keywords else "")]
    if i.snippet:
        rows.append("  " + _line("".join(f"«{seg}»" if hit else seg for seg, hit in i.snippet)))
    if i.url:
        rows.append(f"  {i.url}")
    return rows


def _digest_chat_html(digest) -> str:
    """The tags chat services take: <b>, <i>, <a>; lines as newlines."""
    e = html.escape
    out = [f"<b>Newswatch digest {e(digest.day)}</b>",
           e(f"New: {digest.counts.get('new', 0)}, duplicates: "
             f"{digest.counts.get('duplicate', 0)}, off-topic: "
             f"{digest.counts.get('off_topic', 0)}")]
    sections = [("Alerts", digest.alert_stories), ("Other new stories", digest.other_stories)]
    for heading, stories in sections:
        if stories:
            out += ["", f"<b>{e(heading)} ({len(stories)})</b>"]
            out += [_chat_item(st.headline, st.url, ", ".join(st.outlets)) for st in stories]
    if digest.feeds_to_update:
        out += ["", f"<b>Feeds to update ({len(digest.feeds_to_update)})</b>"]
        out += [f"{e(f.name)}: {e(f.notice)}" for f in digest.feeds_to_update]
    if digest.failing_feeds:
        out += ["", f"<i>{len(digest.failing_feeds)} feeds failing</i>"]
    return "\n".join(out)


def _chat_item(title: str, url: str | None, source: str) -> str:
    e = html.escape
    label = f'<a href="{e(url)}">{e(_line(title))}</a>' if url else e(_line(title))
    return f"• {label} — {e(_line(source))}"


# --- alerts ----------------------------------------------------------------------

def alert_message(views: list[AlertView], form: str) -> Message:
    """One alert, or several as one message (the first GROUP_LIST_MAX listed)."""
    if not views:
        raise ValueError("alert_message needs at least one alert")
    shown, more = views[:GROUP_LIST_MAX], max(0, len(views) - GROUP_LIST_MAX)
    title = _alert_title(views)
    if form == "email":
        body = _env.get_template("alerts.email.html.j2").render(
            items=shown, more=more, heading=title, s=STYLES)
        return Message(title, body, "html")
    if form == "html":
        return Message(title, _alerts_chat_html(shown, more), "html")
    if form == "markdown":
        return Message(title, _alerts_markdown(shown, more), "markdown")
    return Message(title, _alerts_text(shown, more), "text")


def _alert_title(views: list[AlertView]) -> str:
    if len(views) == 1:
        v = views[0]
        return _clip(f"Newswatch alert ({', '.join(v.rules)}): {_line(v.title)}", 200)
    counts: dict[str, int] = {}
    for v in views:
        for r in v.rules:
            counts[r] = counts.get(r, 0) + 1
    parts = ", ".join(f"{r} {n}" for r, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return _clip(f"Newswatch: {len(views)} new alerts ({parts})", 200)


def _alerts_text(views: list[AlertView], more: int) -> str:
    blocks = []
    for v in views:
        rows = [_line(v.title),
                f"{_line(v.source)} · {v.time} · alert: {', '.join(v.rules)}"
                + (f" · matched: {', '.join(v.keywords)}" if v.keywords else "")]
        if v.snippet and len(views) == 1:
            rows.append(_line("".join(f"«{s}»" if hit else s for s, hit in v.snippet)))
        if v.url:
            rows.append(v.url)
        blocks.append("\n".join(rows))
    if more:
        blocks.append(f"… and {more} more: see the next digest or the Atom feed.")
    return "\n\n".join(blocks) + "\n"


def _alerts_chat_html(views: list[AlertView], more: int) -> str:
    e = html.escape
    blocks = []
    for v in views:
        rows = [_chat_item(v.title, v.url, v.source),
                e(f"{v.time} · alert: {', '.join(v.rules)}"
                  + (f" · matched: {', '.join(v.keywords)}" if v.keywords else ""))]
        if v.snippet and len(views) == 1:
            rows.append("<i>" + "".join(f"<b>{e(s)}</b>" if hit else e(s)
                                        for s, hit in v.snippet) + "</i>")
        blocks.append("\n".join(rows))
    if more:
        blocks.append(e(f"… and {more} more: see the next digest or the Atom feed."))
    return "\n\n".join(blocks)


def _alerts_markdown(views: list[AlertView], more: int) -> str:
    blocks = []
    for v in views:
        title = md(_line(v.title))
        head = f"**[{title}]({md_url(v.url)})**" if v.url else f"**{title}**"
        rows = [head, md(f"{_line(v.source)} · {v.time} · alert: {', '.join(v.rules)}"
                         + (f" · matched: {', '.join(v.keywords)}" if v.keywords else ""))]
        if v.snippet and len(views) == 1:
            rows.append("> " + "".join(f"**{md(s)}**" if hit else md(s) for s, hit in v.snippet))
        blocks.append("  \n".join(rows))
    if more:
        blocks.append(md(f"… and {more} more: see the next digest or the Atom feed."))
    return "\n\n".join(blocks) + "\n"


def probe_message(form: str, now: datetime, config_name: str) -> Message:
    text = (f"A test message from Newswatch ({config_name}), sent {now:%Y-%m-%d %H:%M %Z}. "
            "If you can read this, alerts and digests will reach you here.")
    if form in ("email", "html"):
        return Message("Newswatch test message", f"<p>{html.escape(text)}</p>", "html")
    return Message("Newswatch test message", text, "markdown" if form == "markdown" else "text")


# --- small text helpers ----------------------------------------------------------

def _line(value) -> str:
    """One line of text: feed text can hold newlines and control characters."""
    return re.sub(r"[\s\x00-\x1f\x7f]+", " ", str(value or "")).strip()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def md(value: str) -> str:
    """Markdown-neutral text: every character Markdown or HTML could act on is escaped."""
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in _line(value))


def md_url(url: str | None) -> str:
    return (url or "").replace("(", "%28").replace(")", "%29").replace(" ", "%20") \
        .replace("<", "%3C").replace(">", "%3E")
