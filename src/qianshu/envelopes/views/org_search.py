"""组织搜索 of the compose page: verified organisations by name or credit code, as JSON.

Only for a logged-in, real-name verified person (those who may send), at most
``binding.SEARCH_MAX_RESULTS`` results per query, at least two characters, and a per-user rate
limit: it lists only what a credit-code registry shows anyway (verified names and codes), but
it is not a way to download the platform's list of organisations.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from qianshu.accounts import throttles
from qianshu.accounts.decorators import login_required
from qianshu.accounts.models import User
from qianshu.envelopes import binding
from qianshu.identity.access import verified_identity

SEARCHES_PER_MINUTE = 60


@require_GET
@login_required
def org_search_view(request: HttpRequest) -> JsonResponse:
    """``?q=`` → ``{ok, results: [{uuid, name, credit_code, kind}]}``."""
    user = request.user
    assert isinstance(user, User)
    if verified_identity(user) is None:
        message = _("请先完成个人实名认证，再搜索组织。")
        return JsonResponse({"ok": False, "message": message, "results": []}, status=403)
    text = " ".join(request.GET.get("q", "").split())
    if len(text) < binding.SEARCH_MIN_CHARS:
        message = _("请至少输入 %(n)d 个字。") % {"n": binding.SEARCH_MIN_CHARS}
        return JsonResponse({"ok": True, "message": message, "results": []})
    verdict = throttles.hit(f"org-search:user:{user.pk}", limit=SEARCHES_PER_MINUTE, window=60)
    if not verdict:
        message = _("搜索过于频繁，请 %(n)d 秒后再试。") % {"n": verdict.retry_after}
        return JsonResponse({"ok": False, "message": message, "results": []}, status=429)
    results = [
        {
            "uuid": str(org.uuid),
            "name": org.name,
            "credit_code": org.credit_code,
            "identifier": org.identifier,
            "kind": str(org.get_kind_display()),
        }
        for org in binding.search_verified_orgs(text)
    ]
    message = "" if results else _("没有找到已认证的组织。可以直接填写组织名称和统一社会信用代码。")
    return JsonResponse({"ok": True, "message": message, "results": results})
