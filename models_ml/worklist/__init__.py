"""Collector worklists: what to do today, for whom, in which order, and by when."""
