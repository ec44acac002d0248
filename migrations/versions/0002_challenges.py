"""The challenge log: challenges, solutions, topics, per-server settings, channel cursors, search.

Search is kept in step by the database itself, so no write path can forget it: an FTS5 table with
triggers on SQLite, a tsvector column with a GIN index and triggers on PostgreSQL.

Revision ID: 0002_challenges
Revises: 0001_initial
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0002_challenges"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "challenges",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("author_name", sa.String(length=100), nullable=False),
        sa.Column("source_message_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("tried", sa.Text(), nullable=True),
        sa.Column("error_terms", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.Column("solved_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.Column("deleted_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.Column("deleted_by", sa.BigInteger(), nullable=True),
        sa.Column("nudged_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.Column("asked_author_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'solved')", name=op.f("ck_challenges_status_is_known")),
        sa.CheckConstraint("length(details) <= 4000", name=op.f("ck_challenges_details_length")),
        sa.CheckConstraint("length(trim(title)) BETWEEN 1 AND 100", name=op.f("ck_challenges_title_length")),
        sa.CheckConstraint("tried IS NULL OR length(tried) <= 1000", name=op.f("ck_challenges_tried_length")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenges")),
        sa.UniqueConstraint("source_message_id", name=op.f("uq_challenges_source_message_id")),
    )
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.create_index("ix_challenges_author", ["guild_id", "author_id"], unique=False)
        batch_op.create_index("ix_challenges_queue", ["guild_id", "status", "created_at"], unique=False)
        batch_op.create_index("ix_challenges_guild_order", ["guild_id", "id"], unique=False)

    op.create_table(
        "channel_cursors",
        sa.Column("channel_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("last_message_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_channel_cursors")),
    )
    op.create_table(
        "guild_settings",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("challenge_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("pairing_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("moderator_role_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_guild_settings")),
    )
    op.create_table(
        "challenge_topics",
        sa.Column("challenge_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("slug", sa.String(length=60), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_challenge_topics_challenge_id_challenges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("challenge_id", "slug", name=op.f("pk_challenge_topics")),
    )
    with op.batch_alter_table("challenge_topics", schema=None) as batch_op:
        batch_op.create_index("ix_challenge_topics_slug", ["slug", "challenge_id"], unique=False)

    op.create_table(
        "solutions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("challenge_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("author_name", sa.String(length=100), nullable=False),
        sa.Column("source_message_id", sa.BigInteger(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("accepted_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.Column("deleted_at", bot.db.base.UTCDateTime(), nullable=True),
        sa.CheckConstraint("length(trim(body)) BETWEEN 1 AND 4000", name=op.f("ck_solutions_body_length")),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_solutions_challenge_id_challenges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_solutions")),
        sa.UniqueConstraint("source_message_id", name=op.f("uq_solutions_source_message_id")),
    )
    with op.batch_alter_table("solutions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_solutions_challenge_id"), ["challenge_id"], unique=False)
        batch_op.create_index("ix_solutions_leaderboard", ["guild_id", "accepted", "accepted_at"], unique=False)
        batch_op.create_index(
            "uq_solutions_one_accepted",
            ["challenge_id"],
            unique=True,
            sqlite_where=sa.text("accepted"),
            postgresql_where=sa.text("accepted"),
        )

    _create_search(op.get_bind().dialect.name)


# The FTS row of one challenge, rebuilt from the tables (a soft-deleted challenge has none).
_SQLITE_REFRESH = """
    DELETE FROM challenge_search WHERE rowid = {id};
    INSERT INTO challenge_search(rowid, title, details, solutions, error_terms, topics)
    SELECT c.id, c.title, c.details || ' ' || coalesce(c.tried, ''),
           coalesce((SELECT group_concat(s.body, ' ') FROM solutions AS s
                     WHERE s.challenge_id = c.id AND s.deleted_at IS NULL), ''),
           c.error_terms,
           coalesce((SELECT group_concat(replace(t.slug, '-', ' '), ' ')
                     FROM challenge_topics AS t WHERE t.challenge_id = c.id), '')
    FROM challenges AS c WHERE c.id = {id} AND c.deleted_at IS NULL;
"""

_SQLITE_TRIGGERS = {
    "challenges_search_insert": ("AFTER INSERT ON challenges", "new.id"),
    "challenges_search_update": ("AFTER UPDATE ON challenges", "new.id"),
    "solutions_search_insert": ("AFTER INSERT ON solutions", "new.challenge_id"),
    "solutions_search_update": ("AFTER UPDATE ON solutions", "new.challenge_id"),
    "solutions_search_delete": ("AFTER DELETE ON solutions", "old.challenge_id"),
    "challenge_topics_search_insert": ("AFTER INSERT ON challenge_topics", "new.challenge_id"),
    "challenge_topics_search_delete": ("AFTER DELETE ON challenge_topics", "old.challenge_id"),
}

_POSTGRES_SEARCH = (
    "ALTER TABLE challenges ADD COLUMN search_vector tsvector",
    "CREATE INDEX ix_challenges_search_vector ON challenges USING gin (search_vector)",
    """
    CREATE FUNCTION challenges_search_vector_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.search_vector :=
        setweight(to_tsvector('simple', coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector('simple', coalesce(NEW.error_terms, '')), 'A') ||
        setweight(to_tsvector('simple', coalesce(
          (SELECT string_agg(replace(slug, '-', ' '), ' ') FROM challenge_topics WHERE challenge_id = NEW.id),
          '')), 'B') ||
        setweight(to_tsvector('simple', coalesce(NEW.details, '') || ' ' || coalesce(NEW.tried, '')), 'C') ||
        setweight(to_tsvector('simple', coalesce(
          (SELECT string_agg(body, ' ') FROM solutions
           WHERE challenge_id = NEW.id AND deleted_at IS NULL), '')), 'D');
      RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER challenges_search_vector BEFORE INSERT OR UPDATE ON challenges
      FOR EACH ROW EXECUTE FUNCTION challenges_search_vector_refresh()
    """,
    """
    CREATE FUNCTION challenges_search_touch() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE challenges SET search_vector = NULL
      WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.challenge_id ELSE NEW.challenge_id END;
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER solutions_search AFTER INSERT OR UPDATE OR DELETE ON solutions
      FOR EACH ROW EXECUTE FUNCTION challenges_search_touch()
    """,
    """
    CREATE TRIGGER challenge_topics_search AFTER INSERT OR UPDATE OR DELETE ON challenge_topics
      FOR EACH ROW EXECUTE FUNCTION challenges_search_touch()
    """,
)

_POSTGRES_SEARCH_DROP = (
    "DROP TRIGGER IF EXISTS challenge_topics_search ON challenge_topics",
    "DROP TRIGGER IF EXISTS solutions_search ON solutions",
    "DROP FUNCTION IF EXISTS challenges_search_touch()",
    "DROP TRIGGER IF EXISTS challenges_search_vector ON challenges",
    "DROP FUNCTION IF EXISTS challenges_search_vector_refresh()",
    "DROP INDEX IF EXISTS ix_challenges_search_vector",
    "ALTER TABLE challenges DROP COLUMN IF EXISTS search_vector",
)


def _create_search(dialect: str) -> None:
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE challenge_search USING fts5("
            "title, details, solutions, error_terms, topics, tokenize = 'unicode61 remove_diacritics 2')"
        )
        for name, (when, challenge_id) in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} BEGIN {_SQLITE_REFRESH.format(id=challenge_id)} END")
        op.execute(
            "CREATE TRIGGER challenges_search_delete AFTER DELETE ON challenges "
            "BEGIN DELETE FROM challenge_search WHERE rowid = old.id; END"
        )
    elif dialect == "postgresql":
        for statement in _POSTGRES_SEARCH:
            op.execute(statement)
    else:
        raise NotImplementedError(f"no full-text search for the {dialect} dialect")


def _drop_search(dialect: str) -> None:
    if dialect == "sqlite":
        for name in [*_SQLITE_TRIGGERS, "challenges_search_delete"]:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS challenge_search")
    elif dialect == "postgresql":
        for statement in _POSTGRES_SEARCH_DROP:
            op.execute(statement)


def downgrade() -> None:
    _drop_search(op.get_bind().dialect.name)
    with op.batch_alter_table("solutions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_solutions_one_accepted",
            sqlite_where=sa.text("accepted"),
            postgresql_where=sa.text("accepted"),
        )
        batch_op.drop_index("ix_solutions_leaderboard")
        batch_op.drop_index(batch_op.f("ix_solutions_challenge_id"))

    op.drop_table("solutions")
    with op.batch_alter_table("challenge_topics", schema=None) as batch_op:
        batch_op.drop_index("ix_challenge_topics_slug")

    op.drop_table("challenge_topics")
    op.drop_table("guild_settings")
    op.drop_table("channel_cursors")
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.drop_index("ix_challenges_guild_order")
        batch_op.drop_index("ix_challenges_queue")
        batch_op.drop_index("ix_challenges_author")

    op.drop_table("challenges")
