"""Wave 1: the schema as ``create_all`` made it before Alembic (main at 2909827).

The baseline. Nothing runs here: a database from wave 1 already has this
schema and is stamped 0001 when first opened (``storage.migrate``), and a new
database is created at head from the models and stamped head (Alembic's
"create from scratch" recipe), so no revision ever runs on an empty database.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    raise NotImplementedError("0001 is the baseline: there is nothing before it")
