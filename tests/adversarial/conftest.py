"""The submissions in ``submissions/`` attack test runners: one ships a ``conftest.py`` that marks
every test passed and shadow ``numpy.py``/``json.py``/``pytest.py`` modules. This project's own
pytest must never collect that folder (it would load them, exactly like a naive grader)."""

collect_ignore = ["submissions"]
