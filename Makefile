# The README's two commands: `make demo` and `make test`. Each sets itself up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.taktline-installed

.PHONY: demo test test-fast lint typecheck typecheck-firmware firmware-tests services bench clean \
	sparkplug-proto screenshots

$(STAMP): pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) bash scripts/bootstrap.sh
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/taktline demo $(DEMO_ARGS)

services:
	bash scripts/test-services.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy bench/fuzz.py

# The firmware against the MicroPython stubs (installed into .cache/, not the venv).
typecheck-firmware: $(STAMP)
	bash scripts/typecheck-firmware.sh

# The firmware's test modules under real MicroPython (WebAssembly port, Node.js).
firmware-tests: services
	bash scripts/firmware-tests.sh

test: $(STAMP) services lint typecheck typecheck-firmware
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	bash scripts/firmware-tests.sh

# The pictures of docs/ui.md: the browser tests (tests/browser and the Report page's,
# tests/report/test_page.py) save every page into build/screenshots/ (real headless Chromium);
# the tour's pictures are copied from there into docs/ui/.
UI_SHOTS := andon andon-acknowledged overview machine-detail tooling labour deliveries-feeds \
	kanban corrections plan gaps report report-demo
screenshots: $(STAMP) services
	$(BIN)/python -m pytest -q -m browser tests/browser tests/report/test_page.py $(PYTEST_ARGS)
	mkdir -p docs/ui
	for name in $(UI_SHOTS); do cp build/screenshots/$$name.png docs/ui/$$name.png || exit 1; done

# A quick subset while you work: no fault injection, no browser, nothing slow.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not faults and not browser" $(PYTEST_ARGS)

# cloud/sparkplug/_descriptor.py from cloud/sparkplug/sparkplug_b.proto (needs protoc).
sparkplug-proto: $(STAMP)
	bash scripts/sparkplug-proto.sh

bench: $(STAMP)
	$(BIN)/python bench/uplink.py --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
