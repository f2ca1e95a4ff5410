/*
 * replay.c: a main() for a fuzz harness without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on every file named (directories: on every
 * file in them, in name order), so the committed seed corpus and every
 * input that once crashed (fuzz/regressions) run as an ordinary test,
 * under the sanitizers in CI.  Exit 0 when all ran; a crash aborts.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) { fprintf(stderr, "replay: cannot open %s\n", path); return 1; }
    size_t cap = 4096, size = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf && (got = fread(buf + size, 1, cap - size, fp)) > 0) {
        size += got;
        if (size == cap) {
            uint8_t *grown = realloc(buf, 2 * cap);
            if (!grown) { free(buf); buf = NULL; break; }
            buf = grown;
            cap *= 2;
        }
    }
    fclose(fp);
    if (!buf) { fprintf(stderr, "replay: out of memory on %s\n", path); return 1; }
    LLVMFuzzerTestOneInput(buf, size);
    free(buf);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
    int failed = 0, ran = 0;
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { fprintf(stderr, "replay: no %s\n", argv[i]); failed = 1; continue; }
        if (!S_ISDIR(st.st_mode)) { failed |= run_file(argv[i]); ran++; continue; }
        struct dirent **list;
        int k = scandir(argv[i], &list, NULL, by_name);
        if (k < 0) { fprintf(stderr, "replay: cannot list %s\n", argv[i]); failed = 1; continue; }
        for (int j = 0; j < k; j++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], list[j]->d_name);
            if (list[j]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                failed |= run_file(path);
                ran++;
            }
            free(list[j]);
        }
        free(list);
    }
    printf("replay: %d input%s\n", ran, ran == 1 ? "" : "s");
    return failed;
}
