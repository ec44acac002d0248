"""Persistence: typed models, the async engine and session factory, repositories, migrations."""
