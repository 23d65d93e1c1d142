"""posting tallies: how many postings each (seller, status, warehouse, delivery method) has,
kept by the database (triggers on postings: insert, delete, a change of seller, status,
warehouse or delivery method), so an unfulfilled list's ``count`` is a sum of a few rows
instead of a count of every open posting (see reference_backend/postings/queries.py); the
tallies are filled from the postings there are. ``ix_postings_seller_status`` gets
``shipment_date``: the earliest and latest of a status are then an index probe each (does a
cutoff window cover them all?).

PostgreSQL: concurrent transactions never write the same tally row: a row belongs to the
backend that writes it (``shard = pg_backend_pid()``; a backend runs one transaction at a
time), so concurrent order batches neither queue on nor deadlock over a tally. Reads sum
the shards; the rows of backends gone are folded into shard 0 (:mod:`.postings.tallies`).
SQLite has one writer at a time: shard 0. A posting without a delivery method is tallied
under method -1 (ids are never negative; a key column cannot be NULL).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

KEY = "seller_id, status, warehouse_id, delivery_method_id"
COLUMNS = f"{KEY}, shard, n"
NO_METHOD = -1


def _upsert(n: str) -> str:
    """``ON CONFLICT``: add to the row there is (``n``: how the new row's count is named)."""
    return f"ON CONFLICT ({KEY}, shard) DO UPDATE SET n = {n} + excluded.n"


#: PostgreSQL: inserts and deletes once per statement (transition tables: an order batch's
#: postings are one INSERT), a posting moved (status, ...) once per row, and only then (the
#: ``WHEN`` runs no function for the other updates: tracking numbers, versions, ...).
_MOVED = ("OLD.seller_id IS DISTINCT FROM NEW.seller_id OR OLD.status IS DISTINCT FROM "
          "NEW.status OR OLD.warehouse_id IS DISTINCT FROM NEW.warehouse_id OR "
          "OLD.delivery_method_id IS DISTINCT FROM NEW.delivery_method_id")


def _pg_add(rows: str, sign: str) -> str:
    return f"""INSERT INTO posting_tallies AS t ({COLUMNS})
    SELECT seller_id, status, warehouse_id, coalesce(delivery_method_id, {NO_METHOD}),
           pg_backend_pid(), {sign}count(*)
    FROM {rows} GROUP BY 1, 2, 3, 4
    {_upsert("t.n")};"""


def _pg_row(row: str, sign: str) -> str:
    return (f"({row}.seller_id, {row}.status, {row}.warehouse_id, "
            f"coalesce({row}.delivery_method_id, {NO_METHOD}), pg_backend_pid(), {sign}1)")


POSTGRESQL = [
    f"""CREATE FUNCTION posting_tallies_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_pg_add("new_rows", "")}
    RETURN NULL;
END $$""",
    f"""CREATE FUNCTION posting_tallies_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_pg_add("old_rows", "-")}
    RETURN NULL;
END $$""",
    f"""CREATE FUNCTION posting_tallies_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO posting_tallies AS t ({COLUMNS})
    VALUES {_pg_row("OLD", "-")}, {_pg_row("NEW", "")}
    {_upsert("t.n")};
    RETURN NULL;
END $$""",
    """CREATE FUNCTION posting_tallies_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM posting_tallies;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER posting_tallies_inserted AFTER INSERT ON postings
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION posting_tallies_inserted()""",
    """CREATE TRIGGER posting_tallies_deleted AFTER DELETE ON postings
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION posting_tallies_deleted()""",
    f"""CREATE TRIGGER posting_tallies_moved
AFTER UPDATE OF seller_id, status, warehouse_id, delivery_method_id ON postings
FOR EACH ROW WHEN ({_MOVED}) EXECUTE FUNCTION posting_tallies_moved()""",
    """CREATE TRIGGER posting_tallies_truncated AFTER TRUNCATE ON postings
FOR EACH STATEMENT EXECUTE FUNCTION posting_tallies_truncated()""",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER posting_tallies_truncated ON postings",
    "DROP TRIGGER posting_tallies_moved ON postings",
    "DROP TRIGGER posting_tallies_deleted ON postings",
    "DROP TRIGGER posting_tallies_inserted ON postings",
    "DROP FUNCTION posting_tallies_truncated()",
    "DROP FUNCTION posting_tallies_moved()",
    "DROP FUNCTION posting_tallies_deleted()",
    "DROP FUNCTION posting_tallies_inserted()",
]


def _sqlite_add(row: str, sign: str) -> str:
    return (f"INSERT INTO posting_tallies ({COLUMNS}) VALUES ({row}.seller_id, {row}.status, "
            f"{row}.warehouse_id, coalesce({row}.delivery_method_id, {NO_METHOD}), 0, {sign}1) "
            f"{_upsert('n')};")


#: SQLite: row triggers only; one writer at a time, so one shard (0).
SQLITE = [
    f"""CREATE TRIGGER posting_tallies_inserted AFTER INSERT ON postings
BEGIN {_sqlite_add("NEW", "")} END""",
    f"""CREATE TRIGGER posting_tallies_deleted AFTER DELETE ON postings
BEGIN {_sqlite_add("OLD", "-")} END""",
    f"""CREATE TRIGGER posting_tallies_moved
AFTER UPDATE OF seller_id, status, warehouse_id, delivery_method_id ON postings
FOR EACH ROW WHEN {_MOVED.replace("IS DISTINCT FROM", "IS NOT")}
BEGIN {_sqlite_add("OLD", "-")} {_sqlite_add("NEW", "")} END""",
]
SQLITE_DROP = [f"DROP TRIGGER {name}" for name in (
    "posting_tallies_moved", "posting_tallies_deleted", "posting_tallies_inserted")]

FILL = (f"INSERT INTO posting_tallies ({COLUMNS}) SELECT seller_id, status, warehouse_id, "
        f"coalesce(delivery_method_id, {NO_METHOD}), 0, count(*) FROM postings "
        f"GROUP BY seller_id, status, warehouse_id, coalesce(delivery_method_id, {NO_METHOD})")


def upgrade() -> None:
    op.create_table(
        "posting_tallies",
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("warehouse_id", sa.BigInteger(), nullable=False),
        sa.Column("delivery_method_id", sa.BigInteger(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seller_id", "status", "warehouse_id", "delivery_method_id",
                                "shard", name=op.f("pk_posting_tallies")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL if postgresql else SQLITE:  # (triggers first: on PostgreSQL
        op.execute(statement)  # they lock postings until the fill commits)
    op.execute(FILL)
    op.drop_index("ix_postings_seller_status", table_name="postings")
    op.create_index("ix_postings_seller_status", "postings",
                    ["seller_id", "status", "shipment_date"])


def downgrade() -> None:
    op.drop_index("ix_postings_seller_status", table_name="postings")
    op.create_index("ix_postings_seller_status", "postings", ["seller_id", "status"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_DROP if postgresql else SQLITE_DROP:
        op.execute(statement)
    op.drop_table("posting_tallies")
