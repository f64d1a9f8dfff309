"""counted traffic: which impressions and clicks count toward popularity, and when each arrived

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

EPOCH = "1970-01-01 00:00:00"


def upgrade() -> None:
    for table in ("events", "impressions"):
        with op.batch_alter_table(table, recreate="never") as t:
            # older rows: counted as they were (every logged impression, every click naming one)
            t.add_column(sa.Column("counted", sa.Boolean, nullable=False, server_default=sa.true()))
            # older rows: received long before any counting window (SQLite adds no column defaulting to now)
            t.add_column(sa.Column("received_at", sa.DateTime(timezone=True), server_default=EPOCH, nullable=False))
    op.create_index("ix_events_user_counted", "events", ["user_id", "counted", "received_at"])
    op.create_index("ix_impressions_user_counted", "impressions", ["user_id", "counted", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_impressions_user_counted", "impressions")
    op.drop_index("ix_events_user_counted", "events")
    for table in ("events", "impressions"):
        with op.batch_alter_table(table, recreate="never") as t:
            t.drop_column("received_at")
            t.drop_column("counted")
