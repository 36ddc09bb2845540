# The two commands a new user needs (see README):
#   make run   - set everything up (index built or rebuilt only when missing or stale), start the web app
#   make test  - set everything up and run the whole test suite (lint, types, tests, evaluation gate)
.PHONY: run test setup

setup:
	bash scripts/setup.sh

run: setup
	.venv/bin/python app.py

test: setup
	bash scripts/test.sh
