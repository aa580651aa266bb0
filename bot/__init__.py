"""Pendamping: a companion bot for child-trafficking hotline volunteers."""

__version__ = "0.1.0"
