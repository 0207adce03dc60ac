"""Settings read from ``MINSHENG_*`` environment variables (and an optional ``.env`` file).

Secrets that are not given are generated once into ``$MINSHENG_HOME/secrets/`` so a fresh
install is safe by default and keeps working across restarts.
"""
from __future__ import annotations

import base64
import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINSHENG_", env_file=".env", extra="ignore")

    home: Path = Field(Path("./var"), description="Folder for the SQLite database, search index, attachments and secrets.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite (WAL) at $MINSHENG_HOME/minsheng.db.")
    es_url: str | None = Field(None, description="Elasticsearch URL; when set, search uses Elasticsearch instead of the embedded index.")
    es_index: str = Field("minsheng-docs", description="Elasticsearch alias name; versioned indices are <alias>-v<N>.")
    es_shards: int = Field(1, description="Primary shards for new Elasticsearch indices (3 on a 3-node cluster).")
    es_replicas: int = Field(0, description="Replicas for new Elasticsearch indices (1 on a 3-node cluster).")
    secret_key: str | None = Field(None, description="Signs sessions, CSRF and API tokens; generated into the home folder if unset.")
    data_key: str | None = Field(None, description="Fernet key that encrypts contact data at rest; generated if unset. Back it up.")
    host: str = Field("127.0.0.1", description="Address `minsheng serve` listens on.")
    port: int = Field(8000, description="Port `minsheng serve` listens on.")
    base_url: str | None = Field(None, description="Public base URL used in links and notices; default http://host:port.")
    worker_threads: int = Field(2, description="Outbox worker threads inside `minsheng serve` (0 disables them).")
    worker_batch: int = Field(16, description="Outbox rows one worker claims at a time.")
    lease_seconds: int = Field(120, description="How long a claimed outbox row stays leased before another worker may take it.")
    max_attempts: int = Field(6, description="Failures after which an outbox row is parked as dead-letter.")
    backoff_seconds: float = Field(2.0, description="Base of the exponential retry backoff (seconds).")
    intake_rate_limit: int = Field(20, description="Filings accepted per client IP per rate window.")
    intake_rate_window: int = Field(3600, description="Rate window for filings, in seconds.")
    tracking_max_failures: int = Field(5, description="Wrong tracking look-ups per IP before backoff applies.")
    max_upload_mb: int = Field(10, description="Largest attachment accepted, in MB.")
    login_max_failures: int = Field(5, description="Failed logins before an account is locked.")
    login_lockout_minutes: int = Field(15, description="How long a locked account stays locked.")
    session_hours: int = Field(12, description="Lifetime of a staff session and of an API token.")
    cookie_secure: bool = Field(False, description="Mark cookies Secure (set true behind HTTPS).")
    scheduler: bool = Field(True, description="Run scheduled jobs (sweeps, crawls, briefings) inside `minsheng serve`.")
    model_dir: Path | None = Field(None, description="A local Hugging Face model directory replacing the bundled classifier.")
    review_topic_below: float = Field(0.5, ge=0.0, le=1.0, description="Topic probability below which a document goes to the analysts' review queue.")
    review_sentiment_below: float = Field(0.6, ge=0.0, le=1.0, description="Sentiment probability below which a document goes to the review queue.")
    review_appeal_below: float = Field(0.45, ge=0.0, le=1.0, description="Appeal probability below which a document goes to the review queue.")
    smtp_url: str | None = Field(None, description="smtp://user:pass@host:port/?from=addr for e-mail notices; unset = in-app only.")
    webhook_url: str | None = Field(None, description="URL that receives a JSON POST for every notice; unset = none.")
    public_scorecards: bool = Field(True, description="Show the public department league table.")
    log_level: str = Field("INFO", description="Python logging level.")

    @property
    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_home / 'minsheng.db'}"

    @property
    def attachments_dir(self) -> Path:
        return self.resolved_home / "attachments"

    @property
    def index_dir(self) -> Path:
        return self.resolved_home / "index"

    @property
    def public_base_url(self) -> str:
        return self.base_url or f"http://{self.host}:{self.port}"

    def secret(self) -> str:
        return self.secret_key or _stored_secret(self.resolved_home, "secret_key", lambda: secrets.token_urlsafe(48))

    def fernet_key(self) -> bytes:
        key = self.data_key or _stored_secret(
            self.resolved_home, "data_key", lambda: base64.urlsafe_b64encode(os.urandom(32)).decode()
        )
        return key.encode()


def _stored_secret(home: Path, name: str, make: "callable[[], str]") -> str:
    """Read a generated secret from the home folder, creating it (mode 600) on first use."""
    folder = home / "secrets"
    path = folder / name
    if path.exists():
        return path.read_text().strip()
    folder.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests change the environment between apps)."""
    get_settings.cache_clear()
