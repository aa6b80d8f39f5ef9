"""Errors that carry a fix. The CLI turns them into messages; nothing else prints them."""

import logging

MESSAGES = "harness.messages"  # the logger of warnings and notes, which the CLI prints


class HarnessError(Exception):
    """A problem the user can fix. `hint` says how."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message


class ConfigError(HarnessError):
    """The job config is invalid."""


class StepError(HarnessError):
    """A step of the flow failed or was run out of order."""


def warn(message: str) -> None:
    """A problem that does not stop the command: the CLI prints it as a `warning:` line."""
    logging.getLogger(MESSAGES).warning(message)


def note(message: str) -> None:
    """Something the user should know that harness did on its own: the CLI prints it."""
    logging.getLogger(MESSAGES).info(message)
