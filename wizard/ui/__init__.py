"""The Flet wizard: one module per step; it only calls the core."""
