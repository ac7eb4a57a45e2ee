"""Persistence: SQLAlchemy models, Alembic migrations shipped as package data, repositories,
and backup/restore. SQLite (WAL) is the embedded default; PostgreSQL when a URL names one."""
