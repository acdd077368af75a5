"""Read-only lookups of the employment app."""

from __future__ import annotations

from qianshu.accounts.phones import normalize_phone
from qianshu.employment.models import EmployerApproval, RosterEntry, School
from qianshu.identity.crypto import number_hmac
from qianshu.identity.idcards import IdType, normalize_number
from qianshu.orgs.models import Organization


def is_approved_employer(org: Organization) -> bool:
    """An employer approved by any school may invite the students of every school."""
    return EmployerApproval.objects.filter(
        employer=org, status=EmployerApproval.Status.APPROVED
    ).exists()


def find_student(school: School, year: int, name: str, id_or_phone: str) -> RosterEntry | None:
    """签约搜索: the one student whose school, 届, name and ID number or phone are all exactly
    these — or nobody. No partial match, no hint which item was wrong."""
    name = " ".join(name.split())
    key = id_or_phone.strip()
    if not name or not key:
        return None
    found = RosterEntry.objects.filter(school=school, year=year, name=name)
    number = normalize_number(key)
    if len(number) == 18:
        return found.filter(id_number_hmac=number_hmac(IdType.RESIDENT, number)).first()
    try:
        phone = normalize_phone(key)
    except Exception:  # noqa: BLE001 - not a phone number either: nobody
        return None
    return found.filter(phone=phone).first()
