"""Every signature's ``/ByteRange`` digest in one pass over the file.

Sequential signatures are incremental updates: signature *k* signs the file up to the end of
its revision except its own ``/Contents`` hole, ``[0, a) + [b, c)``, and every later signature
signs a longer prefix ``[0, a')`` with ``a' ≥ c``. The digests therefore share their first
``a`` bytes: hashing the file once from the start and copying the hash state where each
signature's first range ends gives every digest, each copy finishing with that signature's
remaining ranges. pyHanko hashes each signature's ranges from the start (for a 9-signature
contract, the file about nine times over).

:func:`range_digests` computes exactly what pyHanko's ``byte_range_digest`` computes (the same
hash implementation, ranges cut off at the end of the data as its reads are); a byte range it
does not expect (not starting at 0, odd length, a negative or non-integer entry) gets no
digest here, and pyHanko computes it — or fails on it — as before. :func:`prefill` hands the
digests to pyHanko's signature objects through their own per-signature digest cache
(``external_digests``), so nothing is computed differently, only once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from cryptography.hazmat.primitives import hashes
from pyhanko_certvalidator.util import get_pyca_cryptography_hash


def _segments(byte_range: Any) -> list[tuple[int, int]] | None:
    """(offset, length) pairs of a ByteRange this module handles, else None."""
    try:
        values = list(byte_range)
    except TypeError:
        return None
    if not values or len(values) % 2:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        return None
    pairs = [(int(values[i]), int(values[i + 1])) for i in range(0, len(values), 2)]
    if pairs[0][0] != 0:
        return None
    return pairs


def range_digests(data: bytes, requests: Sequence[tuple[str, Any]]) -> list[bytes | None]:
    """The digest of each ``(algorithm, byte_range)`` over ``data``, or None where this
    module leaves it to pyHanko (module docstring)."""
    results: list[bytes | None] = [None] * len(requests)
    view = memoryview(data)
    by_algorithm: dict[str, list[tuple[int, int, list[tuple[int, int]]]]] = {}
    for index, (algorithm, byte_range) in enumerate(requests):
        pairs = _segments(byte_range)
        if pairs is not None:
            by_algorithm.setdefault(algorithm, []).append((pairs[0][1], index, pairs[1:]))
    for algorithm, wanted in by_algorithm.items():
        try:
            running = hashes.Hash(get_pyca_cryptography_hash(algorithm))
        except Exception:  # noqa: BLE001, S112 - an unknown algorithm: pyHanko says so itself
            continue
        done = 0
        for first_length, index, rest in sorted(wanted, key=lambda w: w[0]):
            # the first range [0, first_length) is a prefix of every longer one
            running.update(view[done:first_length])
            done = max(done, first_length)
            fork = running.copy()
            for offset, length in rest:
                fork.update(view[offset : offset + length])
            results[index] = fork.finalize()
    return results


def prefill(data: bytes, signatures: Iterable[Any]) -> None:
    """Put the ``/ByteRange`` digest of each pyHanko ``EmbeddedPdfSignature`` read from
    ``data`` into its digest cache, computed in one pass (module docstring)."""
    found: list[tuple[Any, str, Any]] = []
    for sig in signatures:
        try:
            found.append((sig, sig.external_md_algorithm, sig.byte_range))
        except Exception:  # noqa: BLE001, S112 - pyHanko reports this signature's problem later
            continue
    digests = range_digests(data, [(algorithm, ranges) for _, algorithm, ranges in found])
    for (sig, algorithm, _), digest in zip(found, digests, strict=True):
        if digest is not None:
            sig.external_digests.setdefault(algorithm, digest)
