"""Qoltanba: renew a Kazakhstan electronic digital signature (ЭЦП / ЭЦҚ) at home, offline first."""

__version__ = "0.1.0"
