"""Reusable widgets: the virtual table, the navigation bar, text helpers."""
