"""Wave 2: Google News aliases and an item's other feeds, the retention store
for rematch, replicas' leases and heartbeats (new tables); moved, gone and
dead feeds and each feed's pace (``feeds``); when rematch found an item
(``items``). Only additions: nothing of wave 1 is rewritten.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    _new_tables()
    with op.batch_alter_table("feeds") as feeds:
        feeds.add_column(sa.Column("moved_to", sa.Text(), nullable=True))
        feeds.add_column(sa.Column("gone_at", UTC, nullable=True))
        feeds.add_column(sa.Column("not_found_count", sa.Integer(), server_default="0",
                                   nullable=False))
        feeds.add_column(sa.Column("dead_since", UTC, nullable=True))
        feeds.add_column(sa.Column("poll_every", sa.Float(), nullable=True))
        feeds.add_column(sa.Column("newest_entry_at", UTC, nullable=True))
    with op.batch_alter_table("items") as items:
        items.add_column(sa.Column("first_seen_at", UTC, nullable=True))


def _new_tables() -> None:
    op.create_table("link_aliases",
                    sa.Column("alias", sa.String(), primary_key=True),
                    sa.Column("url", sa.Text(), nullable=True),
                    sa.Column("status", sa.String(), nullable=False),
                    sa.Column("attempts", sa.Integer(), nullable=False),
                    sa.Column("last_error", sa.Text(), nullable=True),
                    sa.Column("updated_at", UTC, nullable=False))
    op.create_table("item_sources",
                    sa.Column("url", sa.String(), primary_key=True),
                    sa.Column("feed_url", sa.String(), primary_key=True),
                    sa.Column("feed_name", sa.String(), nullable=False),
                    sa.Column("seen_at", UTC, nullable=False))
    op.create_table("retained",
                    sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id"),
                              primary_key=True),
                    sa.Column("kind", sa.String(), nullable=False),
                    sa.Column("codec", sa.String(), nullable=False),
                    sa.Column("data", sa.LargeBinary(), nullable=False),
                    sa.Column("seen_at", UTC, nullable=False))
    op.create_index("ix_retained_seen_at", "retained", ["seen_at"])
    op.create_table("feed_leases",
                    sa.Column("feed_url", sa.String(), primary_key=True),
                    sa.Column("claimed_by", sa.String(), nullable=True),
                    sa.Column("lease_until", UTC, nullable=True))
    op.create_index("ix_feed_leases_lease_until", "feed_leases", ["lease_until"])
    op.create_table("replicas",
                    sa.Column("id", sa.String(), primary_key=True),
                    sa.Column("started_at", UTC, nullable=False),
                    sa.Column("last_seen", UTC, nullable=False),
                    sa.Column("last_cycle_at", UTC, nullable=True),
                    sa.Column("last_summary", sa.Text(), nullable=True))


def downgrade() -> None:
    # back to wave 1 (tests use it to prove the upgrade on PostgreSQL). Plain DROP
    # COLUMN (SQLite >= 3.35), not a batch copy: with foreign keys on, SQLite
    # refuses to drop and recreate ``items``, which alerts refer to
    for table in ("replicas", "feed_leases", "retained", "item_sources", "link_aliases"):
        op.drop_table(table)
    op.drop_column("items", "first_seen_at")
    for column in ("newest_entry_at", "poll_every", "dead_since", "not_found_count",
                   "gone_at", "moved_to"):
        op.drop_column("feeds", column)
