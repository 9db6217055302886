"""The one exception tree of Newswatch.

Every failure a stage can raise is one of these; third-party exceptions
(httpx, feedparser, trafilatura, SQLAlchemy, YAML) are translated at the
boundary where they happen (``raise FetchError(...) from exc``), so callers
never catch a library's exception. Messages start with the stage and carry
the URL or file they are about: ``fetch: 429 too many requests (https://…)``.

    NewswatchError
    ├── ConfigError              config: a key is missing, malformed or out of range
    └── StageError               "<stage>: <message> (<url or path>)"
        ├── FetchError           fetch: the request did not give a usable body
        │   ├── RefusedURL       fetch: the URL is not allowed (scheme, private address)
        │   ├── HTTPStatusError  fetch: the server answered 4xx/5xx (status, retry_after)
        │   ├── TooLarge         fetch: body (or decoded body) over the size cap
        │   ├── DeadlineExceeded fetch: the whole request took longer than its deadline
        │   └── TooManyRedirects fetch: redirect loop or chain longer than the cap
        ├── FeedError            feeds: the bytes are not a feed (no entries, HTML page …)
        ├── ExtractError         extract: the page gave no article text
        ├── StorageError         storage: the database refused or is locked
        │   └── CycleLocked      storage: another cycle holds the database
        ├── DigestError          digest: the digest could not be written
        ├── DeliveryError        deliver: a notification channel did not take a message
        ├── WebError             web: the reading room cannot be served (port in use …)
        └── OpmlError            opml: a subscriptions file unreadable, not OPML, or hostile
"""

from __future__ import annotations


class NewswatchError(Exception):
    """Base of every error Newswatch raises on purpose.

    Errors cross process boundaries (an extraction worker returns its
    ExtractError in the verdict): they pickle as class, message and
    attributes, so they come back unchanged. Exception's own pickling would
    call ``__init__`` again with the formatted message ("fetch: fetch: x").
    """

    def __reduce__(self):
        return _rebuild, (type(self), str(self), dict(self.__dict__))


def _rebuild(cls: type, message: str, attrs: dict) -> "NewswatchError":
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(attrs)
    return error


class ConfigError(NewswatchError):
    """The configuration is invalid: names the file, the key and the problem."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.file = file
        self.key = key
        self.reason = message
        where = ", ".join(p for p in (file, f"key {key!r}" if key else None) if p)
        super().__init__(f"config: {where}: {message}" if where else f"config: {message}")


class StageError(NewswatchError):
    """A stage's failure about one URL or path: ``"<stage>: <message> (<where>)"``."""

    stage = ""

    def __init__(self, message: str, *, url: str = ""):
        self.url = url     # already stripped of credentials by whoever raises
        self.reason = message
        super().__init__(f"{self.stage}: {message} ({url})" if url else f"{self.stage}: {message}")


class FetchError(StageError):
    """A request failed; ``url`` is the URL asked for, already stripped of credentials."""

    stage = "fetch"


class RefusedURL(FetchError):
    """The URL may not be fetched (scheme, private or loopback address, credentials)."""


class HTTPStatusError(FetchError):
    def __init__(self, message: str, *, url: str = "", status: int = 0,
                 retry_after: float | None = None):
        self.status = status
        self.retry_after = retry_after
        super().__init__(message, url=url)


class TooLarge(FetchError):
    """The body, or its decompressed form, exceeded the configured cap."""


class DeadlineExceeded(FetchError):
    """The request as a whole (connect, headers, every byte) took too long."""


class TooManyRedirects(FetchError):
    """A redirect loop, or more hops than the cap."""


class FeedError(StageError):
    stage = "feeds"


class ExtractError(StageError):
    stage = "extract"


class StorageError(StageError):
    stage = "storage"


class CycleLocked(StorageError):
    """Another process is running a cycle against the same database."""


class DigestError(StageError):
    stage = "digest"

    def __init__(self, message: str, *, path: str = ""):
        self.path = path
        super().__init__(message, url=path)


class DeliveryError(StageError):
    """A channel (email, a chat service, a webhook) did not take a message;
    ``url`` is the channel's redacted form, never its secrets."""

    stage = "deliver"


class WebError(StageError):
    stage = "web"


class OpmlError(StageError):
    """An OPML file that cannot be imported: unreadable, not OPML, or hostile (DTD, entities)."""

    stage = "opml"
