"""The config's one error, in a room that imports nothing: the wall display
catches it without loading pydantic (kiosk/config/checked.py)."""


class ConfigError(Exception):
    """A site config that cannot be used; the message is meant for a person."""
