"""Similar submissions across a class, for TAs: ``run.similarity`` (the verb, also
``grader.api.similarity``) reads each student's kept files (``sources``), fingerprints them
(``fingerprints``: winnowing, with copydetect's parts), compares every pair (``pairs``) and writes
the ranked list, a page per pair and a CSV (``pages``).

Nothing is imported here: ``grader batch`` uses ``sources`` without loading copydetect.
"""
