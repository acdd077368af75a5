"""The signing core's exception hierarchy.

Public functions of :mod:`qianshu.signing` raise only these (never a bare ``KeyError`` or
``ValueError``), so callers can turn them into clear user-facing messages. ``code`` is a stable,
machine-readable identifier; the message is English and meant for logs and developers — the web
layer maps codes to translated texts.
"""

from __future__ import annotations


class SigningError(Exception):
    """Base class of every error raised by the signing core."""

    code = "signing_error"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        if code is not None:
            self.code = code


class ConfigurationError(SigningError):
    """The signing core was given an unusable configuration (missing font, bad key size, ...)."""

    code = "configuration"


class PkiError(SigningError):
    """A certificate, CRL or OCSP operation failed."""

    code = "pki"


class KeyStoreError(SigningError):
    """A key could not be created, unwrapped or used."""

    code = "key_store"


class WrongPinError(KeyStoreError):
    """The signing PIN is wrong."""

    code = "wrong_pin"


class TimestampError(SigningError):
    """A time-stamp request could not be answered."""

    code = "timestamp"


class ImageError(SigningError):
    """An image could not be used (not an image, too large, no ink found, ...)."""

    code = "image"


class NoInkError(ImageError):
    """No handwriting or seal ink was found in the image."""

    code = "no_ink"


class MissingGlyphError(ImageError):
    """The seal font has no glyph for ``char``."""

    code = "missing_glyph"

    def __init__(self, message: str = "", *, char: str = "") -> None:
        super().__init__(message)
        self.char = char


class PdfError(SigningError):
    """A PDF could not be accepted or processed."""

    code = "pdf"


class NotAPdfError(PdfError):
    """The file is not a PDF document."""

    code = "not_pdf"


class EncryptedPdfError(PdfError):
    """The PDF is encrypted or password-protected."""

    code = "encrypted_pdf"


class BrokenPdfError(PdfError):
    """The PDF is damaged and cannot be read."""

    code = "broken_pdf"


class PdfTooLargeError(PdfError):
    """The PDF exceeds a size, page or decompression limit."""

    code = "pdf_too_large"


class FieldError(PdfError):
    """A signature field is missing, duplicated, already signed or placed outside its page."""

    code = "field"


class LockedPdfError(FieldError):
    """The document was completed by the platform and carries its completion lock: any field,
    widget or signature added later would invalidate it."""

    code = "locked_pdf"


class SignatureError(SigningError):
    """Applying a signature failed."""

    code = "signature"


class SignedActiveContentError(PdfError):
    """An already signed PDF carries content that normalisation would remove (JavaScript,
    actions, embedded files, form fields …); it cannot be removed without breaking the existing
    signatures. ``found`` lists the categories (``IngestedPdf.removed`` names)."""

    code = "signed_active_content"

    def __init__(self, message: str = "", *, found: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.found = found


class CertifiedPdfError(PdfError):
    """The PDF carries a certification signature (DocMDP): nothing may be added to it."""

    code = "certified_pdf"


class BrokenSignatureError(PdfError):
    """A signature already in the PDF is unreadable, not intact or does not verify, or the file
    was changed after it in a way that hides content."""

    code = "broken_signature"
