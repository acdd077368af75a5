"""签约中心 → 签约发送: 签约搜索 and 加入, 导入拟签约名单, the 签约发送列表 (移出, 发送签约邀请,
邀约), then the 邀请函, its confirmation page (预览协议书, seal, 签署密码, 确认发送) and the
result for each student.

Only students the employer found itself can be added: a search's hit is remembered in the
session and 加入 accepts nothing else, so a student's identifier seen elsewhere is of no use."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_http_methods

from qianshu.core.downloads import file_response
from qianshu.core.errors import UserError, add_message, add_to_form
from qianshu.core.meta import request_meta
from qianshu.core.sheets import XLSX_TYPE
from qianshu.employment import candidates as candidate_sheet
from qianshu.employment import employer_queries as eq
from qianshu.employment.actions import employers as employer_actions
from qianshu.employment.actions.agreements import Letter, clean_letter, do_send_invitations
from qianshu.employment.actions.candidates import do_import_candidates
from qianshu.employment.employer_forms import LetterForm, SealPinForm, SearchForm
from qianshu.employment.errors import EmploymentError
from qianshu.employment.models import Candidate, RosterEntry
from qianshu.employment.previews import preview_pdf
from qianshu.employment.views.employer_base import Employer, employer_page, keep, kept, page
from qianshu.envelopes.errors import ConfirmationError

FOUND, IMPORTED, LETTER, SENT = (
    "employment_found",
    "employment_imported",
    "employment_letter",
    "employment_sent",
)
MAX_FOUND = 50
NOT_FOUND = gettext_noop("未找到符合条件的学生，请核对四项信息")


def _inviting(request: HttpRequest, employer: Employer) -> HttpResponse | None:
    """Back to the home (which leads to what is missing) unless the employer may invite."""
    try:
        employer_actions.require_inviting_employer(employer.org, employer.user)
    except UserError as exc:
        add_message(request, exc)
        return HttpResponseRedirect(reverse("employment:employer-home"))
    return None


def _back() -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("employment:employer-send"))


@employer_page
@require_http_methods(["GET", "POST"])
def send_view(request: HttpRequest, employer: Employer) -> HttpResponse:
    """签约发送: 签约搜索, the found student with 加入, and the 签约发送列表."""
    refused = _inviting(request, employer)
    if refused is not None:
        return refused
    op = ""
    if request.method == "POST":
        op = request.POST.get("op") or ("invite_one" if request.POST.get("one") else "")
    schools = eq.all_schools()
    form = SearchForm(schools, request.POST if op == "search" else None)
    found: RosterEntry | None = None
    searched = False
    if op in ("add", "remove", "invite", "invite_one"):
        return _list_action(request, employer, op)
    if op not in ("", "search"):
        raise Http404
    if op == "search" and form.is_valid():
        data = form.cleaned_data
        try:
            found = employer_actions.do_search_student(
                employer.org,
                data["school"],
                data["year"],
                data["name"],
                data["id_or_phone"],
                actor=employer.user,
            )
        except UserError as exc:
            add_to_form(form, exc, field=None)
        else:
            searched = True
            if found is not None:
                remembered = [
                    u for u in kept(request, FOUND, employer) or [] if u != str(found.uuid)
                ]
                keep(request, FOUND, employer, [str(found.uuid), *remembered][:MAX_FOUND])
    context = {
        "form": form,
        "found": found,
        "searched": searched,
        "not_found": _(NOT_FOUND),
        "candidates": list(eq.candidates_of(employer.org)),
    }
    status = 400 if form.errors else 200
    return page(request, employer, "send.html", context, section="send", status=status)


def _list_action(request: HttpRequest, employer: Employer, op: str) -> HttpResponse:
    ticked = request.POST.getlist("student")
    try:
        if op == "add":
            return _add(request, employer)
        if op == "remove":
            chosen = eq.candidates_by_uuid(employer.org, ticked)
            if not chosen:
                raise EmploymentError(_("请先勾选要移出的学生。"))
            removed = employer_actions.do_remove_candidates(
                employer.org, [c.student_id for c in chosen], actor=employer.user
            )
            messages.success(request, _("已移出 %(n)d 名学生。") % {"n": removed})
            return _back()
        if op == "invite_one":
            ticked = [request.POST.get("one", "")]
        return _choose_for_letter(request, employer, eq.candidates_by_uuid(employer.org, ticked))
    except UserError as exc:
        add_message(request, exc)
        return _back()


def _add(request: HttpRequest, employer: Employer) -> HttpResponse:
    """加入: only a student this employer's own search found."""
    wanted = request.POST.get("found", "")
    if wanted not in (kept(request, FOUND, employer) or []):
        raise EmploymentError(_("请先搜索到该学生再加入。"))
    student = RosterEntry.objects.filter(uuid=wanted).first()
    if student is None:
        raise EmploymentError(_("请先搜索到该学生再加入。"))
    position = " ".join(request.POST.get("position", "").split())
    if len(position) > candidate_sheet.POSITION_MAX:
        raise EmploymentError(_("拟聘职位最多 100 个字。"), field="position")
    employer_actions.do_add_candidates(
        employer.org, [student], position=position, actor=employer.user
    )
    messages.success(request, _("%(name)s 已加入签约发送列表。") % {"name": student.name})
    return _back()


def _choose_for_letter(
    request: HttpRequest, employer: Employer, chosen: list[Candidate]
) -> HttpResponse:
    """发送签约邀请 / 邀约: the ticked students, all with the same 拟聘职位, go to the 邀请函."""
    if not chosen:
        raise EmploymentError(_("请先勾选要邀约的学生。"))
    positions = {c.position for c in chosen}
    if len(positions) > 1:
        raise EmploymentError(_("请勾选拟聘职位相同的学生一起发送签约邀请。"))
    keep(
        request,
        LETTER,
        employer,
        {"students": [str(c.student.uuid) for c in chosen], "position": positions.pop()},
    )
    return HttpResponseRedirect(reverse("employment:employer-letter"))


@employer_page
@require_http_methods(["GET", "POST"])
def import_view(request: HttpRequest, employer: Employer) -> HttpResponse:
    """导入拟签约名单: download the template, upload it filled in; each row's result."""
    refused = _inviting(request, employer)
    if refused is not None:
        return refused
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error = _("请选择要导入的 Excel 文件。")
        else:
            try:
                rows = do_import_candidates(employer.org, upload.read(), actor=employer.user)
            except UserError as exc:
                error = exc.message
            else:
                keep(request, IMPORTED, employer, [_row_result(r) for r in rows])
                return HttpResponseRedirect(reverse("employment:employer-import"))
    results = kept(request, IMPORTED, employer, pop=True) or []
    context = {
        "error": error,
        "results": results,
        "counts": _counts(results),
        "columns": candidate_sheet.columns(),
        "max_rows": candidate_sheet.MAX_ROWS,
    }
    return page(
        request, employer, "import.html", context, section="send", status=400 if error else 200
    )


def _row_result(row: candidate_sheet.CandidateRow) -> dict[str, Any]:
    return {
        "number": row.number,
        "school": row.values.get("school", ""),
        "year": row.values.get("year", ""),
        "name": row.name,
        "position": row.values.get("position", ""),
        "outcome": row.outcome,
        "detail": "；".join(row.problems),
    }


def _counts(results: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"added": 0, "already": 0, "not_found": 0, "error": 0}
    for result in results:
        counts[result["outcome"]] = counts.get(result["outcome"], 0) + 1
    return counts


@employer_page
@require_GET
def import_template_view(request: HttpRequest, employer: Employer) -> HttpResponse:
    """下载 excel 模板 (毕业学校 offered as a list of the platform's schools)."""
    names = [s.org.name for s in eq.all_schools()]
    data = candidate_sheet.workbook(names)
    return file_response(data, filename=_("拟签约名单模板.xlsx"), content_type=XLSX_TYPE)


def _letter_students(
    request: HttpRequest, employer: Employer
) -> tuple[dict[str, Any], list[Candidate]]:
    chosen = kept(request, LETTER, employer) or {}
    students = eq.candidates_by_uuid(employer.org, chosen.get("students", []))
    if not students:
        raise EmploymentError(_("请先在签约发送列表中勾选要邀约的学生。"))
    return chosen, students


@employer_page
@require_http_methods(["GET", "POST"])
def letter_view(request: HttpRequest, employer: Employer) -> HttpResponse:
    """邀请函: 签约信息, 档案接收信息 and 户口接收信息 prefilled from the 签约信息 defaults,
    反馈期限; 发送 goes to the confirmation page."""
    refused = _inviting(request, employer)
    if refused is not None:
        return refused
    try:
        chosen, students = _letter_students(request, employer)
    except UserError as exc:
        add_message(request, exc)
        return _back()
    profile = eq.profile_of(employer.org)
    saved = chosen.get("letter") or {}
    values = {
        "terms": saved.get("terms") or {"position": chosen.get("position", "")},
        "archive": saved.get("archive") or (profile.archive if profile else {}),
        "hukou": saved.get("hukou") or (profile.hukou if profile else {}),
    }
    form = LetterForm(
        request.POST if request.method == "POST" else None,
        values=values,
        feedback_days=int(saved.get("feedback_days") or 5),
    )
    if request.method == "POST" and form.is_valid():
        try:
            letter = clean_letter(
                Letter(
                    terms=form.terms(),
                    archive=form.section("archive"),
                    hukou=form.section("hukou"),
                    feedback_days=form.cleaned_data["feedback_days"],
                )
            )
        except UserError as exc:
            add_to_form(form, exc)
        else:
            chosen["letter"] = _letter_dict(letter)
            keep(request, LETTER, employer, chosen)
            return HttpResponseRedirect(reverse("employment:employer-letter-confirm"))
    context = {"form": form, "students": students}
    status = 400 if form.errors else 200
    return page(request, employer, "letter.html", context, section="send", status=status)


def _letter_dict(letter: Letter) -> dict[str, Any]:
    return {
        "terms": dict(letter.terms),
        "archive": dict(letter.archive),
        "hukou": dict(letter.hukou),
        "feedback_days": letter.feedback_days,
    }


def _confirmed_letter(request: HttpRequest, employer: Employer) -> tuple[Letter, list[Candidate]]:
    chosen, students = _letter_students(request, employer)
    saved = chosen.get("letter")
    if not saved:
        raise EmploymentError(_("请先填写邀请函。"))
    return Letter(**saved), students


@employer_page
@require_http_methods(["GET", "POST"])
def confirm_view(request: HttpRequest, employer: Employer) -> HttpResponse:
    """确认页面: the letter as it will be sent, 预览协议书, the seal and 签署密码, 确认发送."""
    refused = _inviting(request, employer)
    if refused is not None:
        return refused
    try:
        letter, students = _confirmed_letter(request, employer)
    except UserError as exc:
        add_message(request, exc)
        return _back()
    form = SealPinForm(employer.seals(), request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            sent = do_send_invitations(
                employer.org,
                [c.student for c in students],
                letter,
                seal_uuid=form.cleaned_data["seal"],
                pin=form.cleaned_data["pin"],
                actor=employer.user,
                meta=request_meta(request),
            )
        except UserError as exc:
            wrong_pin = exc.field == "pin" or isinstance(exc, ConfirmationError)
            add_to_form(form, exc, field="pin" if wrong_pin else None)
        else:
            results = [
                {
                    "name": s.student.name,
                    "school": s.student.school.org.name,
                    "agreement": str(s.agreement.uuid) if s.agreement else "",
                    "problem": s.problem,
                }
                for s in sent
            ]
            request.session.pop(LETTER, None)
            keep(request, SENT, employer, results)
            return HttpResponseRedirect(reverse("employment:employer-letter-result"))
    context = {"letter": letter, "students": students, "form": form}
    status = 400 if form.errors else 200
    return page(request, employer, "confirm.html", context, section="send", status=status)


@employer_page
@require_GET
def preview_view(request: HttpRequest, employer: Employer) -> HttpResponse:
    """预览协议书: the agreement of the first chosen student (or ``?student=``) as it will be
    sent, before any seal; nothing is saved."""
    try:
        letter, students = _confirmed_letter(request, employer)
    except UserError as exc:
        add_message(request, exc)
        return _back()
    wanted = request.GET.get("student", "")
    candidate = next((c for c in students if str(c.student.uuid) == wanted), students[0])
    try:
        data = preview_pdf(employer.org, candidate.student, letter, actor=employer.user)
    except UserError as exc:  # a character the agreement cannot print, a letter too long
        add_message(request, exc)
        return HttpResponseRedirect(reverse("employment:employer-letter"))
    return file_response(
        data, filename=_("就业协议书预览.pdf"), content_type="application/pdf", inline=True
    )


@employer_page
@require_GET
def result_view(request: HttpRequest, employer: Employer) -> HttpResponse:
    """Each student: the invitation sent, or why not."""
    results = kept(request, SENT, employer)
    if results is None:
        return _back()
    context = {
        "results": results,
        "sent": sum(1 for r in results if r["agreement"]),
        "failed": sum(1 for r in results if not r["agreement"]),
    }
    return page(request, employer, "result.html", context, section="send")


urlpatterns: list[URLPattern] = [
    path("employer/send/", send_view, name="employer-send"),
    path("employer/send/import/", import_view, name="employer-import"),
    path("employer/send/import/template/", import_template_view, name="employer-import-template"),
    path("employer/letter/", letter_view, name="employer-letter"),
    path("employer/letter/confirm/", confirm_view, name="employer-letter-confirm"),
    path("employer/letter/preview/", preview_view, name="employer-letter-preview"),
    path("employer/letter/result/", result_view, name="employer-letter-result"),
]
