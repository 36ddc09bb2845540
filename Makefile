# The two commands a new user needs (see README):
#   make run   - set everything up, build the index, start the web app on the bundled corpus
#   make test  - set everything up and run the whole test suite (lint, types, tests, evaluation gate)
.PHONY: run test setup

setup:
	bash scripts/setup.sh

run: setup
	.venv/bin/python -m rag build
	.venv/bin/python app.py

test: setup
	bash scripts/test.sh
