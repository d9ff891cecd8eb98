"""The renewal journal: states, transitions, resume; expiry and reminders (no UI, no network)."""
