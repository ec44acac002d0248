"""The topics knowledge base: Markdown cards with front matter, their loader, index and rendering."""

from bot.knowledge.cards import Category, DocLink, TopicCard
from bot.knowledge.index import TopicChoice, TopicIndex
from bot.knowledge.loader import KnowledgeBase, KnowledgeBaseError, load_knowledge_base, parse_card

__all__ = [
    "Category",
    "DocLink",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "TopicCard",
    "TopicChoice",
    "TopicIndex",
    "load_knowledge_base",
    "parse_card",
]
