"""Low-level PDF surgery for the corpus: hand-written incremental updates and in-place signing.

pyHanko's writers always produce tidy updates; real files also contain cross-reference
sections that free objects, hybrid-reference trailers and signatures written inside a
linearized file. These helpers write such bytes directly.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from collections.abc import Mapping, Sequence

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.timestamps import TimeStamper

_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")


def last_startxref(data: bytes) -> int:
    match = _STARTXREF.search(data)
    assert match is not None, "no startxref at the end of the file"
    return int(match.group(1))


def previous_trailer(data: bytes) -> generic.DictionaryObject:
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    return reader.trailer


def _trailer_value(value: object) -> bytes:
    out = io.BytesIO()
    if isinstance(value, generic.IndirectObject):
        out.write(b"%d %d R" % (value.idnum, value.generation))
    else:
        assert isinstance(value, generic.PdfObject)
        value.write_to_stream(out)
    return out.getvalue()


def append_update(
    data: bytes,
    objects: Mapping[int, bytes],
    *,
    freed: Sequence[tuple[int, int]] = (),
    extra_trailer: bytes = b"",
) -> bytes:
    """Append a classic incremental update: new object bodies, freed objects, a trailer.

    ``objects`` maps object numbers (generation 0) to the bytes between ``obj`` and
    ``endobj``; ``freed`` lists (number, generation) to mark free, with the next generation.
    """
    trailer = previous_trailer(data)
    size = int(trailer["/Size"])
    out = bytearray(data)
    if not out.endswith(b"\n"):
        out += b"\n"
    offsets: dict[int, bytes] = {}
    for number, body in sorted(objects.items()):
        offsets[number] = b"%010d 00000 n\r\n" % len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        size = max(size, number + 1)
    for number, generation in freed:
        offsets[number] = b"0000000000 %05d f\r\n" % (generation + 1)
        size = max(size, number + 1)
    xref_at = len(out)
    out += b"xref\n0 1\n0000000000 65535 f\r\n"
    for number in sorted(offsets):
        out += b"%d 1\n" % number + offsets[number]
    out += b"trailer\n<< /Size %d /Root %s /Prev %d" % (
        size,
        _trailer_value(trailer.raw_get("/Root")),
        last_startxref(data),
    )
    for key in ("/Info", "/ID"):
        if key in trailer:
            out += b" " + key.encode() + b" " + _trailer_value(trailer.raw_get(key))
    out += extra_trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


PLACEHOLDER_RANGE = b"0 9999999999 9999999999 9999999999"


def fill_signature_in_place(
    data: bytes,
    signer: signers.Signer,
    timestamper: TimeStamper | None,
) -> bytes:
    """Sign a file whose signature dictionary already sits in the file with placeholders.

    The dictionary has ``/ByteRange [`` :data:`PLACEHOLDER_RANGE` ``]`` and a hex ``/Contents`` of
    zeros; both are patched where they are, so the signature covers the file exactly as it
    was written (e.g. by a tool that signs while saving a linearized file).
    """
    range_at = data.index(PLACEHOLDER_RANGE)
    # qpdf writes dictionary keys sorted: /Contents follows /ByteRange.
    contents_at = data.index(b"/Contents", range_at) + len(b"/Contents")
    open_at = data.index(b"<", contents_at)
    close_at = data.index(b">", open_at)
    assert set(data[open_at + 1 : close_at]) <= set(b"0"), "the /Contents is not a placeholder"
    ranges = (0, open_at, close_at + 1, len(data) - close_at - 1)
    patched_range = b"0 %010d %010d %010d" % ranges[1:]
    assert len(patched_range) == len(PLACEHOLDER_RANGE)
    data = data[:range_at] + patched_range + data[range_at + len(PLACEHOLDER_RANGE) :]
    digest = hashlib.sha256(data[:open_at] + data[close_at + 1 :]).digest()
    cms = asyncio.run(signer.async_sign(digest, "sha256", use_pades=True, timestamper=timestamper))
    hex_cms = cms.dump().hex().encode()
    room = close_at - open_at - 1
    assert len(hex_cms) <= room, "the /Contents placeholder is too small"
    return data[: open_at + 1] + hex_cms.ljust(room, b"0") + data[close_at:]
