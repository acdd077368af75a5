"""What a user can get wrong with webhooks (all :class:`qianshu.core.errors.UserError`)."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from qianshu.core.errors import UserError


class UnsafeTarget(UserError):
    """The URL is not one the platform may POST to (scheme, credentials, or an address inside
    the platform's own network)."""

    code = "webhook_unsafe_url"
    default_message = gettext_noop("该接收地址不可用。")
    field = "url"


class NoEvents(UserError):
    code = "webhook_no_events"
    default_message = gettext_noop("请至少选择一个事件。")
    field = "events"


class TooManyEndpoints(UserError):
    code = "webhook_too_many"
    default_message = gettext_noop("每个组织最多配置 %(count)d 个接收地址。")
    status = 409


class EndpointDisabled(UserError):
    code = "webhook_endpoint_disabled"
    default_message = gettext_noop("该接收地址已停用，请先启用再重新推送。")
    status = 409
