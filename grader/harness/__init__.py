"""The trusted harness: ``plugin`` (pytest hooks and fixtures), ``bench`` (timing), ``testing``
(assertion and gradient helpers for test authors), ``supervisor`` (forks and supervises one
submission's harness); ``python -m grader.harness JOB.json`` runs one job.
"""
