# make lab    : create .venv if missing, install, open JupyterLab on notebooks/
# make test   : create .venv if missing, install, run unit tests + every notebook at COURSE_BUDGET=smoke,
#               then every notebook's full branch as a dry run (COURSE_BUDGET=full COURSE_MAX_STEPS=2)
# make install: only the .venv part
# make course : run every notebook at BUDGET (default standard), report in runs/course/RESULTS.md
# make student: write student versions (solutions removed) to runs/student/; student-check also runs them
# make lock   : rewrite requirements-lock.txt, the exact versions install and CI use, from a fresh .venv-lock
# make test-latest: the unit tests and notebooks with the newest versions pyproject.toml allows (.venv-latest)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

BUDGET ?= standard

LOCK   := requirements-lock.txt
TEST_CMD = COURSE_BUDGET=smoke $(1) -m pytest tests notebooks --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=600 -p no:cacheprovider --durations=10

# Full-size models and the full data paths (offline: bundled fallbacks), loops capped at the smoke counts
FULL_DRY_RUN = COURSE_BUDGET=full COURSE_MAX_STEPS=2 $(1) -m pytest notebooks --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=600 -p no:cacheprovider

.PHONY: install lab test course student student-check clean-runs lock test-latest

$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -c $(LOCK) -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# root (containers, some cloud machines) needs --allow-root
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

test: $(STAMP)
	$(call TEST_CMD,$(PY))
	$(call FULL_DRY_RUN,$(PY))

lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -e ".[dev]"
	{ echo "# Exact versions that make install, make test and CI use (python 3.11, Linux x86_64)."; \
	  echo "# Regenerate after changing dependencies: make lock (pip freeze of a fresh make install)."; \
	  echo "# Used as constraints (pip install -c): only what pyproject.toml needs is installed."; \
	  echo "# torch/torchvision without their +cu/+cpu label: the CPU-only build satisfies them too."; \
	  .venv-lock/bin/pip freeze --exclude-editable | sed -E 's/^(torch|torchvision)==([^+]*)\+.*/\1==\2/'; } > $(LOCK)
	rm -rf .venv-lock

test-latest:
	test -x .venv-latest/bin/python || $(PYTHON) -m venv .venv-latest
	.venv-latest/bin/pip install --upgrade --upgrade-strategy eager -e ".[dev]"
	$(call TEST_CMD,.venv-latest/bin/python)
	$(call FULL_DRY_RUN,.venv-latest/bin/python)

course: $(STAMP)
	$(PY) -m course_lib.run_course --budget $(BUDGET)

student: $(STAMP)
	$(PY) scripts/make_student.py

student-check: $(STAMP)
	$(PY) scripts/make_student.py --execute

clean-runs:
	rm -rf runs/
