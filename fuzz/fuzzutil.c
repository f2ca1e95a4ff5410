/* fuzzutil.c: the in-memory input file and the scratch directory (see fuzzutil.h). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzzutil.h"

void fuzz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);
    abort();
}

const char *fuzz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("nwreg-fuzz-input", 0);
        FUZZ_CHECK(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    FUZZ_CHECK(ftruncate(fd, 0) == 0);
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t) done);
        FUZZ_CHECK(w > 0);
        done += (size_t) w;
    }
    return path;
}

static char dir[256];

/* The harnesses remove what they write; only the directory is left. */
static void remove_dir(void)
{
    rmdir(dir);
}

const char *fuzz_dir(void)
{
    if (dir[0]) return dir;
    struct stat st;
    const char *base = getenv("TMPDIR");
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
        base = "/dev/shm";
    if (!base || !*base) base = "/tmp";
    snprintf(dir, sizeof dir, "%s/nwreg-fuzz-XXXXXX", base);
    FUZZ_CHECK(mkdtemp(dir) != NULL);
    atexit(remove_dir);
    return dir;
}
