"""Qianshu signing core: PKI, key stores, TSA, seal images, PDF ingest, signing, verification.

A plain library: no Django imports (enforced by an import-linter contract), no global state.
Every public function raises only subclasses of :class:`qianshu.signing.errors.SigningError`.
"""

from qianshu.signing import _objectpaths, _speedups, validation_memo

_speedups.install()
_objectpaths.install()
validation_memo.install()
