"""Configuration: every setting of the product contract, read from the environment and `.env`.

`Settings()` is built once, at start-up, by the command-line entry point; nothing here runs at import.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.core.shards import ALL_SHARDS, ShardScope
from bot.runtime.paths import default_data_dir

LogLevel = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///nexus.db"


class ConfigurationError(Exception):
    """A setting is missing or malformed. The message names the variable and never holds its value."""


class DatabaseSettings(BaseSettings):
    """The part of the settings the offline commands (`db`, `export`) need: no token required."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
        # Never echo what the user typed: a token pasted into the wrong variable must not reach a log.
        hide_input_in_errors=True,
    )

    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    data_dir: Path = Field(default_factory=default_data_dir, validation_alias="NEXUS_DATA_DIR")

    @field_validator("data_dir")
    @classmethod
    def _existing_dir(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError("must be an existing directory holding a topics/ folder")
        return value.resolve()

    @property
    def topics_dir(self) -> Path:
        return self.data_dir / "topics"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except (ArgumentError, ValueError):
            # Never echo the URL: it may hold a password.
            raise ValueError("is not a database URL, e.g. sqlite+aiosqlite:///nexus.db") from None
        # People paste the URL their host gives them; upgrade the plain schemes to the async drivers.
        if url.drivername in ("sqlite", "sqlite+pysqlite"):
            url = url.set(drivername="sqlite+aiosqlite")
        elif url.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
            url = url.set(drivername="postgresql+asyncpg")
        if url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            raise ValueError("must use sqlite+aiosqlite or postgresql+asyncpg")
        return url.render_as_string(hide_password=False)


class WebSettings(DatabaseSettings):
    """What the web hub (`nexus-bot web`) needs: the database and where to listen; no token."""

    web_host: str = Field(default="127.0.0.1", min_length=1, validation_alias="NEXUS_WEB_HOST")
    web_port: int = Field(default=8080, ge=1, le=65535, validation_alias="NEXUS_WEB_PORT")
    # The hub's public address, for "View on the web" links and the sitemap; None: no links.
    web_base_url: str | None = Field(default=None, validation_alias="NEXUS_WEB_BASE_URL")

    @field_validator("web_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be the hub's address, e.g. https://nexus.example.org")
        return value.strip().rstrip("/")


class Settings(WebSettings):
    """Every setting of the product contract."""

    discord_token: SecretStr = Field(validation_alias="DISCORD_TOKEN", min_length=1)
    discord_api_url: AnyHttpUrl | None = Field(default=None, validation_alias="DISCORD_API_URL")
    guild_id: int | None = Field(default=None, validation_alias="NEXUS_GUILD_ID", gt=0)
    challenge_channel_ids: Annotated[tuple[int, ...], NoDecode] = Field(
        default=(), validation_alias="NEXUS_CHALLENGE_CHANNEL_IDS"
    )
    challenge_forum_ids: Annotated[tuple[int, ...], NoDecode] = Field(
        default=(), validation_alias="NEXUS_CHALLENGE_FORUM_IDS"
    )
    # Hours a solved forum post stays open before Nexus archives it; unset: never archived by Nexus.
    forum_archive_hours: float | None = Field(
        default=None, gt=0, le=24 * 90, validation_alias="NEXUS_FORUM_ARCHIVE_HOURS"
    )
    pairing_channel_id: int | None = Field(default=None, validation_alias="NEXUS_PAIRING_CHANNEL_ID", gt=0)
    log_level: LogLevel = Field(default="INFO", validation_alias="NEXUS_LOG_LEVEL")
    challenge_nudge_hours: float = Field(default=24.0, gt=0, le=24 * 90, validation_alias="NEXUS_CHALLENGE_NUDGE_HOURS")
    challenge_ask_hours: float = Field(default=48.0, gt=0, le=24 * 90, validation_alias="NEXUS_CHALLENGE_ASK_HOURS")
    pair_expiry_days: float = Field(default=14.0, gt=0, le=365, validation_alias="NEXUS_PAIR_EXPIRY_DAYS")
    pair_checkin_days: float = Field(default=3.0, gt=0, le=90, validation_alias="NEXUS_PAIR_CHECKIN_DAYS")
    # Days after which deleted entries' text and stale pairing data are purged; 0 keeps everything.
    retention_days: int = Field(default=365, ge=0, le=36500, validation_alias="NEXUS_RETENTION_DAYS")
    # Sharding: the count of shards, and the ones this process runs (all of them when unset).
    shard_count: int | None = Field(default=None, ge=1, le=10_000, validation_alias="NEXUS_SHARD_COUNT")
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = Field(default=None, validation_alias="NEXUS_SHARD_IDS")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("challenge_channel_ids", "challenge_forum_ids", mode="before")
    @classmethod
    def _split_channel_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            ids = []
            for part in parts:
                if not part.isdigit() or int(part) == 0:
                    raise ValueError("must be comma-separated channel ids (digits only), e.g. 123,456")
                ids.append(int(part))
            return tuple(ids)
        return value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _split_shard_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if not parts or not all(part.isdigit() for part in parts):
                raise ValueError("must be comma-separated shard numbers, e.g. 0,1")
            return tuple(int(part) for part in parts)
        return value

    @field_validator("shard_ids")
    @classmethod
    def _shard_ids_fit(cls, value: tuple[int, ...] | None, info: ValidationInfo) -> tuple[int, ...] | None:
        if value is None:
            return None
        # Fields are validated in order: the count and the database URL are known here (when valid).
        if "shard_count" not in info.data:
            return value  # the count itself is at fault, and named
        count = info.data["shard_count"]
        if count is None:
            raise ValueError("needs NEXUS_SHARD_COUNT, the number of shards in all processes together")
        if len(set(value)) != len(value):
            raise ValueError("names a shard twice")
        if any(shard >= count for shard in value):
            raise ValueError(f"must lie in 0..{count - 1} (NEXUS_SHARD_COUNT is {count}; the first shard is 0)")
        database_url = info.data.get("database_url")
        if len(value) < count and database_url is not None and not database_url.startswith("postgresql"):
            raise ValueError(
                "leaves shards to other processes, which must share the database: set DATABASE_URL to PostgreSQL "
                "(an SQLite file serves one process), or run every shard here by leaving NEXUS_SHARD_IDS unset"
            )
        return tuple(sorted(value))

    @property
    def shard_scope(self) -> ShardScope:
        """The servers this process works for: every one unless `NEXUS_SHARD_IDS` names a part of the shards."""
        if self.shard_count is None:
            return ALL_SHARDS
        return ShardScope(self.shard_count, frozenset(self.shard_ids) if self.shard_ids is not None else None)

    @property
    def log_level_number(self) -> int:
        return logging.getLevelNamesMapping()[self.log_level]


SettingsT = TypeVar("SettingsT", bound=DatabaseSettings)


def _variable_name(location: tuple[int | str, ...]) -> str:
    field = str(location[0]) if location else "?"
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info else None
    return alias if isinstance(alias, str) else field.upper()


def describe_validation_error(error: ValidationError) -> str:
    """One line that names each faulty variable and says what is expected, never its value."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        name = _variable_name(item["loc"])
        message = "is required; set it in the environment or in .env" if item["type"] == "missing" else item["msg"]
        message = message.removeprefix("Value error, ")
        problems.append(f"{name}: {message}")
    return "configuration error: " + "; ".join(problems)


def _build(kind: type[SettingsT], overrides: dict[str, Any]) -> SettingsT:
    try:
        return kind(**overrides)
    except ValidationError as error:
        raise ConfigurationError(describe_validation_error(error)) from None


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once at start-up; raise `ConfigurationError` with one clear line on a fault."""
    return _build(Settings, overrides)


def load_web_settings(**overrides: Any) -> WebSettings:
    """The database and the web hub's settings, for `nexus-bot web`, which must work without a token."""
    return _build(WebSettings, overrides)


def load_database_settings(**overrides: Any) -> DatabaseSettings:
    """Only `DATABASE_URL`, for the `db` commands, which must work without a token."""
    return _build(DatabaseSettings, overrides)
