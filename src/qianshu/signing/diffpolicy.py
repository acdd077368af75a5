"""The difference-analysis policy: which later updates a signature allows.

pyHanko's default policy (``DEFAULT_DIFF_POLICY``) with three changes, each for updates real
tools write that do not change what a reader sees:

* **DSS and VRI rewrites** — validation-related information (certificates, OCSP responses,
  CRLs) may be restructured, replaced or removed; pyHanko refuses an updated or deleted
  ``/VRI`` entry. The structure is still checked: the DSS may only hold ``/Certs``,
  ``/OCSPs``, ``/CRLs``, ``/VRI`` (and ``/Type``), each an array of stream references,
  and nothing reachable from it may be shared with the rest of the document.
* **Freed objects** — an xref "free" entry is allowed for an object that nothing in the new
  revision refers to any more (a freed object that is still used would vanish from a page:
  that stays an illegal change).
* **A choice field's selection index** ``/I`` may change together with its value ``/V``.
* **One signature, several widgets** (a cross-page seal: one signature field with a widget on
  each page): when the field receives its signature, each of its existing widgets may receive
  an appearance (only ``/AP`` and ``/AS`` change; new appearance streams only). pyHanko
  handles fields with exactly one widget.

Everything else — pages, content streams, annotations other than form-field widgets,
signature fields' values — is judged by pyHanko's rules unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver
from pyhanko.sign.diff_analysis import (
    CatalogModificationRule,
    DocInfoRule,
    FormUpdatingRule,
    GenericFieldModificationRule,
    MetadataUpdateRule,
    ModificationLevel,
    ObjectStreamRule,
    SigFieldCreationRule,
    SigFieldModificationRule,
    StandardDiffPolicy,
    SuspiciousModification,
    WhitelistRule,
    XrefStreamRule,
)
from pyhanko.sign.diff_analysis.commons import compare_dicts
from pyhanko.sign.diff_analysis.constants import VALUE_UPDATE_KEYS
from pyhanko.sign.diff_analysis.form_rules_api import (
    FieldComparisonContext,
    FieldComparisonSpec,
    FormUpdate,
)
from pyhanko.sign.diff_analysis.rules.form_field_rules import BaseFieldModificationRule
from pyhanko.sign.diff_analysis.rules_api import ReferenceUpdate

_DSS_STREAM_ARRAYS = ("/Certs", "/OCSPs", "/CRLs")
_VRI_STREAM_KEYS = ("/Cert", "/OCSP", "/CRL", "/TS")
_DSS_KEYS = {"/Type", "/VRI", *_DSS_STREAM_ARRAYS}
_VRI_ENTRY_KEYS = {"/Type", "/TU", *_VRI_STREAM_KEYS}
_MAX_DSS_OBJECTS = 100_000


def _deref(obj: generic.PdfObject) -> generic.PdfObject:
    return obj.get_object() if isinstance(obj, generic.IndirectObject) else obj


class _DssRule(WhitelistRule):
    """Any rewrite of the DSS that keeps its shape and shares nothing with the document."""

    def apply(self, old: HistoricalResolver, new: HistoricalResolver) -> Iterable[ReferenceUpdate]:
        try:
            raw = new.root.raw_get("/DSS")
        except KeyError:
            return
        refs: list[generic.Reference] = []

        def visit(value: generic.PdfObject) -> generic.PdfObject:
            if isinstance(value, generic.IndirectObject):
                refs.append(value.reference)
                if len(refs) > _MAX_DSS_OBJECTS:
                    raise SuspiciousModification("the DSS is too large")
            return _deref(value)

        dss = visit(raw)
        if not isinstance(dss, generic.DictionaryObject) or not set(dss) <= _DSS_KEYS:
            raise SuspiciousModification("the DSS has an unexpected structure")
        for key in _DSS_STREAM_ARRAYS:
            if key in dss:
                self._stream_array(visit(dss.raw_get(key)), visit)
        if "/VRI" in dss:
            vri = visit(dss.raw_get("/VRI"))
            if not isinstance(vri, generic.DictionaryObject):
                raise SuspiciousModification("/VRI is not a dictionary")
            for key in vri:
                entry = visit(vri.raw_get(key))
                if not isinstance(entry, generic.DictionaryObject) or not set(entry) <= (
                    _VRI_ENTRY_KEYS
                ):
                    raise SuspiciousModification(f"VRI entry {key} has an unexpected structure")
                for stream_key in _VRI_STREAM_KEYS:
                    if stream_key in entry:
                        value = visit(entry.raw_get(stream_key))
                        if stream_key == "/TS":
                            if not isinstance(value, generic.StreamObject):
                                raise SuspiciousModification("VRI /TS is not a stream")
                        else:
                            self._stream_array(value, visit)
        old._load_reverse_xref_cache()
        for ref in refs:
            # An object the signed revision also used outside the DSS (a page's content
            # stream, say) must not be re-purposed through it.
            for usage in old._get_usages_of_ref(ref):
                if tuple(usage.path[:2]) != ("/Root", "/DSS"):
                    raise SuspiciousModification(f"{ref!r} is used outside the DSS")
            yield ReferenceUpdate(ref, context_checked=None)

    @staticmethod
    def _stream_array(value: generic.PdfObject, visit) -> None:  # type: ignore[no-untyped-def]
        if not isinstance(value, generic.ArrayObject):
            raise SuspiciousModification("a DSS entry is not an array")
        for item in value:
            if not isinstance(item, generic.IndirectObject) or not isinstance(
                visit(item), generic.StreamObject
            ):
                raise SuspiciousModification("a DSS entry holds something other than streams")


class _SignatureWidgetsRule(BaseFieldModificationRule):
    """Appearances for the widgets of a multi-widget signature field, as it is signed."""

    def check_form_field(
        self, fq_name: str, spec: FieldComparisonSpec, context: FieldComparisonContext
    ) -> Iterable[tuple[ModificationLevel, FormUpdate]]:
        if spec.field_type != "/Sig" or spec.old_field_ref is None or spec.new_field_ref is None:
            return
        old_field, new_field = spec.old_field, spec.new_field
        if old_field is None or new_field is None or "/V" in old_field or "/V" not in new_field:
            return
        try:
            old_kids, new_kids = old_field.raw_get("/Kids"), new_field.raw_get("/Kids")
        except KeyError:
            return
        old_list, new_list = _deref(old_kids), _deref(new_kids)
        if not isinstance(old_list, generic.ArrayObject) or not isinstance(
            new_list, generic.ArrayObject
        ):
            return
        old_refs = [k.reference for k in old_list if isinstance(k, generic.IndirectObject)]
        new_refs = [k.reference for k in new_list if isinstance(k, generic.IndirectObject)]
        if not old_refs or old_refs != new_refs or len(old_refs) != len(new_list):
            return
        for ref in new_refs:
            old_widget, new_widget = context.old(ref), context.new(ref)
            if "/T" in new_widget or new_widget.get("/Subtype") != "/Widget":
                return
            compare_dicts(old_widget, new_widget, frozenset({"/AP", "/AS"}))
            yield ModificationLevel.FORM_FILLING, FormUpdate(ref, field_name=fq_name)
            if "/AP" in new_widget:
                fresh = context.new.collect_dependencies(
                    new_widget.raw_get("/AP"), since_revision=context.old.revision + 1
                )
                for dep in fresh:
                    yield ModificationLevel.FORM_FILLING, FormUpdate(dep, field_name=fq_name)


class _FreedOrphanRule(WhitelistRule):
    """Freeing an object is fine when the new revision no longer refers to it."""

    def apply(self, old: HistoricalResolver, new: HistoricalResolver) -> Iterable[ReferenceUpdate]:
        freed = new.refs_freed_in_revision()
        if not freed:
            return
        reachable = new.collect_dependencies(new.trailer_view)
        for ref in freed:
            if ref not in reachable:
                yield ReferenceUpdate(ref, context_checked=None)


def diff_policy() -> StandardDiffPolicy:
    """Our policy (see the module docstring); stateless, build once and reuse."""
    return StandardDiffPolicy(
        global_rules=[
            CatalogModificationRule(),
            DocInfoRule().as_qualified(ModificationLevel.LTA_UPDATES),
            XrefStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
            ObjectStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
            _DssRule().as_qualified(ModificationLevel.LTA_UPDATES),
            MetadataUpdateRule().as_qualified(ModificationLevel.LTA_UPDATES),
            _FreedOrphanRule().as_qualified(ModificationLevel.LTA_UPDATES),
        ],
        form_rule=FormUpdatingRule(
            field_rules=[
                SigFieldCreationRule(),
                SigFieldModificationRule(),
                _SignatureWidgetsRule(),
                GenericFieldModificationRule(value_update_keys=VALUE_UPDATE_KEYS | {"/I"}),
            ],
        ),
        reject_object_freeing=False,
    )
