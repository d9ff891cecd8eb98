"""NCA key stores: reading, checking, generating, requesting and writing keys (no UI, no network)."""
