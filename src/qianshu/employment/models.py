"""Tripartite employment agreements (就业协议书 / 三方协议, seed 003).

Who is who: a :class:`School` is a verified organisation an operator marked as a school, with
its :class:`College` list and its :class:`Staff` (学校管理员 sees every student, 学院管理员 the
students of one college). The school keeps the student roster (:class:`RosterEntry`, one row
per student and 届); a student's account is bound to its entry by 信息验证. An employer is any
verified organisation; once a school approved it (:class:`EmployerApproval`, 单位审核) it may
invite students of every school. Its 签约信息 defaults live in :class:`EmployerProfile`.

An :class:`Agreement` is one invitation (线上签约) or one paper agreement (线下签约) between a
student and an employer; a :class:`Termination` is one application to end it (解约). The rules
that must hold under concurrency are database constraints here, not only checks in the actions:

* a student holds at most one agreement in force or on its way (accepted, waiting for 鉴证,
  passed; on paper from 协议书审核 on);
* an employer has at most one open invitation per student;
* a student is terminated at most once (one passed termination per student), and an
  agreement has at most one termination under way.

Every change of an agreement or termination writes an :class:`AgreementEvent` (签约过程记录).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class School(models.Model):
    """A verified organisation marked as a school by an operator (标记为学校)."""

    class CheckMode(models.TextChoices):
        ID_NUMBER = "id_number", _("姓名 + 身份证号（实名认证）")
        STUDENT_NO = "student_no", _("学号 + 姓名 + 手机号")

    org = models.OneToOneField("orgs.Organization", on_delete=models.PROTECT, related_name="school")
    check_mode = models.CharField(
        _("学生信息验证方式"), max_length=16, choices=CheckMode.choices, default=CheckMode.ID_NUMBER
    )
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    marked_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return str(self.org)


class College(models.Model):
    """学院 / 院系 of a school."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="colleges")
    name = models.CharField(_("学院"), max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["school", "name"], name="employment_college_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Staff(models.Model):
    """A member of the school's organisation with an employment-office role."""

    class Role(models.TextChoices):
        SCHOOL_ADMIN = "school_admin", _("学校管理员")
        COLLEGE_ADMIN = "college_admin", _("学院管理员")

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="staff")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices)
    college = models.ForeignKey(
        College, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["school", "user"], name="employment_staff_unique"),
            models.CheckConstraint(
                condition=Q(role="college_admin", college__isnull=False)
                | Q(role="school_admin", college__isnull=True),
                name="employment_staff_college_iff_college_admin",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()}"


class RosterEntry(models.Model):
    """One student of one 届 on a school's roster (生源信息)."""

    class Status(models.TextChoices):
        UNSIGNED = "unsigned", _("未签约")
        SIGNING = "signing", _("签约中")
        SIGNED = "signed", _("已签约")
        TERMINATED = "terminated", _("已解约")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="roster")
    year = models.PositiveSmallIntegerField(_("毕业届"))
    student_no = models.CharField(_("学号"), max_length=32)
    name = models.CharField(_("姓名"), max_length=64)
    # The ID number itself is not kept: the school has it; matching uses the keyed hash.
    id_number_hmac = models.CharField(max_length=64)
    id_number_masked = models.CharField(_("身份证号"), max_length=40)
    phone = models.CharField(_("手机号"), max_length=20)
    college = models.ForeignKey(College, on_delete=models.PROTECT, related_name="students")
    major = models.CharField(_("专业"), max_length=100, blank=True)
    class_name = models.CharField(_("班级"), max_length=100, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.UNSIGNED
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="roster_entries",
    )
    verified_at = models.DateTimeField(_("信息验证时间"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["school", "year", "student_no"], name="employment_roster_student_no"
            ),
            models.UniqueConstraint(
                fields=["school", "year", "id_number_hmac"], name="employment_roster_id_number"
            ),
            # one account, one student (信息验证 binds once)
            models.UniqueConstraint(
                fields=["user", "year"],
                condition=Q(user__isnull=False),
                name="employment_roster_one_entry_per_user",
            ),
        ]
        indexes = [models.Index(fields=["school", "year", "name"])]

    def __str__(self) -> str:
        return f"{self.name}（{self.student_no}）"


class EmployerApproval(models.Model):
    """单位审核: a school's decision on an employer (any school's approval lets it invite)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待审核")
        APPROVED = "approved", _("审核通过")
        REFUSED = "refused", _("审核不通过")

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="approvals")
    employer = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="school_approvals"
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.CharField(_("原因"), max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["school", "employer"], name="employment_approval_once")
        ]

    def __str__(self) -> str:
        return f"{self.employer} @ {self.school}: {self.status}"


class EmployerProfile(models.Model):
    """签约信息 an employer confirms on first use: the defaults of its invitation letters."""

    org = models.OneToOneField(
        "orgs.Organization", on_delete=models.CASCADE, related_name="employer_profile"
    )
    basic = models.JSONField(
        default=dict
    )  # 单位性质, 单位行业, 单位所在地, 单位地址, 联系人, 联系电话
    archive = models.JSONField(default=dict)  # 档案接收单位, 地址, 邮编, 联系人, 电话
    hukou = models.JSONField(default=dict)  # 户口迁移地址, 户口接收单位
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.org} 签约信息"


class Candidate(models.Model):
    """A student on an employer's 签约发送列表 (拟签约名单)."""

    employer = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="employment_candidates"
    )
    student = models.ForeignKey(RosterEntry, on_delete=models.CASCADE, related_name="+")
    position = models.CharField(_("拟聘职位"), max_length=100, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["employer", "student"], name="employment_candidate_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.employer}: {self.student}"


#: Agreement states in which the student is bound (no other agreement may be accepted).
BINDING_STATES = ("accepted", "passed", "paper_review", "paper_feedback", "paper_waiting")


class Agreement(models.Model):
    """One invitation (线上签约) or one paper agreement (线下签约)."""

    class Mode(models.TextChoices):
        ONLINE = "online", _("线上签约")
        OFFLINE = "offline", _("线下签约")

    class Status(models.TextChoices):
        INVITED = "invited", _("待应约")
        REJECTED = "rejected", _("已拒绝")
        EXPIRED = "expired", _("已过期")
        ACCEPTED = "accepted", _("等待签约鉴证")
        PASSED = "passed", _("签约鉴证通过")
        FAILED = "failed", _("签约鉴证不通过")
        TERMINATED = "terminated", _("已解约")
        PAPER_DRAFT = "paper_draft", _("暂存")
        PAPER_REVIEW = "paper_review", _("协议书审核")
        PAPER_REVIEW_FAILED = "paper_review_failed", _("协议书审核不通过")
        PAPER_FEEDBACK = "paper_feedback", _("待反馈")
        PAPER_WAITING = "paper_waiting", _("等待签约鉴证")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("协议书编号"), max_length=32, unique=True)
    mode = models.CharField(max_length=16, choices=Mode.choices)
    status = models.CharField(_("状态"), max_length=24, choices=Status.choices)
    student = models.ForeignKey(RosterEntry, on_delete=models.PROTECT, related_name="agreements")
    employer = models.ForeignKey(
        "orgs.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="employment_agreements",
    )
    # 签约信息 (拟聘职位, 合同期限, 薪酬, 工作地点, 试用期, 其他约定), 档案信息, 户口信息 and the
    # employer's details as they were when sent (the school completes 单位性质/行业/所在地).
    terms = models.JSONField(default=dict)
    archive = models.JSONField(default=dict)
    hukou = models.JSONField(default=dict)
    employer_info = models.JSONField(default=dict)
    deadline = models.DateTimeField(_("反馈期限"), null=True, blank=True)
    envelope = models.OneToOneField(
        "envelopes.Envelope",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="employment_agreement",
    )
    # 线下签约: the uploaded scan or photos of the stamped paper agreement
    feedback = models.ManyToManyField("storage.Blob", blank=True, related_name="+")
    reason = models.CharField(_("原因"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(_("应约时间"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("鉴证时间"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["student"],
                condition=Q(status__in=BINDING_STATES),
                name="employment_one_binding_agreement",
            ),
            models.UniqueConstraint(
                fields=["employer", "student"],
                condition=Q(status="invited"),
                name="employment_one_open_invitation",
            ),
            models.CheckConstraint(
                condition=Q(mode="offline") | Q(employer__isnull=False),
                name="employment_online_has_employer",
            ),
        ]
        indexes = [
            models.Index(fields=["employer", "status"]),
            models.Index(fields=["status", "deadline"]),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def employer_name(self) -> str:
        return str(self.employer_info.get("name") or (self.employer.name if self.employer else ""))


class Termination(models.Model):
    """解约: an application by one party, the other's answer and the school's 解约鉴证."""

    class Side(models.TextChoices):
        STUDENT = "student", _("学生")
        EMPLOYER = "employer", _("单位")

    class Status(models.TextChoices):
        APPLIED = "applied", _("待对方同意")
        REFUSED = "refused", _("对方不同意")
        AGREED = "agreed", _("等待解约鉴证")
        PASSED = "passed", _("解约鉴证通过")
        FAILED = "failed", _("解约鉴证不通过")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="terminations")
    student = models.ForeignKey(RosterEntry, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(_("申请方"), max_length=16, choices=Side.choices)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices)
    reason = models.CharField(_("解约原因"), max_length=500)
    proof = models.ForeignKey(
        "storage.Blob", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    letter = models.OneToOneField(
        "envelopes.Envelope",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="employment_termination",
    )
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    applied_at = models.DateTimeField(default=timezone.now)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(_("鉴证意见"), max_length=300, blank=True)

    class Meta:
        constraints = [
            # 解约机会仅有一次: one termination that took effect per student
            models.UniqueConstraint(
                fields=["student"], condition=Q(status="passed"), name="employment_one_termination"
            ),
            models.UniqueConstraint(
                fields=["agreement"],
                condition=Q(status__in=("applied", "agreed")),
                name="employment_one_open_termination",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agreement} 解约"


class EmploymentRecord(models.Model):
    """就业信息: written when a school passes an agreement, ended by a passed termination."""

    student = models.ForeignKey(RosterEntry, on_delete=models.PROTECT, related_name="records")
    agreement = models.OneToOneField(Agreement, on_delete=models.PROTECT, related_name="record")
    employer_name = models.CharField(_("就业单位"), max_length=100)
    position = models.CharField(_("职位"), max_length=100, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["student"],
                condition=Q(ended_at__isnull=True),
                name="employment_one_current_record",
            )
        ]

    def __str__(self) -> str:
        return f"{self.student} → {self.employer_name}"


class AgreementEvent(models.Model):
    """签约过程记录: one line per change of an agreement or of its termination."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=32)
    text = models.CharField(max_length=300)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("at", "id")

    def __str__(self) -> str:
        return f"{self.agreement}: {self.action}"
