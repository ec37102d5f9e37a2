"""Retry timing: recovery curves learned from history, rule-safe recommendations, and a policy simulator."""
