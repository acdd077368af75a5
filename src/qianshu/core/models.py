"""What every audit trail shares: chain heads, the keyed-MAC fields of chained events, and the
time-stamped anchors of chain heads (see :mod:`qianshu.core.chains`, :mod:`qianshu.core.anchors`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

GENESIS = "0" * 64


class AuditChain(models.Model):
    """The head of one chain of events that has no row of its own to keep it: an organisation's
    log (``org:<id>``), a user's security events (``user:<id>``), the security events without a
    user (``anonymous``), and the sequence of periodic anchors (``anchors``).

    ``count`` and ``head`` are updated in the transaction that appends an event, with this row
    locked; ``anchored_count`` is how many events the last periodic anchor covered.
    """

    key = models.CharField(max_length=64, unique=True)
    count = models.PositiveBigIntegerField(default=0)
    head = models.CharField(max_length=64, default=GENESIS)
    anchored_count = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("审计链")
        verbose_name_plural = _("审计链")
        indexes = [
            # The periodic anchor looks for chains that moved since it last ran.
            models.Index(
                fields=["key"],
                condition=~models.Q(count=models.F("anchored_count")),
                name="core_chain_unanchored",
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} #{self.count}"


class ChainedEvent(models.Model):
    """An event in an :class:`AuditChain`: its place (``seq``), the key that made its MAC, the
    previous event's MAC and its own (see :func:`qianshu.core.chains.event_mac`)."""

    chain = models.ForeignKey(AuditChain, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveBigIntegerField()
    key_id = models.CharField(max_length=16)
    prev_mac = models.CharField(max_length=64)
    mac = models.CharField(max_length=64)

    class Meta:
        abstract = True
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["chain", "seq"], name="%(app_label)s_%(class)s_seq")
        ]


class AuditAnchor(models.Model):
    """A time-stamp token (platform TSA) over the heads of one or more chains.

    A ``completion`` anchor covers one envelope's chain when it completes; ``periodic`` anchors
    (``qianshu anchor-audit``, hourly from the envelope timers) cover every chain that moved,
    are numbered and each covers the previous one's digest.
    """

    class Kind(models.TextChoices):
        COMPLETION = "completion", _("完成时间戳")
        PERIODIC = "periodic", _("定期时间戳")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    seq = models.PositiveBigIntegerField(null=True, blank=True, unique=True)
    prev_digest = models.CharField(max_length=64, blank=True)
    digest = models.CharField(max_length=64)
    token = models.BinaryField()
    token_time = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("审计时间戳")
        verbose_name_plural = _("审计时间戳")
        ordering: ClassVar[list[str]] = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.seq or ''} {self.token_time:%Y-%m-%d %H:%M:%S}"


class AuditAnchorEntry(models.Model):
    """One chain's (count, head) as an anchor covered it."""

    anchor = models.ForeignKey(AuditAnchor, on_delete=models.CASCADE, related_name="entries")
    chain = models.CharField(max_length=80)
    count = models.PositiveBigIntegerField()
    head = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("审计时间戳条目")
        verbose_name_plural = _("审计时间戳条目")
        constraints = [
            models.UniqueConstraint(fields=["anchor", "chain"], name="core_anchor_entry_unique")
        ]
        indexes = [models.Index(fields=["chain", "count"], name="core_anchor_entry_chain")]

    def __str__(self) -> str:
        return f"{self.chain} #{self.count}"
