"""Seal generator specifications (自动生成): the default per seal type, and the editable
parameters (in millimetres, as on a physical seal) ⇄ :mod:`qianshu.signing.seals` dataclasses.

The parameters are a small JSON-able dict (what the spec form cleans and what ``Seal.spec``
stores); :func:`build_spec` turns them into a render spec at :data:`PX_PER_MM` pixels per
millimetre, so a stored seal can be rendered again exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from qianshu.orgs.models import Organization, Seal
from qianshu.signing.seals import (
    CODE_DIGITS,
    OvalSealSpec,
    RoundSealSpec,
    SealSpec,
    SquareSealSpec,
)

PX_PER_MM = 10  # 42 mm → 420 px (about 254 dpi at the real size)
SPEC_VERSION = 1

# Bounds of the editable parameters (the renderer has its own, wider ones).
ROUND_SIZE_MM = (30, 60)
OVAL_WIDTH_MM = (30, 60)
OVAL_HEIGHT_MM = (20, 45)
SQUARE_SIZE_MM = (12, 40)
FONT_MM_MIN = 1.0
SPACING_DEG = (5, 60)
MAX_ARC_DEG = 320  # the organisation name may span at most this much of the circle
MAX_SEAL_TEXT_CHARS = 16


class Shape(models.TextChoices):
    ROUND = "round", _("圆形")
    OVAL = "oval", _("椭圆形")
    SQUARE = "square", _("方形")


class CodeMode(models.TextChoices):
    CREDIT = "credit", _("统一社会信用代码后 13 位")
    CUSTOM = "custom", _("自定义 13 位编码")
    NONE = "none", _("不显示编码")


class Suffix(models.TextChoices):
    AUTO = "auto", _("自动（两字名加“之印”，三字名加“印”）")
    ZHI_YIN = "之印", _("之印")
    YIN = "印", _("印")
    NONE = "none", _("不加")


@dataclass(frozen=True)
class KindDefaults:
    """The default specification of one seal type, as on the usual physical seal."""

    shape: str
    size_mm: int  # diameter (round) or side (square)
    seal_text: str  # the text below the star ("" for 公章)
    star: bool
    width_mm: int = 40  # oval only
    height_mm: int = 30


DEFAULTS: dict[str, KindDefaults] = {
    Seal.Kind.OFFICIAL: KindDefaults(Shape.ROUND, 42, "", True),
    Seal.Kind.CONTRACT: KindDefaults(Shape.ROUND, 40, "合同专用章", True),
    Seal.Kind.FINANCE: KindDefaults(Shape.ROUND, 38, "财务专用章", True),
    Seal.Kind.HR: KindDefaults(Shape.ROUND, 38, "人事专用章", True),
    Seal.Kind.LEGAL_REP: KindDefaults(Shape.SQUARE, 20, "", False),
    Seal.Kind.CUSTOM: KindDefaults(Shape.ROUND, 40, "", True),
}

# What the type chooser explains (the manual: 默认规格符合要求就直接【完成制作】).
KIND_HELP: dict[str, Any] = {
    Seal.Kind.OFFICIAL: _("圆形，直径 42 mm，上弧为组织名称，中间五角星。"),
    Seal.Kind.CONTRACT: _("圆形，直径 40 mm，五角星下方为“合同专用章”。"),
    Seal.Kind.FINANCE: _("圆形，直径 38 mm，五角星下方为“财务专用章”。"),
    Seal.Kind.HR: _("圆形，直径 38 mm，五角星下方为“人事专用章”。"),
    Seal.Kind.LEGAL_REP: _("方形，边长 20 mm，法定代表人姓名加“之印”或“印”。"),
    Seal.Kind.CUSTOM: _("圆形，直径 40 mm，五角星下方为自定义名称。"),
}


def shapes_for(kind: str) -> list[tuple[str, str]]:
    """The shapes a seal type may take: a legal representative's seal is square, the
    organisation's seals are round or oval."""
    if kind == Seal.Kind.LEGAL_REP:
        return [(Shape.SQUARE.value, str(Shape.SQUARE.label))]
    return [(Shape.ROUND.value, str(Shape.ROUND.label)), (Shape.OVAL.value, str(Shape.OVAL.label))]


def credit_code_digits(org: Organization) -> str:
    """The 13 digits printed on the lower arc: the last 13 digits of the credit code (letters,
    such as a letter check character, are skipped), or "" when it has fewer digits."""
    digits = "".join(ch for ch in (org.credit_code or "") if ch.isascii() and ch.isdigit())
    return digits[-CODE_DIGITS:] if len(digits) >= CODE_DIGITS else ""


def default_name(kind: str) -> str:
    """The name a new seal of ``kind`` starts with: its type's Chinese name (公章, 合同专用章 …;
    none for 其他印章) whatever the language of the page, since the name is printed on the seal
    and in its certificate. Chinese is the source language: its labels are the untranslated ones.
    """
    if kind == Seal.Kind.CUSTOM:
        return ""
    with translation.override("zh-hans"):
        return str(Seal.Kind(kind).label)


def default_params(org: Organization, kind: str) -> dict[str, Any]:
    """The initial parameters of the generator for ``kind`` (what 完成制作 makes unchanged)."""
    d = DEFAULTS[kind]
    return {
        "name": default_name(kind),
        "shape": d.shape,
        "size_mm": d.size_mm,
        "width_mm": d.width_mm,
        "height_mm": d.height_mm,
        "seal_text": d.seal_text,
        "name_font_mm": None,
        "text_font_mm": None,
        "code_font_mm": None,
        "spacing_deg": None,
        "code_mode": CodeMode.CREDIT if credit_code_digits(org) else CodeMode.NONE,
        "code": "",
        "star": d.star,
        "suffix": Suffix.AUTO,
    }


def _px(mm: float | None) -> int | None:
    return None if mm is None else round(float(mm) * PX_PER_MM)


def seal_code(org: Organization, params: dict[str, Any]) -> str:
    mode = params.get("code_mode")
    if mode == CodeMode.CREDIT:
        return credit_code_digits(org)
    if mode == CodeMode.CUSTOM:
        return str(params.get("code") or "")
    return ""


def build_spec(org: Organization, params: dict[str, Any]) -> SealSpec:
    """The render spec of cleaned ``params`` for ``org``.

    Raises :class:`qianshu.signing.errors.ImageError` when the renderer refuses a combination
    the form did not catch (callers turn it into a message).
    """
    shape = params["shape"]
    if shape == Shape.SQUARE:
        suffix = params.get("suffix") or Suffix.AUTO
        return SquareSealSpec(
            name=org.legal_rep_name.strip(),
            suffix=None if suffix == Suffix.AUTO else "" if suffix == Suffix.NONE else suffix,
            size_px=int(params["size_mm"]) * PX_PER_MM,
        )
    common: dict[str, Any] = {
        "org_name": org.name.strip(),
        "seal_name": str(params.get("seal_text") or "").strip(),
        "code": seal_code(org, params),
        "name_font_px": _px(params.get("name_font_mm")),
        "seal_name_font_px": _px(params.get("text_font_mm")),
        "code_font_px": _px(params.get("code_font_mm")),
        "star": bool(params.get("star")),
    }
    if shape == Shape.OVAL:
        return OvalSealSpec(
            width_px=int(params["width_mm"]) * PX_PER_MM,
            height_px=int(params["height_mm"]) * PX_PER_MM,
            **common,
        )
    spacing = params.get("spacing_deg")
    return RoundSealSpec(
        size_px=int(params["size_mm"]) * PX_PER_MM,
        char_spacing_deg=None if spacing is None else float(spacing),
        **common,
    )


def stored_spec(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """What ``Seal.spec`` keeps of a generated seal: the parameters in JSON form, with the
    scale they were rendered at (enough to render the same image again)."""
    keep = {
        key: (float(value) if key.endswith("_mm") and value is not None else value)
        for key, value in params.items()
        if key != "name"
    }
    return {"version": SPEC_VERSION, "kind": kind, "px_per_mm": PX_PER_MM, **keep}


def physical_size_mm(seal: Seal) -> tuple[float, float] | None:
    """Width and height in millimetres of a generated seal (for stamping at the real size)."""
    spec = seal.spec or {}
    if spec.get("shape") == Shape.OVAL:
        return float(spec["width_mm"]), float(spec["height_mm"])
    if spec.get("shape") in (Shape.ROUND, Shape.SQUARE):
        return float(spec["size_mm"]), float(spec["size_mm"])
    return None
