"""A generated corpus of signed PDFs, one per class of file the verifier must get right.

``manifest.json`` holds the expected verdict of every file (and what pyHanko's validator and
poppler's ``pdfsig`` say, where we deliberately differ); ``build.py`` makes the files;
``python -m tests.signing.corpus OUTDIR`` writes them with the manifest and the trust root.
"""
