"""deployments: which models serve to what share of users; news rows name their vector's encoder

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("news", recreate="never") as news:
        news.add_column(sa.Column("encoder_id", sa.String(256), nullable=True))  # older rows: unknown, re-encoded
    op.create_table(
        "deployments",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("arms", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("deployments")
    with op.batch_alter_table("news", recreate="never") as news:
        news.drop_column("encoder_id")
