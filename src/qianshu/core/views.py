from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from qianshu.core.legal import PRIVACY_VERSION
from qianshu.pki.platform import is_initialised


def home(request: HttpRequest) -> HttpResponse:
    """Landing page: what runs here and where the platform's public PKI material is."""
    cards = ["identity/_profile_card.html"] if request.user.is_authenticated else []
    return render(request, "core/home.html", {"pki_ready": is_initialised(), "home_cards": cards})


def help_view(request: HttpRequest) -> HttpResponse:
    """帮助中心: the flows of the user manuals, step by step. Public: a signer reached by an SMS
    link may read it before logging in."""
    return render(request, "core/help.html", {"nav": "help"})


def privacy_view(request: HttpRequest) -> HttpResponse:
    """《隐私保护协议》: the text people consent to when they create an organisation."""
    return render(request, "core/privacy.html", {"nav": "privacy", "version": PRIVACY_VERSION})
