"""The charset a feed really uses, when the one it declares does not fit its bytes.

Servers lie: an Arabic feed sent as Windows-1256 under ``charset=utf-8``, or
UTF-8 bytes under ``charset=iso-8859-1``. feedparser's own fallbacks end in
Windows-1252, which decodes any byte, so such a feed parsed "fine" into mojibake
and matched nothing. ``fit_charset`` checks the declared charset first (a strict
decode, near-free: ``bench/charset_cost.py``); only when it fails, or a single-byte
charset reads as nonsense, does charset-normalizer detect the real one, and the
body is handed on as UTF-8 with a note saying what was done.
"""

from __future__ import annotations

import codecs
import re

_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_UTF = ("utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_MESSY = 0.2          # charset-normalizer's mess ratio above which text is mojibake
_SAMPLE = 64 * 1024   # bytes of a single-byte feed judged for mess


def fit_charset(body: bytes, charset: str | None) -> tuple[bytes, str | None, str | None]:
    """(body, charset to declare to the parser, note) for XML feed bytes.

    The body is returned unchanged when the declared charset (the header's, else
    the XML declaration's, else UTF-8) decodes it; otherwise it is re-encoded as
    UTF-8 from the detected charset, and the note says so.
    """
    if body.isascii() or body.startswith(_BOMS):
        return body, charset, None
    in_header, in_xml = _codec(charset), _codec(_xml_declared(body))
    declared = in_header or in_xml or "utf-8"
    if _reads_well(body, declared):
        return body, charset, None
    said = f"declared {declared}" if (in_header or in_xml) else "no charset declared"
    if in_xml and in_xml != declared and _reads_well(body, in_xml):
        detected = in_xml     # the header lied, the document's own declaration did not
    else:
        detected = _detect(body, declared)
    if detected is None:
        return body, charset, f"charset: {said}, but the bytes are not {declared} and no " \
                              "charset was detected; the parser's fallback read it"
    text = body.decode(detected, errors="replace")
    fixed = _XML_ENCODING.sub(lambda m: m.group(0).replace(m.group(1), b"utf-8"),
                              text.encode("utf-8"), count=1)
    how = "as its XML declaration says" if detected == in_xml else "detected"
    return fixed, "utf-8", f"charset: {said}, but the bytes are {detected} ({how}); read as {detected}"


def _codec(name: str | bytes | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.decode("ascii") if isinstance(name, bytes) else name).name
    except (LookupError, UnicodeDecodeError):
        return None


def _xml_declared(body: bytes) -> bytes | None:
    found = _XML_ENCODING.match(body[:256])
    return found.group(1) if found else None


def _reads_well(body: bytes, codec: str) -> bool:
    """A strict decode for the multi-byte charsets; for the single-byte ones, where
    any byte decodes, valid UTF-8 beats the declaration (text that is valid UTF-8 by
    chance is vanishingly rare) and a text judged mojibake does not read well."""
    try:
        text = body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    if codec in _UTF or _is_multibyte(codec):
        return True
    if _is_utf8(body):
        return False
    from charset_normalizer.md import mess_ratio

    return mess_ratio(text[:_SAMPLE], maximum_threshold=1.0) < _MESSY


def _detect(body: bytes, declared: str) -> str | None:
    if declared not in _UTF and _is_utf8(body):
        return "utf-8"
    from charset_normalizer import from_bytes   # imported only for the rare lying feed

    best = from_bytes(body).best()
    return _codec(best.encoding) if best is not None else None


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_multibyte(codec: str) -> bool:
    # a strict decode failing is a real signal only where byte sequences have rules
    return codec.startswith(("gb", "big5", "shift_jis", "euc", "iso2022", "cp932", "cp949",
                             "cp950", "hz", "johab"))
