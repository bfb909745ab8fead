"""The registry's domain: models, services and workflows.

Nothing in this package knows about HTTP or about search engines; ``registry.app`` is the one
place that wires the domain to the web, the search port and the command line.
"""
