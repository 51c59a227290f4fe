# The two commands of the README. Both work on a fresh machine.
.PHONY: demo test lint bench

demo:  ## whole path on synthetic data with embedded defaults -> demo-output/report.html
	scripts/bootstrap
	uv run --frozen ascld demo --out demo-output

test:  ## everything the tests need (PostgreSQL, Chromium, Java via apt-get when root), then the whole suite
	scripts/bootstrap --system
	uv run --frozen ruff check src tests benchmarks scripts
	uv run --frozen pytest

lint:
	uv run --frozen ruff check src tests benchmarks scripts
	uv run --frozen mypy

bench:  ## the benchmarks (slow; run by hand) print figures and write benchmarks/out/*.json
	for b in benchmarks/*.py; do uv run --frozen python $$b || exit 1; done
