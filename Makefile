# The README's two commands are `make demo` and `make test`; both build what they need first.
SHELL := /bin/bash
PY := .venv/bin/python
NEUROCV := .venv/bin/neurocv
DEMO := demo-out

.PHONY: env env-lava demo test bench clean

env:
	@scripts/setup_env.sh main

env-lava:
	@scripts/setup_env.sh lava

# Main job on an embedded default: synthetic dataset -> extract one clip -> draw it.
demo: env env-lava
	$(NEUROCV) synth $(DEMO)/synth
	$(NEUROCV) info $(DEMO)/synth/videos/translate_right/translate_right_000.mp4
	$(NEUROCV) extract $(DEMO)/synth/videos/translate_right/translate_right_000.mp4 -o $(DEMO)/clip.npz
	$(NEUROCV) show $(DEMO)/synth/videos/zoom_in/zoom_in_000.mp4 -o $(DEMO)/show
	@echo "demo outputs in $(DEMO)/"

test: env env-lava
	$(PY) -m pytest -q tests

bench: env
	$(PY) benchmarks/bench_reader.py --out benchmarks/results/reader.json
	$(PY) benchmarks/bench_model.py --out benchmarks/results/model.json

clean:
	rm -rf $(DEMO) .pytest_cache
