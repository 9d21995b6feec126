"""kgrec: the command line and the settings shared by every package."""

from kgrec.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
