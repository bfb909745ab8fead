"""WSGI entry point for gunicorn: ``gunicorn 'registry.wsgi:app'``."""

from registry.app import create_app

app = create_app()
