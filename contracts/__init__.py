"""Contracts between workflows, activities and clients: dataclasses, enums and activity names (no I/O)."""
