"""The relational store: SQLite by default, PostgreSQL in production (SQLAlchemy 2 + Alembic)."""
