"""Pages of the identity app: verification (``verification``), signing PIN (``pin``) and the
person certificate (``certificate``)."""
