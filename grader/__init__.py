"""nn-grader: a sandboxed autograder. The folders are the architecture (docs/architecture.md).

This file imports nothing: the untrusted worker imports ``grader.wire.protocol`` through it.
"""

__version__ = "0.1.0"
