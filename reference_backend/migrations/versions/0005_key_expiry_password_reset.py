"""every API key expires (existing ones a year after they were issued); password-reset tokens;
the accounts' (seller, email) constraint named as the models name it

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: The lifetime given to keys issued before keys had one (the default lifetime of new keys).
LEGACY_KEY_LIFETIME = timedelta(days=365)

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    keys = sa.table("api_keys", sa.column("id", BigId), sa.column("created_at", When),
                    sa.column("expires_at", When))
    bind = op.get_bind()
    unlimited = bind.execute(
        sa.select(keys.c.id, keys.c.created_at).where(keys.c.expires_at.is_(None))).all()
    for key_id, created_at in unlimited:
        bind.execute(keys.update().where(keys.c.id == key_id)
                     .values(expires_at=created_at + LEGACY_KEY_LIFETIME))
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.alter_column("expires_at", existing_type=When, nullable=False)
    with op.batch_alter_table("accounts") as batch_op:  # 0002 named it uq_accounts_seller_id
        batch_op.drop_constraint("uq_accounts_seller_id", type_="unique")
        batch_op.create_unique_constraint("uq_accounts_seller_id_email", ["seller_id", "email"])

    op.create_table(
        "password_reset_tokens",
        sa.Column("id", BigId, nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("used_at", When, nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_password_reset_tokens_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_reset_tokens_token_hash")),
    )
    with op.batch_alter_table("password_reset_tokens") as batch_op:
        batch_op.create_index(batch_op.f("ix_password_reset_tokens_account_id"), ["account_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("password_reset_tokens") as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_reset_tokens_account_id"))
    op.drop_table("password_reset_tokens")
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_constraint("uq_accounts_seller_id_email", type_="unique")
        batch_op.create_unique_constraint("uq_accounts_seller_id", ["seller_id", "email"])
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.alter_column("expires_at", existing_type=When, nullable=True)
