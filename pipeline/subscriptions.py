"""Subscriptions in and out: OPML files read into feeds added to the config file,
and the configured feeds written as OPML 2.0.

An OPML file comes from another program or person, so it is read with defusedxml:
a DTD (the way entity bombs and XXE arrive; OPML needs none) is refused before
anything is expanded or fetched. Nested outlines (folders) are walked without
recursion; an outline without ``xmlUrl``, or with one that is no http(s) URL, is
reported and skipped; a feed already configured (same canonical URL, either
scheme) is a duplicate.

The config file is edited as text, not re-dumped: new feeds are inserted as
lines after the last configured feed, so every comment, key order and quoting
stays as the user wrote it (a YAML round-trip rewrote 40 to 334 lines of
``config/watch.yaml``: README, "Changing what is watched"). The result is
loaded by the config loader before it replaces the file, atomically; when it
does not load, nothing is written.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Mapping, Sequence

import yaml
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from pipeline.config import FeedSpec, Settings, load_settings
from pipeline.dedupe import canonical_url
from pipeline.digest.write import atomic_write
from pipeline.errors import ConfigError, OpmlError
from pipeline.redact import redact_url
from pipeline.sanitize import clean_line

MAX_OPML_BYTES = 10 * 1024 * 1024
MAX_OUTLINES = 20_000
_MAX_NAME = 200
_FEED_URL = re.compile(r"^https?://[^/\s]+\S*$", re.I)   # what the config loader accepts


@dataclass(frozen=True)
class Outline:
    name: str
    url: str
    folder: str = ""          # "News / Arabic" for nested outlines


@dataclass
class ImportPlan:
    outlines: int = 0
    added: list[FeedSpec] = field(default_factory=list)
    duplicates: list[tuple[FeedSpec, str]] = field(default_factory=list)  # (feed, its twin)
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What would change, one line each; URLs shown without their secrets."""
        out = [f"+ {f.name} <{redact_url(f.url)}>" for f in self.added]
        out += [f"= {f.name} <{redact_url(f.url)}>: already configured as {twin!r}"
                for f, twin in self.duplicates]
        return out + [f"! {p}" for p in self.problems]


def read_opml(data: bytes, shown: str) -> tuple[list[Outline], list[str], int]:
    """(feed outlines, problems, outlines seen) of an OPML file; OpmlError when the
    file is not OPML, too large, or hostile."""
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"file larger than {MAX_OPML_BYTES // 1024 // 1024} MiB", url=shown)
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise OpmlError(f"refused: the file declares a DTD or entities "
                        f"({type(exc).__name__}); OPML needs none, and that is how entity "
                        "bombs and external-file reads (XXE) arrive", url=shown) from None
    except (ET.ParseError, ValueError) as exc:
        raise OpmlError(clean_line(f"not XML: {exc}")[:200], url=shown) from None
    if root.tag != "opml":
        raise OpmlError(f"not OPML: the root element is <{clean_line(root.tag)[:40]}>",
                        url=shown)
    body = root.find("body")
    if body is None:
        raise OpmlError("not OPML: no <body>", url=shown)
    return _walk(body, shown)


def _walk(body: ET.Element, shown: str) -> tuple[list[Outline], list[str], int]:
    found, problems, seen = [], [], 0
    stack = [(child, "") for child in reversed(body)]     # a stack, not recursion: any depth
    while stack:
        node, folder = stack.pop()
        if node.tag != "outline":
            continue
        seen += 1
        if seen > MAX_OUTLINES:
            raise OpmlError(f"more than {MAX_OUTLINES} outlines", url=shown)
        label = clean_line(node.get("title") or node.get("text") or "")[:_MAX_NAME].strip()
        url = (node.get("xmlUrl") or node.get("xmlurl") or "").strip()
        where = f" (in {folder})" if folder else ""
        if url and _FEED_URL.match(url) and len(url) <= 4096:
            found.append(Outline(label or url, url, folder))
        elif url:
            problems.append(f"outline {label!r}{where}: xmlUrl {redact_url(clean_line(url))[:200]!r}"
                            " is not an http(s) URL: skipped")
        elif len(node) == 0:
            problems.append(f"outline {label!r}{where} has no xmlUrl: skipped")
        inner = f"{folder} / {label}" if folder else label
        stack.extend((child, inner) for child in reversed(node))
    return found, problems, seen


def plan_import(outlines: Sequence[Outline], problems: Sequence[str], seen: int,
                existing: Sequence[FeedSpec]) -> ImportPlan:
    """Which outlines become new feeds and which are already configured."""
    plan = ImportPlan(outlines=seen, problems=list(problems))
    known = {_feed_key(f.url): f.name for f in existing}
    names = {f.name.casefold() for f in existing}
    for outline in outlines:
        key = _feed_key(outline.url)
        if key in known:
            plan.duplicates.append((FeedSpec(outline.name, outline.url), known[key]))
            continue
        name, n = outline.name, 2
        while name.casefold() in names:       # two feeds of one name confuse every listing
            name, n = f"{outline.name} ({n})", n + 1
        names.add(name.casefold())
        known[key] = name
        plan.added.append(FeedSpec(name=name, url=outline.url))
    return plan


def _feed_key(url: str) -> str:
    # one feed whatever the scheme: readers export http:// and https:// alike
    return canonical_url(url).split("://", 1)[-1]


def add_feeds_to_text(text: str, feeds: Sequence[FeedSpec], note: str) -> str:
    """The config text with ``feeds`` inserted after its last feed, as flow mappings
    in the list's own indentation, after a comment line ``note``."""
    seq = _feeds_node(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    at = _last_line(seq.value[-1]) + 1
    indent = " " * seq.start_mark.column
    added = [f"{indent}# {clean_line(note)}{newline}"]
    added += [f"{indent}- {{name: {_quoted(f.name)}, url: {_quoted(f.url)}}}{newline}"
              for f in feeds]
    if at > 0 and at <= len(lines) and not lines[at - 1].endswith(("\n", "\r")):
        lines[at - 1] += newline
    return "".join(lines[:at] + added + lines[at:])


def _feeds_node(text: str) -> yaml.SequenceNode:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot be read as YAML: {exc}") from None
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "feeds":
                if isinstance(value, yaml.SequenceNode) and value.value and not value.flow_style:
                    return value
                raise ConfigError("is not a block list (one '- ' line per feed); import "
                                  "adds lines to that list", key="feeds")
    raise ConfigError("no feeds list to add to", key="feeds")


def _last_line(node: yaml.Node) -> int:
    """The line (0-based) where a list item's last value ends: a block mapping's own
    end mark lies at the next key, past any comment that heads the next section."""
    while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style \
            and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    end = node.end_mark
    return end.line if end.column > 0 else end.line - 1


def _quoted(value: str) -> str:
    # a JSON string is a YAML double-quoted scalar: no character of a name or URL
    # (":", "#", "{", quotes) can change the meaning of the line
    return json.dumps(value, ensure_ascii=False)


def apply_import(config_path: Path, plan: ImportPlan, note: str,
                 env: Mapping[str, str]) -> Settings:
    """Write the plan's feeds into the config file, atomically; the new text must
    load (and list exactly the old feeds plus the new), else nothing is written."""
    before = load_settings(config_path, env=env)
    text = config_path.read_bytes().decode("utf-8")
    new_text = add_feeds_to_text(text, plan.added, note)
    loaded: list[Settings] = []

    def loads_as_planned(tmp: Path) -> None:
        try:
            after = load_settings(tmp, env=env)
        except ConfigError as exc:     # named for the user's file, not the temporary one
            raise ConfigError(f"with the imported feeds it would not load ({exc.reason}); "
                              "nothing written", file=str(config_path), key=exc.key) from None
        if after.feeds != before.feeds + tuple(plan.added):
            raise ConfigError("the edited file would not list the imported feeds as planned; "
                              "nothing written", file=str(config_path), key="feeds")
        loaded.append(after)

    atomic_write(config_path, new_text, mode=config_path.stat().st_mode & 0o7777,
                 check=loads_as_planned)
    return loaded[0]


def export_opml(feeds: Sequence[FeedSpec], *, with_secrets: bool = False,
                now: datetime | None = None) -> tuple[str, int]:
    """(OPML 2.0 text of ``feeds``, how many URLs had secrets taken out)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = "Newswatch feeds"
    ET.SubElement(head, "dateCreated").text = format_datetime(
        now or datetime.now(timezone.utc), usegmt=True)
    body = ET.SubElement(root, "body")
    redacted = 0
    for feed in feeds:
        url = feed.url if with_secrets else redact_url(feed.url)
        redacted += url != feed.url
        ET.SubElement(body, "outline", type="rss", text=feed.name, title=feed.name,
                      xmlUrl=url)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{text}\n', redacted
