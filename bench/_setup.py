"""Shared set-up: an isolated instance folder and a migrated database, before any import."""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FOLDER = Path(tempfile.mkdtemp(prefix="tether-bench-"))
os.environ.setdefault("TETHER_INSTANCE_DIR", str(FOLDER))
os.environ.setdefault("TETHER_ENV", "testing")
os.environ.setdefault("HUEY_SQLITE_PATH", str(FOLDER / "huey.db"))
os.environ.setdefault("TETHER_SANDBOX_CONFIG", str(FOLDER / "sandbox.json"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{FOLDER / 'tether.db'}")


def report(name: str, value: float, target: float, unit: str) -> None:
    print(f"{name:<48} {value:10.2f} {unit:<4} target ≤ {target:g} {unit}  ratio {value / target:.2f}")


def backend_flags(parser) -> None:
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="postgresql://… to measure on PostgreSQL (default: SQLite here)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"),
                        help="redis://…/N for RedisHuey (default: SqliteHuey here)")


def use_backend(args):
    """Point this process and its consumer at the chosen backend; returns (label, clean-up).
    On PostgreSQL the run gets a schema of its own (PGOPTIONS reaches every libpq
    connection, the consumer's too), dropped at the end: the database named is never
    emptied."""
    os.environ["DATABASE_URL"] = args.database_url
    if args.redis_url:
        os.environ["REDIS_URL"] = args.redis_url
    queue = "Redis" if args.redis_url else "SqliteHuey"
    if args.database_url.startswith("sqlite"):
        return f"SQLite + {queue}", lambda: None
    from playhouse.db_url import connect

    schema = f"bench_{os.getpid()}"
    admin = connect(args.database_url)
    admin.execute_sql(f'CREATE SCHEMA "{schema}"')
    os.environ["PGOPTIONS"] = f"-c search_path={schema}"

    def drop():
        admin.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()
    return f"PostgreSQL + {queue}", drop
