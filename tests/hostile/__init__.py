"""Hostile and broken input (shared/docs/hostile-input.md), generated at test time."""
