"""All the text a page could give: what the pre-filter matches on.

The pre-filter (``pipeline/match/relax.py``) must see at least every word that
trafilatura could extract and the matcher could then find: the page's text
nodes (head and body) except scripts and styles, the ``content`` of its meta
tags and its JSON-LD blocks (both are where trafilatura takes the title
from; JSON-LD also holds the article body of some sites). The tree is parsed
by trafilatura's own ``load_html``, so the page is decoded the same way, and
the same tree is handed to the extraction afterwards (parsed once).

Text nodes are joined by a mark (NODE_BREAK) that the pre-filter reads both
ways: as nothing ("Sed<b>naya</b>" is one word, as an extractor joins inline
elements) and as a space ("a</p><p>b" is two words, as it splits blocks), so
a word of the extracted text is a word of the page whichever way the
extractor joined a node to its neighbours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pipeline.sanitize import clean_external_text, repair_character_references
from pipeline.textnorm import NODE_BREAK

_TEXT = "//text()[not(parent::script) and not(parent::style)]"
_EXTRA = "//meta/@content | //script[@type='application/ld+json']/text()"




@dataclass(frozen=True)
class PageText:
    """The page's texts: ``nodes`` joined by NODE_BREAK (see Vocabulary: a word
    may run across a break, or stop at it), and the meta and JSON-LD texts."""

    tree: Any          # the parsed page (an lxml element), for the extraction
    nodes: str
    extra: str

    def fields(self) -> tuple[str, str]:
        return self.nodes, self.extra


def parse_page(html: bytes) -> Any:
    """The page as trafilatura parses it (None when it is not HTML at all)."""
    from trafilatura.utils import load_html

    try:
        return load_html(repair_character_references(html))
    except Exception:  # noqa: BLE001  trafilatura then fails on it the same way
        return None


def visible_text(tree: Any) -> PageText:
    """Every text of the page an extractor or the title search could use."""
    nodes = [str(s) for s in tree.xpath(_TEXT)]
    extra = [str(s) for s in tree.xpath(_EXTRA)]
    for block in extra[:]:
        if block.lstrip().startswith(("{", "[")):
            extra.extend(_json_strings(block))
    return PageText(tree, clean_external_text(NODE_BREAK.join(nodes)),
                    clean_external_text("\n".join(extra)))


def _json_strings(block: str) -> list[str]:
    """The strings of a JSON-LD block, escapes decoded ("\\u00e9" is é)."""
    try:
        data = json.loads(block)
    except ValueError:
        return []
    out: list[str] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out
