"""下载 in 文件管理: the download of a ZIP of ticked tasks, recorded in their audit trails
(what is in it and how it streams: :mod:`qianshu.envelopes.downloads`)."""

from __future__ import annotations

from collections.abc import Iterator

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.envelopes.actions.lifecycle import do_record_download
from qianshu.envelopes.downloads import Archive, stream_archive


def do_download_archive(archive: Archive, *, actor: User, meta: RequestMeta) -> Iterator[bytes]:
    """下载: write each task's download to its audit trail, then return the ZIP stream. Each
    record is its own transaction (:func:`do_record_download`), as before: one transaction
    would hold the locks of up to ``MAX_TASKS`` envelopes at once."""
    for envelope in archive.envelopes:
        do_record_download(envelope, "archive", actor=actor, meta=meta)
    return stream_archive(archive)
