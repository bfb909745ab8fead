"""Alembic migrations of the registry's schema (see ``registry.migrate``)."""
