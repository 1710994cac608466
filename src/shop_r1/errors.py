"""Errors that carry a message meant for the user, shown by the CLI as one line without a traceback."""

from __future__ import annotations


class ShopR1Error(Exception):
    """A problem the user can fix (bad input, missing file or package); the message says how."""
