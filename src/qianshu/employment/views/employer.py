"""The employer's pages of the employment app."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
