"""Renderers of the digest model: each takes a :class:`Digest` and returns text.

They read nothing but the model, so every format says the same thing; a new output (an
email body, a feed, a web page) is one more function here over the same model.

The model already holds only safe links and text without bidi controls. What is left is
each format's own escaping: HTML is autoescaped, sent with a Content-Security-Policy that
forbids scripts and remote loads, and every element holding feed text has ``dir="auto"``
so an Arabic title reads right to left without turning its neighbours around; Markdown
stays plain text with every character Markdown or HTML could act on escaped.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict

from jinja2 import Environment, PackageLoader, select_autoescape

from pipeline.digest.model import Digest

# Inline Markdown and HTML only: feed text never starts a line here (it follows
# "- ", "> " or "**"), so block markers such as "-", "+", "." need no escape.
_MD_SPECIAL = set("\\`*_[]()#!|<>~&$")


def md_text(value: str) -> str:
    """Markdown-neutral text: every character Markdown or HTML could act on is escaped."""
    value = re.sub(r"\s+", " ", str(value))
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in value)


def md_link_target(url: str | None) -> str:
    return (url or "").replace("(", "%28").replace(")", "%29").replace(" ", "%20") \
        .replace("<", "%3C").replace(">", "%3E")


_html_env = Environment(loader=PackageLoader("pipeline.digest", "templates"),
                        autoescape=select_autoescape(["html", "j2"], default=True),
                        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
_md_env = Environment(loader=PackageLoader("pipeline.digest", "templates"), autoescape=False,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
_md_env.filters.update(md=md_text, md_url=md_link_target)


def render_markdown(digest: Digest) -> str:
    return _md_env.get_template("digest.md.j2").render(d=digest)


def render_html(digest: Digest) -> str:
    return _html_env.get_template("digest.html.j2").render(d=digest)


def render_json(digest: Digest) -> str:
    return json.dumps(asdict(digest), ensure_ascii=False, indent=2) + "\n"


RENDERERS = {"md": render_markdown, "html": render_html, "json": render_json}


def render(digest: Digest) -> dict[str, str]:
    """Every format, by file suffix."""
    return {suffix: to_text(digest) for suffix, to_text in RENDERERS.items()}
