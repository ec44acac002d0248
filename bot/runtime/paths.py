"""Where the files that ship with the package live, in an install and in a checkout."""

from pathlib import Path

# bot/runtime/paths.py: the package is two levels up.
_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def shipped_dir(name: str) -> Path:
    """The `data/` or `migrations/` directory that came with this copy of Nexus.

    A wheel carries them under `bot/_bundled/`; a checkout (or an editable install) has them
    beside the package.
    """
    for candidate in (_PACKAGE_DIR / "_bundled" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name!r} directory is missing from this installation of Nexus")


def default_data_dir() -> Path:
    return shipped_dir("data")


def migrations_dir() -> Path:
    return shipped_dir("migrations")
