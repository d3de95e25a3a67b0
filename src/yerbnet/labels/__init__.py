"""Turning a labelling tool's export into one canonical labels table."""
