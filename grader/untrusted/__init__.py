"""The untrusted side: code that runs inside the sandbox, in the student's process.

Everything here may be replaced by the student's code at import time, so nothing here decides
a score, and it imports nothing of the grader but the wire format (``grader.wire.protocol``);
``tests/test_layout.py`` keeps it that way.
"""
