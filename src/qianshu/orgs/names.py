"""Comparing organisation and person names the way people write them.

Two spellings of one registered name must compare equal, or a copycat could register
"示例科技（北京）有限公司" next to "示例科技(北京)有限公司" and pass for a different organisation.
:func:`fold_name` therefore applies Unicode compatibility normalisation (NFKC: full-width
letters, digits and brackets become their ASCII forms), drops every white space, maps the middle
dots people type (``·`` ``•`` ``・`` ``．`` ``.``) to one, and ignores case. Look-alike characters
of different scripts are not folded: the same-name rule sends a new organisation to an operator,
who sees both.
"""

from __future__ import annotations

import unicodedata

_DOTS = str.maketrans({".": "·", "•": "·", "・": "·", "‧": "·", "∙": "·"})


def fold_name(value: str) -> str:
    """The comparison key of a name (stored as ``Organization.name_key``)."""
    normalised = unicodedata.normalize("NFKC", value)
    return "".join(normalised.split()).translate(_DOTS).casefold()


def same_name(a: str, b: str) -> bool:
    """Whether two non-empty names are the same name (see :func:`fold_name`)."""
    return bool(a.strip()) and fold_name(a) == fold_name(b)
