# syntax=docker/dockerfile:1
#
# Nexus Discord bot.
#
#   docker build -t nexus-bot .
#   docker run --rm -e DISCORD_TOKEN=... -v nexus-data:/var/lib/nexus nexus-bot

# ---------------------------------------------------------------------------
# Builder: a virtual environment in /opt/nexus holding exactly the locked
# dependencies and Nexus; the runtime stage copies it whole. Every dependency
# ships manylinux wheels for CPython 3.11 on amd64 and arm64, so no compiler is
# needed (--only-binary makes sure of it).
# ---------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src

# The same path in both stages: a venv's scripts name their interpreter by path.
RUN python -m venv /opt/nexus

# The runtime dependencies (with the postgres extra, so DATABASE_URL may name
# PostgreSQL) exactly as requirements.lock pins them: --require-hashes makes pip
# refuse any file whose sha256 is not in the lock, and any dependency the lock
# does not pin. `make lock` rewrites the lock; `make test` checks it against
# pyproject.toml. First and alone, so this layer is cached until the lock changes.
COPY requirements.lock ./
RUN /opt/nexus/bin/pip install --no-cache-dir --require-hashes --only-binary=:all: -r requirements.lock

# Only what the wheel is built from (see [tool.hatch.build] in pyproject.toml);
# README.md is the package's readme, so the metadata needs it.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY data ./data
COPY migrations ./migrations

# Nexus itself, with --no-deps: nothing beyond the lock is installed. (pip builds
# it with hatchling, fetched into an isolated build environment.) `pip check`
# then fails the build if the lock lacks something pyproject.toml requires. The
# web hub runs as `python -OO` (no docstrings in memory): its .pyc files are
# compiled here too, since nothing may write them at run time.
RUN /opt/nexus/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /tmp/wheel . \
    && /opt/nexus/bin/pip install --no-cache-dir --no-deps /tmp/wheel/nexus_bot-*.whl \
    && /opt/nexus/bin/pip check \
    && /opt/nexus/bin/python -OO -m compileall -q /opt/nexus/lib

# ---------------------------------------------------------------------------
# Runtime: the builder's environment and nothing else. No compilers, no dev
# extras, no apt, no pip run here.
# ---------------------------------------------------------------------------
FROM python:3.11-slim-bookworm

LABEL org.opencontainers.image.title="nexus-bot" \
      org.opencontainers.image.description="Nexus: topics, a searchable challenge log and frontend/backend pairing for the ProDev Project Nexus Discord community" \
      org.opencontainers.image.licenses="MIT"

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/nexus/bin:$PATH \
    DATABASE_URL=sqlite+aiosqlite:////var/lib/nexus/nexus.db

# A fixed uid/gid, so a bind-mounted data directory can be chowned to it
# (`chown 10001:10001 ./data-dir`). Named volumes copy this ownership themselves.
RUN groupadd --system --gid 10001 nexus \
    && useradd --system --uid 10001 --gid nexus --home-dir /var/lib/nexus \
       --no-create-home --shell /usr/sbin/nologin nexus \
    && install -d -o nexus -g nexus -m 0750 /var/lib/nexus

# Owned by root and only readable by the bot's user: pip precompiled the .pyc
# files in the builder (PYTHONDONTWRITEBYTECODE only stops writes at run time),
# so nothing ever needs to write into the environment.
COPY --from=builder /opt/nexus /opt/nexus

# The SQLite database (the default DATABASE_URL) lives here. With PostgreSQL
# nothing is written to it, but the working directory stays writable for the bot.
WORKDIR /var/lib/nexus
VOLUME ["/var/lib/nexus"]

USER 10001:10001

# No HEALTHCHECK: Nexus is a Discord gateway client. It listens on no port and
# writes no heartbeat file, so there is nothing inside the container a probe
# could ask that would mean more than "the process is alive", which Docker
# already knows. A rejected token (status 2) or a broken knowledge base makes it
# exit with a non-zero status, and the restart policy (see docker-compose.yml)
# handles that; while Discord is unreachable the bot waits and retries itself.

# Exec form: no shell in between, so SIGTERM from `docker stop` reaches the bot,
# which closes the gateway and disposes of the database engine. As PID 1 it only
# honours SIGTERM once its handler is installed (after the start-up migration);
# `docker run --init` (Compose: `init: true`) makes an earlier SIGTERM work too.
ENTRYPOINT ["nexus-bot"]
CMD ["run"]
