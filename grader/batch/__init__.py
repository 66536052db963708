"""Grading a whole class: ``run.batch`` (the verb, also ``grader.api.batch``) schedules one
``tasks.grade_one`` per student on a process pool, threads (docker) or a Dask cluster."""
from grader.batch.run import batch  # noqa: F401
