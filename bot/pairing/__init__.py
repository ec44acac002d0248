"""Pairing: the pure logic of matching frontend and backend learners and scheduling their sessions."""
