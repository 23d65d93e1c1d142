"""buyer regions' real names: a seller's ``buyer_regions`` (region code -> city and region
as a posting's ``analytics_data`` reports them) and the names on each posting

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "buyer_regions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("seller_id", BigId, nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"],
                                name=op.f("fk_buyer_regions_seller_id_sellers"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buyer_regions")),
        sa.UniqueConstraint("seller_id", "code", name=op.f("uq_buyer_regions_seller_id_code")),
    )
    # postings made before show their region code, as they did (the serializer's fallback)
    for column in ("buyer_city", "buyer_region"):
        op.add_column("postings", sa.Column(column, sa.String(length=100), nullable=False,
                                            server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("postings") as batch_op:
        batch_op.drop_column("buyer_region")
        batch_op.drop_column("buyer_city")
    op.drop_table("buyer_regions")
