/*
 * numconv.h: exact, fast conversions between doubles and decimal text, for
 * the CSV and model files.  Internal (not installed).
 *
 * Both are exact: nw_dtoa_shortest writes the shortest decimal that reads
 * back to the same double (Schubfach, R. Giulietti 2020), nw_strtod_n
 * reads a decimal correctly rounded (Eisel-Lemire, with glibc's strtod
 * for what it cannot decide).  Neither depends on the locale: the decimal
 * point is always '.'.  Both share the table of scripts/gen_pow10_table.py.
 */
#ifndef NW_NUMCONV_H
#define NW_NUMCONV_H

#include <stddef.h>

/* Bytes nw_dtoa_shortest may write, its NUL included (the longest is
 * "-2.2250738585072014e-308", 24 characters). */
enum { NW_DTOA_SIZE = 32 };

/* Write v into buf (NW_DTOA_SIZE bytes; those past the string's NUL may
 * be overwritten too) as the shortest decimal string that strtod reads
 * back as exactly v; of several such strings of that length, the one
 * nearest v (ties: even last digit).  The text is what
 * printf("%.*g", P, v) prints for P = max(15, digits): fixed notation
 * when -4 <= exponent < P ("0.1", "123.5", "1e+15" but "1234567890123456"),
 * else exponent notation with at least two exponent digits ("1e-05",
 * "1.5e+20"); a '-' for negative numbers, -0 as "-0"; "nan" for every NaN,
 * "inf" and "-inf".  Returns the length of the string (NUL not counted). */
size_t nw_dtoa_shortest(char *buf, double v);

/* strtod in the C locale, bit-identical results and end pointer (errno
 * aside: it may not be set on overflow or underflow).  Decimal numbers of
 * at most 19 significant digits, [+-]digits[.digits][(e|E)[+-]digits],
 * are converted here; everything else (hexadecimal, inf, nan, more
 * digits, leading blanks, no digits) and the few decimals Eisel-Lemire
 * cannot decide (halfway cases, subnormals, overflow) go to strtod.
 * The string's length is known: s[len] == '\0'; it may read any byte of
 * s[0..len) (8 digits at a time on long digit runs), never one past
 * s[len]. */
double nw_strtod_n(const char *s, size_t len, char **end);

#endif
