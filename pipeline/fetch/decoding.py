"""Content-Encoding decoding for the fetch stage, bounded as it goes.

httpx would decode a gzip body in chunks of any size (one decoded chunk can be
tens of MB from a few KB on the wire): here the caller passes how many bytes it
will still accept, and no more than that is ever inflated, so a gzip bomb is cut
off at the size cap instead of filling memory.
"""

from __future__ import annotations

import zlib

from pipeline.errors import FetchError

# codings a server may send but that we never asked for and cannot decode
UNDECODABLE_CODINGS = frozenset({"br", "zstd", "compress", "x-compress", "sdch",
                                 "pack200-gzip", "aes128gcm", "exi"})


class Identity:
    """No Content-Encoding: the bytes as sent."""

    compressed = False

    def decode(self, data: bytes, limit: int) -> bytes:
        return data


class Inflate:
    """gzip or deflate, decoded a bounded amount at a time."""

    compressed = True

    def __init__(self, gzip: bool):
        self._gzip = gzip
        self._start = b""            # deflate: the first bytes, until the header is known
        self._zlib = zlib.decompressobj(31) if gzip else None
        self._done = False

    def decode(self, data: bytes, limit: int) -> bytes:
        if self._zlib is None:
            # "deflate" should be zlib-wrapped; some servers send it raw.
            self._start += data
            if len(self._start) < 2:
                return b""
            cmf, flg = self._start[0], self._start[1]
            zlib_wrapped = cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
            self._zlib = zlib.decompressobj(15 if zlib_wrapped else -15)
            data, self._start = self._start, b""
        out: list[bytes] = []
        while data and limit > 0 and not self._done:
            chunk = self._zlib.decompress(data, limit)
            out.append(chunk)
            limit -= len(chunk)
            if not self._zlib.eof:
                break  # all input taken, or the limit reached (the caller refuses it)
            data = self._zlib.unused_data
            if self._gzip and data[:2] == b"\x1f\x8b":
                self._zlib = zlib.decompressobj(31)  # the next member of a multi-member gzip
            else:
                self._done = True  # trailing junk after the stream is ignored
        return b"".join(out)


def decoder_for(header: str | None, shown: str, where: str) -> Identity | Inflate:
    codings = [c.strip().lower() for c in (header or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return Identity()
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return Inflate(gzip=codings[0] != "deflate")
    if len(codings) > 1 or codings[0] in UNDECODABLE_CODINGS:
        raise FetchError(f"server sent Content-Encoding {header[:40]!r}; only gzip or "
                         f"deflate were asked for{where}", url=shown)
    # Misconfigured servers put charsets or "none" here; the bytes are as sent.
    return Identity()
