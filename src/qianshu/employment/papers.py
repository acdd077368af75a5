"""The agreement and termination-letter PDFs of agreements (model -> :mod:`documents` data)
and the contact details the envelopes need."""

from __future__ import annotations

from django.utils import timezone

from qianshu.employment import documents
from qianshu.employment.models import Agreement, RosterEntry, School, Staff, Termination

#: (routing order, spot of the rendered PDF, field kind) of an agreement's envelope: the
#: employer's seal, the student's signature, the school's 鉴证 seal, each with its signing
#: date (written as text by that party's own signature).
AGREEMENT_FIELDS = (
    (1, "employer_seal", "seal"),
    (1, "employer_date", "date"),
    (2, "student_signature", "signature"),
    (2, "student_date", "date"),
    (3, "school_seal", "seal"),
    (3, "school_date", "date"),
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
    """The 就业协议书 of ``agreement`` as it stands (also an unsaved one: a preview)."""
    return documents.render_agreement(agreement_data(agreement))


def _student(student: RosterEntry) -> documents.StudentInfo:
    return documents.StudentInfo(
        name=student.name,
        student_no=student.student_no,
        id_number_masked=student.id_number_masked,
        school=student.school.org.name,
        college=student.college.name,
        major=student.major,
        class_name=student.class_name,
        year=str(student.year),
        phone=student_phone(student),
    )


def _employer(agreement: Agreement) -> documents.EmployerInfo:
    info = agreement.employer_info
    return documents.EmployerInfo(
        name=agreement.employer_name,
        credit_code=str(info.get("credit_code") or ""),
        nature=str(info.get("nature") or ""),
        industry=str(info.get("industry") or ""),
        location=str(info.get("location") or ""),
        address=str(info.get("address") or ""),
        contact=str(info.get("contact") or ""),
        contact_phone=str(info.get("contact_phone") or info.get("phone") or ""),
    )


def agreement_data(agreement: Agreement) -> documents.AgreementData:
    terms, archive, hukou = agreement.terms, agreement.archive, agreement.hukou
    return documents.AgreementData(
        number=agreement.number,
        student=_student(agreement.student),
        employer=_employer(agreement),
        terms=documents.Terms(
            position=str(terms.get("position") or ""),
            contract_term=str(terms.get("contract_term") or ""),
            salary=str(terms.get("salary") or ""),
            work_place=str(terms.get("work_place") or ""),
            probation=str(terms.get("probation") or ""),
            other_terms=str(terms.get("other_terms") or ""),
        ),
        archive=documents.ArchiveInfo(
            **{
                k: str(archive.get(k) or "")
                for k in ("unit", "address", "postcode", "contact", "phone")
            }
        ),
        hukou=documents.HukouInfo(
            address=str(hukou.get("address") or ""), unit=str(hukou.get("unit") or "")
        ),
        mode="offline" if agreement.mode == Agreement.Mode.OFFLINE else "online",
        issued_on=timezone.localdate(agreement.created_at).strftime("%Y年%m月%d日"),
    )


def termination_pdf(termination: Termination) -> documents.RenderedPdf:
    """The 解约函 of ``termination``."""
    agreement = termination.agreement
    return documents.render_termination_letter(
        documents.TerminationData(
            agreement_number=agreement.number,
            student=_student(agreement.student),
            employer=_employer(agreement),
            applicant="student" if termination.side == Termination.Side.STUDENT else "employer",
            reason=termination.reason,
            applied_on=timezone.localdate(termination.applied_at).strftime("%Y年%m月%d日"),
            mode="offline" if agreement.mode == Agreement.Mode.OFFLINE else "online",
        )
    )
