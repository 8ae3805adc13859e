"""statement-level foreign keys for feature values and file uses (PostgreSQL)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

On PostgreSQL, the foreign keys of ``feature_value`` and ``file_use`` (to ``observation`` and
``feature_set``) are checked once per statement instead of once per row: a foreign key's trigger
runs one look-up per inserted row (8·10^6 of them for 10^6 observations × 3 features), most of
the time of a bulk write. The triggers keep what the constraints guaranteed:

* an inserted or updated row must refer to existing rows, which are locked ``FOR KEY SHARE``
  until the commit (as a foreign key's check locks them), so nobody deletes them meanwhile;
* deleting observations or feature sets deletes the rows that refer to them (``ON DELETE
  CASCADE``), in one statement per child table;
* changing a referenced id is refused, and so is truncating a referenced table unless the
  tables referring to it are truncated with it (the check runs after the truncation, then).

SQLite keeps its foreign keys (their checks are cheap there): nothing changes on SQLite.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (child table, column, parent table): the keys checked per statement.
KEYS = [
    ("feature_value", "observation_id", "observation"),
    ("feature_value", "feature_set_id", "feature_set"),
    ("file_use", "observation_id", "observation"),
    ("file_use", "feature_set_id", "feature_set"),
]
PARENTS = ["observation", "feature_set"]

FUNCTIONS = r"""
CREATE FUNCTION obscat_check_key() RETURNS trigger LANGUAGE plpgsql AS $$
-- After INSERT or UPDATE of a child table, per statement: TG_ARGV = (column, parent table).
-- Locks the referenced rows FOR KEY SHARE and refuses the statement if one is missing.
DECLARE
    wanted bigint;
    found bigint;
    missing text;
BEGIN
    EXECUTE format('SELECT count(DISTINCT %I) FROM new_rows', TG_ARGV[0]) INTO wanted;
    IF wanted = 0 THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %2$I p WHERE p.id IN (SELECT %1$I FROM new_rows) '
                   'FOR KEY SHARE OF p) locked', TG_ARGV[0], TG_ARGV[1]) INTO found;
    IF found < wanted THEN
        EXECUTE format('SELECT n.%1$I::text FROM new_rows n WHERE n.%1$I IS NOT NULL AND NOT EXISTS '
                       '(SELECT 1 FROM %2$I p WHERE p.id = n.%1$I) LIMIT 1', TG_ARGV[0], TG_ARGV[1]) INTO missing;
        RAISE EXCEPTION 'insert or update on table "%" violates foreign key "fk_%_%_%"', TG_TABLE_NAME,
              TG_TABLE_NAME, TG_ARGV[0], TG_ARGV[1]
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (%s)=(%s) is not present in table "%s".', TG_ARGV[0], missing, TG_ARGV[1]);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION obscat_cascade_delete() RETURNS trigger LANGUAGE plpgsql AS $$
-- After DELETE of a parent table, per statement: TG_ARGV = (child table, column) pairs.
BEGIN
    FOR i IN 0 .. TG_NARGS / 2 - 1 LOOP
        EXECUTE format('DELETE FROM %I WHERE %I IN (SELECT id FROM old_rows)', TG_ARGV[2 * i], TG_ARGV[2 * i + 1]);
    END LOOP;
    RETURN NULL;
END $$;

CREATE FUNCTION obscat_restrict_key() RETURNS trigger LANGUAGE plpgsql AS $$
-- Before a parent row's id changes (per row), after the parent is truncated (per statement):
-- refused while a row of a child table refers to it. TG_ARGV = (child table, column) pairs.
DECLARE
    referenced boolean;
BEGIN
    FOR i IN 0 .. TG_NARGS / 2 - 1 LOOP
        IF TG_OP = 'TRUNCATE' THEN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', TG_ARGV[2 * i]) INTO referenced;
        ELSE
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I = $1)', TG_ARGV[2 * i], TG_ARGV[2 * i + 1])
                INTO referenced USING OLD.id;
        END IF;
        IF referenced AND TG_OP = 'TRUNCATE' THEN
            RAISE EXCEPTION 'TRUNCATE on table "%" refused: table "%" refers to its rows', TG_TABLE_NAME,
                  TG_ARGV[2 * i] USING ERRCODE = 'foreign_key_violation', HINT = 'Truncate them together.';
        ELSIF referenced THEN
            RAISE EXCEPTION 'update of id % on table "%" refused: table "%" refers to it', OLD.id, TG_TABLE_NAME,
                  TG_ARGV[2 * i] USING ERRCODE = 'foreign_key_violation';
        END IF;
    END LOOP;
    RETURN CASE WHEN TG_OP = 'TRUNCATE' THEN NULL ELSE NEW END;
END $$;
"""


def _children(parent: str) -> str:
    return ", ".join(f"'{child}', '{column}'" for child, column, p in KEYS if p == parent)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for child, column, parent in KEYS:
        op.drop_constraint(f"fk_{child}_{column}_{parent}", child, type_="foreignkey")
    op.execute(FUNCTIONS)
    for child, column, parent in KEYS:
        for event in ("INSERT", "UPDATE"):
            op.execute(f"CREATE TRIGGER check_{column}_on_{event.lower()} AFTER {event} ON {child} "
                       f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
                       f"EXECUTE FUNCTION obscat_check_key('{column}', '{parent}')")  # fmt: skip
    for parent in PARENTS:
        children = _children(parent)
        op.execute(f"CREATE TRIGGER cascade_delete AFTER DELETE ON {parent} REFERENCING OLD TABLE AS old_rows "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION obscat_cascade_delete({children})")  # fmt: skip
        op.execute(f"CREATE TRIGGER restrict_id_update BEFORE UPDATE OF id ON {parent} FOR EACH ROW "
                   f"WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION obscat_restrict_key({children})")  # fmt: skip
        op.execute(f"CREATE TRIGGER restrict_truncate AFTER TRUNCATE ON {parent} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION obscat_restrict_key({children})")  # fmt: skip


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for parent in PARENTS:
        for trigger in ("cascade_delete", "restrict_id_update", "restrict_truncate"):
            op.execute(f"DROP TRIGGER {trigger} ON {parent}")
    for child, column, _ in KEYS:
        for event in ("insert", "update"):
            op.execute(f"DROP TRIGGER check_{column}_on_{event} ON {child}")
    op.execute("DROP FUNCTION obscat_check_key(), obscat_cascade_delete(), obscat_restrict_key()")
    for child, column, parent in KEYS:
        op.create_foreign_key(f"fk_{child}_{column}_{parent}", child, parent, [column], ["id"], ondelete="CASCADE")
