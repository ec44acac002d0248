"""The typed shape of a topic card. A card that does not fit this shape never loads."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class Category(StrEnum):
    PYTHON = "python"
    DJANGO = "django"
    APIS = "apis"
    DATABASES = "databases"
    ASYNC = "async"
    PERFORMANCE = "performance"
    SECURITY = "security"
    DEVOPS = "devops"
    ARCHITECTURE = "architecture"
    TESTING = "testing"
    WEB = "web"
    FRONTEND = "frontend"

    @property
    def label(self) -> str:
        return _CATEGORY_LABELS[self]


_CATEGORY_LABELS = {
    Category.PYTHON: "Python",
    Category.DJANGO: "Django & DRF",
    Category.APIS: "APIs & protocols",
    Category.DATABASES: "Databases",
    Category.ASYNC: "Async & background work",
    Category.PERFORMANCE: "Caching & performance",
    Category.SECURITY: "Security",
    Category.DEVOPS: "DevOps & delivery",
    Category.ARCHITECTURE: "Architecture & operations",
    Category.TESTING: "Testing & workflow",
    Category.WEB: "Web platform: JS, TS & CSS",
    Category.FRONTEND: "Frontend apps: React & Next.js",
}


FRONTEND_CATEGORIES = frozenset({Category.WEB, Category.FRONTEND})


def categories_for_track(track: str | None) -> frozenset[Category]:
    """The categories a learner of `track` ("frontend" or "backend") is offered first; none for no track."""
    if track == "frontend":
        return FRONTEND_CATEGORIES
    if track == "backend":
        return frozenset(Category) - FRONTEND_CATEGORIES
    return frozenset()


class DocLink(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1, max_length=80)
    url: HttpUrl

    @field_validator("url")
    @classmethod
    def _https(cls, value: HttpUrl) -> HttpUrl:
        if value.scheme != "https":
            raise ValueError("documentation links must use https")
        return value


class TopicCard(BaseModel):
    """One topic: front matter plus the sections of the Markdown body."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1, max_length=80)
    slug: str = Field(pattern=SLUG_PATTERN, max_length=60)
    category: Category
    aliases: tuple[str, ...] = ()
    # Words that point at this topic in free text (challenge posts) but are no name of it: they
    # may be shared by several cards ("select_related" is both Django ORM and query optimisation).
    keywords: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    docs: tuple[DocLink, ...] = Field(default=(), max_length=5)
    # The day the card was last checked against its official docs (`nexus-bot check --stale`).
    reviewed: date
    summary: str = Field(min_length=50, max_length=1000)
    key_points: str = Field(min_length=50, max_length=1000)
    pitfalls: str = Field(min_length=50, max_length=1000)
    example: str | None = Field(default=None, max_length=1000)

    @field_validator("aliases", "keywords")
    @classmethod
    def _clean_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not name.strip() or len(name) > 40 or name != name.lower():
                raise ValueError(f"{name!r} must be lowercase, non-empty, at most 40 characters")
        return value

    @field_validator("related")
    @classmethod
    def _related_slugs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for slug in value:
            if not re.fullmatch(SLUG_PATTERN, slug):
                raise ValueError(f"related entry {slug!r} is not a slug")
        return value

    @model_validator(mode="after")
    def _not_self_related(self) -> TopicCard:
        if self.slug in self.related:
            raise ValueError("a card cannot list itself as related")
        return self
