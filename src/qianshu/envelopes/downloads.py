"""下载 in 文件管理: the ticked tasks as one ZIP, streamed.

The archive is never assembled anywhere: the ZIP is written entry by entry into a small
in-memory buffer that the response drains as it goes (``zipfile`` writing to a stream that
cannot seek uses data descriptors, so nothing is written back), reading each blob in chunks.
A request therefore holds about one chunk in memory and writes no temporary file, whatever
the size of the documents.

What may be downloaded is decided before the first byte is sent: the tasks the user may open
(:func:`qianshu.envelopes.access.visible_envelopes`, so an organisation's tasks only through
the organisation a recipient is bound to), at most ``MAX_TASKS`` of them, and at most
``settings.QIANSHU_ZIP_MAX_BYTES`` of files together — a larger selection is refused with a
message instead of being cut off halfway. Each task's download is written to its audit trail
before streaming starts.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import Envelope
from qianshu.storage.models import Blob

MAX_TASKS = 50
CHUNK = 256 * 1024
MIB = 1024 * 1024
_UNSAFE = str.maketrans({c: "_" for c in '/\\:*?"<>|\x00'})


@dataclass(frozen=True)
class Entry:
    """One file of the archive: its path in the ZIP and the blob it is read from."""

    path: str
    blob: Blob


@dataclass(frozen=True)
class Archive:
    """What a download will contain, checked against the limits before streaming."""

    envelopes: list[Envelope]
    entries: list[Entry]

    @property
    def size(self) -> int:
        return sum(entry.blob.size for entry in self.entries)


def _safe_name(name: str, fallback: str) -> str:
    name = " ".join(name.translate(_UNSAFE).split()).strip(". ")
    return name[:150] or fallback


def _unique(name: str, used: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, n = name, 1
    while candidate.lower() in used:
        n += 1
        candidate = f"{stem}({n}).{ext}" if ext else f"{stem}({n})"
    used.add(candidate.lower())
    return candidate


def plan_archive(envelopes: Sequence[Envelope]) -> Archive:
    """One folder per task number holding the current PDF of each document — the signed final
    file once completed — and the 签署报告 when there is one. Raises :class:`EnvelopeError`
    when the selection is over the limits."""
    if len(envelopes) > MAX_TASKS:
        raise EnvelopeError(_("一次最多下载 %(n)d 个任务，请减少勾选后重试。") % {"n": MAX_TASKS})
    entries: list[Entry] = []
    for envelope in envelopes:
        folder = _safe_name(envelope.number, "task")
        used: set[str] = set()
        documents = envelope.documents.select_related("current").order_by("position", "id")
        for index, document in enumerate(documents, start=1):
            name = _unique(_safe_name(document.name, f"document-{index}.pdf"), used)
            entries.append(Entry(f"{folder}/{name}", document.current))
        if envelope.report is not None:
            report = _("签署报告-%(number)s.pdf") % {"number": envelope.number}
            name = _unique(_safe_name(report, "report.pdf"), used)
            entries.append(Entry(f"{folder}/{name}", envelope.report))
    archive = Archive(list(envelopes), entries)
    limit = settings.QIANSHU_ZIP_MAX_BYTES
    if archive.size > limit:
        raise EnvelopeError(
            _(
                "所选任务的文件共 %(size)s MB，超过单次下载上限 %(limit)s MB，"
                "请减少勾选的任务后分批下载。"
            )
            % {"size": _megabytes(archive.size), "limit": _megabytes(limit)}
        )
    return archive


def _megabytes(size: int) -> str:
    return f"{size / MIB:.1f}".removesuffix(".0")


class _Buffer(io.RawIOBase):
    """Where the ZIP writer puts its bytes until the response takes them. It cannot seek, so
    ``zipfile`` never goes back to patch a header."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self.pending = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = bytes(data)
        self._parts.append(chunk)
        self.pending += len(chunk)
        return len(chunk)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        self.pending = 0
        return data


def stream_archive(archive: Archive) -> Iterator[bytes]:
    """The ZIP of ``archive``, chunk by chunk (stored, not compressed: PDFs barely shrink)."""
    stamp = timezone.localtime().timetuple()[:6]
    buffer = _Buffer()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zip_file:
        for entry in archive.entries:
            info = zipfile.ZipInfo(entry.path, date_time=stamp)
            with (
                zip_file.open(info, "w", force_zip64=True) as target,
                entry.blob.open_stream() as source,
            ):
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    if buffer.pending >= CHUNK:
                        yield buffer.take()
            yield buffer.take()
    yield buffer.take()
