"""Machinery shared by the nas_gym agents (SB3-style ``common/`` package)."""
