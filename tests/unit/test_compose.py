"""docker-compose.yml refuses to start without a PostgreSQL password, rather than inventing one everybody knows.

Compose itself is not needed here: its `${VAR:-default}` / `${VAR:?error}` interpolation is small enough to apply
to the parsed file, as `docker compose config` would.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
# $$ (a literal $), ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class Refused(Exception):
    """Compose would stop here with this message."""


def _interpolate(value: Any, environment: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _interpolate(item, environment) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, environment) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = environment.get(name)
        missing = current is None or (op is not None and op.startswith(":") and current == "")
        if op in ("-", ":-"):
            return arg if missing else str(current)
        if op in ("?", ":?"):
            if missing:
                raise Refused(f"required variable {name} is missing a value: {arg}")
            return str(current)
        return current or ""

    return _VARIABLE.sub(substitute, value)


def _config(environment: dict[str, str]) -> Any:
    return _interpolate(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")), environment)


@pytest.mark.parametrize("environment", [{}, {"POSTGRES_PASSWORD": ""}])
def test_no_postgres_password_stops_compose_with_a_helpful_message(environment: dict[str, str]) -> None:
    with pytest.raises(Refused, match=r"POSTGRES_PASSWORD.*\.env"):
        _config(environment)


def test_the_password_set_reaches_the_database_and_the_bot() -> None:
    config = _config({"POSTGRES_PASSWORD": "Kx7pQ2mZ"})
    assert config["services"]["db"]["environment"]["POSTGRES_PASSWORD"] == "Kx7pQ2mZ"
    assert (
        config["services"]["bot"]["environment"]["DATABASE_URL"] == "postgresql+asyncpg://nexus:Kx7pQ2mZ@db:5432/nexus"
    )


def test_no_default_password_is_left_anywhere() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    assert "POSTGRES_PASSWORD:-" not in text
    assert text.count("${POSTGRES_PASSWORD:?") == 2


def test_the_web_hub_reads_the_same_database_and_is_health_checked() -> None:
    config = _config({"POSTGRES_PASSWORD": "Kx7pQ2mZ"})
    web = config["services"]["web"]
    assert web["environment"]["DATABASE_URL"] == config["services"]["bot"]["environment"]["DATABASE_URL"]
    assert web["command"] == ["web"]
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    assert all(port.startswith("127.0.0.1:") for port in web["ports"])
