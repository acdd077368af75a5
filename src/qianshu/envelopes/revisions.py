"""Appending a revision to a document: the one place where a document's bytes change.

The caller holds the document row lock (``select_for_update``) and made ``data`` on top of the
current revision. The new bytes become an immutable blob, a :class:`Revision` row records them,
and ``Document.revision`` moves on by compare-and-swap, so a writer that did not hold the lock
(SQLite has no row locks) fails instead of silently replacing someone else's revision.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from qianshu.core.statements import Insert, Update
from qianshu.envelopes.errors import DocumentChanged
from qianshu.envelopes.models import Document, Recipient, Revision
from qianshu.storage.actions import do_store_blob

# Built once: every signing step appends a revision per document.
_INSERT: Insert[Revision] = Insert(Revision)
# The revision's compare-and-swap, one per set of further columns (``changes``).
_SWAPS: dict[tuple[str, ...], Update[Document]] = {}


def append_revision(
    document: Document,
    data: bytes,
    *,
    action: str,
    recipient: Recipient | None = None,
    **changes: Any,
) -> str:
    """Store ``data`` as the document's next revision; returns the previous revision's SHA-256.

    ``changes`` are further document columns to set in the same update (``certified``,
    ``finished``). ``document`` is updated in memory too.
    """
    before = document.current_id
    blob = do_store_blob(data, content_type="application/pdf")
    number = document.revision + 1
    _INSERT.save(
        [Revision(document=document, number=number, blob=blob, action=action, recipient=recipient)]
    )
    names = tuple(sorted(changes))
    swap = _SWAPS.get(names) or _SWAPS.setdefault(
        names,
        Update(Document, set=("revision", "current", *names), where=("pk", "revision")),
    )
    swapped = swap.run(
        (number, blob, *(changes[n] for n in names)), (document.pk, document.revision)
    )
    if swapped != 1:
        raise DocumentChanged(_("文件正在被其他人签署，请稍后重试。"))
    document.revision, document.current = number, blob
    for name, value in changes.items():
        setattr(document, name, value)
    return str(before)
