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
