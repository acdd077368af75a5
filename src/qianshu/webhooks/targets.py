"""Where a webhook may go: the guard against server-side request forgery.

A webhook URL is chosen by an organisation administrator, and the platform POSTs to it from
inside its own network. So the URL must be ``https`` (``http`` only where private targets are
allowed), carry no credentials, and every address its host resolves to must be a public
(globally routable) one: not loopback, private, link-local (cloud metadata at
169.254.169.254), carrier-grade NAT, multicast, reserved or unspecified; IPv6 forms that
carry an IPv4 address (mapped, 6to4, Teredo, NAT64) are judged by that address.
``QIANSHU_WEBHOOK_ALLOW_PRIVATE`` lifts the address rule for intranet deployments
and tests.

The check runs when the endpoint is saved *and* at every delivery, and the delivery connects
to the address that was checked (:func:`resolve`), not to whatever the name resolves to a
moment later: a DNS answer that changes between the check and the connection (rebinding)
cannot redirect it. Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from qianshu.webhooks.errors import UnsafeTarget

MAX_URL = 500


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent
    address: str  # the checked address to connect to


def _allow_private() -> bool:
    return bool(getattr(settings, "QIANSHU_WEBHOOK_ALLOW_PRIVATE", False))


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address: judged by that address.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return _public(str(embedded))
    return ip.is_global and not ip.is_multicast


def parse(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and path of an acceptable URL; :class:`UnsafeTarget` otherwise."""
    url = url.strip()
    if not url or len(url) > MAX_URL:
        raise UnsafeTarget(_("请输入接收地址（不超过 %(max)d 个字符）。") % {"max": MAX_URL})
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeTarget(_("接收地址格式不正确。")) from None
    allowed = ("https", "http") if _allow_private() else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeTarget(_("接收地址必须以 https:// 开头。"))
    if parts.username or parts.password:
        raise UnsafeTarget(_("接收地址中不能包含用户名或密码。"))
    host = parts.hostname or ""
    if not host:
        raise UnsafeTarget(_("接收地址格式不正确。"))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def resolve(url: str) -> Target:
    """The URL's parts and the first address of its host, checked; :class:`UnsafeTarget` when
    the URL is not acceptable, its host does not resolve, or any address is not public."""
    scheme, host, port, path = parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise UnsafeTarget(_("无法解析接收地址的域名。")) from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise UnsafeTarget(_("无法解析接收地址的域名。"))
    if not _allow_private() and not all(_public(a) for a in addresses):
        raise UnsafeTarget(_("接收地址指向内网、本机或保留地址，不能使用。"))
    return Target(url.strip(), scheme, host, port, path, addresses[0])
