/* status.c: status codes as sentences, and the diag helpers. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "numconv.h"

const char *nw_strerror(nw_status status)
{
    switch (status) {
    case NW_OK:            return "success";
    case NW_ERR_ARG:       return "invalid argument";
    case NW_ERR_NOMEM:     return "out of memory";
    case NW_ERR_EMPTY:     return "no data";
    case NW_ERR_NONFINITE: return "value is NaN or infinite";
    case NW_ERR_BANDWIDTH: return "bandwidth must be finite and positive";
    case NW_ERR_SHAPE:     return "sizes do not agree";
    case NW_ERR_IO:        return "input/output error";
    case NW_ERR_PARSE:     return "malformed file";
    case NW_ERR_FORMAT:    return "unsupported model file";
    case NW_ERR_NUMERIC:   return "numerical breakdown";
    case NW_ERR_STOPPED:   return "stopped by callback";
    }
    return "unknown status";
}

void nw_diag_set(nw_diag *diag, size_t line, size_t column, const char *fmt, ...)
{
    if (!diag) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag->message, sizeof diag->message, fmt, ap);
    va_end(ap);
    diag->line = line;
    diag->column = column;
}

int nw_all_finite(const double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

/* The shortest decimal that reads back as v, in %g's text (numconv.h);
 * for normal doubles byte for byte the shortest of %.15g, %.16g, %.17g
 * that reads back, which this was before (tests/test_numconv.c). */
void nw_format_double(char *buf, size_t size, double v)
{
    char text[NW_DTOA_SIZE];
    size_t len = nw_dtoa_shortest(text, v);
    if (size == 0) return;
    if (len >= size) len = size - 1; /* cut, as snprintf would */
    memcpy(buf, text, len);
    buf[len] = '\0';
}
