"""news urls: the link to each story, carried to its recommendations

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("news", recreate="never") as news:
        news.add_column(sa.Column("url", sa.Text, nullable=False, server_default=""))  # older rows: no link


def downgrade() -> None:
    with op.batch_alter_table("news", recreate="never") as news:
        news.drop_column("url")
