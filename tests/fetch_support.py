"""Calling the fetch stage once from a test: a config for loopback servers,
and ``fetch`` / ``fetch_error`` that run one request in their own event loop."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.config import NetworkConfig
from pipeline.errors import FetchError
from pipeline.fetch import Fetcher

UA = "Newswatch-test/1.0 (+https://example.org/newswatch)"


def cfg(**overrides) -> NetworkConfig:
    """Loopback servers are private addresses: tests allow them unless they test refusal."""
    base = dict(allow_private_addresses=True, connect_timeout=1.0, read_timeout=2.0,
                deadline=2.0, max_bytes=100_000, max_redirects=5, user_agent=UA)
    return NetworkConfig(**{**base, **overrides})


def fetch(url: str, config: NetworkConfig | None = None, **kwargs):
    async def go():
        async with Fetcher(config or cfg()) as fetcher:
            return await fetcher.fetch(url, **kwargs)
    return asyncio.run(go())


def fetch_error(url: str, config: NetworkConfig | None = None, **kwargs) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(url, config, **kwargs)
    return info.value
