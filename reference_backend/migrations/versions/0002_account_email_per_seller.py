"""an account's email is unique within its seller, not across sellers

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_constraint("uq_accounts_email", type_="unique")
        batch_op.create_unique_constraint("uq_accounts_seller_id", ["seller_id", "email"])
        batch_op.create_index("ix_accounts_email", ["email"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_index("ix_accounts_email")
        batch_op.drop_constraint("uq_accounts_seller_id", type_="unique")
        batch_op.create_unique_constraint("uq_accounts_email", ["email"])
