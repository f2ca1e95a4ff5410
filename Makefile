# The two commands of the README.  Each installs missing Debian packages
# (scripts/deps.sh), configures and builds with CMake, then runs.
BUILD ?= build
OUT   ?= demo-out
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all demo test bench build deps clean

all: build

deps:
	@sh scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/nwreg demo --out $(OUT)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Not a test: nwreg fit --select loo against statsmodels' cv_ls, side by side.
bench: build
	@sh scripts/deps.sh python3-statsmodels python3-numpy
	/usr/bin/python3 bench/select_loo.py --nwreg $(BUILD)/nwreg

clean:
	rm -rf $(BUILD) $(OUT)
