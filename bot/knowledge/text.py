"""Text normalisation shared by the alias index and the loader's clash check."""

import re
import unicodedata

_SEPARATORS = re.compile(r"[\s_\-./]+")


def normalise(text: str) -> str:
    """Lowercase, accents folded, separators collapsed: 'Docker-Compose' and 'docker compose' meet."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _SEPARATORS.sub(" ", folded.lower()).strip()
