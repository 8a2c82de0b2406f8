"""The migrate function: applies database migrations on deploy."""
