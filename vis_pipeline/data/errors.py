"""The one exception type of the data layer."""

from __future__ import annotations


class DataError(ValueError):
    """Bad input data: the message is ONE line naming the file (or video) and the problem."""
