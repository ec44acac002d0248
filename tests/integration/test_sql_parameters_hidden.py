"""A failing SQL statement is logged without its bound parameters: they are message text, names, ids."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from bot.db.engine import create_engine

SECRET_TEXT = "a learner's private words, never for the log"


async def test_a_failing_statement_logs_no_parameter_values(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(database_url)
    log = logging.getLogger("bot.test")
    try:
        with caplog.at_level(logging.DEBUG):
            # The engine's own statement log (on when the root logger is at DEBUG) must not carry them either.
            # aiosqlite logs every call with its arguments at DEBUG: `configure_logging` keeps it at INFO, as here
            # (tests/unit/test_redaction.py checks that).
            logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
            logging.getLogger("aiosqlite").setLevel(logging.INFO)
            try:
                async with engine.connect() as connection:
                    with pytest.raises(sa_exc.DBAPIError) as raised:
                        await connection.execute(
                            text("SELECT 1 FROM no_such_table WHERE body = :body"), {"body": SECRET_TEXT}
                        )
                    log.error("the statement failed", exc_info=raised.value)
            finally:
                logging.getLogger("sqlalchemy.engine").setLevel(logging.NOTSET)
                logging.getLogger("aiosqlite").setLevel(logging.NOTSET)
    finally:
        await engine.dispose()
    assert "no_such_table" in caplog.text  # the statement is there, for diagnosis
    assert SECRET_TEXT not in caplog.text
    assert SECRET_TEXT not in str(raised.value)
