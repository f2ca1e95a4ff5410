/*
 * fuzzutil.h: what the fuzz harnesses share.  Each harness defines
 * LLVMFuzzerTestOneInput (libFuzzer's entry point); built with clang
 * -fsanitize=fuzzer by scripts/fuzz, or with replay.c's main() into a
 * plain program that runs the committed corpus and regressions as a test.
 *
 * The readers take a path, so an input is handed over as a file: one
 * memfd (a file that lives in memory) per process, refilled for each input
 * and opened by the library through /proc/self/fd/N.
 */
#ifndef NW_FUZZUTIL_H
#define NW_FUZZUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Replace the in-memory file's content with data[0..size); return its path
 * (a static buffer), or abort if the file cannot be made. */
const char *fuzz_file(const uint8_t *data, size_t size);

/* A fresh private directory for files a harness writes (made once, under
 * /dev/shm when it exists, else $TMPDIR or /tmp); its path. */
const char *fuzz_dir(void);

/* A failed invariant: print it and abort (libFuzzer records a crash). */
#define FUZZ_CHECK(cond)                                                      \
    do {                                                                      \
        if (!(cond)) fuzz_fail(#cond, __FILE__, __LINE__);                    \
    } while (0)
void fuzz_fail(const char *what, const char *file, int line);

#endif
