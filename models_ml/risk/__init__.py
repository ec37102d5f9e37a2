"""Calibrated risk that an open receivable item is not recovered within 30 days, with plain-word reasons."""
