# make lab    : create .venv if missing, install, open JupyterLab on notebooks/
# make test   : create .venv if missing, install, run unit tests + every notebook at COURSE_BUDGET=smoke
# make install: only the .venv part
# make course : run every notebook at BUDGET (default standard), report in runs/course/RESULTS.md
# make student: write student versions (solutions removed) to runs/student/; student-check also runs them
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

BUDGET ?= standard

.PHONY: install lab test course student student-check clean-runs

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# root (containers, some cloud machines) needs --allow-root
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

test: $(STAMP)
	COURSE_BUDGET=smoke $(PY) -m pytest tests notebooks --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=600 -p no:cacheprovider --durations=10

course: $(STAMP)
	$(PY) -m course_lib.run_course --budget $(BUDGET)

student: $(STAMP)
	$(PY) scripts/make_student.py

student-check: $(STAMP)
	$(PY) scripts/make_student.py --execute

clean-runs:
	rm -rf runs/
