# syntax=docker/dockerfile:1
#
# Nexus Discord bot.
#
#   docker build -t nexus-bot .
#   docker run --rm -e DISCORD_TOKEN=... -v nexus-data:/var/lib/nexus nexus-bot
#
# Needs BuildKit (the default builder since Docker Engine 23) for `RUN --mount`.

# ---------------------------------------------------------------------------
# Builder: a wheel of Nexus and a wheel of every runtime dependency, in /wheels.
# Every dependency ships manylinux wheels for CPython 3.11 on amd64 and arm64,
# so no compiler is needed here either; pip only downloads them (and hatchling,
# in an isolated build environment, to build Nexus itself).
# ---------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src

# Only what the wheel is built from (see [tool.hatch.build] in pyproject.toml);
# README.md is the package's readme, so the metadata needs it.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY data ./data
COPY migrations ./migrations

# The `postgres` extra brings asyncpg, so DATABASE_URL may name PostgreSQL.
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres]"

# ---------------------------------------------------------------------------
# Runtime: the wheels and nothing else. No compilers, no dev extras, no apt.
# ---------------------------------------------------------------------------
FROM python:3.11-slim-bookworm

LABEL org.opencontainers.image.title="nexus-bot" \
      org.opencontainers.image.description="Nexus: topics, a searchable challenge log and frontend/backend pairing for the ProDev Project Nexus Discord community" \
      org.opencontainers.image.licenses="MIT"

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite+aiosqlite:////var/lib/nexus/nexus.db

# A fixed uid/gid, so a bind-mounted data directory can be chowned to it
# (`chown 10001:10001 ./data-dir`). Named volumes copy this ownership themselves.
RUN groupadd --system --gid 10001 nexus \
    && useradd --system --uid 10001 --gid nexus --home-dir /var/lib/nexus \
       --no-create-home --shell /usr/sbin/nologin nexus \
    && install -d -o nexus -g nexus -m 0750 /var/lib/nexus

# The wheels are bind-mounted from the builder, not copied, so they leave no layer behind.
# --no-index: nothing is fetched from PyPI here; exactly the builder's wheels are installed.
# pip still precompiles them to .pyc (PYTHONDONTWRITEBYTECODE only stops writes at run time),
# so the unprivileged user never needs to write into site-packages.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --root-user-action=ignore --find-links=/wheels /wheels/*.whl

# The SQLite database (the default DATABASE_URL) lives here. With PostgreSQL
# nothing is written to it, but the working directory stays writable for the bot.
WORKDIR /var/lib/nexus
VOLUME ["/var/lib/nexus"]

USER 10001:10001

# No HEALTHCHECK: Nexus is a Discord gateway client. It listens on no port and
# writes no heartbeat file, so there is nothing inside the container a probe
# could ask that would mean more than "the process is alive", which Docker
# already knows. A failed login or a broken knowledge base makes it exit with
# a non-zero status, and the restart policy (see docker-compose.yml) handles that.

# Exec form: no shell in between, so SIGTERM from `docker stop` reaches the bot,
# which closes the gateway and disposes of the database engine. As PID 1 it only
# honours SIGTERM once its handler is installed (after the start-up migration);
# `docker run --init` (Compose: `init: true`) makes an earlier SIGTERM work too.
ENTRYPOINT ["nexus-bot"]
CMD ["run"]
