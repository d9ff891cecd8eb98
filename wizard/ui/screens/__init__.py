"""One module per step of the official flow; each has ``view(m, ui) -> list of controls``."""
