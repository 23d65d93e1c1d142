"""a version on each posting, changed by the database on every write that changes what a
posting list shows of it: the posting's row, its lines, its warehouse's name, its delivery
method (triggers, so no writer can miss it); a list page is then known by its postings' ids
and versions (see reference_backend/postings/pages.py)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: PostgreSQL: a posting's own update bumps its version in place (BEFORE UPDATE); writes to
#: lines bump their postings once per statement (transition tables: one UPDATE for a batch),
#: except postings this transaction wrote itself (``xmin``: inserted, or updated and so bumped
#: already): an order's lines inserted with their new posting cost no UPDATE.
_NOT_OURS = "AND xmin <> pg_current_xact_id()::xid"
POSTGRESQL = [
    """CREATE FUNCTION postings_next_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END $$""",
    """CREATE TRIGGER postings_version BEFORE UPDATE ON postings
FOR EACH ROW EXECUTE FUNCTION postings_next_version()""",
    f"""CREATE FUNCTION posting_items_touch_postings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE postings SET version = version + 1
        WHERE id IN (SELECT posting_id FROM new_rows) {_NOT_OURS};
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE postings SET version = version + 1
        WHERE id IN (SELECT posting_id FROM old_rows) {_NOT_OURS};
    ELSE
        UPDATE postings SET version = version + 1
        WHERE id IN (SELECT posting_id FROM new_rows UNION SELECT posting_id FROM old_rows)
        {_NOT_OURS};
    END IF;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER posting_items_inserted AFTER INSERT ON posting_items
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION posting_items_touch_postings()""",
    """CREATE TRIGGER posting_items_updated AFTER UPDATE ON posting_items
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION posting_items_touch_postings()""",
    """CREATE TRIGGER posting_items_deleted AFTER DELETE ON posting_items
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION posting_items_touch_postings()""",
    """CREATE FUNCTION warehouses_touch_postings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE postings SET version = version + 1 WHERE warehouse_id = NEW.warehouse_id;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER warehouses_renamed AFTER UPDATE OF name ON warehouses
FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
EXECUTE FUNCTION warehouses_touch_postings()""",
    """CREATE FUNCTION delivery_methods_touch_postings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE postings SET version = version + 1 WHERE delivery_method_id = NEW.id;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER delivery_methods_changed AFTER UPDATE ON delivery_methods
FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
EXECUTE FUNCTION delivery_methods_touch_postings()""",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER delivery_methods_changed ON delivery_methods",
    "DROP FUNCTION delivery_methods_touch_postings()",
    "DROP TRIGGER warehouses_renamed ON warehouses",
    "DROP FUNCTION warehouses_touch_postings()",
    "DROP TRIGGER posting_items_deleted ON posting_items",
    "DROP TRIGGER posting_items_updated ON posting_items",
    "DROP TRIGGER posting_items_inserted ON posting_items",
    "DROP FUNCTION posting_items_touch_postings()",
    "DROP TRIGGER postings_version ON postings",
    "DROP FUNCTION postings_next_version()",
]

#: SQLite: row triggers only. A posting's update that left its version alone bumps it (the
#: ``WHEN`` keeps the trigger from firing again on its own update).
_BUMP = "UPDATE postings SET version = version + 1 WHERE"
SQLITE = [
    f"""CREATE TRIGGER postings_version AFTER UPDATE ON postings
FOR EACH ROW WHEN NEW.version = OLD.version
BEGIN {_BUMP} id = NEW.id; END""",
    f"""CREATE TRIGGER posting_items_inserted AFTER INSERT ON posting_items
BEGIN {_BUMP} id = NEW.posting_id; END""",
    f"""CREATE TRIGGER posting_items_updated AFTER UPDATE ON posting_items
BEGIN {_BUMP} id IN (NEW.posting_id, OLD.posting_id); END""",
    f"""CREATE TRIGGER posting_items_deleted AFTER DELETE ON posting_items
BEGIN {_BUMP} id = OLD.posting_id; END""",
    f"""CREATE TRIGGER warehouses_renamed AFTER UPDATE OF name ON warehouses
FOR EACH ROW WHEN OLD.name IS NOT NEW.name
BEGIN {_BUMP} warehouse_id = NEW.warehouse_id; END""",
    f"""CREATE TRIGGER delivery_methods_changed AFTER UPDATE ON delivery_methods
BEGIN {_BUMP} delivery_method_id = NEW.id; END""",
]
SQLITE_DROP = [f"DROP TRIGGER {name}" for name in (
    "delivery_methods_changed", "warehouses_renamed", "posting_items_deleted",
    "posting_items_updated", "posting_items_inserted", "postings_version")]


def upgrade() -> None:
    with op.batch_alter_table("postings") as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False,
                                      server_default="0"))
    for statement in POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name != "postgresql"
    for statement in SQLITE_DROP if sqlite else POSTGRESQL_DROP:
        op.execute(statement)
    with op.batch_alter_table("postings") as batch_op:
        batch_op.drop_column("version")
