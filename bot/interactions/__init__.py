"""Interaction plumbing: replies that pick the right call, the deferral watchdog, error replies and their wording."""
