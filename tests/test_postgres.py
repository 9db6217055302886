"""The same cycle on a real PostgreSQL server (DATABASE_URL=postgresql+psycopg://…).

A throw-away cluster is created with initdb in a temporary folder and started
on a Unix socket only. `.ci/run` installs PostgreSQL and sets
NEWSWATCH_REQUIRE_POSTGRES=1 so that CI fails rather than skips here.
"""

import pytest

import storage
from storage_helpers import count_items, duplicate_url_count
from conftest import write_config
from newsweb import article_pages, rss
from pipeline.config import load_settings
from pipeline.cycle import open_pipeline, run_cycle
from pgcluster import postgres_url  # noqa: F401,E402  (the fixture, shared)


def test_cycle_on_postgres(postgres_url, web, tmp_path):
    pages = article_pages()
    prison = next(v for k, v in pages.items() if k.startswith("c58aa507"))
    gaming = next(v for k, v in pages.items() if k.startswith("042bb7"))
    web.add("/a/1", prison)
    web.add("/a/2", gaming)
    web.add("/feed.xml", rss("F", [{"title": "Prison officers charged", "link": web.url("/a/1")},
                                   {"title": "Games", "link": web.url("/a/2")},
                                   {"title": "Again", "link": web.url("/a/1?utm_source=x")}]),
            content_type="application/rss+xml")
    settings = load_settings(write_config(tmp_path, [{"name": "F", "url": web.url("/feed.xml")}]),
                             env={"DATABASE_URL": postgres_url,
                                  "NEWSWATCH_OUTPUT_DIR": str(tmp_path / "out")})
    store = storage.open_store(settings.database_url)
    assert store.engine.dialect.name == "postgresql"
    for _ in range(2):
        pipeline = open_pipeline(settings, store)
        try:
            summary = run_cycle(pipeline)
        finally:
            pipeline.close()
    assert count_items(store) == 3 and duplicate_url_count(store) == 0
    assert count_items(store, "new") == 1 and count_items(store, "off_topic") == 1
    assert summary.feeds_not_modified == 1 and len(web.requests_to("/a/1")) == 1
    with storage.cycle_lock(store):
        with pytest.raises(storage.CycleLocked):
            with storage.cycle_lock(store, wait=0.3):
                pass


def test_outbox_on_postgres(postgres_url, tmp_path):
    """The outbox's conditional claims (UPDATE … RETURNING) and ON CONFLICT on PostgreSQL."""
    from datetime import timedelta

    from receivers import WebhookReceiver
    from test_deliver import AFTER_CYCLE, fill, settings_for

    from pipeline import deliver

    hooks = WebhookReceiver(failures=1)
    settings = settings_for(tmp_path, {"DATABASE_URL": postgres_url,
                                       "NEWSWATCH_OUTPUT_DIR": str(tmp_path / "out")},
                            {"alerts": [hooks.url()], "group_above": 1})
    store = storage.open_store(settings.database_url)
    try:
        fill(store)
        assert deliver.after_cycle(settings, store, now=AFTER_CYCLE).failed
        assert deliver.after_cycle(settings, store, now=AFTER_CYCLE + timedelta(hours=1)).sent
        assert not deliver.after_cycle(settings, store, now=AFTER_CYCLE + timedelta(hours=2)).sent
        assert len(hooks.wait_for(1)) == 1 and not storage.delivery_counts(store).get("pending")
    finally:
        store.close()
        hooks.stop()
