"""The references of feature values and file uses, as SQL sees them, on both backends.

PostgreSQL checks them per statement with triggers (revision 0013), SQLite with its foreign
keys: either way an orphan row is refused, deleting an observation, a feature set or a store
takes the rows that refer to it, a referenced id cannot change, and a writer referring to an
observation and one deleting it are serialised.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

OBS_IDS = [20136, 20137, 20151]


@pytest.fixture
def computed(hess, db_url):
    """HESS with features of three observations; a plain SQLAlchemy engine on it, as a SQL user
    has (SQLite's foreign keys on, as they must be asked for there; disposed after)."""
    hess.compute_features("1 TeV", obs_ids=OBS_IDS, workers=1)
    engine = sa.create_engine(db_url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA foreign_keys = ON"))
    yield engine
    engine.dispose()


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {table: conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
                for table in ("observation", "feature_set", "feature_value", "file_use")}  # fmt: skip


def _ids(engine) -> tuple[int, int, int]:
    """(id of the first observation with values, id of one without, the feature set's id)."""
    with engine.connect() as conn:
        with_values = conn.exec_driver_sql("SELECT min(observation_id) FROM feature_value").scalar_one()
        without = conn.exec_driver_sql(
            "SELECT min(id) FROM observation WHERE id NOT IN (SELECT observation_id FROM feature_value)").scalar_one()
        set_id = conn.exec_driver_sql("SELECT id FROM feature_set").scalar_one()
    return with_values, without, set_id


def _insert_value(conn, set_id: int, observation_id: int) -> None:
    conn.execute(sa.text("INSERT INTO feature_value (feature_set_id, observation_id, feature, unit) "
                         "VALUES (:s, :o, 'extra', '')"), {"s": set_id, "o": observation_id})  # fmt: skip


def _lock_wait(conn, milliseconds: int) -> None:
    """Make ``conn`` give up on a lock after ``milliseconds``."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET lock_timeout = '{milliseconds}ms'")
    else:
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {milliseconds}")
    conn.commit()


def test_an_orphan_row_is_refused_and_nothing_of_its_statement_stays(computed):
    before = _counts(computed)
    _, _, set_id = _ids(computed)
    with computed.connect() as conn, pytest.raises(sa.exc.IntegrityError) as caught:
        with conn.begin():
            conn.execute(sa.text("INSERT INTO feature_value (feature_set_id, observation_id, feature, unit) "
                                 "VALUES (:s, (SELECT min(id) FROM observation), 'extra', ''), "
                                 "(:s, 99999999, 'extra', '')"), {"s": set_id})  # fmt: skip
    message = str(caught.value.orig)
    assert "foreign key" in message.lower() or "FOREIGN KEY" in message
    if computed.dialect.name == "postgresql":
        assert "Key (observation_id)=(99999999) is not present in table \"observation\"" in message
    with computed.connect() as conn, pytest.raises(sa.exc.IntegrityError):
        with conn.begin():
            conn.execute(sa.text("INSERT INTO file_use (observation_id, feature_set_id, path) "
                                 "VALUES ((SELECT min(id) FROM observation), 99999999, '/x')"))  # fmt: skip
    assert _counts(computed) == before


def test_a_pointing_file_use_needs_no_feature_set(computed):
    """``file_use.feature_set_id`` NULL (the pointing's files) is not a reference."""
    _, without, _ = _ids(computed)
    with computed.begin() as conn:
        conn.execute(sa.text("INSERT INTO file_use (observation_id, feature_set_id, path) VALUES (:o, NULL, '/x')"),
                     {"o": without})  # fmt: skip
    assert _counts(computed)["file_use"] == 4


def test_deletes_take_the_rows_that_refer(computed, hess):
    with_values, _, set_id = _ids(computed)
    before = _counts(computed)
    assert (before["feature_value"], before["file_use"]) == (3 * 3, 3)
    with computed.begin() as conn:
        conn.execute(sa.text("DELETE FROM observation WHERE id = :o"), {"o": with_values})
        left = conn.execute(sa.text("SELECT count(*) FROM feature_value WHERE observation_id = :o"),
                            {"o": with_values}).scalar_one()  # fmt: skip
    assert left == 0
    after = _counts(computed)
    assert (after["feature_value"], after["file_use"]) == (2 * 3, 2)
    with computed.begin() as conn:
        conn.execute(sa.text("DELETE FROM feature_set WHERE id = :s"), {"s": set_id})
    assert _counts(computed) == {"observation": 104, "feature_set": 0, "feature_value": 0, "file_use": 0}


def test_removing_the_store_takes_every_value(computed, hess):
    hess.remove_store("hess")
    assert _counts(computed) == {"observation": 0, "feature_set": 1, "feature_value": 0, "file_use": 0}


def test_a_referenced_id_cannot_change(computed):
    with_values, _, set_id = _ids(computed)
    before = _counts(computed)
    for statement, key in (("UPDATE observation SET id = id + 1000000 WHERE id = :k", with_values),
                           ("UPDATE feature_set SET id = id + 1000000 WHERE id = :k", set_id)):  # fmt: skip
        with computed.connect() as conn, pytest.raises(sa.exc.IntegrityError) as caught:
            with conn.begin():
                conn.execute(sa.text(statement), {"k": key})
        if computed.dialect.name == "postgresql":
            assert "refused: table \"feature_value\" refers to it" in str(caught.value.orig)
    assert _counts(computed) == before
    with computed.begin() as conn:  # once nothing refers to it, it may
        conn.exec_driver_sql("DELETE FROM feature_value")
        conn.exec_driver_sql("DELETE FROM file_use")
        conn.execute(sa.text("UPDATE feature_set SET id = id + 1000000 WHERE id = :k"), {"k": set_id})
        assert conn.exec_driver_sql("SELECT id FROM feature_set").scalar_one() == set_id + 1000000


def test_truncating_a_referenced_table(computed):
    """PostgreSQL: refused alone, allowed with the tables that refer to it (as with a constraint).
    SQLite (no TRUNCATE) declares the constraints themselves."""
    if computed.dialect.name == "sqlite":
        with computed.connect() as conn:
            keys = {(row[3], row[2]) for table in ("feature_value", "file_use")
                    for row in conn.exec_driver_sql(f"PRAGMA foreign_key_list({table})")}  # fmt: skip
        assert keys == {("observation_id", "observation"), ("feature_set_id", "feature_set")}
        return
    before = _counts(computed)
    with computed.connect() as conn, pytest.raises(sa.exc.IntegrityError, match="Truncate them together"):
        with conn.begin():
            conn.exec_driver_sql("TRUNCATE feature_set CASCADE")  # groupings: a constraint
    assert _counts(computed) == before
    with computed.connect() as conn:
        with conn.begin() as transaction:
            conn.exec_driver_sql("TRUNCATE feature_value, file_use, feature_set CASCADE")
            assert conn.exec_driver_sql("SELECT count(*) FROM feature_value").scalar_one() == 0
            transaction.rollback()
    assert _counts(computed) == before


def test_a_writer_and_a_deleter_of_the_same_observation_are_serialised(computed):
    """The insert's check locks the observation until its commit: a concurrent delete waits (here
    gives up), then takes the committed row with it; an insert waiting on a delete then fails."""
    _, without, set_id = _ids(computed)
    with computed.connect() as writer, computed.connect() as deleter:
        _lock_wait(writer, 300)
        _lock_wait(deleter, 300)
        with writer.begin():
            _insert_value(writer, set_id, without)
            with pytest.raises(sa.exc.OperationalError), deleter.begin():
                deleter.execute(sa.text("DELETE FROM observation WHERE id = :o"), {"o": without})
        with deleter.begin():
            deleter.execute(sa.text("DELETE FROM observation WHERE id = :o"), {"o": without})
            with pytest.raises(sa.exc.OperationalError), writer.begin():
                _insert_value(writer, set_id, without)
        with pytest.raises(sa.exc.IntegrityError), writer.begin():
            _insert_value(writer, set_id, without)
    with computed.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM feature_value WHERE observation_id = :o"),
                            {"o": without}).scalar_one() == 0  # fmt: skip
