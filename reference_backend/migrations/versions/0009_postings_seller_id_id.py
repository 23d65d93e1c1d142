"""a seller's postings by id (``ix_postings_seller_id_id``): SQLite finds a list page's ids
by walking the seller's nearest postings in the page's order, a page's worth of rows, not by
sorting every id of the filter's window (see reference_backend/postings/queries.py)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_postings_seller_id_id", "postings", ["seller_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_postings_seller_id_id", table_name="postings")
