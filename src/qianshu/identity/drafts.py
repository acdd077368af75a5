"""The declaration typed in step 1 (身份信息), carried to step 2 in the session.

It is kept encrypted in the session (the ID number must not sit in clear in the session table)
and bound to the user, so a session handed to another account cannot replay it.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass

from django.contrib.sessions.backends.base import SessionBase

from qianshu.accounts.phones import mask_phone
from qianshu.identity import crypto
from qianshu.identity.idcards import IdType, mask_name, mask_number
from qianshu.identity.providers.base import Person

SESSION_KEY = "qianshu_identity_draft"
_PURPOSE = "draft"


@dataclass(frozen=True)
class Declaration:
    """What the user declared in step 1, already validated (number normalised and checked)."""

    id_type: str
    name: str
    id_number: str
    phone: str

    @property
    def person(self) -> Person:
        return Person(name=self.name, id_type=self.id_type, id_number=self.id_number)

    @property
    def masked_number(self) -> str:
        return mask_number(self.id_number)

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def id_type_label(self) -> str:
        return str(IdType(self.id_type).label)

    @property
    def is_resident_id(self) -> bool:
        return self.id_type == IdType.RESIDENT


def save_draft(session: SessionBase, user_id: int, declaration: Declaration) -> None:
    sealed = crypto.encrypt_json(asdict(declaration), user_id=user_id, purpose=_PURPOSE)
    session[SESSION_KEY] = base64.b64encode(sealed).decode()


def load_draft(session: SessionBase, user_id: int) -> Declaration | None:
    sealed = session.get(SESSION_KEY)
    if not isinstance(sealed, str):
        return None
    try:
        data = crypto.decrypt_json(base64.b64decode(sealed), user_id=user_id, purpose=_PURPOSE)
        return Declaration(
            id_type=data["id_type"],
            name=data["name"],
            id_number=data["id_number"],
            phone=data["phone"],
        )
    except (crypto.DecryptionError, KeyError, ValueError):
        return None


def clear_draft(session: SessionBase) -> None:
    session.pop(SESSION_KEY, None)
