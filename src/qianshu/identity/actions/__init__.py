"""State changes of the identity app (see STYLE.md): verification, review, signing PIN.

Public API for other apps: ``do_unlock_signing_key(user, pin, meta=meta)`` (envelope signing)
and the exceptions it raises, re-exported here; the operator actions of the back office.
"""

from qianshu.identity.actions.credentials import (
    do_change_signing_pin,
    do_reset_signing_pin,
    do_send_pin_reset_code,
    do_set_signing_pin,
    do_unlock_signing_key,
    subject_id_for,
)
from qianshu.identity.actions.handoff import do_open_identity_handoff, do_start_identity_handoff
from qianshu.identity.actions.operator import do_revoke_identity, do_revoke_signing_credential
from qianshu.identity.actions.review import do_approve_verification, do_reject_verification
from qianshu.identity.actions.verification import (
    Photo,
    check_can_start,
    do_bank4_verification,
    do_confirm_phone3_verification,
    do_finish_face_verification,
    do_send_phone3_code,
    do_start_face_verification,
    do_start_phone3_verification,
    do_submit_manual_review,
    open_phone3_attempt,
)
from qianshu.identity.errors import (
    CertificateExpired,
    NoCredential,
    PinLocked,
    WrongPin,
)

__all__ = [
    "CertificateExpired",
    "NoCredential",
    "Photo",
    "PinLocked",
    "WrongPin",
    "check_can_start",
    "do_approve_verification",
    "do_bank4_verification",
    "do_change_signing_pin",
    "do_confirm_phone3_verification",
    "do_finish_face_verification",
    "do_open_identity_handoff",
    "do_reject_verification",
    "do_reset_signing_pin",
    "do_revoke_identity",
    "do_revoke_signing_credential",
    "do_send_phone3_code",
    "do_send_pin_reset_code",
    "do_set_signing_pin",
    "do_start_face_verification",
    "do_start_identity_handoff",
    "do_start_phone3_verification",
    "do_submit_manual_review",
    "do_unlock_signing_key",
    "open_phone3_attempt",
    "subject_id_for",
]
