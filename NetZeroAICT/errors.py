"""Errors a person reads: each says what was wrong, where, and what to do."""

from __future__ import annotations


class NetZeroAICTError(Exception):
    """Base class of every error the core raises on purpose.

    ``where`` names the file, field, case or volume at fault; ``hint`` says what to do.
    ``str(error)`` joins the three into one readable message.
    """

    def __init__(self, what: str, where: str | None = None, hint: str | None = None):
        self.what = what
        self.where = where
        self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        text = f"{self.where}: {self.what}" if self.where else self.what
        if self.hint:
            text += f" — {self.hint}"
        return text


class VolumeError(NetZeroAICTError):
    """A volume could not be read, written or used as asked."""


class InputSafetyError(NetZeroAICTError):
    """An input was refused before processing because it is unsafe to process."""


class ValidationError(NetZeroAICTError):
    """A document (protocol, manifest, model card, answer) does not follow its schema."""
