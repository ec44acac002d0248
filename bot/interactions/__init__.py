"""Interaction plumbing: replies that pick the right call, error replies and their wording."""
