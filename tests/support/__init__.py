"""Shared test support: one place for waits, app harnesses and editor helpers."""
