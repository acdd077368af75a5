"""Qianshu signing core: PKI, key stores, TSA, seal images, PDF ingest, signing, verification.

A plain library: no Django imports (enforced by an import-linter contract), no global state.
Every public function raises only subclasses of :class:`qianshu.signing.errors.SigningError`.
"""


def install_speedups() -> None:
    """Swap pyHanko's and asn1crypto's hot routines for the faster drop-ins that give their
    results (``_speedups``, ``_objectpaths``, ``validation_memo``; checked against the
    originals by the tests). Idempotent. Programs call it once at start-up: Django's
    ``CoreConfig.ready`` (web, workers, commands), ``qianshu verify`` and the benchmarks.
    Without it everything works, only slower; importing the library changes nothing."""
    from qianshu.signing import _objectpaths, _speedups, validation_memo

    _speedups.install()
    _objectpaths.install()
    validation_memo.install()
