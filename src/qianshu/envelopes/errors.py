"""Refusals of envelope actions. ``str(exc)`` is a message for the user (already translated)."""

from __future__ import annotations


class EnvelopeError(Exception):
    """An envelope action was refused; the message says why, in the user's language."""


class NotYourTurn(EnvelopeError):
    """The recipient cannot act now (not their turn, already done, or the envelope ended)."""


class DocumentChanged(EnvelopeError):
    """The document is not the one the signer saw (its revision is unknown or not an ancestor
    of the current revision)."""


class ConfirmationError(EnvelopeError):
    """The signing PIN or SMS code was not accepted."""
