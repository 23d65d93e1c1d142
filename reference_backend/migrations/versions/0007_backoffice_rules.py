"""the seller's Ozon subscription (buyer chats need Premium Plus); units sold at an action's
price, never above its stock; when an act is formed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sellers") as batch_op:
        batch_op.add_column(sa.Column("subscription", sa.String(length=20), nullable=False,
                                      server_default="PREMIUM_PLUS"))
    with op.batch_alter_table("action_products") as batch_op:
        batch_op.add_column(sa.Column("sold", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_check_constraint(op.f("ck_action_products_sold_within_stock"),
                                        "stock = 0 OR sold <= stock")
    with op.batch_alter_table("acts") as batch_op:  # NULL: formed at once (older acts)
        batch_op.add_column(sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("acts") as batch_op:
        batch_op.drop_column("ready_at")
    with op.batch_alter_table("action_products") as batch_op:
        batch_op.drop_constraint(op.f("ck_action_products_sold_within_stock"), type_="check")
        batch_op.drop_column("sold")
    with op.batch_alter_table("sellers") as batch_op:
        batch_op.drop_column("subscription")
