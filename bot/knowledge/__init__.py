"""The topics knowledge base: Markdown cards with front matter, their loader, index and rendering."""

from bot.knowledge.cards import Category, DocLink, TopicCard, categories_for_track
from bot.knowledge.index import Lookup, TopicChoice, TopicIndex
from bot.knowledge.loader import KnowledgeBase, KnowledgeBaseError, load_knowledge_base, parse_card, stale_cards

__all__ = [
    "Category",
    "DocLink",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Lookup",
    "TopicCard",
    "TopicChoice",
    "TopicIndex",
    "categories_for_track",
    "load_knowledge_base",
    "parse_card",
    "stale_cards",
]
