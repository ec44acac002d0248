"""Nexus: the Discord bot of the ProDev Project Nexus community."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nexus-bot")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"
