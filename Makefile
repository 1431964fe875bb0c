# Wirelab: `make run` to use it, `make test` to check it. Both install what is missing.
.PHONY: run test check lint format images frontend docs

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh $(ARGS)

# The fast tier: no root, Docker, kernel, Redis or PostgreSQL (SQLite, in-process channel layer).
check:
	@bash scripts/check.sh $(ARGS)

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .

images:
	@bash images/build.sh

# Rebuild the browser app (frontend/src -> frontend/static/wirelab/app) after changing it.
frontend:
	.venv/bin/python manage.py spectacular --format openapi-json --file .wirelab/openapi.json
	cd frontend && npm ci --no-audit --no-fund && npm run types && npm run build

# Write the parts of docs/ that come from the code (the document reference, the settings table).
docs:
	.venv/bin/python scripts/docs.py
