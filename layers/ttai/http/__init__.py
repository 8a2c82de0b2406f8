"""The HTTP API: the Powertools resolver, its routes, and how errors become responses."""
