"""The life of a document: prepare, sign turns, complete (lock + B-LTA).

* :func:`prepare_document` declares every signature field of every recipient, then certifies
  the document with the platform key (DocMDP P=2: form filling and signing allowed) and a
  timestamp. Declaring all fields first matters: a new signature field after a certification
  signature is an illegal change for it (SIGNING-NOTES "Multi-party documents"). With
  ``certify=False`` (recipients place their own fields, 指定位置签署) the platform signs an
  approval signature instead and signers declare further fields while signing.
* :func:`sign_turn` applies one recipient's stamps as incremental updates on top of the given
  bytes: each placement fills one field with one PAdES B-T signature. A cross-page seal (骑缝章)
  is ONE signature whose field has a widget on each page, each showing its vertical strip of the
  seal; such a field is made in the revision that signs it (pyHanko's difference analysis
  accepts appearances only on a field's own widget when a declared field is filled, and on
  every widget of a field that is new), so documents with a cross-page seal are not certified
  (like documents where signers place their own fields). Earlier signatures stay intact, at
  modification level "form filling" at worst. Appearances multiply with the page like ink
  (:func:`qianshu.signing.stamps.appearance_stream`).
* :func:`finish_document` completes a document: the completion lock, then validation data and a
  document time-stamp (PAdES B-LTA, :mod:`qianshu.signing.archive`).

Completion lock
---------------
A document time-stamp cannot carry a lock, so completion ends with one more platform signature:
an invisible field ``QS-Completion`` declared and signed in one revision, whose ``/Lock``
dictionary says ``/Action /All`` (FieldMDP: every form field is locked) and ``/P 1`` (PDF 2.0:
from this signature on, DocMDP "no changes"); the signature dictionary carries the matching
FieldMDP transform. The field is declared at completion, not at preparation, because on
uncertified documents signers still add their fields while signing; on certified documents a
stricter lock after the certification (P=2) is what ISO 32000-2 allows. From then on only
validation data (DSS) and document time-stamps may be added (modification level
"LTA updates"): any new or filled field, widget, annotation, page content or signature is a
change beyond P=1 for the completion signature, which pyHanko's difference analysis — and our
verifier with it — reports as not allowed (``docmdp_ok`` false). Archive renewal
(:func:`qianshu.signing.archive.renew_archive`) adds only what stays allowed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import (
    FieldMDPAction,
    FieldMDPSpec,
    MDPPerm,
    SigFieldSpec,
    SigSeedSubFilter,
)
from pyhanko.sign.signers import constants as signer_constants
from pyhanko.sign.signers.cms_embedder import (
    PdfCMSEmbedder,
    SigIOSetup,
    SigMDPSetup,
    SigObjSetup,
)
from pyhanko.sign.signers.pdf_byterange import SignatureObject
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.pdf_embedded import read_certification_data

from qianshu.signing import archive, textstamps
from qianshu.signing.archive import (
    DOC_TIMESTAMP_FIELD,
    RevocationSource,
    collect_validation_data,
    is_timestamp_field,
)
from qianshu.signing.errors import (
    FieldError,
    LockedPdfError,
    PdfError,
    SignatureError,
    SigningError,
)
from qianshu.signing.pdfio import (
    contents_size,
    open_incremental,
    read_pdf,
    signature_fields,
    signature_fields_of,
    write_incremental,
)
from qianshu.signing.stamps import Rect, StampImage, appearance_stream, slice_image
from qianshu.signing.textstamps import TextStamp

__all__ = [
    "CERTIFICATION_FIELD",
    "COMPLETION_FIELD",
    "DOC_TIMESTAMP_FIELD",
    "FieldSpec",
    "Placement",
    "RevocationSource",
    "SignatureDetails",
    "collect_validation_data",
    "declare_fields",
    "finish_document",
    "lock_document",
    "page_boxes",
    "prepare_document",
    "sign_turn",
    "signature_fields",
]

CERTIFICATION_FIELD = "QS-Certification"
COMPLETION_FIELD = "QS-Completion"
_MAX_FIELD_NAME = 64
_MAX_WIDGETS = 200
# Widget flags of a visible signature: Print (4) + Locked (128), as pyHanko sets them.
_WIDGET_FLAGS = 132


@dataclass(frozen=True)
class FieldSpec:
    """A signature field to declare: unique name, zero-based page, rectangle in PDF points."""

    name: str
    page: int
    rect: Rect


@dataclass(frozen=True)
class Placement:
    """One stamp of a signing turn: which field, and what to show in it — an image, or typed
    text drawn as real PDF text (:class:`~qianshu.signing.textstamps.TextStamp`: a filled-in
    text, the signing date; only in a field with one widget).

    With ``new_widgets`` the field is created in the signing revision itself, with one widget per
    (page, rectangle) — a cross-page seal (骑缝章, see
    :func:`qianshu.signing.stamps.cross_page_slices`) — and the image is cut into as many
    vertical strips, left to right in widget order. Without, it fills a declared field.
    """

    field_name: str
    image: StampImage | TextStamp
    new_widgets: tuple[tuple[int, Rect], ...] = ()


@dataclass(frozen=True)
class SignatureDetails:
    """Human-readable entries of the signature dictionary."""

    reason: str | None = None
    location: str | None = None
    name: str | None = None
    contact_info: str | None = None


def _is_reserved(name: str) -> bool:
    return name in (CERTIFICATION_FIELD, COMPLETION_FIELD) or is_timestamp_field(name)


def _check_field_name(name: str) -> None:
    if not name or len(name) > _MAX_FIELD_NAME or not name.isascii() or "." in name:
        raise FieldError(f"invalid field name {name!r}: 1-{_MAX_FIELD_NAME} ASCII chars, no dot")


def page_boxes(data: bytes) -> list[Rect]:
    """Each page's visible area (CropBox, else MediaBox) in its own, unrotated user space.

    Field rectangles are expressed in this space (PDF points, origin bottom-left of the
    unrotated page), which is what signature widget annotations use.
    """
    return _page_boxes_of(read_pdf(data))


def _page_boxes_of(reader: PdfFileReader) -> list[Rect]:
    """:func:`page_boxes` of a PDF already read (the one an incremental writer opened)."""
    boxes = []
    try:
        count = int(reader.root["/Pages"]["/Count"])
        for index in range(count):
            page = reader.find_page_for_modification(index)[0].get_object()
            box = _inherited(page, "/CropBox") or _inherited(page, "/MediaBox")
            x1, y1, x2, y2 = (float(v) for v in box)
            boxes.append(Rect(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
    except Exception as exc:
        raise PdfError(f"cannot read the page boxes: {type(exc).__name__}: {exc}") from exc
    return boxes


def _inherited(page: Any, key: str) -> Any:
    node, depth = page, 0
    while node is not None and depth < 64:
        if key in node:
            return node[key]
        node = node.get("/Parent")
        node = node.get_object() if node is not None else None
        depth += 1
    return None


def _check_widgets(name: str, widgets: Sequence[tuple[int, Rect]], boxes: Sequence[Rect]) -> None:
    if not widgets or len(widgets) > _MAX_WIDGETS:
        raise FieldError(f"field {name!r} needs 1 to {_MAX_WIDGETS} widgets")
    pages = [page for page, _ in widgets]
    if len(set(pages)) != len(pages):
        raise FieldError(f"field {name!r} has two widgets on one page")
    for page, r in widgets:
        if not 0 <= page < len(boxes):
            raise FieldError(f"field {name!r} is on page {page + 1}, which is missing")
        box, tolerance = boxes[page], 1.0
        if r.width <= 1 or r.height <= 1:
            raise FieldError(f"field {name!r} is too small")
        if (
            r.x1 < box.x1 - tolerance
            or r.y1 < box.y1 - tolerance
            or r.x2 > box.x2 + tolerance
            or r.y2 > box.y2 + tolerance
        ):
            raise FieldError(f"field {name!r} lies outside its page")


def _check_names(names: Sequence[str], existing: Collection[str]) -> None:
    seen: set[str] = set()
    for name in names:
        _check_field_name(name)
        if name in seen or _is_reserved(name):
            raise FieldError(f"field {name!r} is declared twice")
        seen.add(name)
    clash = seen & set(existing)
    if clash:
        raise FieldError(f"fields already exist in the PDF: {sorted(clash)}")


def _box(rect: Rect) -> tuple[int, int, int, int]:
    # pyHanko annotates boxes as ints but takes any number; points have fractions.
    return cast("tuple[int, int, int, int]", tuple(round(v, 3) for v in rect.as_tuple()))


def _create_field(
    writer: IncrementalPdfFileWriter, name: str, widgets: Sequence[tuple[int, Rect]]
) -> None:
    """A signature field with one widget per (page, rectangle), in the writer's revision.

    The widgets carry no ``/Parent``: poppler before 26.04 (Debian 12 ships 22.12) takes any kid
    with a ``/Parent`` for a child *field*, reads it as an unsigned signature field and misses
    the signature; without it, poppler, pdfium and pyHanko all see one field with N widgets
    (pyHanko writes its own split widgets the same way). The field's ``/Kids`` is the link.
    """
    (page, rect), *more = widgets
    fields.append_signature_field(
        writer,
        SigFieldSpec(sig_field_name=name, on_page=page, box=_box(rect), combine_annotation=False),
    )
    (_, _, field_ref), *_rest = fields.enumerate_sig_fields(writer, with_name=name)
    kids = field_ref.get_object()["/Kids"]
    for page, rect in more:
        page_ref = writer.find_page_for_modification(page)[0]
        widget = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Widget"),
                pdf_name("/F"): generic.NumberObject(_WIDGET_FLAGS),
                pdf_name("/Rect"): generic.ArrayObject(
                    [generic.FloatObject(v) for v in _box(rect)]
                ),
                pdf_name("/P"): page_ref,
            }
        )
        widget_ref = writer.add_object(widget)
        kids.append(widget_ref)
        writer.register_annotation(page_ref, widget_ref)


def _refuse_locked(existing: Mapping[str, bool]) -> None:
    # Anything added after the completion lock invalidates the document (module docstring).
    if existing.get(COMPLETION_FIELD):
        raise LockedPdfError("the document is completed and locked: nothing can be added to it")


def _declare(
    data: bytes, field_specs: Sequence[FieldSpec], *, certify: bool = False
) -> IncrementalPdfFileWriter:
    # The writer reads the document once for the checks and the new fields.
    writer = open_incremental(data)
    existing = signature_fields_of(writer.prev)
    _refuse_locked(existing)
    if certify and any(existing.values()):
        raise SignatureError("a certification signature must be the document's first signature")
    _check_names([spec.name for spec in field_specs], existing)
    boxes = _page_boxes_of(writer.prev)
    for spec in field_specs:
        _check_widgets(spec.name, [(spec.page, spec.rect)], boxes)
    try:
        for spec in field_specs:
            fields.append_signature_field(
                writer,
                SigFieldSpec(sig_field_name=spec.name, on_page=spec.page, box=_box(spec.rect)),
            )
    except Exception as exc:
        raise FieldError(f"cannot declare signature fields: {exc}") from exc
    return writer


def declare_fields(data: bytes, field_specs: Sequence[FieldSpec]) -> bytes:
    """Declare empty signature fields in an incremental update, without signing.

    For documents that are not certified (no DocMDP lock): later signers fill these fields.
    """
    return write_incremental(_declare(data, field_specs))


def _platform_signature(
    writer: IncrementalPdfFileWriter,
    signer: signers.Signer,
    timestamper: TimeStamper | None,
    details: SignatureDetails,
    *,
    field_name: str,
    permissions: MDPPerm,
) -> bytes:
    """An invisible approval signature of the platform through pyHanko's signer (an
    uncertified document's preparation)."""
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        docmdp_permissions=permissions,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=details.reason,
        location=details.location,
        name=details.name,
        contact_info=details.contact_info,
    )
    pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper)
    try:
        return pdf_signer.sign_pdf(
            writer,
            existing_fields_only=False,
            bytes_reserved=contents_size(signer, timestamper),
        ).getvalue()
    except SigningError:
        raise
    except Exception as exc:
        raise SignatureError(f"signing failed: {type(exc).__name__}: {exc}") from exc


def prepare_document(
    data: bytes,
    field_specs: Sequence[FieldSpec],
    *,
    certifier: signers.Signer,
    timestamper: TimeStamper | None,
    details: SignatureDetails = SignatureDetails(reason="Qianshu: document prepared for signing"),
    certify: bool = True,
) -> bytes:
    """Declare the signature fields and certify the document (DocMDP P=2, with timestamp).

    Every rectangle must lie on its page (see :func:`page_boxes` for the coordinates).
    """
    writer = _declare(data, field_specs, certify=certify)
    if not certify:
        return _platform_signature(
            writer,
            certifier,
            timestamper,
            details,
            field_name=CERTIFICATION_FIELD,
            permissions=MDPPerm.FILL_FORMS,
        )
    # DocMDP P=2: form filling and signing allowed.
    mdp = SigMDPSetup(md_algorithm="sha256", certify=True, docmdp_perms=MDPPerm.FILL_FORMS)
    return _sign_platform_field(writer, certifier, timestamper, details, CERTIFICATION_FIELD, mdp)


def _sign_platform_field(
    writer: IncrementalPdfFileWriter,
    signer: signers.Signer,
    timestamper: TimeStamper | None,
    details: SignatureDetails,
    field_name: str,
    mdp: SigMDPSetup,
) -> bytes:
    """An invisible platform signature with ``mdp``'s transform (the certification, the
    completion lock) in ``field_name``, made if it is not declared yet.

    It goes through pyHanko's CMS embedding protocol, as a signing turn does
    (:func:`_fill_field`): the signature pyHanko's high-level signer makes (tests compare
    them) without its set-up, 0.4-1.4 ms less of ~6 ms — every send certifies each document
    of the envelope (批量发起 once per row), every completion locks it."""
    if writer.prev.xrefs.hybrid_xrefs_present:
        raise SignatureError("a document with hybrid cross-reference sections cannot be signed")
    out = io.BytesIO()

    async def sign() -> None:
        embedder = PdfCMSEmbedder().write_cms(
            field_name=field_name, writer=writer, existing_fields_only=False
        )
        next(embedder)  # the field, invisible: nothing to paint
        # The PDF extensions pyHanko's signer declares for this key (ESIC for PAdES, ISO 32002
        # for ECDSA on its curves, which also makes the output PDF 2.0).
        meta = signers.PdfSignatureMetadata(
            field_name=field_name, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
        )
        signers.PdfSigner(meta, signer=signer).register_extensions(writer, md_algorithm="sha256")
        now = dt.datetime.now(dt.UTC)
        await _embed_signature(writer, embedder, signer, timestamper, details, out, now, mdp)

    try:
        asyncio.run(sign())
    except SigningError:
        raise
    except Exception as exc:
        raise SignatureError(f"signing failed: {type(exc).__name__}: {exc}") from exc
    return out.getvalue()


def _widgets(field_ref: generic.IndirectObject) -> list[generic.IndirectObject]:
    field = field_ref.get_object()
    kids = field.get("/Kids")
    if kids is None:
        return [field_ref]  # the field and its only widget are one dictionary
    refs = list(kids)
    if not refs or len(refs) > _MAX_WIDGETS:
        raise FieldError("the signature field has no usable widget")
    if not all(isinstance(ref, generic.IndirectObject) for ref in refs):
        raise FieldError("the signature field's widgets are not indirect objects")
    return refs


def _paint(
    writer: IncrementalPdfFileWriter,
    widget_ref: generic.IndirectObject,
    image: StampImage | TextStamp,
) -> None:
    widget = widget_ref.get_object()
    x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
    width, height = abs(x2 - x1), abs(y2 - y1)
    if isinstance(image, TextStamp):
        ap = textstamps.appearance_stream(writer, image, width, height)
    else:
        ap = appearance_stream(writer, image, width, height)
    widget[pdf_name("/AP")] = generic.DictionaryObject({pdf_name("/N"): ap})
    writer.mark_update(widget_ref)


async def _fill_field(
    writer: IncrementalPdfFileWriter,
    placement: Placement,
    signer: signers.Signer,
    timestamper: TimeStamper | None,
    details: SignatureDetails,
    output: io.BytesIO,
) -> None:
    """Paint every widget of a declared field and sign it into ``output``: one PAdES signature.

    pyHanko's high-level signer paints exactly one widget per field, so this goes through its
    CMS embedding protocol (:class:`PdfCMSEmbedder`) with the appearances painted here.
    """
    now = dt.datetime.now(dt.UTC)
    if placement.new_widgets:
        _create_field(writer, placement.field_name, placement.new_widgets)
    embedder = PdfCMSEmbedder().write_cms(
        field_name=placement.field_name, writer=writer, existing_fields_only=True
    )
    widget_refs = _widgets(next(embedder))
    strips: Sequence[StampImage | TextStamp]
    if len(widget_refs) == 1:
        strips = [placement.image]
    elif isinstance(placement.image, TextStamp):
        raise FieldError("typed text goes in a field with one widget")
    else:
        strips = slice_image(placement.image, len(widget_refs))
    for widget_ref, strip in zip(widget_refs, strips, strict=True):
        _paint(writer, widget_ref, strip)
    await _embed_signature(writer, embedder, signer, timestamper, details, output, now)


async def _embed_signature(
    writer: IncrementalPdfFileWriter,
    embedder: Any,
    signer: signers.Signer,
    timestamper: TimeStamper | None,
    details: SignatureDetails,
    output: io.BytesIO,
    now: dt.datetime,
    mdp: SigMDPSetup | None = None,
) -> None:
    """The rest of pyHanko's CMS embedding protocol once the field is ready (``embedder`` has
    yielded it): the signature dictionary (with ``mdp``'s DocMDP or FieldMDP transform), the
    digest of the byte ranges, the CMS signature with its time-stamp, written into
    ``output``."""
    # PAdES, as pyHanko's own signer declares it (ETSI ESIC extension below PDF 2.0).
    writer.ensure_output_version(version=(1, 7))
    if writer.output_version < (2, 0):
        writer.register_extension(signer_constants.ESIC_EXTENSION_1)
    embedder.send(
        SigObjSetup(
            sig_placeholder=SignatureObject(
                timestamp=now,
                subfilter=SigSeedSubFilter.PADES,
                name=details.name,
                location=details.location,
                reason=details.reason,
                contact_info=details.contact_info,
                bytes_reserved=contents_size(signer, timestamper),
            ),
            mdp_setup=mdp,
        )
    )
    prepared, _ = embedder.send(SigIOSetup(md_algorithm="sha256", output=output))
    signed_data = await signer.async_sign(
        prepared.document_digest,
        "sha256",
        use_pades=True,
        timestamper=timestamper,
        signed_attr_settings=PdfCMSSignedAttributes(signing_time=now),
    )
    embedder.send(signed_data)


def _check_new_fields(data: bytes, created: Sequence[Placement], existing: Collection[str]) -> None:
    """Fields made while signing must be new, lie on their pages, and the document must not be
    certified: a visible field added after a certification signature is a change it forbids
    (pyHanko's difference analysis), and widgets of a declared field cannot get their
    appearance later (only a field that is its own widget can)."""
    _check_names([p.field_name for p in created], existing)
    boxes = page_boxes(data)
    for placement in created:
        _check_widgets(placement.field_name, placement.new_widgets, boxes)
    try:
        perms = read_pdf(data).root.get("/Perms")
        certified = perms is not None and "/DocMDP" in perms.get_object()
    except Exception as exc:
        raise PdfError(f"cannot read the document permissions: {type(exc).__name__}") from exc
    if certified:
        raise FieldError("a certified document only takes the fields declared before certifying")


def sign_turn(
    data: bytes,
    placements: Sequence[Placement],
    *,
    signer: signers.Signer,
    timestamper: TimeStamper | None,
    details: SignatureDetails = SignatureDetails(),
) -> bytes:
    """Apply one recipient's stamps: one PAdES B-T signature per placement, in field order given.

    Every field must have been declared (:func:`prepare_document`, :func:`declare_fields`)
    and still be empty, or be made by its placement (``new_widgets``, uncertified documents
    only). Returns the new document bytes; the input bytes are an unchanged prefix
    of the output.
    """
    if not placements:
        raise FieldError("nothing to sign: no placements")
    names = [p.field_name for p in placements]
    if len(set(names)) != len(names):
        raise FieldError("a field is placed twice in one turn")
    # The first placement's writer reads the document once for the checks and the signing.
    writer = open_incremental(data)
    status = signature_fields_of(writer.prev)
    _refuse_locked(status)
    created = [p for p in placements if p.new_widgets]
    if created:
        _check_new_fields(data, created, status)
    for name in set(names) - {p.field_name for p in created}:
        if name not in status or _is_reserved(name):
            raise FieldError(f"field {name!r} was not declared in this document")
        if status[name]:
            raise FieldError(f"field {name!r} is already signed")
    current = data
    for index, placement in enumerate(placements):
        if index:
            writer = open_incremental(current)
        try:
            # The result goes to a buffer, not back through the coroutine: asyncio takes the
            # repr of a task's result when it finishes, a millisecond for a whole PDF.
            out = io.BytesIO()
            asyncio.run(_fill_field(writer, placement, signer, timestamper, details, out))
            current = out.getvalue()
        except SigningError:
            raise
        except Exception as exc:
            raise SignatureError(f"signing failed: {type(exc).__name__}: {exc}") from exc
    return current


def lock_document(
    data: bytes,
    *,
    signer: signers.Signer,
    timestamper: TimeStamper | None,
    details: SignatureDetails = SignatureDetails(reason="Qianshu: signing completed"),
) -> bytes:
    """Add the completion lock: an invisible platform signature locking every field, P=1.

    See the module docstring. Raises :class:`FieldError` for a document that is already locked
    (a second lock would itself be a change the first one forbids).
    """
    # The writer reads the document once for the checks and the lock.
    writer = open_incremental(data)
    if COMPLETION_FIELD in signature_fields_of(writer.prev):
        raise FieldError("the document is already locked")
    try:
        # Reading the earlier signatures of a hostile file raises pyHanko's own errors.
        signed = bool(writer.prev.embedded_signatures)
        certification = read_certification_data(writer.prev)
    except Exception as exc:
        raise SignatureError(f"cannot read the signatures: {type(exc).__name__}") from exc
    if not signed:
        raise SignatureError("the document has no signature to lock")
    if certification is not None and certification.permission == MDPPerm.NO_CHANGES:
        raise SignatureError("the document's certification forbids any change")
    lock = FieldMDPSpec(FieldMDPAction.ALL)
    try:
        fields.append_signature_field(
            writer,
            SigFieldSpec(
                sig_field_name=COMPLETION_FIELD,
                field_mdp_spec=lock,
                doc_mdp_update_value=MDPPerm.NO_CHANGES,
            ),
        )
    except Exception as exc:
        raise FieldError(f"cannot declare the completion field: {exc}") from exc
    # The FieldMDP transform of the field's /Lock, and DocMDP P=1 from here on.
    mdp = SigMDPSetup(md_algorithm="sha256", field_lock=lock, docmdp_perms=MDPPerm.NO_CHANGES)
    return _sign_platform_field(writer, signer, timestamper, details, COMPLETION_FIELD, mdp)


def finish_document(
    data: bytes,
    *,
    timestamper: TimeStamper,
    revocation: RevocationSource,
    trust_roots: Sequence[asn1_x509.Certificate],
    locker: signers.Signer | None = None,
) -> bytes:
    """Complete a document: with ``locker`` (the platform signer) the completion lock first,
    then validation data for every signature and a document time-stamp (PAdES B-LTA).

    Without ``locker`` the document stays open to further signatures (a standalone seal on an
    uploaded file): only the validation data and the time-stamp are added.
    """
    if locker is not None:
        data = lock_document(data, signer=locker, timestamper=timestamper)
    return archive.timestamp_archive(
        data, timestamper=timestamper, revocation=revocation, trust_roots=trust_roots
    )
