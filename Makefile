# The two commands of the README.  Each installs missing Debian packages
# (scripts/deps.sh), configures and builds with CMake, then runs.
BUILD ?= build
OUT   ?= demo-out
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)

PREFIX ?= /usr/local

.PHONY: all demo test bench bench-large bench-peers build deps clean install coverage

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

# Not a test: nwreg fit --select loo at n = 1e6 for every kernel and both
# estimators, the whole command timed (several minutes; no peer can run it).
bench-large: build
	/usr/bin/python3 bench/select_large.py --nwreg $(BUILD)/nwreg

# Not a test: nwreg predict against numpy, PyTorch, statsmodels and R
# (KernSmooth locpoly, ksmooth) on the same data; writes bench/results/peers.*
# (several minutes).  PEERS_ARGS=--quick for a smoke test (< 1 min, to /tmp).
bench-peers: build
	@sh scripts/deps.sh python3-numpy python3-torch python3-statsmodels python3-matplotlib \
		r-base-core r-cran-kernsmooth time
	/usr/bin/python3 bench/peers.py --nwreg $(BUILD)/nwreg $(PEERS_ARGS)

# Not part of `make test`: what the suite exercises (scripts/coverage): a
# separate gcov build in build-coverage, the whole suite, line and branch
# coverage of src/ and cli/ per file (HTML: build-coverage/html); fails if
# src/ is below 95 % of lines or 90 % of branches.  COVERAGE_ARGS passes
# options, e.g. COVERAGE_ARGS="--min-lines 90 --min-branches 80".
coverage: deps
	@sh scripts/deps.sh lcov
	sh scripts/coverage --jobs $(JOBS) $(COVERAGE_ARGS)

# cmake --install: bin/nwreg, the shared and static library, nwreg.h, nwreg.pc,
# the CMake package (find_package(nwreg)) and the man page, under PREFIX
# (default /usr/local); DESTDIR=DIR stages it under DIR for packaging.
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

clean:
	rm -rf $(BUILD) $(OUT)
