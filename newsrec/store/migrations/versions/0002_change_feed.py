"""change feed: seq never reused, event ids unique per user, deletion tombstones, service secret

Revision ID: 0002
Revises: 0001

SQLite reuses max(seq) + 1 after a delete unless the table is AUTOINCREMENT, and a table
cannot be altered into one: news and events are rebuilt with their rows and seq values kept.
PostgreSQL sequences never go back, so there only the event-id constraint changes.
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _news_columns() -> list:
    return [
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("news_id", sa.String(64), nullable=False, unique=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("subcategory", sa.String(64), nullable=False),
        sa.Column("abstract", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    ]


def _event_columns() -> list:
    return [
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("news_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "event_id", name="uq_events_user_event"),
    ]


def _rebuild_sqlite(table: str, columns: list) -> None:
    """Copy `table` into an AUTOINCREMENT twin with the same seq values, then swap them."""
    op.create_table(f"{table}_new", *columns, sqlite_autoincrement=True)
    names = ", ".join(c.name for c in columns if isinstance(c, sa.Column))
    op.execute(f"INSERT INTO {table}_new ({names}) SELECT {names} FROM {table}")
    op.drop_table(table)
    op.rename_table(f"{table}_new", table)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_events_user_seq", "events")
        _rebuild_sqlite("news", _news_columns())
        _rebuild_sqlite("events", _event_columns())
        op.create_index("ix_events_user_seq", "events", ["user_id", "seq"])
    else:
        op.drop_constraint("events_event_id_key", "events", type_="unique")
        op.create_unique_constraint("uq_events_user_event", "events", ["user_id", "event_id"])
    op.create_table(
        "user_deletions",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("user_key", sa.String(64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sqlite_autoincrement=True,
    )
    meta = op.create_table(
        "service_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.bulk_insert(meta, [{"key": "secret", "value": secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_table("service_meta")
    op.drop_table("user_deletions")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("uq_events_user_event", "events", type_="unique")
        op.create_unique_constraint("events_event_id_key", "events", ["event_id"])
