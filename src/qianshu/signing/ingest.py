"""Accepting uploaded PDFs: validation, resource limits and normalisation before sending.

:func:`ingest_pdf` accepts only real, unencrypted PDFs within :class:`IngestLimits`. Already signed
documents (a filled signature field, or /Perms) are returned byte for byte: they may only be
appended to. Unsigned documents are normalised:

* JavaScript (Names/JavaScript, /JS, JavaScript actions anywhere), /OpenAction and every /AA go.
* Only /GoTo actions and /URI actions to ``http``, ``https`` or ``mailto`` survive; any other action
  (Launch, SubmitForm, ImportData, ResetForm, GoToR, GoToE, Rendition, ``javascript:`` URIs, ...)
  and any /Next chain containing one is removed.
* Annotations with an appearance and filled form fields are flattened into the page content, so
  what the signer sees stays as it is; then only /Link annotations with a destination or a surviving
  action remain. Fields without an appearance, hidden annotations and empty signature fields are
  dropped, and the /AcroForm (with any XFA) goes: our own code declares the signature fields, and
  pre-existing fields would let a "form filling" change alter what was signed.
* Embedded files (/EmbeddedFiles, /EF, /RF, /AF, /Collection, FileAttachment annotations) and media
  (/Renditions, /AlternatePresentations, RichMedia, Screen, 3D) are removed.
* The file is rewritten without unreferenced objects or unused page resources, with a classic
  cross-reference table (no object or xref streams) and a content-derived /ID: the same input
  always gives the same bytes.

Limits: size and page count; before qpdf decodes anything, every Flate stream in the raw bytes is
inflated into a bounded buffer; then every stream of the cross-reference table goes through its
whole filter chain with bounded decoders, and image dimensions are checked, so a decompression bomb
gives :class:`PdfTooLargeError`. Still parse uploads in a worker with CPU and memory limits.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import io
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import pikepdf

from qianshu.signing.errors import (
    BrokenPdfError,
    ConfigurationError,
    NotAPdfError,
    PdfError,
    PdfTooLargeError,
)
from qianshu.signing.pages import (
    PageSize,
    check_pdf_header,
    error_text,
    open_pikepdf,
    page_size_of,
)

MIB = 1 << 20
_IN_CHUNK = 64 * 1024
_OUT_CHUNK = MIB
_PDF_WHITESPACE = b"\x00\t\n\x0c\r "
_STREAM_RE = re.compile(rb"(?<!end)stream(?:\r\n|\n|\r)")
# Bounded and anchored: long digit runs (signature placeholders) must not make it quadratic.
_OBJ_RE = re.compile(
    rb"(?<![0-9])[0-9]{1,10}[\x00\t\n\x0c\r ]{1,8}[0-9]{1,5}[\x00\t\n\x0c\r ]{1,8}obj\b"
)
_SAFE_URI_SCHEMES = ("http://", "https://", "mailto:")
_REPORT_ORDER = (
    "javascript open_action additional_actions actions embedded_files media xfa form_fields "
    "signature_fields annotations"
).split()
_COUNTED = {"form_fields", "signature_fields", "annotations"}


@dataclass(frozen=True)
class IngestLimits:
    """Resource limits for one uploaded PDF."""

    max_bytes: int = 50 * MIB
    max_pages: int = 500
    #: Total bytes all stream filters of the document may produce when decoded.
    max_decompressed_bytes: int = 512 * MIB
    max_objects: int = 250_000
    #: Largest declared image (width × height) a renderer would have to decode.
    max_image_pixels: int = 200_000_000

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if not isinstance(getattr(self, field.name), int) or getattr(self, field.name) < 1:
                raise ConfigurationError(f"IngestLimits.{field.name} must be a positive integer")


@dataclass(frozen=True)
class IngestedPdf:
    """An accepted PDF, normalised unless it was already signed."""

    data: bytes
    sha256: str
    page_count: int
    page_sizes: tuple[PageSize, ...]
    already_signed: bool
    #: What normalisation removed, e.g. ``("javascript", "open_action", "form_fields:3")``.
    removed: tuple[str, ...]
    #: Bytes after the last ``%%EOF`` of ``data``, trailing whitespace not counted. Always 0 for
    #: normalised output; for signed input, the verifier rejects a non-zero value.
    trailing_bytes_after_eof: int
    #: For an already signed PDF (kept as is): what normalisation would have removed.
    kept_active_content: tuple[str, ...] = ()


def ingest_pdf(data: bytes, limits: IngestLimits = IngestLimits()) -> IngestedPdf:
    """Validate an uploaded PDF and normalise it for signing (see the module documentation).

    Raises :class:`NotAPdfError` (empty, or no ``%PDF-`` header in the first 1024 bytes),
    :class:`PdfTooLargeError` (a limit of ``limits`` exceeded; the message states it),
    :class:`EncryptedPdfError` (any encryption, even with an empty user password) or
    :class:`BrokenPdfError` (truncated, unparseable, no pages). No other exception escapes.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise NotAPdfError(f"expected the file's bytes, not {type(data).__name__}")
    data = bytes(data)
    try:
        _check_envelope(data, limits)
        _scan_raw_streams(data, limits)
        pdf = open_pikepdf(data)
        try:
            return _ingest(pdf, data, limits)
        finally:
            pdf.close()
    except PdfError:
        raise
    except MemoryError as exc:
        raise PdfTooLargeError("the PDF needs too much memory to process") from exc
    except Exception as exc:  # qpdf and pikepdf raise many types on hostile files
        raise BrokenPdfError(
            f"the PDF is damaged and cannot be processed: {error_text(exc)}"
        ) from exc


def _ingest(pdf: pikepdf.Pdf, data: bytes, limits: IngestLimits) -> IngestedPdf:
    _check_streams(pdf, limits)
    try:
        pages = list(pdf.pages)
    except Exception as exc:
        raise BrokenPdfError(f"the pages of the PDF cannot be found: {error_text(exc)}") from exc
    if not pages:
        raise BrokenPdfError("the PDF has no pages")
    if len(pages) > limits.max_pages:
        raise PdfTooLargeError(
            f"the PDF has {len(pages)} pages; the limit is {limits.max_pages} pages"
        )
    sizes = tuple(page_size_of(page, index) for index, page in enumerate(pages))
    signed = is_signed(pdf)
    report = _Normaliser(pdf, apply=not signed).run()
    out = data if signed else _save(pdf)
    removed, kept = ((), report) if signed else (report, ())
    return IngestedPdf(
        data=out,
        sha256=hashlib.sha256(out).hexdigest(),
        page_count=len(pages),
        page_sizes=sizes,
        already_signed=signed,
        removed=removed,
        trailing_bytes_after_eof=trailing_bytes_after_eof(out),
        kept_active_content=kept,
    )


def trailing_bytes_after_eof(data: bytes) -> int:
    """How many bytes follow the last ``%%EOF`` marker, not counting trailing whitespace."""
    index = data.rfind(b"%%EOF")
    if index < 0:
        return len(data.strip(_PDF_WHITESPACE))
    return len(data[index + 5 :].strip(_PDF_WHITESPACE))


def _check_envelope(data: bytes, limits: IngestLimits) -> None:
    if len(data) > limits.max_bytes:
        raise PdfTooLargeError(
            f"the file is {len(data)} bytes; the limit is {limits.max_bytes} bytes "
            f"({limits.max_bytes / MIB:g} MiB)"
        )
    check_pdf_header(data)
    if b"%%EOF" not in data:
        raise BrokenPdfError(
            "the PDF is incomplete (no end-of-file marker); it may have been cut off during upload"
        )
    objects = 0
    for _ in _OBJ_RE.finditer(data):
        objects += 1
        if objects > limits.max_objects:
            raise _too_many_objects(limits)


def _too_many_objects(limits: IngestLimits) -> PdfTooLargeError:
    return PdfTooLargeError(f"the PDF has more than {limits.max_objects} objects (the limit)")


class _Budget:
    """Counts decoded bytes against the limit; raises as soon as it is exceeded."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, count: int) -> None:
        self.used += count
        if self.used > self.limit:
            raise PdfTooLargeError(
                f"the PDF's compressed data expands to more than {self.limit} bytes "
                f"({self.limit / MIB:g} MiB, the limit); it may be a decompression bomb"
            )


_Chunks = Iterable[bytes | memoryview]


def _metered(chunks: Iterator[bytes], budget: _Budget) -> Iterator[bytes]:
    for chunk in chunks:
        budget.spend(len(chunk))
        yield chunk


def _inflate(chunks: _Chunks) -> Iterator[bytes]:
    inflater = zlib.decompressobj()
    try:
        for chunk in chunks:
            while chunk and not inflater.eof:
                yield inflater.decompress(chunk, _OUT_CHUNK)
                chunk = inflater.unconsumed_tail
            if inflater.eof:
                return
        while out := inflater.decompress(b"", _OUT_CHUNK):
            yield out
    except zlib.error:
        return  # damaged or not zlib data: decoders stop here too, nothing more to count


def _lzw(chunks: _Chunks) -> Iterator[bytes]:
    # PDF LZW with EarlyChange 1 (the default).
    table = [bytes([i]) for i in range(256)] + [b"", b""]
    width, buffer, bits, previous, out = 9, 0, 0, b"", bytearray()
    for chunk in chunks:
        for byte in bytes(chunk):
            buffer, bits = (buffer << 8) | byte, bits + 8
            while bits >= width:
                bits -= width
                code, buffer = buffer >> bits, buffer & ((1 << bits) - 1)
                if code == 256:
                    del table[258:]
                    width, previous = 9, b""
                    continue
                if code < len(table) and code != 257:
                    entry = table[code]
                    if previous and len(table) < 4096:
                        table.append(previous + entry[:1])
                elif code == len(table) and previous:
                    entry = previous + previous[:1]
                    table.append(entry)
                else:
                    yield bytes(out)
                    return  # end of data (257) or corrupt data
                out += entry
                previous = entry
                if len(table) + 1 >= 1 << width and width < 12:
                    width += 1
                if len(out) >= _OUT_CHUNK:
                    yield bytes(out)
                    out = bytearray()
    yield bytes(out)


def _run_length(chunks: _Chunks) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        data, i, out = pending + bytes(chunk), 0, bytearray()
        while i < len(data) and len(out) < _OUT_CHUNK:
            length = data[i]
            if length == 128:
                yield bytes(out)
                return
            size = length + 2 if length < 128 else 2
            if i + size > len(data):
                break
            out += data[i + 1 : i + size] if length < 128 else data[i + 1 : i + 2] * (257 - length)
            i += size
        pending = data[i:]
        yield bytes(out)


def _ascii_hex(chunks: _Chunks) -> Iterator[bytes]:
    carry = b""
    try:
        for chunk in chunks:
            part = bytes(chunk)
            end = part.find(b">")
            digits = carry + (part if end < 0 else part[:end]).translate(None, _PDF_WHITESPACE)
            usable = len(digits) // 2 * 2
            carry = digits[usable:]
            yield binascii.unhexlify(digits[:usable])
            if end >= 0:
                break
        if carry:
            yield binascii.unhexlify(carry + b"0")
    except (binascii.Error, ValueError):
        return


def _ascii85(chunks: _Chunks) -> Iterator[bytes]:
    carry, first = b"", True
    try:
        for chunk in chunks:
            part = bytes(chunk).translate(None, _PDF_WHITESPACE)
            if first and part.startswith(b"<~"):
                part = part[2:]
            first, end = False, part.find(b"~")
            # "z" stands for a whole group of zeros: spell it out so that groups stay aligned.
            data = carry + (part if end < 0 else part[:end]).replace(b"z", b"!!!!!")
            usable = len(data) // 5 * 5
            carry = data[usable:]
            yield base64.a85decode(data[:usable])
            if end >= 0:
                break
        if len(carry) > 1:
            yield base64.a85decode(carry + b"u" * (5 - len(carry)))[: len(carry) - 1]
    except ValueError:
        return


_DECODERS: dict[str, Callable[[_Chunks], Iterator[bytes]]] = {
    **dict.fromkeys(("/FlateDecode", "/Fl"), _inflate),
    **dict.fromkeys(("/LZWDecode", "/LZW"), _lzw),
    **dict.fromkeys(("/RunLengthDecode", "/RL"), _run_length),
    **dict.fromkeys(("/ASCIIHexDecode", "/AHx"), _ascii_hex),
    **dict.fromkeys(("/ASCII85Decode", "/A85"), _ascii85),
}


def _slices(data: bytes, start: int = 0) -> Iterator[memoryview]:
    view = memoryview(data)
    # A small first slice: most candidates are not zlib data and fail on their first bytes.
    yield view[start : start + 512]
    for offset in range(start + 512, len(data), _IN_CHUNK):
        yield view[offset : offset + _IN_CHUNK]


def _scan_raw_streams(data: bytes, limits: IngestLimits) -> None:
    """Inflate, with a bounded buffer, everything that follows a ``stream`` keyword.

    This runs before qpdf parses the file, because qpdf fully decodes cross-reference streams and
    object streams while opening it.
    """
    budget = _Budget(limits.max_decompressed_bytes)
    for count, match in enumerate(_STREAM_RE.finditer(data)):
        if count >= limits.max_objects:  # every stream is an object
            raise _too_many_objects(limits)
        for _ in _metered(_inflate(_slices(data, match.end())), budget):
            pass


def _filters(stream: pikepdf.Stream) -> list[str]:
    value = stream.stream_dict.get("/Filter")
    if value is None:
        return []
    items = list(value) if isinstance(value, pikepdf.Array) else [value]
    return [str(item) for item in items]


def _check_streams(pdf: pikepdf.Pdf, limits: IngestLimits) -> None:
    """Decode every stream of the cross-reference table with bounded decoders; check images."""
    table = pdf.get_xref_table()
    if len(table) > limits.max_objects:
        raise _too_many_objects(limits)
    object_streams = {e.obj_stream_number for e in table.values() if e.type == 2}
    # Object streams first: resolving any other object may make qpdf decode them.
    order = sorted(
        (key for key, entry in table.items() if entry.type == 1),
        key=lambda key: (key[0] not in object_streams, key),
    )
    budget = _Budget(limits.max_decompressed_bytes)
    for number, generation in order:
        obj = pdf.get_object(number, generation)
        if not isinstance(obj, pikepdf.Stream):
            continue
        _check_image(obj, limits)
        filters = _filters(obj)
        if len(filters) > 8:
            raise BrokenPdfError(f"object {number} has {len(filters)} stream filters")
        try:
            raw = obj.read_raw_bytes()
        except Exception:  # noqa: BLE001, S112 - damaged data; saving fails later if it is used
            continue
        chunks: Iterable[bytes | memoryview] = _slices(raw)
        for name in filters:
            decoder = _DECODERS.get(name)
            if decoder is None:
                break  # image codecs (their size is checked above) and unknown filters
            chunks = _metered(decoder(chunks), budget)
        for _ in chunks:
            pass


def _check_image(stream: pikepdf.Stream, limits: IngestLimits) -> None:
    if stream.stream_dict.get("/Subtype") != pikepdf.Name.Image:
        return
    try:
        width, height = int(stream.stream_dict["/Width"]), int(stream.stream_dict["/Height"])
    except (KeyError, TypeError, ValueError):
        return
    if width * height > limits.max_image_pixels:
        raise PdfTooLargeError(
            f"the PDF contains an image of {width} x {height} pixels; "
            f"the limit is {limits.max_image_pixels} pixels"
        )


def _field_types(pdf: pikepdf.Pdf) -> list[tuple[str, object]]:
    """(field type, value) of every terminal form field; qpdf follows /Kids and inheritance."""
    if not isinstance(pdf.Root.get("/AcroForm"), pikepdf.Dictionary):
        return []
    return [(str(field.field_type), field.value) for field in pdf.acroform.fields]


def is_signed(pdf: pikepdf.Pdf) -> bool:
    """Whether the PDF carries a signature: a filled signature field, or /Perms (DocMDP, UR3)."""
    if "/Perms" in pdf.Root:
        return True
    return any(
        ftype == "/Sig" and isinstance(value, pikepdf.Dictionary)
        for ftype, value in _field_types(pdf)
    )


def _looks_like_action(value: object) -> bool:
    return isinstance(value, pikepdf.Dictionary) and (
        "/S" in value or "/JS" in value or value.get("/Type") == pikepdf.Name.Action
    )


def _action_problem(action: object) -> str | None:
    """None for an action we keep (GoTo, web or mail URI), else the report category."""
    if not isinstance(action, pikepdf.Dictionary):
        return None if isinstance(action, pikepdf.Array) else "actions"  # arrays are destinations
    kind = action.get("/S")
    if kind == pikepdf.Name.JavaScript or "/JS" in action:
        return "javascript"
    if kind == pikepdf.Name.GoTo and "/D" in action:
        return None
    if kind == pikepdf.Name.URI:
        try:
            uri = str(action.get("/URI", "")).strip().lower()
        except Exception:  # noqa: BLE001 - an undecodable URI is not kept
            return "actions"
        return None if uri.startswith(_SAFE_URI_SCHEMES) else "actions"
    if kind in (pikepdf.Name.Rendition, pikepdf.Name.Sound, pikepdf.Name.Movie):
        return "media"
    return "actions"


class _Normaliser:
    """Finds (and with ``apply``, removes) active content; returns the report."""

    def __init__(self, pdf: pikepdf.Pdf, *, apply: bool) -> None:
        self.pdf = pdf
        self.apply = apply
        self.found: dict[str, int] = {}
        self.removed_annotations: set[tuple[int, int]] = set()

    def note(self, category: str, count: int = 1) -> None:
        if count:
            self.found[category] = self.found.get(category, 0) + count

    def run(self) -> tuple[str, ...]:
        self._forms_and_annotations()
        self._catalog()
        self._sweep()
        if self.apply:
            self.pdf.remove_unreferenced_resources()
        return tuple(
            f"{name}:{self.found[name]}" if name in _COUNTED else name
            for name in _REPORT_ORDER
            if name in self.found
        )

    def _forms_and_annotations(self) -> None:
        root = self.pdf.Root
        acroform = root.get("/AcroForm")
        for ftype, _ in _field_types(self.pdf):
            if ftype != "/Sig":
                self.note("form_fields")
            elif self.apply:  # the signatures of a signed document are no active content
                self.note("signature_fields")
        if isinstance(acroform, pikepdf.Dictionary):
            if "/XFA" in acroform:
                self.note("xfa")
            if self.apply and acroform.get("/NeedAppearances"):
                self.pdf.generate_appearance_streams()
                if "/NeedAppearances" in acroform:
                    del acroform["/NeedAppearances"]
        links: list[list[pikepdf.Object]] = []
        for page in self.pdf.pages:
            value = page.obj.get("/Annots")
            annots = list(value) if isinstance(value, pikepdf.Array) else []
            kept = [a for a in annots if self._keep_link(a)]
            others = [a for a in annots if not any(a is k for k in kept)]
            for annot in others:
                subtype = annot.get("/Subtype") if isinstance(annot, pikepdf.Dictionary) else None
                if subtype == pikepdf.Name.FileAttachment:
                    self.note("embedded_files")
                elif subtype in (pikepdf.Name.RichMedia, pikepdf.Name.Screen, pikepdf.Name("/3D")):
                    self.note("media")
                if subtype not in (pikepdf.Name.Widget, pikepdf.Name.Link):
                    self.note("annotations")
                if isinstance(annot, pikepdf.Dictionary) and annot.is_indirect:
                    self.removed_annotations.add(annot.objgen)
            links.append(kept)
            if self.apply and annots:
                # Links are set aside so that flattening cannot turn them into dead page content.
                page.obj.Annots = self.pdf.make_indirect(pikepdf.Array(others))
        if self.apply:
            self.pdf.flatten_annotations("all")
            for page, kept in zip(self.pdf.pages, links, strict=True):
                if kept:
                    page.obj.Annots = self.pdf.make_indirect(pikepdf.Array(kept))
                elif "/Annots" in page.obj:
                    del page.obj["/Annots"]
        if "/AcroForm" in root:
            del root["/AcroForm"]

    def _keep_link(self, annot: pikepdf.Object) -> bool:
        if not isinstance(annot, pikepdf.Dictionary) or annot.get("/Subtype") != pikepdf.Name.Link:
            return False
        if "/A" in annot:
            problem = _action_problem(annot["/A"])
            if problem:
                self.note(problem)
            return problem is None
        return "/Dest" in annot

    def _catalog(self) -> None:
        root = self.pdf.Root
        if "/OpenAction" in root:
            self.note("open_action")
            if _action_problem(root["/OpenAction"]) == "javascript":
                self.note("javascript")
            del root["/OpenAction"]
        names = root.get("/Names")
        if isinstance(names, pikepdf.Dictionary):
            for key, category in (
                ("/JavaScript", "javascript"),
                ("/EmbeddedFiles", "embedded_files"),
                ("/Renditions", "media"),
                ("/AlternatePresentations", "media"),
            ):
                if key in names:
                    self.note(category)
                    del names[key]
            if not names.keys():
                del root["/Names"]
        if "/Collection" in root:
            self.note("embedded_files")
            del root["/Collection"]

    def _sweep(self) -> None:
        """Walk every object reachable from the catalog and cut what is left of active content."""
        stack: list[pikepdf.Object] = [self.pdf.Root]
        seen: set[tuple[int, int]] = set()
        while stack:
            obj = stack.pop()
            if obj.is_indirect:
                if obj.objgen in seen:
                    continue
                seen.add(obj.objgen)
            if isinstance(obj, pikepdf.Array):
                stack += [item for item in obj if isinstance(item, _CONTAINERS)]
                continue
            mapping = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
            self._clean(mapping)
            stack += [value for _, value in mapping.items() if isinstance(value, _CONTAINERS)]

    def _clean(self, mapping: pikepdf.Object) -> None:
        for key, category in (
            ("/AA", "additional_actions"),
            ("/OpenAction", "open_action"),
            ("/JS", "javascript"),
            ("/EF", "embedded_files"),
            ("/RF", "embedded_files"),
            ("/AF", "embedded_files"),
        ):
            if key in mapping:
                self.note(category)
                del mapping[key]
        structure = "/K" in mapping or mapping.get("/Type") == pikepdf.Name.StructElem
        for key in ("/PA", "/Next") if structure else ("/A", "/PA", "/Next"):
            value = mapping.get(key)
            actions: list[object] = (
                list(value) if isinstance(value, pikepdf.Array) and key == "/Next" else [value]
            )
            # Only dictionaries that look like actions: /A of a structure element is attributes.
            if not all(_looks_like_action(action) for action in actions):
                continue
            problems = [p for p in map(_action_problem, actions) if p]
            if problems:
                for problem in problems:
                    self.note(problem)
                del mapping[key]
        if mapping.get("/Type") == pikepdf.Name.OBJR:
            target = mapping.get("/Obj")
            if (
                target is not None
                and target.is_indirect
                and target.objgen in self.removed_annotations
            ):
                del mapping["/Obj"]  # a structure reference to an annotation we removed


_CONTAINERS = (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)


def _save(pdf: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(
        out,
        linearize=False,
        object_stream_mode=pikepdf.ObjectStreamMode.disable,
        compress_streams=True,
        recompress_flate=False,
        fix_metadata_version=True,
        deterministic_id=True,
    )
    return out.getvalue()
