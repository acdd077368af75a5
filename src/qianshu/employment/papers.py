"""The agreement and termination-letter PDFs of agreements (model -> :mod:`documents` data)
and the contact details the envelopes need."""

from __future__ import annotations

from qianshu.employment import documents
from qianshu.employment.models import Agreement, RosterEntry, School, Staff, Termination

#: (routing order, spot of the rendered PDF, field kind) of an agreement's envelope: the
#: employer's seal, the student's signature and date, the school's 鉴证 seal.
AGREEMENT_FIELDS = (
    (1, "employer_seal", "seal"),
    (2, "student_signature", "signature"),
    (3, "school_seal", "seal"),
)


def student_phone(student: RosterEntry) -> str:
    """The student's own login phone once verified (the roster's otherwise)."""
    return student.user.phone if student.user is not None else student.phone


def school_contact(school: School) -> str:
    """A phone of the school's employment office (its first 学校管理员) for the envelope."""
    staff = (
        Staff.objects.filter(school=school, role=Staff.Role.SCHOOL_ADMIN)
        .select_related("user")
        .order_by("pk")
        .first()
    )
    return staff.user.phone if staff is not None else ""


def agreement_pdf(agreement: Agreement) -> documents.RenderedPdf:
    return documents.render_agreement(agreement_data(agreement))


def agreement_data(agreement: Agreement) -> documents.AgreementData:
    raise NotImplementedError  # mapped once documents.py lands (helper)


def termination_pdf(termination: Termination) -> documents.RenderedPdf:
    raise NotImplementedError
