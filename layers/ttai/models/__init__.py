"""Pydantic models every edge validates against."""
