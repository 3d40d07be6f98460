"""Operational scripts that are run by hand or from tests (not shipped with the bot)."""
