"""The terminal adapter: a person plays the volunteer, one input per line, from a keyboard or a pipe."""

from bot.console.runner import ConsoleRunner
from bot.console.sender import ConsoleSender

__all__ = ["ConsoleRunner", "ConsoleSender"]
