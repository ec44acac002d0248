"""Which database errors are passing weather (busy, restarting, out of reach), and the policy for retrying writes."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

from bot.core.retry import RetryPolicy

# Where a raw connection error (asyncpg raises OSError and TimeoutError unwrapped while connecting) comes from.
_DATABASE_PACKAGES = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3")
# Errors of the driver that are faults of the code or the data, not of the database being away: never "try again".
_NOT_TRANSIENT = (sa_exc.IntegrityError, sa_exc.ProgrammingError, sa_exc.DataError, sa_exc.NotSupportedError)


def _raised_in_database_code(error: BaseException) -> bool:
    traceback = error.__traceback__
    while traceback is not None:
        module = str(traceback.tb_frame.f_globals.get("__name__", ""))
        if module.split(".", 1)[0] in _DATABASE_PACKAGES:
            return True
        traceback = traceback.tb_next
    return False


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database is busy or out of reach for a moment, so trying again may work.

    SQLite "database is locked" and "unable to open" are `OperationalError`s; PostgreSQL restarting or shutting down
    comes as `OperationalError`, `InterfaceError` or a plain `DBAPIError` (asyncpg's unclassified errors); a full
    pool as SQLAlchemy's `TimeoutError`; a refused or timed-out connection as a bare `OSError` or `TimeoutError`
    raised inside the driver. Integrity, programming and data errors are bugs, not weather.
    """
    if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        return not isinstance(error, _NOT_TRANSIENT)
    if isinstance(error, OSError | TimeoutError):
        return _raised_in_database_code(error)
    return False


DATABASE_WRITES = RetryPolicy(pauses=(0.5, 2.0), retry_on=database_unavailable)
"""A write the database refused for a moment: twice more, within about 3 s (a SQLite lock, a PostgreSQL restart).
The call retried must be a whole transaction, so a failed try leaves nothing half-stored."""
