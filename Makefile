# The two commands of the README. Each one does its own set-up (Node 24, npm ci, Redis, and for
# the tests Debian's Chromium).
SHELL := /bin/bash
.PHONY: demo test check bench

demo:
	@source scripts/bootstrap.sh && npm run build && node dist/cli.js demo

test:
	@source scripts/bootstrap.sh --redis --chromium && npm run check

bench:
	@source scripts/bootstrap.sh --redis && npm run bench
