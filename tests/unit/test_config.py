"""Settings: every variable of the contract, its faults named in one line, the token never echoed."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from bot.config import (
    DEFAULT_DATABASE_URL,
    ConfigurationError,
    Settings,
    load_database_settings,
    load_settings,
)
from bot.runtime.paths import default_data_dir

# Shaped like a real bot token (three dot-separated parts), but not one.
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GhJkLm.s3cr3t-T0ken_Value-do-not-log-9876543210"
TOKEN_PARTS = TOKEN.split(".")

CONFIG_VARIABLES = frozenset(
    {
        "DISCORD_TOKEN",
        "DISCORD_API_URL",
        "DATABASE_URL",
        "NEXUS_GUILD_ID",
        "NEXUS_CHALLENGE_CHANNEL_IDS",
        "NEXUS_PAIRING_CHANNEL_ID",
        "NEXUS_LOG_LEVEL",
        "NEXUS_DATA_DIR",
        "NEXUS_SHARD_COUNT",
        "NEXUS_SHARD_IDS",
    }
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No variable of the contract from the outside, and a working directory without a `.env`."""
    for name in list(os.environ):
        if name.upper() in CONFIG_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _subprocess_env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name.upper() not in CONFIG_VARIABLES}
    env.update(extra)
    return env


def _configuration_error(monkeypatch: pytest.MonkeyPatch, **variables: str) -> str:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    message = str(info.value)
    assert "\n" not in message, "a configuration error is one line"
    assert message.startswith("configuration error: ")
    return message


def _assert_no_token(text: str) -> None:
    assert TOKEN not in text
    for part in TOKEN_PARTS:
        assert part.lower() not in text.lower(), f"a fragment of the token leaked: {part!r}"


# --- required and malformed values -----------------------------------------------------------------


def test_missing_token_is_one_line_naming_it() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    message = str(info.value)
    assert "\n" not in message
    assert "DISCORD_TOKEN" in message
    assert "required" in message
    # Only the one fault: nothing else is wrong with an empty environment.
    assert message.count(":") == 2


def test_empty_token_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _configuration_error(monkeypatch, DISCORD_TOKEN="")
    assert "DISCORD_TOKEN" in message
    assert "required" in message


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("NEXUS_GUILD_ID", "my-server", "integer"),
        ("NEXUS_GUILD_ID", "0", "greater than 0"),
        ("NEXUS_PAIRING_CHANNEL_ID", "-5", "greater than 0"),
        ("NEXUS_CHALLENGE_CHANNEL_IDS", "1,x", "comma-separated channel ids"),
        ("NEXUS_CHALLENGE_CHANNEL_IDS", "1,0", "comma-separated channel ids"),
        ("NEXUS_CHALLENGE_CHANNEL_IDS", "-1", "comma-separated channel ids"),
        ("NEXUS_LOG_LEVEL", "loud", "'DEBUG'"),
        ("DISCORD_API_URL", "not a url", "URL"),
        ("DISCORD_API_URL", "ftp://example.com/api", "URL"),
        ("DATABASE_URL", "not a database url", "not a database URL"),
        ("DATABASE_URL", "mysql://user@localhost/nexus", "sqlite+aiosqlite or postgresql+asyncpg"),
        ("NEXUS_DATA_DIR", "does/not/exist", "existing directory"),
    ],
)
def test_malformed_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    message = _configuration_error(monkeypatch, DISCORD_TOKEN=TOKEN, **{variable: value})
    assert f"{variable}: " in message
    assert expected in message
    # Only the faulty variable is named.
    others = CONFIG_VARIABLES - {variable}
    assert not [name for name in others if f"{name}:" in message]
    if not value.lstrip("-").isdigit():
        assert value not in message, "the value typed is never echoed"


def test_data_dir_that_is_a_file_is_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a directory", encoding="utf-8")
    message = _configuration_error(monkeypatch, DISCORD_TOKEN=TOKEN, NEXUS_DATA_DIR="data")
    assert "NEXUS_DATA_DIR: must be an existing directory" in message


def test_several_faults_share_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _configuration_error(monkeypatch, NEXUS_GUILD_ID="abc", NEXUS_LOG_LEVEL="chatty")
    assert "DISCORD_TOKEN" in message
    assert "NEXUS_GUILD_ID" in message
    assert "NEXUS_LOG_LEVEL" in message


# --- parsing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123", (123,)),
        ("1,2,3", (1, 2, 3)),
        (" 1 , 2 ,3 ", (1, 2, 3)),
        ("111,222,", (111, 222)),
        ("111,,222", (111, 222)),
        ("1234567890123456789", (1234567890123456789,)),
    ],
)
def test_challenge_channel_ids_parse(monkeypatch: pytest.MonkeyPatch, raw: str, expected: tuple[int]) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("NEXUS_CHALLENGE_CHANNEL_IDS", raw)
    assert load_settings().challenge_channel_ids == expected


def test_every_variable_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "kb" / "topics").mkdir(parents=True)
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("DISCORD_API_URL", "http://127.0.0.1:8080/api")
    monkeypatch.setenv("NEXUS_GUILD_ID", "42")
    monkeypatch.setenv("NEXUS_CHALLENGE_CHANNEL_IDS", "7,8")
    monkeypatch.setenv("NEXUS_PAIRING_CHANNEL_ID", "9")
    monkeypatch.setenv("NEXUS_LOG_LEVEL", " debug ")
    monkeypatch.setenv("NEXUS_DATA_DIR", "kb")
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///state/nexus.db")
    settings = load_settings()
    assert settings.discord_token.get_secret_value() == TOKEN
    assert str(settings.discord_api_url) == "http://127.0.0.1:8080/api"
    assert settings.guild_id == 42
    assert settings.challenge_channel_ids == (7, 8)
    assert settings.pairing_channel_id == 9
    assert settings.log_level == "DEBUG"
    assert settings.log_level_number == logging.DEBUG
    # A relative data directory is taken from the working directory, and made absolute.
    assert settings.data_dir == (tmp_path / "kb").resolve()
    assert settings.data_dir.is_absolute()
    assert settings.topics_dir == (tmp_path / "kb" / "topics").resolve()
    assert settings.database_url == "sqlite+aiosqlite:///state/nexus.db"


def test_empty_values_mean_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    for name in CONFIG_VARIABLES - {"DISCORD_TOKEN"}:
        monkeypatch.setenv(name, "")
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.discord_api_url is None
    assert settings.guild_id is None
    assert settings.challenge_channel_ids == ()
    assert settings.pairing_channel_id is None
    assert settings.log_level == "INFO"
    assert settings.log_level_number == logging.INFO
    assert settings.data_dir == default_data_dir()
    assert settings.topics_dir.is_dir()


def test_defaults_without_any_optional_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.challenge_channel_ids == ()
    assert settings.data_dir == default_data_dir()
    assert sorted(path.name for path in settings.topics_dir.glob("*.md"))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgres://nexus:pw@db.example.com:5432/nexus",
            "postgresql+asyncpg://nexus:pw@db.example.com:5432/nexus",
        ),
        ("postgresql://nexus:pw@db/nexus", "postgresql+asyncpg://nexus:pw@db/nexus"),
        ("postgresql+psycopg2://nexus@db/nexus", "postgresql+asyncpg://nexus@db/nexus"),
        ("postgresql+asyncpg://nexus@db/nexus", "postgresql+asyncpg://nexus@db/nexus"),
        ("postgresql://nexus:p%40ss%25w0rd@db/nexus", "postgresql+asyncpg://nexus:p%40ss%25w0rd@db/nexus"),
        ("sqlite:///nexus.db", "sqlite+aiosqlite:///nexus.db"),
        ("sqlite+pysqlite:////var/lib/nexus/nexus.db", "sqlite+aiosqlite:////var/lib/nexus/nexus.db"),
    ],
)
def test_database_url_gets_an_async_driver(monkeypatch: pytest.MonkeyPatch, given: str, expected: str) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    assert load_database_settings().database_url == expected
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    assert load_settings().database_url == expected


def test_database_settings_need_no_token_and_ignore_other_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUS_GUILD_ID", "not-a-number")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///db/nexus.db")
    assert load_database_settings().database_url == "sqlite+aiosqlite:///db/nexus.db"


def test_database_settings_name_a_bad_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "oracle://scott@db/orcl")
    with pytest.raises(ConfigurationError) as info:
        load_database_settings()
    assert str(info.value).startswith("configuration error: DATABASE_URL: ")


def test_dotenv_in_working_directory_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        f"DISCORD_TOKEN={TOKEN}\nNEXUS_GUILD_ID=5\nNEXUS_LOG_LEVEL=warning\n", encoding="utf-8"
    )
    monkeypatch.setenv("NEXUS_GUILD_ID", "6")
    settings = load_settings()
    assert settings.discord_token.get_secret_value() == TOKEN
    assert settings.guild_id == 6
    assert settings.log_level == "WARNING"


def test_overrides_by_variable_name_take_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("NEXUS_LOG_LEVEL=error\n", encoding="utf-8")
    monkeypatch.setenv("NEXUS_GUILD_ID", "6")
    settings = load_settings(_env_file=None, DISCORD_TOKEN=TOKEN, NEXUS_GUILD_ID=7)
    assert isinstance(settings, Settings)
    assert settings.guild_id == 7
    assert settings.discord_token.get_secret_value() == TOKEN
    # `_env_file=None` leaves the `.env` of the working directory unread.
    assert settings.log_level == "INFO"


def test_overrides_are_validated_like_the_environment() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(_env_file=None, DISCORD_TOKEN=TOKEN, NEXUS_GUILD_ID="abc")
    assert "NEXUS_GUILD_ID" in str(info.value)


# --- the token is never shown ----------------------------------------------------------------------


def test_settings_never_show_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    settings = load_settings()
    for shown in (repr(settings), str(settings), settings.model_dump_json(), repr(settings.model_dump())):
        _assert_no_token(shown)
    assert settings.discord_token.get_secret_value() == TOKEN


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NEXUS_GUILD_ID", TOKEN),
        ("NEXUS_PAIRING_CHANNEL_ID", TOKEN),
        ("NEXUS_CHALLENGE_CHANNEL_IDS", TOKEN),
        ("NEXUS_CHALLENGE_CHANNEL_IDS", f"123,{TOKEN}"),
        ("NEXUS_LOG_LEVEL", TOKEN),
        ("DISCORD_API_URL", TOKEN),
        ("DISCORD_API_URL", f"http://[{TOKEN}]/"),
        ("DATABASE_URL", TOKEN),
        ("DATABASE_URL", f"mysql://{TOKEN}@localhost/db"),
        ("NEXUS_DATA_DIR", TOKEN),
    ],
)
def test_token_in_a_wrong_variable_is_never_echoed(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    error = info.value
    assert variable in str(error)
    _assert_no_token(str(error))
    # Not in the chained exceptions either: a logged traceback must not carry it.
    _assert_no_token("".join(traceback.format_exception(error)))


def test_password_in_a_malformed_database_url_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    # A user who forgot '@host' after the password: SQLAlchemy reads the password as the port.
    monkeypatch.setenv("DATABASE_URL", f"postgresql://nexus:{TOKEN_PARTS[2]}/nexus")
    with pytest.raises(ConfigurationError) as info:
        load_database_settings()
    assert "DATABASE_URL: is not a database URL" in str(info.value)
    _assert_no_token(str(info.value))


# --- the command line --------------------------------------------------------------------------------


def _nexus_bot() -> str:
    script = shutil.which("nexus-bot", path=str(Path(sys.executable).parent))
    assert script, "the nexus-bot entry point is installed beside the interpreter"
    return script


def test_cli_check_without_token_exits_2_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=tmp_path,
        env=_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: configuration error: ")
    assert "DISCORD_TOKEN" in lines[0]
    assert result.stdout == ""


def test_cli_check_never_prints_a_misplaced_token(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=tmp_path,
        env=_subprocess_env(DISCORD_TOKEN=TOKEN, NEXUS_GUILD_ID=TOKEN),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "NEXUS_GUILD_ID" in result.stderr
    assert "Traceback" not in result.stderr
    _assert_no_token(result.stdout + result.stderr)


def test_cli_check_with_token_reports_every_card(tmp_path: Path) -> None:
    expected_cards = len(list((default_data_dir() / "topics").glob("*.md")))
    assert expected_cards >= 60
    result = subprocess.run(  # noqa: S603  (our own interpreter and entry point)
        [_nexus_bot(), "check"],
        cwd=tmp_path,
        env=_subprocess_env(DISCORD_TOKEN=TOKEN),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"{expected_cards} cards" in result.stdout
    assert "configuration valid" in result.stdout
    _assert_no_token(result.stdout + result.stderr)


def test_cli_check_names_a_broken_card(tmp_path: Path) -> None:
    topics = tmp_path / "data" / "topics"
    topics.mkdir(parents=True)
    (topics / "broken-card.md").write_text(
        "---\ntitle: Broken\nslug: broken-card\ncategory: python\n---\n\n"
        "## Trivia\nThis section does not exist in the card format at all, so loading must fail.\n",
        encoding="utf-8",
    )
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=workdir,
        env=_subprocess_env(DISCORD_TOKEN=TOKEN, NEXUS_DATA_DIR=str(tmp_path / "data")),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "1 problem(s)" in result.stderr
    assert "broken-card.md" in result.stderr
    assert "unknown section '## Trivia'" in result.stderr


# ----- sharding (NEXUS_SHARD_COUNT, NEXUS_SHARD_IDS) ------------------------------------------------------------------

POSTGRES_URL = "postgresql+asyncpg://nexus@db.example.org/nexus"


def test_without_shard_settings_one_process_owns_every_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    settings = load_settings()
    assert settings.shard_count is None
    assert settings.shard_ids is None
    assert settings.shard_scope.owns_all


def test_a_shard_count_alone_runs_every_shard_here_even_on_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("NEXUS_SHARD_COUNT", "4")
    settings = load_settings()
    assert settings.shard_count == 4
    assert settings.shard_scope.owns_all


def test_shard_ids_on_postgresql_give_this_process_its_part(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_URL", POSTGRES_URL)
    monkeypatch.setenv("NEXUS_SHARD_COUNT", "4")
    monkeypatch.setenv("NEXUS_SHARD_IDS", " 3, 1 ")
    settings = load_settings()
    assert settings.shard_ids == (1, 3)
    scope = settings.shard_scope
    assert not scope.owns_all
    assert scope.owned == frozenset({1, 3})


def test_every_shard_named_is_one_process_and_needs_no_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("NEXUS_SHARD_COUNT", "2")
    monkeypatch.setenv("NEXUS_SHARD_IDS", "0,1")
    assert load_settings().shard_scope.owns_all


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"NEXUS_SHARD_IDS": "0"}, "NEXUS_SHARD_IDS: needs NEXUS_SHARD_COUNT"),
        ({"NEXUS_SHARD_COUNT": "2", "NEXUS_SHARD_IDS": "2"}, "NEXUS_SHARD_IDS: must lie in 0..1"),
        ({"NEXUS_SHARD_COUNT": "2", "NEXUS_SHARD_IDS": "0,0"}, "NEXUS_SHARD_IDS: names a shard twice"),
        ({"NEXUS_SHARD_COUNT": "2", "NEXUS_SHARD_IDS": "a,b"}, "NEXUS_SHARD_IDS: must be comma-separated shard"),
        ({"NEXUS_SHARD_COUNT": "2", "NEXUS_SHARD_IDS": "-1"}, "NEXUS_SHARD_IDS: must be comma-separated shard"),
        ({"NEXUS_SHARD_COUNT": "0"}, "NEXUS_SHARD_COUNT: Input should be greater than or equal to 1"),
        ({"NEXUS_SHARD_COUNT": "two"}, "NEXUS_SHARD_COUNT: Input should be a valid integer"),
        (
            {"NEXUS_SHARD_COUNT": "2", "NEXUS_SHARD_IDS": "1", "DATABASE_URL": "sqlite:///nexus.db"},
            "NEXUS_SHARD_IDS: leaves shards to other processes, which must share the database: set DATABASE_URL to "
            "PostgreSQL",
        ),
    ],
)
def test_a_bad_shard_setting_is_named_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: str
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_a_bad_shard_count_is_not_also_blamed_on_the_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("NEXUS_SHARD_COUNT", "0")
    monkeypatch.setenv("NEXUS_SHARD_IDS", "0")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "NEXUS_SHARD_COUNT" in str(caught.value)
    assert "NEXUS_SHARD_IDS" not in str(caught.value)
