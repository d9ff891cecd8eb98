"""NCA key stores: read, check, generate, request and write keys (no UI, no network)."""
