"""What the trust tests (test_trust_cycle.py, test_trust_clock.py) share: a fault
server, a pipeline opened on a config, article pages around real-looking reports."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone

import pytest

import storage
from faultserver import FaultServer
from newsweb import page_around, rss
from pipeline.config import load_settings
from pipeline.cycle import open_pipeline

T0 = datetime(2030, 3, 1, 8, 0, tzinfo=timezone.utc)
REPORT = [
    "Families of detainees gathered outside the prison on Monday to read lists of names "
    "that activists say were found in the records of the Tadamon branch in Damascus.",
    "Relatives of people held in Syrian prisons for years said they had no word of their "
    "sons and daughters, and asked the new authorities to open every file they hold.",
    "Lawyers who document enforced disappearance said the lists were incomplete and urged "
    "families to register their missing relatives with the independent commission.",
]
SECOND_REPORT = [
    "A second batch of documents from Tadamon was handed to a committee of former "
    "detainees on Thursday, according to a statement published by the committee.",
    "Volunteers spent the night photographing prison ledgers, transfer orders and "
    "interrogation logs, which they plan to publish in a searchable archive online.",
    "The committee said it would compare the names against the thousands of reports of "
    "missing people it has collected since the first prisons were opened in December.",
]


@pytest.fixture
def srv():
    with FaultServer() as server:
        yield server


@contextmanager
def running(cfg, env):
    settings = load_settings(cfg, env=env)
    store = storage.open_store(settings.database_url)
    pipeline = open_pipeline(settings, store)
    try:
        yield pipeline
    finally:
        pipeline.close()
        store.close()


def page(title: str, extra: str = "") -> bytes:
    return page_around(title, [*REPORT, extra] if extra else REPORT).encode()


def feed_xml(items: list[dict]) -> bytes:
    return rss("Wire", items).encode()


def stored(store) -> dict[str, storage.StoredItem]:
    return {i.url: i for i in storage.all_items(store)}
