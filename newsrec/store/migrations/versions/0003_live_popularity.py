"""live popularity: impressions, anonymous tallies of views and clicks, clicks name their impression

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("events", recreate="never") as events:
        events.add_column(sa.Column("impression_id", sa.String(128), nullable=True))
    op.create_table(
        "impressions",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("impression_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("news_ids", sa.Text, nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.UniqueConstraint("user_id", "impression_id", name="uq_impressions_user_impression"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "tallies",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("news_ids", sa.Text, nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("tallies")
    op.drop_table("impressions")
    with op.batch_alter_table("events", recreate="never") as events:
        events.drop_column("impression_id")
