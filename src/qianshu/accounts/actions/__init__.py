"""State changes of accounts (see STYLE.md): login and re-authentication, the profile and the
phone, handwritten signatures.

Every ``do_*`` takes the :class:`~qianshu.core.meta.RequestMeta` of the intent as ``meta`` and
never the request: what needs the session (``login()``, keeping the own session after the
session salt is rotated, the re-authentication time) stays in the view, see
:mod:`qianshu.accounts.sessions`.
"""

from qianshu.accounts.actions.login import (
    do_login_with_code,
    do_login_with_password,
    do_logout,
    do_logout_other_sessions,
    do_reauthenticate_with_code,
    do_reauthenticate_with_password,
    do_record_failed_login,
    do_send_login_code,
    do_send_reauth_code,
)
from qianshu.accounts.actions.profile import (
    PhoneTaken,
    check_operator,
    do_change_email,
    do_change_phone,
    do_send_change_phone_code,
    do_set_language,
    do_set_password,
    do_set_phone,
    do_update_profile,
    end_all_sessions,
)
from qianshu.accounts.actions.signatures import (
    do_complete_handoff,
    do_delete_signature,
    do_save_signature,
    do_set_default_signature,
    do_stage_signature_upload,
    do_start_handoff,
)

__all__ = [
    "PhoneTaken",
    "check_operator",
    "do_change_email",
    "do_change_phone",
    "do_complete_handoff",
    "do_delete_signature",
    "do_login_with_code",
    "do_login_with_password",
    "do_logout",
    "do_logout_other_sessions",
    "do_reauthenticate_with_code",
    "do_reauthenticate_with_password",
    "do_record_failed_login",
    "do_save_signature",
    "do_send_change_phone_code",
    "do_send_login_code",
    "do_send_reauth_code",
    "do_set_default_signature",
    "do_set_language",
    "do_set_password",
    "do_set_phone",
    "do_stage_signature_upload",
    "do_start_handoff",
    "do_update_profile",
    "end_all_sessions",
]
