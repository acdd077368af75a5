"""Every file the platform hands out goes through here: one ``Content-Disposition`` encoder.

File names come from users (a document called ``合同"; filename*=UTF-8''evil.html`` or one with a
line break): they are cleaned (no control characters, no path separators, no quotes, bounded
length), then encoded by Django's RFC 6266 / RFC 5987 helper, so a name can never add a parameter
or a header. Downloads are never cached unless the caller says otherwise.
"""

from __future__ import annotations

import unicodedata
from typing import BinaryIO, overload

from django.http import FileResponse, HttpResponse
from django.utils.http import content_disposition_header

MAX_FILENAME_CHARS = 150
NO_STORE = "private, no-store"
# Replaced rather than dropped, so that "a/b" stays readable as "a_b".
_REPLACED = str.maketrans({"/": "_", "\\": "_", '"': "'"})
_DROPPED = frozenset({"Cc", "Cf", "Zl", "Zp"})


def safe_filename(name: str, default: str = "download") -> str:
    """``name`` without control or format characters, separators or quotes, at most
    ``MAX_FILENAME_CHARS`` characters (the extension is kept); ``default`` if nothing is left."""
    text = unicodedata.normalize("NFC", name).translate(_REPLACED)
    # Cc: CR, LF, NUL, DEL…; Cf: bidi overrides that make "exe.pdf" read as "fdp.exe";
    # Zl/Zp: Unicode line and paragraph separators.
    text = "".join(ch for ch in text.replace("\t", " ") if unicodedata.category(ch) not in _DROPPED)
    text = " ".join(text.split()).strip(" .")
    if not text:
        return default
    if len(text) > MAX_FILENAME_CHARS:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            text = stem[: MAX_FILENAME_CHARS - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            text = text[:MAX_FILENAME_CHARS]
    return text


def content_disposition(filename: str, *, inline: bool = False, default: str = "download") -> str:
    """The ``Content-Disposition`` value for a file called ``filename``."""
    header = content_disposition_header(not inline, safe_filename(filename, default))
    assert header is not None  # a non-empty name always gives a header
    return header


@overload
def file_response(
    content: bytes,
    *,
    filename: str,
    content_type: str,
    inline: bool = ...,
    cache_control: str = ...,
    default_name: str = ...,
) -> HttpResponse: ...


@overload
def file_response(
    content: BinaryIO,
    *,
    filename: str,
    content_type: str,
    inline: bool = ...,
    cache_control: str = ...,
    default_name: str = ...,
) -> FileResponse: ...


def file_response(
    content: bytes | BinaryIO,
    *,
    filename: str,
    content_type: str,
    inline: bool = False,
    cache_control: str = NO_STORE,
    default_name: str = "download",
) -> HttpResponse | FileResponse:
    """A response carrying a file: ``bytes`` in one piece, a file object streamed.

    Sets ``Content-Type``, ``Content-Disposition`` (attachment unless ``inline``, with the
    cleaned name) and ``Cache-Control`` (``private, no-store`` unless given).
    """
    response: HttpResponse | FileResponse
    if isinstance(content, bytes | bytearray):
        response = HttpResponse(bytes(content), content_type=content_type)
    else:
        response = FileResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition(
        filename, inline=inline, default=default_name
    )
    response["Cache-Control"] = cache_control
    return response
