"""Text from outside, made safe once, at the edge where it comes in.

Feeds and pages send anything: NUL (which PostgreSQL refuses in a text column,
so one NUL in a title failed its feed's transaction on every cycle), terminal
escape sequences (colours, cursor moves, OSC-8 hyperlinks, window titles: ``cat``
of a Markdown digest in a terminal would execute them), BEL, lone surrogates
(a JSON feed's ``"\\ud800"``; they cannot even be encoded to UTF-8) and Unicode
non-characters. :func:`clean_external_text` removes them, whole escape
sequences included, before anything is matched, fingerprinted or stored;
:func:`cap_text` bounds a field's length, and
:func:`repair_character_references` mends the bytes of a feed or page whose
``&#…;`` references name no character, so that the parsers keep the rest.

Kept on purpose: tab and newline (line breaks separate a page's furniture from
its text), bidi controls (Arabic text needs its marks; the renderers neutralise
overrides in titles) and invisible formatting characters such as soft hyphens and
zero-width joiners, which the match normaliser ignores (``pipeline/textnorm.py``).
"""

from __future__ import annotations

import re

# Removed or replaced, one character at a time: a bare character class, which re
# scans at C speed (~10 ns a character). The 32 non-characters above the BMP make
# such a class ten times slower, so they are looked for with ``in`` instead.
_UNSAFE_CHAR = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
_ASTRAL_NONCHARACTERS = tuple(chr(plane << 16 | low) for plane in range(1, 17)
                              for low in (0xFFFE, 0xFFFF))
_LINE_BREAKS = {"\r": "\n", "\x0b": "\n", "\x0c": "\n", "\x85": "\n"}
# Escape sequences go whole, their payload with them: OSC (OSC-8 links, window
# titles) up to BEL or ST; DCS, SOS, PM and APC strings up to ST; CSI (colours,
# cursor moves, erase); any other ESC + final byte (ESC c resets); a lone
# introducer. Every sequence starts with ESC or a C1 introducer, matched first so
# that re skips to them at C speed; the lookbehinds then say which one it was.
_ESCAPE_SEQUENCE = re.compile(
    "[\x1b\x90\x98\x9b\x9d\x9e\x9f](?:"
    "(?:(?<=\x1b)\\]|(?<=\x9d))[^\x07\x1b\x9c]{0,4096}(?:\x07|\x1b\\\\|\x9c)"
    "|(?:(?<=\x1b)[PX^_]|(?<=[\x90\x98\x9e\x9f]))[^\x1b\x9c]{0,4096}(?:\x1b\\\\|\x9c)"
    "|(?:(?<=\x1b)\\[|(?<=\x9b))[0-?]{0,64}[ -/]{0,16}[@-~]"
    "|(?<=\x1b)[ -/]{0,16}[0-~]"
    "|)")
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));?")   # HTML lets ";" out


def _replacement(m: re.Match) -> str:
    return _LINE_BREAKS.get(m.group(), "")


def clean_external_text(text: str | None) -> str:
    """``text`` without control characters (tab and newline kept; CR, VT, FF
    and NEL become newlines), terminal escape sequences, lone surrogates and
    non-characters."""
    if not text:
        return ""
    astral = [c for c in _ASTRAL_NONCHARACTERS if c in text]
    if not astral and _UNSAFE_CHAR.search(text) is None:
        return text
    for c in astral:
        text = text.replace(c, "")
    text = _ESCAPE_SEQUENCE.sub("", text)
    return _UNSAFE_CHAR.sub(_replacement, text.replace("\r\n", "\n"))


def clean_line(text: str | None) -> str:
    """One line of text from outside (a title, a name): cleaned, whitespace collapsed."""
    return " ".join(clean_external_text(text).split())


def cap_text(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a space if one is near
    the end, with "…" to show that it was cut."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    cut = text[:limit - 1]
    space = cut.rfind(" ", max(0, len(cut) - 80))
    return (cut[:space] if space > 0 else cut).rstrip() + "…"


def repair_character_references(body: bytes) -> bytes:
    """A feed or page with every numeric character reference to no XML
    character replaced: U+FFFD for a surrogate or a number past U+10FFFF
    (``&#xD800;``, ``&#x110000;``: feedparser raised on them and the whole feed
    was lost), nothing for a control character (``&#x1b;``, ``&#7;``: trafilatura
    gave no text for a page holding one). Done on the bytes, so it covers
    ASCII-compatible encodings (UTF-8, the ISO and Windows code pages); inside
    CDATA it rewrites text that HTML would decode the same way."""
    if b"&#" not in body:
        return body
    return _CHAR_REF.sub(_repaired_reference, body)


def _repaired_reference(m: re.Match) -> bytes:
    hex_digits, digits = m.group(1), m.group(2)
    number = (hex_digits or digits).lstrip(b"0")
    if len(number) > 8:           # past U+10FFFF whatever it says (and no huge int())
        return b"&#xFFFD;"
    cp = int(number or b"0", 16 if hex_digits else 10)
    if cp in (0x9, 0xA, 0xD) or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD \
            or 0x10000 <= cp <= 0x10FFFF:
        return m.group()
    return b"" if 0 < cp < 0x20 else b"&#xFFFD;"
