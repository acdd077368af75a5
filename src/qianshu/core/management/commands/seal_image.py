"""``qianshu seal-image``: render a seal PNG from parameters."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qianshu.signing.errors import SigningError
from qianshu.signing.seals import (
    SEAL_RED,
    OvalSealSpec,
    RoundSealSpec,
    SealSpec,
    SquareSealSpec,
    render_seal,
)


def _colour(value: str) -> tuple[int, int, int]:
    text = value.strip().lstrip("#")
    if len(text) != 6:
        raise CommandError(f"colour must look like #E60012, got {value!r}")
    try:
        return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))
    except ValueError:
        raise CommandError(f"colour must look like #E60012, got {value!r}") from None


class Command(BaseCommand):
    help = "Render a seal image (transparent PNG): round, oval or square (legal representative)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shape", choices=["round", "oval", "square"], default="round")
        parser.add_argument("--org", help="organisation name (round and oval seals)")
        parser.add_argument(
            "--name",
            default="",
            help="seal name, e.g. 合同专用章; or the person's name for a square seal",
        )
        parser.add_argument("--code", default="", help="seal code (last 13 digits are shown)")
        parser.add_argument("--size", type=int, help="size in pixels (width for oval seals)")
        parser.add_argument("--border", type=int, help="border width in pixels")
        parser.add_argument("--font-size", type=int, help="organisation name font size (px)")
        parser.add_argument("--spacing", type=float, help="degrees per character on the arc")
        parser.add_argument("--no-star", action="store_true", help="leave out the star")
        default_colour = "#" + "".join(f"{c:02X}" for c in SEAL_RED)
        parser.add_argument("--color", default=default_colour, help="ink colour")
        parser.add_argument("-o", "--output", required=True, help="PNG file ('-' for stdout)")

    def _spec(self, options: dict[str, Any]) -> SealSpec:
        colour = _colour(options["color"])
        common: dict[str, Any] = {"color": colour}
        if options["border"] is not None:
            common["border_px"] = options["border"]
        if options["shape"] == "square":
            if not options["name"]:
                raise CommandError("--name (the person's name) is required for a square seal")
            if options["size"] is not None:
                common["size_px"] = options["size"]
            return SquareSealSpec(name=options["name"], **common)
        if not options["org"]:
            raise CommandError("--org (the organisation name) is required")
        if options["font_size"] is not None:
            common["name_font_px"] = options["font_size"]
        if options["shape"] == "oval":
            if options["size"] is not None:
                common["width_px"] = options["size"]
                common["height_px"] = options["size"] * 3 // 4
            return OvalSealSpec(
                org_name=options["org"],
                seal_name=options["name"],
                code=options["code"],
                **common,
            )
        if options["size"] is not None:
            common["size_px"] = options["size"]
        if options["spacing"] is not None:
            common["char_spacing_deg"] = options["spacing"]
        return RoundSealSpec(
            org_name=options["org"],
            seal_name=options["name"],
            code=options["code"],
            star=not options["no_star"],
            **common,
        )

    def handle(self, *args: object, **options: object) -> None:
        try:
            png = render_seal(self._spec(options))
        except SigningError as exc:
            raise CommandError(str(exc)) from None
        if options["output"] == "-":
            sys.stdout.buffer.write(png)
            return
        path = Path(str(options["output"]))
        try:
            path.write_bytes(png)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror}") from None
        self.stdout.write(self.style.SUCCESS(f"Wrote {path} ({len(png)} bytes)"))
