"""Tether's configuration: environment (and an optional .env) over safe defaults.

Both processes read it — the web app through create_app() and the Huey worker through
tasks.start() — so it must not import Flask or the models. read() only reads, so an import
may call it; load(), for a process that is starting, also makes the instance folder and the
secrets development keeps there. The process keeps what it loaded with use(); every module
asks current() — the one place settings come from, so create_app(overrides) reaches them all.
"""

import os
import secrets
import stat
from pathlib import Path

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent
DEV_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105 — a sentinel that production refuses
METRICS_TOKEN_MIN = 24  # /metrics is on the open web: a token too short to guess
SIGNUP_POLICIES = ("first", "open", "closed")  # TETHER_SIGNUP


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; Tether refuses to start rather than run insecurely."""


def _instance_path() -> Path:
    return Path(os.environ.get("TETHER_INSTANCE_DIR", ROOT / "instance"))


def _instance_dir(path: Path, production: bool) -> Path:
    """The instance folder, created (or closed, if an older install left it open) so that only
    this account lists it: 0700. The demo's stays passable by others (0711, still not
    listable) because the sandbox keeps its runtime folder inside it and, run as root, its
    Dovecot reaches that folder as Debian's unprivileged users."""
    mode = 0o700 if production else 0o711
    if not path.exists():
        path.mkdir(mode=mode, parents=True, exist_ok=True)
    elif _is_ours(path):
        _tighten(path, mode)
    return path


OWN_FILES = ("tether.db", "huey.db", "secret_key", "encryption_keys")


def _is_ours(folder: Path) -> bool:
    """An existing folder is closed only when it is plainly Tether's own: this account's, not
    a shared one (sticky, like /tmp), and holding Tether's files — never a /var/lib that
    TETHER_INSTANCE_DIR happened to name."""
    st = folder.stat()
    return (st.st_uid == os.geteuid() and not st.st_mode & stat.S_ISVTX
            and any((folder / name).exists() for name in OWN_FILES))


def _tighten(path, mode: int) -> None:
    """Take away any permission beyond `mode` (an older install's 0644 or 0755)."""
    try:
        current = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return
    if current & ~mode:
        os.chmod(path, current & mode)


def private_file(path) -> None:
    """Make sure `path` exists and only this account can read it (0600): created so, never
    chmod-ed after the fact. SQLite gives a database's -wal and -shm files the database
    file's own mode, so creating the database this way covers them too; those an older
    install left readable are closed here as well."""
    path = str(path)
    if not path or path == ":memory:":
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except (FileExistsError, FileNotFoundError):  # exists already; or no folder: SQLite says so
        pass
    for name in (path, path + "-wal", path + "-shm", path + "-journal"):
        _tighten(name, 0o600)


def _kept_secret(instance: Path, name: str, make) -> str:
    """A secret generated once for the demo and kept under instance/ (mode 0600 from the
    start). It appears under its name whole and only once: a process starting at the same
    moment reads the first one written, never an empty or a second one."""
    path = instance / name
    if not path.exists():
        draft = instance / f".{name}.{os.getpid()}"
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
            fh.write(make())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    _tighten(path, 0o600)
    return path.read_text().strip()


def _whole_number(text: str):
    """`text` as an int ≥ 0, or the text itself for load() to refuse (read() refuses nothing)."""
    text = text.strip()
    return int(text) if text.isdigit() else text


def _mailer_settings(env) -> dict:
    """The system mailer: Tether's own notification emails, never a user's mailbox; and who
    runs this instance (app-level alerts go there; unset: the instance's first owner)."""
    return {
        "MAIL_SMTP_HOST": env.get("TETHER_MAIL_SMTP_HOST", ""),
        "MAIL_SMTP_PORT": int(env.get("TETHER_MAIL_SMTP_PORT", "587")),
        "MAIL_SMTP_USERNAME": env.get("TETHER_MAIL_SMTP_USERNAME", ""),
        "MAIL_SMTP_PASSWORD": env.get("TETHER_MAIL_SMTP_PASSWORD", ""),
        "MAIL_SMTP_SECURITY": env.get("TETHER_MAIL_SMTP_SECURITY", "starttls"),
        "MAIL_FROM": env.get("TETHER_MAIL_FROM", "Tether <tether@localhost>"),
        "OPERATOR_EMAILS": env.get("TETHER_OPERATOR_EMAILS", ""),
    }


def _provider_settings(env) -> dict:
    """The OAuth apps registered with Google and Microsoft (README: "Real providers")."""
    return {
        "GOOGLE_CLIENT_ID": env.get("GOOGLE_CLIENT_ID", ""),
        "GOOGLE_CLIENT_SECRET": env.get("GOOGLE_CLIENT_SECRET", ""),
        "MICROSOFT_CLIENT_ID": env.get("MICROSOFT_CLIENT_ID", ""),
        "MICROSOFT_CLIENT_SECRET": env.get("MICROSOFT_CLIENT_SECRET", ""),
        "MICROSOFT_TENANT": env.get("MICROSOFT_TENANT", "common"),
        # A Google app still in "Testing" publishing status: its connections last 7 days.
        "GOOGLE_TESTING_MODE": env.get("TETHER_GOOGLE_TESTING_MODE", "") == "1",
        # Google's RISC API (push revocation signals) accepts a service account's signed JWT.
        "GOOGLE_RISC_SERVICE_ACCOUNT_FILE": env.get("TETHER_GOOGLE_RISC_SERVICE_ACCOUNT_FILE", ""),
    }


def read(overrides: dict | None = None) -> dict:
    """The settings as the environment (and .env) give them, over the defaults; overrides
    (tests) win. It creates nothing, generates no secret and refuses nothing, so importing a
    module may call it (tasks/ builds its queue from it). A process that is starting calls
    load() instead."""
    load_dotenv(ROOT / ".env", override=False)
    env = os.environ
    mode = env.get("TETHER_ENV", "production" if env.get("BASE_URL", "").startswith("https") else "development")
    instance = _instance_path()
    cfg = {
        "ENV": mode,
        "INSTANCE_DIR": str(instance),
        "SECRET_KEY": env.get("SECRET_KEY", ""),
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{instance / 'tether.db'}",
        "REDIS_URL": env.get("REDIS_URL", ""),
        "HUEY_SQLITE_PATH": env.get("HUEY_SQLITE_PATH") or str(instance / "huey.db"),
        "TETHER_ENCRYPTION_KEYS": env.get("TETHER_ENCRYPTION_KEYS", ""),
        "BASE_URL": env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "TETHER_CLOCK_FILE": env.get("TETHER_CLOCK_FILE", ""),
        "CHECK_INTERVAL_SECONDS": float(env.get("TETHER_CHECK_INTERVAL_SECONDS", "300")),
        "REMINDER_HOURS": float(env.get("TETHER_REMINDER_HOURS", "24")),  # 0 turns reminders off
        "INVITE_TTL_HOURS": int(env.get("TETHER_INVITE_TTL_HOURS", "72")),
        # How long bookkeeping is kept (models/retention.py): status history, delivered
        # events, read notifications, OAuth attempts, task results, inbound mail not acted on.
        "RETENTION_DAYS": _whole_number(env.get("TETHER_RETENTION_DAYS", "90")),
        "LOGIN_RATE_LIMIT": env.get("TETHER_LOGIN_RATE_LIMIT", "10 per minute"),
        # Who may sign up (models/signups.py): "first" — only the instance's first person, who
        # owns it, everyone else by invite; "open" — anyone may create a team; "closed" — no
        # sign-up at all, the operator creates the first owner (`flask users create-owner`).
        "SIGNUP": env.get("TETHER_SIGNUP", "first").strip().lower(),
        # How many reverse proxies stand in front of Tether and set X-Forwarded-For/-Proto/
        # -Host/-Port (README: "Behind a proxy"). 0 trusts no such header: the socket's peer
        # is the client, whatever a request claims.
        "TRUSTED_PROXIES": _whole_number(env.get("TETHER_TRUSTED_PROXIES", "0")),
        "LOG_FORMAT": env.get("TETHER_LOG_FORMAT", "text").strip().lower(),  # or "json"
        **_mailer_settings(env),
        **_provider_settings(env),
        # The local provider stand-in: offered as "Google (sandbox)" etc. while this file exists.
        "SANDBOX_CONFIG": env.get("TETHER_SANDBOX_CONFIG", str(instance / "sandbox.json")),
        "ALLOW_LOOPBACK_MAIL_HOSTS": env.get("TETHER_ALLOW_LOOPBACK_MAIL_HOSTS", "") == "1",
        # Other Provider hosts on RFC 1918 / ULA addresses: on-premises mail servers are real,
        # so allowed unless the operator turns it off ("0") where the private network holds
        # services that users must not reach. Link-local and metadata are always refused.
        "ALLOW_PRIVATE_MAIL_HOSTS": env.get("TETHER_ALLOW_PRIVATE_MAIL_HOSTS", "1") != "0",
        # Alerts out (models/alert_delivery.py): webhook and custom chat (json://, xml://,
        # form://) URLs are typed in by team admins, so by default they may not reach this
        # machine or the private network; link-local and metadata addresses never. "1" lets
        # loopback through (the tests' local receivers), or RFC 1918 / ULA hosts (a team's
        # own Mattermost on the office network).
        "ALLOW_LOOPBACK_ALERT_HOSTS": env.get("TETHER_ALLOW_LOOPBACK_ALERT_HOSTS", "") == "1",
        "ALLOW_PRIVATE_ALERT_HOSTS": env.get("TETHER_ALLOW_PRIVATE_ALERT_HOSTS", "") == "1",
        # /metrics for Prometheus: off (404) unless set; a scraper sends it as a bearer token.
        "METRICS_TOKEN": env.get("TETHER_METRICS_TOKEN", ""),
    }
    cfg.update(overrides or {})
    if cfg["ENV"] != "production" and "TETHER_ALLOW_LOOPBACK_MAIL_HOSTS" not in env \
            and "ALLOW_LOOPBACK_MAIL_HOSTS" not in (overrides or {}):
        cfg["ALLOW_LOOPBACK_MAIL_HOSTS"] = True  # the sandbox's mail servers are on 127.0.0.1
    return cfg


def load(overrides: dict | None = None) -> dict:
    """The settings a process starts with (create_app, the worker's start-up): read(), then
    the instance folder made and closed, production's refusals, and the secrets the demo
    and development generate once and keep. ConfigError when a setting is unsafe."""
    cfg = read(overrides)
    _check_formats(cfg)
    production = cfg["ENV"] == "production"
    if not isinstance(cfg["RETENTION_DAYS"], int) or cfg["RETENTION_DAYS"] < 1:
        raise ConfigError(f"TETHER_RETENTION_DAYS must be a whole number of days, 1 or more "
                          f"(it is {cfg['RETENTION_DAYS']!r}).")
    instance = _instance_dir(Path(cfg["INSTANCE_DIR"]), production=production)
    if cfg["METRICS_TOKEN"] and len(cfg["METRICS_TOKEN"]) < METRICS_TOKEN_MIN:
        raise ConfigError(f"TETHER_METRICS_TOKEN must be at least {METRICS_TOKEN_MIN} characters "
                          "(make one with `python -c \"import secrets; print(secrets.token_urlsafe(32))\"`).")
    if production:
        if not cfg["SECRET_KEY"] or cfg["SECRET_KEY"] == DEV_SECRET_KEY:
            raise ConfigError("SECRET_KEY must be set to a long random value in production.")
        if not cfg["TETHER_ENCRYPTION_KEYS"]:
            raise ConfigError("TETHER_ENCRYPTION_KEYS must be set in production "
                              "(see README: Configuration).")
    else:
        # The demo and development keep generated secrets under instance/ so restarts
        # keep sessions and stored credentials readable.
        if not cfg["SECRET_KEY"]:
            cfg["SECRET_KEY"] = _kept_secret(instance, "secret_key", lambda: secrets.token_urlsafe(48))
        if not cfg["TETHER_ENCRYPTION_KEYS"]:
            from cryptography.fernet import Fernet

            cfg["TETHER_ENCRYPTION_KEYS"] = _kept_secret(
                instance, "encryption_keys", lambda: "k1:" + Fernet.generate_key().decode())
    return cfg


def _check_formats(cfg: dict) -> None:
    if not isinstance(cfg["TRUSTED_PROXIES"], int) or cfg["TRUSTED_PROXIES"] < 0:
        raise ConfigError(f"TETHER_TRUSTED_PROXIES must be a whole number, not "
                          f"{cfg['TRUSTED_PROXIES']!r}: how many reverse proxies stand in front "
                          "of Tether (0 for none, 1 for nginx on the same machine).")
    if cfg["SIGNUP"] not in SIGNUP_POLICIES:
        raise ConfigError(f"TETHER_SIGNUP must be first, open or closed, not {cfg['SIGNUP']!r}: "
                          "first lets only the instance's first person sign up, open lets "
                          "anyone create a team, closed lets nobody (the operator creates the "
                          "first owner with `flask --app app users create-owner`).")
    if cfg["LOG_FORMAT"] not in ("text", "json"):
        raise ConfigError(f"TETHER_LOG_FORMAT must be text or json, not {cfg['LOG_FORMAT']!r}.")


_current: dict | None = None


def use(settings: dict) -> None:
    """The settings this process started with (create_app, tasks.start()): from now on
    current() answers with them, in every module."""
    global _current
    _current = settings


def start(overrides: dict | None = None, into: dict | None = None) -> dict:
    """A process's start-up, web and worker alike: the settings loaded (load()) into `into`
    (the web app passes its app.config, so what a test sets there reaches every module) or a
    new dict, and made the process's current()."""
    settings = into if into is not None else {}
    settings.update(load(overrides))
    use(settings)
    return settings


def current() -> dict:
    """The process's settings: those its start-up loaded. Called before any start-up (the
    worker's first task, a script, a test of one function), it starts them then — never at
    import."""
    if _current is None:
        start()
    return _current
