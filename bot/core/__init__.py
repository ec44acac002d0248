"""Shared core: domain errors, embeds, Discord's limits, rate limits, fair queues, user text."""
