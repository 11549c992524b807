"""A database of its own for a test that moves the schema up and down, on the configured
backend (a SQLite file, or a PostgreSQL schema reached through its search_path), with the
models' proxy pointed at it for the test's length — the suite's database is never migrated
down. And rows written the way an older version wrote them."""

import os
from contextlib import contextmanager

from playhouse.db_url import connect

from models import base


@contextmanager
def scratch_database(tmp_path, name: str):
    url = os.environ["DATABASE_URL"]
    admin, schema = None, f"scratch_{os.getpid()}_{name}"
    if url.startswith("sqlite"):
        database = connect(f"sqlite:///{tmp_path / name}.db",
                           pragmas={"foreign_keys": 1, "journal_mode": "wal"})
    else:
        admin = connect(url)
        admin.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
        database = connect(url, options=f"-c search_path={schema}")
    previous = base.db.obj
    base.db.initialize(database)
    try:
        yield database
    finally:
        base.db.initialize(previous)
        database.close()
        if admin is not None:
            admin.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.close()


def columns(table: str) -> set[str]:
    return {c.name for c in base.db.obj.get_columns(table)}


def insert_as_of_now(model, **values) -> int:
    """Insert a row into `model`'s table as it stands at the database's current migration:
    the model's own defaults and conversions (an EncryptedField encrypts), but only for the
    columns that table has now — an older version knew nothing of the later ones, and may
    fill columns a later one retired (given by column name). Returns the new row's id."""
    database, table = base.db.obj, model._meta.table_name
    present, row = columns(table), {}
    for field in model._meta.sorted_fields:
        if field.column_name not in present or field.name == "id":
            continue
        if field.name in values:
            value = values[field.name]
        elif field.default is not None:
            value = field.default() if callable(field.default) else field.default
        else:
            continue
        row[field.column_name] = field.db_value(value)
    known = {field.name for field in model._meta.sorted_fields}
    for name, value in values.items():  # a column a later version retired, as it was filled
        if name not in known and name in present:
            row[name] = value
    names = ", ".join(f'"{c}"' for c in row)
    marks = ", ".join(database.param for _ in row)
    sql = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
    if not url_is_sqlite():
        return database.execute_sql(sql + " RETURNING id", list(row.values())).fetchone()[0]
    return database.execute_sql(sql, list(row.values())).lastrowid


def url_is_sqlite() -> bool:
    return os.environ["DATABASE_URL"].startswith("sqlite")
