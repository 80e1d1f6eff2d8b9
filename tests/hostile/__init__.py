"""Hostile and broken input (docs/hostile-input.md), generated at test time."""
