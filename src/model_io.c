/*
 * model_io.c: models saved to and loaded from versioned JSON files.
 *
 * Version 1 holds the training data as numbers:
 *
 *   {"format": "nwreg-model", "version": 1, "kernel": "gaussian",
 *    "estimator": "lc", "empty": "nan", "engine": "auto",
 *    "tolerance": 1e-12, "precision": "f64", "n": 50, "d": 1, "p": 1,
 *    "inputs": ["x"], "outputs": ["y"], "bandwidth": [0.25],
 *    "x": [[x11, .., x1d], ...n rows], "y": [[y11, .., y1p], ...]}
 *
 * Version 2 is version 1 but for "x" and "y", each one JSON string: the
 * base64 (RFC 4648, the standard alphabet, '=' padding, no line breaks and
 * no escapes) of the n d (n p) values as IEEE-754 binary64 little-endian,
 * row after row; and a member "encoding": "f64le-base64", required:
 *
 *   {"format": "nwreg-model", "version": 2, "encoding": "f64le-base64", ...
 *    "x": "AAAAAAAA8D8AAAAAAAAAQA==", "y": "AAAAAAAACEAAAAAAAAAQQA=="}
 *
 * Version 3 is a header line and the data after it, as NumPy's .npy and
 * safetensors files are: the first line is a JSON object with version 1's
 * members but "x" and "y" (written by cJSON on one line: it escapes every
 * control character in a string, so the first newline ends the object),
 * with "version": 3 and "encoding": "f64le"; the rest of the file is the n d
 * values of x and then the n p values of y, each an IEEE-754 binary64
 * little-endian, row after row, and nothing else:
 *
 *   {"format":"nwreg-model","version":3,"encoding":"f64le",...,"bandwidth":[0.25]}
 *   <8 n (d + p) bytes>
 *
 * `head -n 1` shows the header, which is JSON.  Version 2 is read, no
 * longer written.
 *
 * The writer picks the lowest version that fits: version 1 up to
 * V1_MAX_VALUES values, version 3 above.
 *
 * "engine", "tolerance" and "precision" are optional (files written before
 * they existed load with the defaults: auto, 1e-12, f64).
 *
 * Saving writes the text itself: cJSON 1.7's number printer accepts a
 * 15-digit form that only approximately equals the double (0.1 + 0.2 comes
 * out as 0.3), and building a tree of n (d + p) nodes would cost far more
 * memory than the model.  In version 1 every number is written with the
 * fewest of 15, 16 or 17 significant digits that read back to the very same
 * double; version 2 holds the bits themselves.  Either way a model survives
 * save and load bit for bit.
 *
 * Loading reads the first line and parses it with cJSON: a version-3
 * header, and the values are read straight into the arrays the model then
 * takes over (nw_model_take): the peak is the model itself and the header
 * (a 1-d model of 10^6 points: 16 MB).  Otherwise the rest of the file is
 * read and the whole text parsed with cJSON (versions 1 and 2), the text
 * freed as soon as it is parsed; a version-2 string is decoded into the
 * model's array and deleted before the next one is decoded, the peak
 * while cJSON parses: the text and cJSON's copies of the two strings, ~2 x
 * 10.7 bytes per value (the same model: 45 MB, and 397 MB for version 1's
 * node per number).
 */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "internal.h"
#include "numconv.h"

#define MODEL_FORMAT "nwreg-model"
#define MODEL_VERSION 3 /* the newest version read and written */
#define MODEL_ENCODING "f64le-base64"   /* version 2's */
#define MODEL_ENCODING_V3 "f64le"
/* Models of at most this many values n (d + p) are saved as version 1,
 * larger ones as version 3.  Small models stay readable by people (the
 * numbers as text) and by every nwreg; large ones load without a cJSON
 * node (~80 bytes) per number and per row, which made loading a 1-d model
 * of 10^6 points peak at 25 x its arrays.  65536 values are at most ~5 MB
 * of nodes. */
#define V1_MAX_VALUES 65536
/* The largest count: 2^53 (larger counts are not exact doubles), or
 * SIZE_MAX where that is smaller (32-bit); a constant either way. */
#define MAX_COUNT ((double) SIZE_MAX < 9007199254740992.0 ? (double) SIZE_MAX : 9007199254740992.0)

/* Version 2 stores the bytes of binary64 values; this file assumes that a
 * double is one (as the rest of nwreg does). */
_Static_assert(sizeof(double) == 8, "a double must be IEEE-754 binary64");

/* ---------------------------------------------------------------- saving */

/* Write names (or x1..xk, or a bare base when k = 1, if names is NULL) as a
 * JSON array of strings; cJSON does the escaping. */
static cJSON *make_names(char *const *names, size_t k, const char *base)
{
    char numbered[32];
    cJSON *array = cJSON_CreateArray(), *item;
    if (!array) return NULL;
    for (size_t i = 0; i < k; i++) {
        const char *name = numbered;
        if (names) name = names[i];
        else if (k == 1) name = base;
        else snprintf(numbered, sizeof numbered, "%s%zu", base, i + 1);
        if (!(item = cJSON_CreateString(name))) {
            cJSON_Delete(array);
            return NULL;
        }
        cJSON_AddItemToArray(array, item);
    }
    return array;
}

static nw_status write_names(FILE *fp, char *const *names, size_t k, const char *base)
{
    char *text = NULL;
    nw_status status = NW_ERR_NOMEM;
    cJSON *array = make_names(names, k, base);
    if (!array) return NW_ERR_NOMEM;
    if (!(text = cJSON_PrintUnformatted(array))) goto fail;
    status = fputs(text, fp) == EOF ? NW_ERR_IO : NW_OK;
fail:
    cJSON_free(text);
    cJSON_Delete(array);
    return status;
}

/* Write k doubles as "[a, b, ...]" (each in the shortest exact form). */
static nw_status write_numbers(FILE *fp, const double *v, size_t k)
{
    char buf[2 + NW_DTOA_SIZE] = ", ";
    if (putc('[', fp) == EOF) return NW_ERR_IO;
    for (size_t i = 0; i < k; i++) {
        size_t len = nw_dtoa_shortest(buf + 2, v[i]);
        const char *text = i ? buf : buf + 2; /* ", " before all but the first */
        len += i ? 2 : 0;
        if (fwrite(text, 1, len, fp) != len) return NW_ERR_IO;
    }
    return putc(']', fp) == EOF ? NW_ERR_IO : NW_OK;
}

/* Write an n x k matrix as "[\n    [..],\n    [..]\n  ]", one row a line. */
static nw_status write_matrix(FILE *fp, const double *a, size_t n, size_t k)
{
    if (fputs("[\n", fp) == EOF) return NW_ERR_IO;
    for (size_t i = 0; i < n; i++) {
        if (fputs("    ", fp) == EOF) return NW_ERR_IO;
        if (write_numbers(fp, a + i * k, k) != NW_OK) return NW_ERR_IO;
        if (fputs(i + 1 < n ? ",\n" : "\n", fp) == EOF) return NW_ERR_IO;
    }
    return fputs("  ]", fp) == EOF ? NW_ERR_IO : NW_OK;
}

/* Write k doubles as binary64 little-endian (each shifted out of its 64
 * bits, whatever the host's byte order), a chunk at a time. */
static nw_status write_binary(FILE *fp, const double *v, size_t k)
{
    enum { CHUNK = 512 };
    unsigned char bytes[8 * CHUNK];
    for (size_t done = 0; done < k;) {
        size_t m = k - done < CHUNK ? k - done : CHUNK;
        for (size_t i = 0; i < m; i++) {
            uint64_t u;
            memcpy(&u, &v[done + i], sizeof u);
            for (int b = 0; b < 8; b++) bytes[8 * i + b] = (unsigned char) (u >> (8 * b));
        }
        if (fwrite(bytes, 8, m, fp) != m) return NW_ERR_IO;
        done += m;
    }
    return NW_OK;
}

/* A raw JSON number: v in its shortest exact form, or a count. */
static cJSON *raw_double(double v)
{
    char buf[NW_DTOA_SIZE];
    nw_dtoa_shortest(buf, v);
    return cJSON_CreateRaw(buf);
}

static cJSON *raw_count(size_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", v);
    return cJSON_CreateRaw(buf);
}

/* Add item to o under key (a copy of key); 0 if item is NULL or cannot be
 * added (item then deleted). */
static int add_member(cJSON *o, const char *key, cJSON *item)
{
    if (!item) return 0;
    if (!cJSON_AddItemToObject(o, key, item)) {
        cJSON_Delete(item);
        return 0;
    }
    return 1;
}

/* Version 3's header line: version 1's members but "x" and "y", as one
 * line of JSON (cJSON_PrintUnformatted), then a newline. */
static nw_status write_header_v3(FILE *fp, const nw_model *m)
{
    nw_status status = NW_ERR_NOMEM;
    char *text = NULL;
    cJSON *o = cJSON_CreateObject(), *bw = cJSON_CreateArray();
    int ok = o && bw;
    for (size_t k = 0; ok && k < m->d; k++) {
        cJSON *v = raw_double(m->h[k]);
        if (!v) ok = 0;
        else cJSON_AddItemToArray(bw, v);
    }
    if (!ok) {
        cJSON_Delete(bw);
        goto fail;
    }
    ok = add_member(o, "format", cJSON_CreateString(MODEL_FORMAT)) &&
         add_member(o, "version", raw_count(3)) &&
         add_member(o, "encoding", cJSON_CreateString(MODEL_ENCODING_V3)) &&
         add_member(o, "kernel", cJSON_CreateString(nw_kernel_name(m->kernel))) &&
         add_member(o, "estimator", cJSON_CreateString(nw_estimator_name(m->estimator))) &&
         add_member(o, "empty", cJSON_CreateString(m->empty == NW_EMPTY_NEAREST ? "nearest" : "nan")) &&
         add_member(o, "n", raw_count(m->n)) &&
         add_member(o, "d", raw_count(m->d)) &&
         add_member(o, "p", raw_count(m->p)) &&
         add_member(o, "inputs", make_names(m->x_names, m->d, "x")) &&
         add_member(o, "engine", cJSON_CreateString(nw_engine_name(m->engine))) &&
         add_member(o, "tolerance", raw_double(m->tolerance)) &&
         add_member(o, "precision", cJSON_CreateString(m->precision == NW_PRECISION_F32 ? "f32" : "f64")) &&
         add_member(o, "outputs", make_names(m->y_names, m->p, "y"));
    if (!ok) {
        cJSON_Delete(bw);
        goto fail;
    }
    if (!add_member(o, "bandwidth", bw)) goto fail;
    if (!(text = cJSON_PrintUnformatted(o))) goto fail;
    status = fputs(text, fp) == EOF || putc('\n', fp) == EOF ? NW_ERR_IO : NW_OK;
fail:
    cJSON_free(text);
    cJSON_Delete(o);
    return status;
}

/* nw_write_fn for nw_model_save. */
static nw_status write_model(FILE *fp, void *ctx)
{
    const nw_model *m = ctx;
    nw_status status;
    /* n d and n p fit in a size_t with room to spare (nw_model_new) */
    if (m->n * m->d + m->n * m->p > V1_MAX_VALUES) {
        if ((status = write_header_v3(fp, m)) != NW_OK) return status;
        if (write_binary(fp, m->x, m->n * m->d) != NW_OK) return NW_ERR_IO;
        return write_binary(fp, m->y, m->n * m->p);
    }
    const int version = 1;
    /* the setters keep kernel and estimator valid: their names exist */
    const char *kernel = nw_kernel_name(m->kernel), *estimator = nw_estimator_name(m->estimator);
    if (fprintf(fp, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n  \"kernel\": \"%s\",\n"
                    "  \"estimator\": \"%s\",\n  \"empty\": \"%s\",\n"
                    "  \"n\": %zu,\n  \"d\": %zu,\n  \"p\": %zu,\n  \"inputs\": ",
                MODEL_FORMAT, version, kernel,
                estimator, m->empty == NW_EMPTY_NEAREST ? "nearest" : "nan", m->n, m->d, m->p) < 0)
        return NW_ERR_IO;
    if ((status = write_names(fp, m->x_names, m->d, "x")) != NW_OK) return status;
    char tol[32];
    nw_format_double(tol, sizeof tol, m->tolerance);
    if (fprintf(fp, ",\n  \"engine\": \"%s\",\n  \"tolerance\": %s,\n  \"precision\": \"%s\"",
                nw_engine_name(m->engine), tol,
                m->precision == NW_PRECISION_F32 ? "f32" : "f64") < 0)
        return NW_ERR_IO;
    if (fputs(",\n  \"outputs\": ", fp) == EOF) return NW_ERR_IO;
    if ((status = write_names(fp, m->y_names, m->p, "y")) != NW_OK) return status;
    if (fputs(",\n  \"bandwidth\": ", fp) == EOF) return NW_ERR_IO;
    if (write_numbers(fp, m->h, m->d) != NW_OK) return NW_ERR_IO;
    if (fputs(",\n  \"x\": ", fp) == EOF) return NW_ERR_IO;
    if (write_matrix(fp, m->x, m->n, m->d) != NW_OK) return NW_ERR_IO;
    if (fputs(",\n  \"y\": ", fp) == EOF) return NW_ERR_IO;
    if (write_matrix(fp, m->y, m->n, m->p) != NW_OK) return NW_ERR_IO;
    return fputs("\n}\n", fp) == EOF ? NW_ERR_IO : NW_OK;
}

/* Save a model, atomically ("-" = stdout): version 1 (JSON) up to
 * V1_MAX_VALUES values, version 3 (a JSON header line, the data in
 * binary) above.  The runtime thread count is not
 * saved. */
nw_status nw_model_save(const nw_model *model, const char *path, nw_diag *diag)
{
    if (!model || !path) return NW_ERR_ARG;
    return nw_write_atomic(path, write_model, (void *) model, 1, diag);
}

/* --------------------------------------------------------------- loading */

/* Read the rest of fp onto the text[0..*len) (malloc'd, *cap bytes, may be
 * NULL), NUL-terminated.  NW_ERR_IO (errno), NW_ERR_NOMEM. */
static nw_status read_rest(FILE *fp, char **text, size_t *len, size_t *cap)
{
    char *buf = *text, *grown;
    size_t size = *len, room = *cap;
    if (room < size + 64 * 1024) {
        if (!(grown = realloc(buf, size + 64 * 1024))) return NW_ERR_NOMEM;
        buf = grown;
        room = size + 64 * 1024;
    }
    for (;;) {
        *text = buf;
        *cap = room;
        size += fread(buf + size, 1, room - 1 - size, fp);
        *len = size;
        if (size < room - 1) break;
        if (room > SIZE_MAX / 2 || !(grown = realloc(buf, 2 * room))) return NW_ERR_NOMEM;
        buf = grown;
        room *= 2;
    }
    buf[size] = '\0';
    return ferror(fp) ? NW_ERR_IO : NW_OK;
}

/* The first line of fp, its newline included, into *text (malloc'd, *cap
 * bytes; a NUL in the line ends what is kept of it), NUL-terminated.
 * NW_ERR_IO (errno), NW_ERR_NOMEM. */
static nw_status read_line(FILE *fp, char **text, size_t *len, size_t *cap)
{
    size_t room = 256, size = 0;
    char *buf = malloc(room), *grown;
    if (!buf) return NW_ERR_NOMEM;
    buf[0] = '\0';
    for (;;) {
        *text = buf;
        *cap = room;
        if (!fgets(buf + size, (int) (room - size < INT_MAX ? room - size : INT_MAX), fp)) break;
        size += strlen(buf + size);
        if (size > 0 && buf[size - 1] == '\n') break;
        if (size < room - 1) continue;   /* a NUL in the line: read on */
        if (room > SIZE_MAX / 2 || !(grown = realloc(buf, 2 * room))) return NW_ERR_NOMEM;
        buf = grown;
        room *= 2;
    }
    *len = size;
    return ferror(fp) ? NW_ERR_IO : NW_OK;
}

/* cJSON's parse of text[0..len] (NUL-terminated) as one JSON value and
 * nothing more, in the C locale (cJSON reads numbers with strtod); NULL
 * with *error_at, or with *nomem set when an allocation failed. */
static cJSON *parse_text(const char *text, size_t len, const char **error_at, int *nomem)
{
    *nomem = 0;
    *error_at = NULL;
    locale_t c_locale = newlocale(LC_ALL_MASK, "C", (locale_t) 0), old_locale;
    if (!c_locale) {
        *nomem = 1;
        return NULL;
    }
    old_locale = uselocale(c_locale);
    /* len + 1 takes in the final NUL: with "require null terminated" set,
     * cJSON 1.7 rejects a text that ends exactly at buffer_length. */
    errno = 0;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, error_at, 1);
    int parse_errno = errno;
    uselocale(old_locale);
    freelocale(c_locale);
    /* cJSON reports a failed allocation as a parse error: malloc's ENOMEM
     * tells them apart (its number parsing sets ERANGE at most) */
    if (!root && parse_errno == ENOMEM) *nomem = 1;
    return root;
}

/* Each byte's value in base64: 0..63, 64 for '=', 255 for the others. */
static const unsigned char b64_value[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255, 255, 255,  63,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255,  64, 255, 255,
    255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255, 255,
    255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};

/* A version-2 "x" or "y" decoded from base64 (base64_decode). */
typedef struct decoded {
    unsigned char *bytes; /* malloc'd, or NULL */
    size_t len;
    size_t bad_char;      /* the first character not in the alphabet (1-based), or 0 */
    int bad_pad;          /* an '=' out of place, or nonzero bits under the padding */
} decoded;

/* Decode the base64 text s[0..len) (RFC 4648: the standard alphabet, '='
 * padding, nothing else) into out->bytes.  Decoding stops at the first
 * stray character or misplaced '='.  NW_ERR_NOMEM, else NW_OK (errors in
 * out). */
static nw_status base64_decode(const char *s, size_t len, decoded *out)
{
    memset(out, 0, sizeof *out);
    if (!(out->bytes = malloc(len / 4 * 3 + 3))) return NW_ERR_NOMEM;
    unsigned char *o = out->bytes;
    uint32_t bits = 0;
    int nbits = 0, pads = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned v = b64_value[(unsigned char) s[i]];
        if (v < 64 && !pads) {
            bits = bits << 6 | v;
            if (++nbits == 4) {
                *o++ = (unsigned char) (bits >> 16);
                *o++ = (unsigned char) (bits >> 8);
                *o++ = (unsigned char) bits;
                bits = 0;
                nbits = 0;
            }
        } else if (v <= 64) {
            /* '=' ends the last quantum, after 2 or 3 characters; nothing
             * but a second '=' may follow */
            if (v < 64 || nbits < 2 || nbits + ++pads > 4) { out->bad_pad = 1; break; }
        } else {
            out->bad_char = i + 1;
            break;
        }
    }
    if (!out->bad_char && !out->bad_pad && pads) {
        /* the padded last quantum's bytes (its unused bits must be 0) */
        if (nbits + pads != 4) out->bad_pad = 1;
        else if (nbits == 2) {   /* 12 bits: one byte */
            if (bits & 0xf) out->bad_pad = 1;
            else *o++ = (unsigned char) (bits >> 4);
        } else {                 /* 18 bits: two bytes */
            if (bits & 0x3) out->bad_pad = 1;
            else {
                *o++ = (unsigned char) (bits >> 10);
                *o++ = (unsigned char) (bits >> 2);
            }
        }
    }
    /* (without padding an incomplete quantum is left: the length is wrong,
     * which the caller reports first) */
    out->len = (size_t) (o - out->bytes);
    return NW_OK;
}

/* Where a failure is reported while a parsed model is checked. */
typedef struct checker {
    const char *file;
    nw_diag *diag;
} checker;

static nw_status bad(const checker *c, const char *what, const char *field)
{
    nw_diag_set(c->diag, 0, 0, "%s: \"%s\" %s", c->file, field, what);
    return NW_ERR_FORMAT;
}

/* A required member that must be a string. */
static nw_status get_string(const checker *c, const cJSON *root, const char *field,
                            const char **out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, field);
    if (!item) return bad(c, "is missing", field);
    /* (a parsed string always has its valuestring) */
    if (!cJSON_IsString(item)) return bad(c, "must be a string", field);
    *out = item->valuestring;
    return NW_OK;
}

/* A required member that must be a whole number from 1 to 2^53. */
static nw_status get_count(const checker *c, const cJSON *root, const char *field, size_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, field);
    if (!item) return bad(c, "is missing", field);
    double v = cJSON_IsNumber(item) ? item->valuedouble : 0;
    if (!(v >= 1 && v <= MAX_COUNT && v == floor(v)))
        return bad(c, "must be a positive integer", field);
    *out = (size_t) v;
    return NW_OK;
}

/* 1 if array is an array of exactly k finite numbers, each > 0 if positive
 * (and not so small that 1/v overflows: a bandwidth's scale must be finite). */
static int is_numbers(const cJSON *array, size_t k, int positive)
{
    const cJSON *item;
    size_t i = 0;
    if (!cJSON_IsArray(array)) return 0;
    cJSON_ArrayForEach(item, array) {
        if (i == k || !cJSON_IsNumber(item) || !isfinite(item->valuedouble)) return 0;
        if (positive && !(item->valuedouble > 0 && isfinite(1.0 / item->valuedouble))) return 0;
        i++;
    }
    return i == k;
}

/* Check that a required member is an array of n rows of k finite numbers. */
static nw_status check_matrix(const checker *c, const cJSON *root, const char *field,
                              size_t n, size_t k)
{
    const cJSON *array = cJSON_GetObjectItemCaseSensitive(root, field), *row;
    size_t i = 0;
    if (!array) return bad(c, "is missing", field);
    if (!cJSON_IsArray(array) || (size_t) cJSON_GetArraySize(array) != n) {
        nw_diag_set(c->diag, 0, 0, "%s: \"%s\" must be an array of %zu row%s (\"n\")", c->file,
                    field, n, n == 1 ? "" : "s");
        return NW_ERR_FORMAT;
    }
    cJSON_ArrayForEach(row, array) {
        i++;
        if (!is_numbers(row, k, 0)) {
            nw_diag_set(c->diag, 0, 0, "%s: \"%s\" row %zu must have %zu finite number%s",
                        c->file, field, i, k, k == 1 ? "" : "s");
            return NW_ERR_FORMAT;
        }
    }
    return NW_OK;
}

/* Copy the numbers of an array that is_numbers accepted to out; return the
 * position after the last one copied. */
static double *copy_numbers(const cJSON *array, double *out)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, array) *out++ = item->valuedouble;
    return out;
}

/* Copy a matrix that check_matrix accepted, row after row, to out. */
static void copy_matrix(const cJSON *array, double *out)
{
    const cJSON *row;
    cJSON_ArrayForEach(row, array) out = copy_numbers(row, out);
}

/* An optional array of exactly k strings; *names stays NULL when absent. */
static nw_status get_names(const checker *c, const cJSON *root, const char *field, size_t k,
                           const char ***names)
{
    const cJSON *array = cJSON_GetObjectItemCaseSensitive(root, field), *item;
    size_t i = 0;
    *names = NULL;
    if (!array) return NW_OK;
    if (cJSON_IsArray(array) && (size_t) cJSON_GetArraySize(array) == k) {
        if (!(*names = malloc(k * sizeof **names))) return NW_ERR_NOMEM;
        cJSON_ArrayForEach(item, array) {
            if (!cJSON_IsString(item)) break;
            (*names)[i++] = item->valuestring;
        }
        if (i == k) return NW_OK;
        free((void *) *names);
        *names = NULL;
    }
    nw_diag_set(c->diag, 0, 0, "%s: \"%s\" must be an array of %zu string%s", c->file, field, k,
                k == 1 ? "" : "s");
    return NW_ERR_FORMAT;
}

/* Check the format and version members (and version 2's encoding); NW_OK
 * and *version for a model of a version this nwreg reads. */
static nw_status check_version(const checker *c, const cJSON *root, int *version_out)
{
    const char *format;
    const cJSON *version;
    if (!cJSON_IsObject(root) || get_string(c, root, "format", &format) != NW_OK) {
        nw_diag_set(c->diag, 0, 0, "%s: not an nwreg model (missing \"format\")", c->file);
        return NW_ERR_FORMAT;
    }
    if (strcmp(format, MODEL_FORMAT) != 0) {
        nw_diag_set(c->diag, 0, 0, "%s: not an nwreg model (\"format\" is not \"%s\")", c->file,
                    MODEL_FORMAT);
        return NW_ERR_FORMAT;
    }
    version = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!version) return bad(c, "is missing", "version");
    double v = cJSON_IsNumber(version) ? version->valuedouble : 0;
    if (v > MODEL_VERSION && v == floor(v) && isfinite(v)) {
        nw_diag_set(c->diag, 0, 0, "%s: model version %.0f is newer than this nwreg supports (%d)",
                    c->file, v, MODEL_VERSION);
        return NW_ERR_FORMAT;
    }
    if (v != 1 && v != 2 && v != 3) return bad(c, "must be 1, 2 or 3", "version");
    *version_out = (int) v;
    if (v >= 2) {
        const char *encoding, *want = v == 2 ? MODEL_ENCODING : MODEL_ENCODING_V3;
        nw_status status = get_string(c, root, "encoding", &encoding);
        if (status != NW_OK) return status;
        if (strcmp(encoding, want) != 0) {
            nw_diag_set(c->diag, 0, 0, "%s: \"encoding\" must be \"%s\"", c->file, want);
            return NW_ERR_FORMAT;
        }
    }
    return NW_OK;
}

/* The n x k values of a version-2 "x" or "y" (field) as a malloc'd array
 * (*out, the caller's), and the member deleted from root (its string is as
 * large as the values: the next one is decoded without it).  Checked in this
 * order: a string, its length (exactly that of 8 n k bytes), its
 * characters, its padding, the values (finite). */
static nw_status decode_values(const checker *c, cJSON *root, const char *field, size_t n,
                               size_t k, double **out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, field);
    if (!item) return bad(c, "is missing", field);
    if (!cJSON_IsString(item)) return bad(c, "must be a string (base64, version 2)", field);
    /* count = n k values, 8 count bytes, 4 ceil(8 count / 3) characters;
     * a count too large for that cannot be the length of a string */
    size_t count = n * k, chars = 0, len = strlen(item->valuestring);
    int fits = k <= SIZE_MAX / 16 / n;
    if (fits) chars = (8 * count + 2) / 3 * 4;
    if (!fits || len != chars) {
        if (fits)
            nw_diag_set(c->diag, 0, 0, "%s: \"%s\" must be base64 of 8 x %zu bytes (f64le)",
                        c->file, field, count);
        else
            nw_diag_set(c->diag, 0, 0, "%s: \"%s\" must be base64 of 8 x %zu x %zu bytes (f64le)",
                        c->file, field, n, k);
        return NW_ERR_FORMAT;
    }
    decoded dec;
    if (base64_decode(item->valuestring, len, &dec) != NW_OK) {
        nw_diag_set(c->diag, 0, 0, "%s: out of memory", c->file);
        return NW_ERR_NOMEM;
    }
    nw_status status = NW_ERR_FORMAT;
    if (dec.bad_char) {
        nw_diag_set(c->diag, 0, 0, "%s: \"%s\" character %zu is not base64", c->file, field,
                    dec.bad_char);
        goto fail;
    }
    /* with the right length and no stray character, the right bytes or bad padding */
    if (dec.bad_pad || dec.len != 8 * count) {
        status = bad(c, "has bad base64 padding", field);
        goto fail;
    }
    /* the bytes, binary64 little-endian, become the doubles in place */
    double *v = (double *) (void *) dec.bytes;
    for (size_t i = 0; i < count; i++) {
        const unsigned char *b = dec.bytes + 8 * i;
        uint64_t u = 0;
        for (int j = 7; j >= 0; j--) u = u << 8 | b[j];
        memcpy(&v[i], &u, sizeof u);
        if (!isfinite(v[i])) {
            nw_diag_set(c->diag, 0, 0, "%s: \"%s\" value %zu is not finite", c->file, field, i + 1);
            goto fail;
        }
    }
    cJSON_DeleteItemFromObjectCaseSensitive(root, field);
    *out = v;
    return NW_OK;
fail:
    free(dec.bytes);
    return status;
}

/* Version 3's data: n d values of x, then n p of y, binary64
 * little-endian, read from fp (after the header line) into malloc'd arrays
 * (*x, *y: the caller's), and then the end of the file.  Errors: a file
 * that ends early or goes on (NW_ERR_FORMAT, naming how many bytes), a
 * value that is not finite (naming it), NW_ERR_IO, NW_ERR_NOMEM. */
static nw_status read_data_v3(const checker *c, FILE *fp, size_t n, size_t d, size_t p, double **x,
                              double **y)
{
    if (d > SIZE_MAX / 16 / n || p > SIZE_MAX / 16 / n || d + p > SIZE_MAX / 8 / n) {
        nw_diag_set(c->diag, 0, 0, "%s: \"n\" x (\"d\" + \"p\") values are too many", c->file);
        return NW_ERR_FORMAT;
    }
    const size_t total = 8 * n * (d + p);
    const char *field[2] = { "x", "y" };
    const size_t count[2] = { n * d, n * p };
    double **out[2] = { x, y };
    size_t have = 0;
    for (int a = 0; a < 2; a++) {
        /* the array grows as the bytes come (from 1 MiB, doubling: Linux
         * moves large blocks by remapping, without a copy), so that a
         * header's claim (10^13 points, from a file or a pipe) is never
         * allocated before its data is there */
        const size_t want = 8 * count[a];
        size_t cap = want < (1 << 20) ? want : (1 << 20), got = 0;
        double *v = malloc(cap);
        for (;;) {
            if (!v) {
                nw_diag_set(c->diag, 0, 0, "%s: out of memory", c->file);
                return NW_ERR_NOMEM;
            }
            *out[a] = v;
            size_t r = fread((unsigned char *) v + got, 1, cap - got, fp);
            got += r;
            if (got < cap || cap == want) break;
            cap = want - cap < cap ? want : 2 * cap;
            v = realloc(v, cap);
        }
        have += got;
        if (got < want) {
            if (ferror(fp)) {
                nw_diag_set(c->diag, 0, 0, "%s: cannot read: %s", c->file, strerror(errno));
                return NW_ERR_IO;
            }
            /* (a partial value's bytes count too) */
            nw_diag_set(c->diag, 0, 0, "%s: the data after the header ends early: %zu of %zu bytes (%zu values of \"x\" and \"y\")",
                        c->file, have, total, n * (d + p));
            return NW_ERR_FORMAT;
        }
        /* the bytes, binary64 little-endian, become the doubles in place */
        const unsigned char *b = (const unsigned char *) v;
        for (size_t i = 0; i < count[a]; i++) {
            uint64_t u = 0;
            for (int j = 7; j >= 0; j--) u = u << 8 | b[8 * i + (size_t) j];
            memcpy(&v[i], &u, sizeof u);
            if (!isfinite(v[i])) {
                nw_diag_set(c->diag, 0, 0, "%s: \"%s\" value %zu is not finite", c->file, field[a], i + 1);
                return NW_ERR_FORMAT;
            }
        }
    }
    if (getc(fp) != EOF) {
        nw_diag_set(c->diag, 0, 0, "%s: more than the %zu bytes of data the header announces (%zu values)",
                    c->file, total, n * (d + p));
        return NW_ERR_FORMAT;
    }
    if (ferror(fp)) {
        nw_diag_set(c->diag, 0, 0, "%s: cannot read: %s", c->file, strerror(errno));
        return NW_ERR_IO;
    }
    return NW_OK;
}

/* Check a parsed model file and build the model from it.  Every size is
 * checked against the arrays the file holds before anything is allocated
 * (version 3: the data is read from fp, after the header line). */
static nw_status build_model(const checker *c, cJSON *root, FILE *fp, nw_model **out)
{
    const char *kernel_name, *estimator_name, *empty_name = "nan";
    const char **x_names = NULL, **y_names = NULL;
    const cJSON *bandwidth;
    double *x = NULL, *y = NULL;
    size_t n, d, p;
    nw_kernel kernel;
    nw_estimator estimator;
    nw_model *m = NULL;
    nw_status status;
    int version = 0;

    if ((status = check_version(c, root, &version)) != NW_OK) return status;
    if ((status = get_string(c, root, "kernel", &kernel_name)) != NW_OK) return status;
    if (nw_kernel_from_name(kernel_name, &kernel) != NW_OK)
        return bad(c, "names no known kernel", "kernel");
    if ((status = get_string(c, root, "estimator", &estimator_name)) != NW_OK) return status;
    if (nw_estimator_from_name(estimator_name, &estimator) != NW_OK)
        return bad(c, "names no known estimator", "estimator");
    if (cJSON_GetObjectItemCaseSensitive(root, "empty")
        && (status = get_string(c, root, "empty", &empty_name)) != NW_OK) return status;
    if (strcmp(empty_name, "nan") != 0 && strcmp(empty_name, "nearest") != 0)
        return bad(c, "must be \"nan\" or \"nearest\"", "empty");
    nw_engine_kind engine = NW_ENGINE_AUTO;
    nw_precision precision = NW_PRECISION_F64;
    double tolerance = 1e-12;
    const char *name;
    if (cJSON_GetObjectItemCaseSensitive(root, "engine")) {
        if ((status = get_string(c, root, "engine", &name)) != NW_OK) return status;
        if (nw_engine_from_name(name, &engine) != NW_OK)
            return bad(c, "names no known engine", "engine");
    }
    if (cJSON_GetObjectItemCaseSensitive(root, "precision")) {
        if ((status = get_string(c, root, "precision", &name)) != NW_OK) return status;
        if (strcmp(name, "f32") != 0 && strcmp(name, "f64") != 0)
            return bad(c, "must be \"f32\" or \"f64\"", "precision");
        precision = strcmp(name, "f32") == 0 ? NW_PRECISION_F32 : NW_PRECISION_F64;
    }
    const cJSON *tol_item = cJSON_GetObjectItemCaseSensitive(root, "tolerance");
    if (tol_item) {
        if (!cJSON_IsNumber(tol_item) || !(tol_item->valuedouble >= 1e-15 && tol_item->valuedouble <= 1e-2))
            return bad(c, "must be a number in [1e-15, 1e-2]", "tolerance");
        tolerance = tol_item->valuedouble;
    }
    if ((status = get_count(c, root, "n", &n)) != NW_OK
        || (status = get_count(c, root, "d", &d)) != NW_OK
        || (status = get_count(c, root, "p", &p)) != NW_OK) return status;
    bandwidth = cJSON_GetObjectItemCaseSensitive(root, "bandwidth");
    if (!is_numbers(bandwidth, d, 1)) {
        nw_diag_set(c->diag, 0, 0, "%s: \"bandwidth\" must have %zu positive number%s", c->file, d,
                    d == 1 ? "" : "s");
        return NW_ERR_FORMAT;
    }
    if (version == 1) {
        if ((status = check_matrix(c, root, "x", n, d)) != NW_OK
            || (status = check_matrix(c, root, "y", n, p)) != NW_OK) return status;
    } else if (version == 3) {
        if (!fp) {
            nw_diag_set(c->diag, 0, 0, "%s: a version-3 header must be the first line, alone, the data after it",
                        c->file);
            return NW_ERR_FORMAT;
        }
        const char *field = cJSON_GetObjectItemCaseSensitive(root, "x") ? "x"
                          : cJSON_GetObjectItemCaseSensitive(root, "y") ? "y" : NULL;
        if (field) return bad(c, "belongs after the header line in version 3", field);
        if ((status = read_data_v3(c, fp, n, d, p, &x, &y)) != NW_OK) goto fail;
    } else {
        if ((status = decode_values(c, root, "x", n, d, &x)) != NW_OK
            || (status = decode_values(c, root, "y", n, p, &y)) != NW_OK) goto fail;
    }
    if ((status = get_names(c, root, "inputs", d, &x_names)) != NW_OK
        || (status = get_names(c, root, "outputs", p, &y_names)) != NW_OK) goto fail;

    if (version == 1) {
        status = NW_ERR_NOMEM;
        if (!(x = malloc(n * d * sizeof *x)) || !(y = malloc(n * p * sizeof *y))) goto fail;
        copy_matrix(cJSON_GetObjectItemCaseSensitive(root, "x"), x);
        copy_matrix(cJSON_GetObjectItemCaseSensitive(root, "y"), y);
    }
    /* the model takes x and y over: no copy */
    if ((status = nw_model_take(&m, x, y, n, d, p)) != NW_OK) goto fail;
    x = y = NULL;
    /* every value was checked above as its setter would check it (kernel,
     * estimator, engine by name; the bandwidths positive with finite 1/h;
     * the tolerance's range): set directly, no setter can refuse */
    m->kernel = kernel;
    m->estimator = estimator;
    m->empty = strcmp(empty_name, "nearest") == 0 ? NW_EMPTY_NEAREST : NW_EMPTY_NAN;
    copy_numbers(bandwidth, m->h);
    m->engine = engine;
    m->tolerance = tolerance;
    m->precision = precision;
    if ((x_names || y_names) && (status = nw_model_set_names(m, x_names, y_names)) != NW_OK)
        goto fail;
    *out = m;
    m = NULL;

fail:
    nw_model_free(m);
    free((void *) x_names);
    free((void *) y_names);
    free(x);
    free(y);
    return status;
}

/* Load a model saved by nw_model_save ("-" = stdin), of version 1, 2 or
 * 3.  NW_ERR_IO if the file cannot be read, NW_ERR_PARSE if it is not JSON
 * (diag has line and column), NW_ERR_FORMAT if it is not an nwreg model of
 * those versions with every field valid (a newer version is named as
 * such); diag names the file and the field.  The first line is parsed
 * alone: a version-3 header, whose data is then read into the model's
 * arrays.  Else the whole text is parsed, and freed as soon as cJSON has
 * parsed it, and each of a version-2 file's strings once it is decoded;
 * the arrays become the model's without a copy. */
nw_status nw_model_load(nw_model **model, const char *path, nw_diag *diag)
{
    if (!model) return NW_ERR_ARG;
    *model = NULL;
    if (!path) return NW_ERR_ARG;
    const int from_stdin = strcmp(path, "-") == 0;
    checker c = { from_stdin ? "<stdin>" : path, diag };
    char *text = NULL;
    const char *error_at = NULL;
    size_t len = 0, cap = 0;
    cJSON *root = NULL;
    int nomem = 0;
    nw_status status = NW_ERR_NOMEM;
    FILE *fp = from_stdin ? stdin : fopen(path, "rb");
    if (!fp) {
        nw_diag_set(diag, 0, 0, "%s: cannot open: %s", c.file, strerror(errno));
        return NW_ERR_IO;
    }
    /* the first line alone: a version-3 header?  Else (versions 1 and 2)
     * the whole text */
    for (int whole = 0; whole < 2; whole++) {
        status = whole ? read_rest(fp, &text, &len, &cap) : read_line(fp, &text, &len, &cap);
        if (status != NW_OK) {
            if (status == NW_ERR_IO) nw_diag_set(diag, 0, 0, "%s: cannot read: %s", c.file, strerror(errno));
            goto fail;
        }
        root = parse_text(text, len, &error_at, &nomem);
        if (nomem) {
            status = NW_ERR_NOMEM;
            goto fail;
        }
        if (whole) break;
        const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
        if (cJSON_IsNumber(version) && version->valuedouble == 3) {
            free(text);
            text = NULL;
            status = build_model(&c, root, fp, model);
            goto fail;
        }
        cJSON_Delete(root);
        root = NULL;
    }
    if (!root) {
        size_t offset = error_at && error_at >= text ? (size_t) (error_at - text) : 0;
        size_t line = 1, column = 1;
        for (size_t i = 0; i < offset && i < len; i++) {
            if (text[i] == '\n') { line++; column = 1; }
            else column++;
        }
        nw_diag_set(diag, line, column, "%s:%zu:%zu: invalid JSON near byte %zu", c.file, line,
                    column, offset + 1);
        status = NW_ERR_PARSE;
        goto fail;
    }
    free(text); /* cJSON keeps copies of what it needs */
    text = NULL;
    status = build_model(&c, root, NULL, model);
fail:
    if (status == NW_ERR_NOMEM) nw_diag_set(diag, 0, 0, "%s: out of memory", c.file);
    if (!from_stdin) fclose(fp);
    cJSON_Delete(root);
    free(text);
    return status;
}
