# Wirelab: `make run` to use it, `make test` to check it. Both install what is missing.
.PHONY: run test lint format images

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh $(ARGS)

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .

images:
	@bash images/build.sh
