# The README's two commands: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test venv bench release clean

$(BIN)/grader: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[docker,batch,cuda-compile,nbgrader]"
	touch $@

venv: $(BIN)/grader

demo: venv
	$(BIN)/grader demo

test: venv
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python benchmarks/bench_grade.py
	$(BIN)/python benchmarks/bench_batch.py
	$(BIN)/python benchmarks/bench_similarity.py
	$(BIN)/python benchmarks/bench_speed.py
	$(BIN)/python benchmarks/bench_discrimination.py
	$(BIN)/python benchmarks/bench_load.py

release: venv
	$(BIN)/grader release hw1_graph

clean:
	rm -rf $(VENV) .pytest_cache
