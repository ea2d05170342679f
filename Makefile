# The two commands: `make demo` and `make test`. Both install what they need first.
VENV := .venv
PY := $(VENV)/bin/python
export SPICEBOX_CACHE ?= $(HOME)/.cache/spicebox

BOARD ?= qemu-x86_64

.PHONY: setup demo test lint unit integration bench bench-boot image test-image clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml tools/setup.sh
	tools/setup.sh

demo: setup
	$(PY) -m tests.rig.demo

test: lint unit integration

lint: setup
	$(VENV)/bin/ruff check app tests bench image-build
	$(VENV)/bin/mypy

unit: setup
	$(PY) -m pytest -q tests/unit

integration: setup
	$(PY) -m pytest -q tests/integration

bench: setup
	tools/setup.sh --bench
	$(PY) -m bench.decode
	$(PY) -m bench.desktop
	$(PY) -m bench.latency
	$(PY) -m bench.audio
	$(PY) -m bench.provisioning
	$(MAKE) bench-boot
	PYTHONPATH=image-build $(PY) -m bench.usb

# Boot time of the qemu-x86_64 image against stock Debian's (builds both: minutes, root).
bench-boot:
	$(MAKE) image BOARD=qemu-x86_64
	PYTHONPATH=image-build $(PY) -m bench.boot

# A board's bootable disk image in out/BOARD/ (minutes; root, as mmdebstrap --mode=root).
image: setup
	tools/setup.sh --image
	PYTHONPATH=image-build $(PY) -m imagebuild build $(BOARD)

# Slow: builds the QEMU boards' and the Pi 4's images and boots them (the Pi's under QEMU
# virt, tests/rig/pi.py); not part of `make test`.
test-image:
	$(MAKE) image BOARD=qemu-x86_64
	$(MAKE) image BOARD=qemu-arm64
	$(MAKE) image BOARD=rpi4
	$(PY) -m pytest -q -s tests/image

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
