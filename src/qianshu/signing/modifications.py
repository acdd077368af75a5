"""What changed after each signature: the difference analysis, run once per revision step.

pyHanko's ``StandardDiffPolicy.review_file`` compares a signature's revision ``s`` with every
later revision ``r`` (``apply(s, r)``), and a document with n signatures pays that for every
signature: about n²/2 comparisons, each reading both revisions' forms, pages and the paths
leading to every rewritten object. :class:`RevisionSteps` runs the same policy (our rules of
:mod:`qianshu.signing.diffpolicy`) once for each revision step ``r-1 → r`` and combines the
steps after ``s`` for the signature of revision ``s``:

* **Computed once per step** (``apply(r-1, r)`` with no signature's constraints): whether every
  object written in revision ``r`` is explained by a rule, at which modification level, and the
  list of form updates the rules produced — each with its field name, whether it is allowed on
  a locked field and whether it is allowed after a certification signature.
* **Applied per signature**, to every step after its revision: the only inputs of pyHanko's
  analysis that depend on the signature. Its FieldMDP lock (``/Reference`` ``/FieldMDP``) fails
  the signature when a step changes a field it locks; its DocMDP permission (a certification,
  or a field ``/Lock`` with ``/P``) fails it when a step makes a change allowed only after an
  approval signature (a new visible signature field). These are exactly pyHanko's checks, made
  on the same form updates. The signature's level is the highest level of the steps after it,
  its changed fields the union of theirs; any step that is not explained fails it.

Why this is the per-signature analysis. Both analyses justify exactly the objects revision
``r`` writes, with the same rules; they differ only in the state those objects are compared
with. The step right after a signature (``r = s + 1``) *is* ``apply(s, r)``. For a later step the
state is revision ``r-1`` instead of ``s``, which was reached from ``s`` by steps that were each
justified (or the signature has already failed): pages, content and annotations change only
through the keys the rules whitelist, so whatever the signed revision showed outside those keys
is still there, referred to the same way, in ``r-1`` and has to be justified again in ``r``.
What a justified step did change — a field filled, a widget given an appearance, the DSS
extended — is judged against its latest state rather than its signed one, and that is stricter:
an object created after the signature (a signature value written in revision 3) and changed
later (replaced in revision 5) is a change to an existing object for the step, where the
comparison with revision 1 sees only a field that was empty and is now filled. So a
signature's value or appearance replaced after it was signed fails every earlier signature
(``tests/signing/test_verify_revision_steps.py``); on the generated corpus both analyses give
every signature the same outcome, level and changed fields (``test_verify_corpus.py``). Each
revision's objects and object paths are read once for all steps that use that revision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.sign.diff_analysis import (
    DiffPolicy,
    DiffResult,
    FormUpdate,
    FormUpdatingRule,
    ModificationLevel,
    StandardDiffPolicy,
    SuspiciousModification,
)
from pyhanko.sign.fields import FieldMDPSpec, MDPPerm

from qianshu.signing.diffpolicy import diff_policy


class _RecordingFormRule(FormUpdatingRule):
    """The policy's form rule, unchanged, keeping the form updates of the current step."""

    def __init__(self, inner: FormUpdatingRule) -> None:
        super().__init__(
            field_rules=inner.field_rules, ignored_acroform_keys=inner.ignored_acroform_keys
        )
        self.updates: list[FormUpdate] = []

    def apply(
        self, old: HistoricalResolver, new: HistoricalResolver
    ) -> Iterator[tuple[ModificationLevel, FormUpdate]]:
        for level, update in super().apply(old, new):
            self.updates.append(update)
            yield level, update


@dataclass(frozen=True)
class _Update:
    field_name: str | None
    valid_when_locked: bool
    valid_when_certifying: bool


@dataclass(frozen=True)
class Step:
    """pyHanko's analysis of one revision against the one before it."""

    revision: int
    result: DiffResult | None  # None when the step failed
    error: Exception | None  # SuspiciousModification, or what the reader raised
    updates: tuple[_Update, ...] = ()

    def forbidden_for(
        self, field_mdp: FieldMDPSpec | None, doc_mdp: MDPPerm | None
    ) -> SuspiciousModification | None:
        """The first form update this step makes that the signature's own constraints forbid."""
        for update in self.updates:
            name = update.field_name
            if (
                name is not None
                and not update.valid_when_locked
                and field_mdp is not None
                and field_mdp.is_locked(name)
            ):
                return SuspiciousModification(
                    f"revision {self.revision} changes the form field {name}, which the "
                    "signature locks"
                )
            if doc_mdp is not None and not update.valid_when_certifying:
                return SuspiciousModification(
                    f"revision {self.revision} makes a change that is allowed only after an "
                    "approval signature, not after a certification"
                )
        return None


class RevisionSteps(DiffPolicy):
    """The difference analysis of one document, one step at a time (module docstring).

    Pass it as ``diff_policy`` to ``EmbeddedPdfSignature.compute_integrity_info`` of every
    signature of ``reader``; it is bound to that reader and not safe to share between threads.
    """

    def __init__(
        self, reader: PdfFileReader, policy: Callable[[], StandardDiffPolicy] = diff_policy
    ) -> None:
        self.reader = reader
        base = policy()
        if base.form_rule is None:
            raise ValueError("the policy has no form rule")
        self._recorder = _RecordingFormRule(base.form_rule)
        self._policy = StandardDiffPolicy(
            global_rules=base.global_rules,
            form_rule=self._recorder,
            reject_object_freeing=base.reject_object_freeing,
            ignore_orphaned_objects=base.ignore_orphaned_objects,
            ignore_identical_objects=base.ignore_identical_objects,
        )
        self._steps: dict[int, Step] = {}

    def step(self, revision: int) -> Step:
        """The analysis of ``revision`` against ``revision - 1`` (computed once)."""
        found = self._steps.get(revision)
        if found is None:
            found = self._steps[revision] = self._analyse(revision)
        return found

    def _analyse(self, revision: int) -> Step:
        reader = self.reader
        self._recorder.updates = []
        try:
            result = self._policy.apply(
                reader.get_historical_resolver(revision - 1),
                reader.get_historical_resolver(revision),
            )
        except (MemoryError, RecursionError):
            raise
        except Exception as exc:  # noqa: BLE001 - kept, and given to every signature before it
            return Step(revision, None, exc)
        updates = tuple(
            _Update(u.field_name, u.valid_when_locked, u.valid_when_certifying)
            for u in self._recorder.updates
        )
        return Step(revision, result, None, updates)

    def apply(
        self,
        old: HistoricalResolver,
        new: HistoricalResolver,
        field_mdp_spec: FieldMDPSpec | None = None,
        doc_mdp: MDPPerm | None = None,
    ) -> DiffResult:
        """Two arbitrary revisions: pyHanko's comparison, with our rules."""
        return diff_policy().apply(old, new, field_mdp_spec, doc_mdp)

    def review_file(
        self,
        reader: PdfFileReader,
        base_revision: int | HistoricalResolver,
        field_mdp_spec: FieldMDPSpec | None = None,
        doc_mdp: MDPPerm | None = None,
    ) -> DiffResult | SuspiciousModification:
        """Every step after ``base_revision``, with that signature's constraints."""
        if reader is not self.reader:
            raise ValueError("RevisionSteps is bound to another reader")
        base = base_revision if isinstance(base_revision, int) else base_revision.revision
        level = ModificationLevel.NONE
        changed: set[str] = set()
        for revision in range(base + 1, reader.xrefs.total_revisions):
            step = self.step(revision)
            if isinstance(step.error, SuspiciousModification):
                return step.error
            if step.error is not None:
                raise step.error
            assert step.result is not None
            forbidden = step.forbidden_for(field_mdp_spec, doc_mdp)
            if forbidden is not None:
                return forbidden
            level = max(level, step.result.modification_level)
            changed |= step.result.changed_form_fields
        return DiffResult(level, changed)
