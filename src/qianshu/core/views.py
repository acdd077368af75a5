from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from qianshu.pki.platform import is_initialised


def home(request: HttpRequest) -> HttpResponse:
    """Landing page: what runs here and where the platform's public PKI material is."""
    cards = ["identity/_profile_card.html"] if request.user.is_authenticated else []
    return render(request, "core/home.html", {"pki_ready": is_initialised(), "home_cards": cards})
