"""The search port: subject lookup over Elasticsearch, OpenSearch or the database itself.

The database is the source of truth; an index is a projection that can be rebuilt at any
time. ``create_backend`` picks the backend named by the settings.
"""

from search.backends import (
    ElasticsearchBackend,
    OpenSearchBackend,
    SearchBackend,
    SearchHealth,
    SqlBackend,
    create_backend,
)

__all__ = [
    "ElasticsearchBackend",
    "OpenSearchBackend",
    "SearchBackend",
    "SearchHealth",
    "SqlBackend",
    "create_backend",
]
