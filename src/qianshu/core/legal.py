"""The platform's 《隐私保护协议》 (privacy agreement): the version people consent to.

The agreement's text is the page ``core/privacy.html``. When the operator changes what it says,
they change ``PRIVACY_VERSION`` too: every consent is recorded with the version that was shown,
so a record always says which text a person agreed to.
"""

from __future__ import annotations

#: The version of the agreement shown on ``/privacy/`` (its effective date).
PRIVACY_VERSION = "2026-12-05"
