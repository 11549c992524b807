"""The schema the numbered migrations build is the one the models describe: the same tables,
columns, column types, nullability, defaults, indexes and foreign keys, read back from the
database with playhouse.reflection. It runs on the backend DATABASE_URL names, so `make test`
checks SQLite and then PostgreSQL. (playhouse.schema_diff alone would not do: it compares
column names, never their types or nullability.)"""

import os
import re
from contextlib import contextmanager

import pytest
from playhouse.db_url import connect
from playhouse.reflection import Introspector

from models import base

OWN_BOOKKEEPING = {"schema_migration"}  # the migrations runner's record of what it applied


@contextmanager
def _bound(database):
    """The models' proxy pointed at `database` for a while; the suite's database after."""
    previous = base.db.obj
    base.db.initialize(database)
    try:
        yield database
    finally:
        base.db.initialize(previous)


@pytest.fixture
def empty_databases(tmp_path):
    """Two empty databases on the configured backend: SQLite files, or two PostgreSQL
    schemas of the configured database, each reached through its own search_path."""
    url = os.environ["DATABASE_URL"]
    if url.startswith("sqlite"):
        made = [connect(f"sqlite:///{tmp_path / name}.db", pragmas={"foreign_keys": 1})
                for name in ("migrated", "modelled")]
        yield made
        for database in made:
            database.close()
        return
    admin = connect(url)
    schemas = [f"schema_check_{os.getpid()}_{name}" for name in ("migrated", "modelled")]
    for schema in schemas:
        admin.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
    made = [connect(url, options=f"-c search_path={schema}") for schema in schemas]
    try:
        yield made
    finally:
        for database in made:
            database.close()
        for schema in schemas:
            admin.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


def _where(index) -> str:
    """A partial index's condition, as the database prints it ('' for a plain index)."""
    found = re.search(r"\)\s*WHERE\s+(.*)$", index.sql or "", re.I | re.S)
    return found.group(1).strip() if found else ""


def _schema(database) -> dict[str, dict[str, object]]:
    """{table: {"column x" / "index (a, b)" / "foreign key x": what the database says}}."""
    found = Introspector.from_database(database).introspect()
    described = {}
    for table, columns in found.columns.items():
        if table in OWN_BOOKKEEPING:
            continue
        entries = {}
        for name, column in columns.items():  # keyed by the column's own name
            entries[f"column {name}"] = (
                column.field_class.__name__, column.raw_column_type, column.extra_parameters,
                "null" if column.nullable else "not null",
                "primary key" if column.primary_key else "", column.default)
        for index in found.indexes[table]:
            key = (f"index ({', '.join(str(c) for c in index.columns)})"
                   + (" unique" if index.unique else "")
                   + (f" where {_where(index)}" if _where(index) else ""))
            entries[key] = entries.get(key, 0) + 1  # how many such indexes
        for fk in found.foreign_keys[table]:
            entries[f"foreign key {fk.column}"] = (fk.dest_table, fk.dest_column,
                                                   fk.on_delete, fk.on_update)
        described[table] = entries
    return described


def _differences(migrated: dict, modelled: dict) -> list[str]:
    lines = []
    for table in sorted(migrated.keys() | modelled.keys()):
        if table not in modelled:
            lines.append(f"{table}: made by the migrations, no model has it")
        elif table not in migrated:
            lines.append(f"{table}: a model's table that no migration makes")
        else:
            mine, theirs = migrated[table], modelled[table]
            for what in sorted(mine.keys() | theirs.keys()):
                if mine.get(what) != theirs.get(what):
                    lines.append(f"{table} {what}: migrations {mine.get(what, 'absent')!r}, "
                                 f"models {theirs.get(what, 'absent')!r}")
    return lines


def test_the_migrations_build_exactly_the_schema_the_models_describe(empty_databases):
    migrated_db, modelled_db = empty_databases
    models = base.all_models()
    with _bound(migrated_db):
        assert base.migrate()  # every numbered migration, from an empty database
        migrated = _schema(migrated_db)
    with _bound(modelled_db):
        base.db.create_tables(models)
        modelled = _schema(modelled_db)

    assert set(modelled) == {model._meta.table_name for model in models}
    assert len(modelled) >= 20  # the walk found the models, not a few of them
    differences = _differences(migrated, modelled)
    assert not differences, (
        "The migrations and the models disagree; add a numbered migration to "
        "models/migrations/ (or correct the model):\n  " + "\n  ".join(differences))


def test_the_comparison_sees_a_type_or_a_null_that_differs(empty_databases):
    """What the schema diff would miss: same names, another type, another nullability."""
    first, second = empty_databases
    first.execute_sql("CREATE TABLE thing (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER)")
    second.execute_sql("CREATE TABLE thing (id INTEGER PRIMARY KEY, name VARCHAR(255) NOT NULL, "
                       "n INTEGER NOT NULL)")
    differences = _differences(_schema(first), _schema(second))
    assert [line.split(":")[0] for line in differences] == ["thing column n", "thing column name"]
