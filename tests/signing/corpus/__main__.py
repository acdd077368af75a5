"""``python -m tests.signing.corpus OUTDIR``: write the corpus (see ``build.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.signing.corpus.build import write

if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tests.signing.corpus OUTDIR")
    write(Path(sys.argv[1]))
    print(f"corpus written to {sys.argv[1]}")
