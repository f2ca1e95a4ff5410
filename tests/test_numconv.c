/*
 * test_numconv.c: src/numconv.c against glibc.
 *
 *   nw_dtoa_shortest: byte for byte against the formatter it replaced (the
 *   shortest of printf's %.15g, %.16g, %.17g that strtod reads back
 *   exactly, kept below as ref_format), and read back by glibc's strtod to
 *   the same bits, on random bit patterns, random short decimals and the
 *   special values (powers of 2 and 10 with their neighbours, subnormals,
 *   DBL_MAX, DBL_MIN, DBL_TRUE_MIN, -0, nan, inf).
 *
 *   nw_strtod_n: the same bits and the same end pointer as glibc's
 *   strtod, on random decimal strings of 1 to 25 digits
 *   with exponents across the whole range, halfway cases, the hard cases,
 *   and digit runs of every length cut by a non-digit anywhere (the 8-at-
 *   a-time path of nw_strtod_n); nw_strtod_n reads a copy of exactly
 *   len + 1 bytes (an over-read fails under the sanitizers).
 *
 * The legitimate differences from ref_format, where the loop is not the
 * shortest (ours is shorter and reads back exactly; both counted):
 *   - subnormals: with fewer significant bits, a decimal of fewer than 15
 *     digits often reads back (DBL_TRUE_MIN: "5e-324"), but the loop starts
 *     at %.15g ("4.94065645841247e-324").  Ours must then equal the first
 *     %.Ng from N = 1 that reads back (the interval is symmetric there, so
 *     that is the shortest, nearest v).
 *   - powers of two: the rounding interval is lopsided (a quarter of an ulp
 *     below, half an ulp above), the nearest 16-digit decimal may fall
 *     outside it below while another 16-digit decimal lies inside above;
 *     the loop goes on to %.17g.  Ours must be 16 digits, the loop's 17.
 * For normal doubles otherwise the loop's %.Ng is the nearest N-digit
 * decimal, and in a symmetric interval the nearest is inside whenever any
 * N-digit decimal is; at N = 15 at most one fits, so no shorter one exists.
 *
 * Samples: 400000 random bit patterns and as many random decimal strings
 * by default (the whole program: about 2 s); NW_NUMCONV_SAMPLES=N sets the
 * count (a long run: NW_NUMCONV_SAMPLES=100000000, some 10 minutes).
 * NW_NUMCONV_SEED sets the seed of the generator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numconv.h"
#include "nwreg.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t next_u64(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n) { return next_u64() % n; }

static long samples(void)
{
    const char *s = getenv("NW_NUMCONV_SAMPLES");
    long n = s ? strtol(s, NULL, 10) : 0;
    return n > 0 ? n : 400000;
}

static uint64_t bits_of(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double of_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* The formatter nw_format_double was before numconv.c: the shortest of
 * %.15g, %.16g, %.17g that reads back exactly. */
static void ref_format(char *buf, size_t size, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, size, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        return;
    }
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* Significant digits of a %g string (leading and trailing zeros not
 * counted: "21400000" has 3). */
static int count_digits(const char *s)
{
    int n = 0, zeros = 0, started = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s >= '1' && *s <= '9') started = 1;
        if (!started || *s < '0' || *s > '9') continue;
        if (*s == '0') zeros++;
        else { n += zeros + 1; zeros = 0; }
    }
    return n;
}

typedef struct dtoa_stats {
    long checked;
    long lopsided, subnormal; /* the legitimate differences, see the top */
} dtoa_stats;

/* One double: ours against ref_format, and read back. */
static void check_dtoa(double v, dtoa_stats *st)
{
    char ours[NW_DTOA_SIZE + 8], ref[64];
    memset(ours, 'X', sizeof ours);
    size_t len = nw_dtoa_shortest(ours, v);
    if (len != strlen(ours) || len >= NW_DTOA_SIZE)
        fail_msg("%a: length %zu for '%s'", v, len, ours);
    for (size_t k = NW_DTOA_SIZE; k < sizeof ours; k++)
        if (ours[k] != 'X') fail_msg("%a: byte %zu written, past NW_DTOA_SIZE", v, k);
    ref_format(ref, sizeof ref, v);
    st->checked++;
    if (!isnan(v) && bits_of(strtod(ours, NULL)) != bits_of(v))
        fail_msg("%a: '%s' reads back as %a", v, ours, strtod(ours, NULL));
    if (strcmp(ours, ref) == 0) return;
    int power_of_two = isfinite(v) && (bits_of(v) & ((UINT64_C(1) << 52) - 1)) == 0
                       && (bits_of(v) & 0x7ff0000000000000u) != 0;
    if (power_of_two && count_digits(ours) == 16 && count_digits(ref) == 17) {
        /* ours is shorter and exact: the loop missed it (see the top) */
        st->lopsided++;
        return;
    }
    if (fabs(v) < DBL_MIN) {
        /* subnormal: fewer than 15 digits may read back, the loop starts at
         * 15; the interval is symmetric, so the shortest is the first %.Ng
         * from N = 1 that reads back (ties as printf: to even) */
        for (int digits = 1; digits <= 17; digits++) {
            snprintf(ref, sizeof ref, "%.*g", digits, v);
            if (strtod(ref, NULL) == v) break;
        }
        if (strcmp(ours, ref) != 0) fail_msg("%a (subnormal): '%s', shortest '%s'", v, ours, ref);
        st->subnormal++;
        return;
    }
    fail_msg("%a (%.17g): '%s', reference '%s'", v, v, ours, ref);
}

/* ------------------------------------------------------------- dtoa */

static void test_dtoa_fixed(void **state)
{
    static const struct { double v; const char *text; } cases[] = {
        { 0.0, "0" }, { -0.0, "-0" }, { 1.0, "1" }, { -1.0, "-1" }, { 0.1, "0.1" },
        { 0.3, "0.3" }, { 0.1 + 0.2, "0.30000000000000004" }, { 1e-5, "1e-05" },
        { 1e-4, "0.0001" }, { 1.5e20, "1.5e+20" }, { 1e15, "1e+15" }, { 1e14, "100000000000000" },
        { 123456789012345.0, "123456789012345" }, { 1234567890123456.0, "1234567890123456" },
        { 12345678901234568.0, "12345678901234568" }, { 1e16, "1e+16" }, { 1e17, "1e+17" },
        { 1e100, "1e+100" }, { 1e-100, "1e-100" }, { 1e22, "1e+22" }, { 1e23, "1e+23" },
        { 5e-324, "5e-324" }, { DBL_MAX, "1.7976931348623157e+308" },
        { DBL_MIN, "2.2250738585072014e-308" }, { -DBL_MIN, "-2.2250738585072014e-308" },
        { 9007199254740992.0, "9007199254740992" }, { 18014398509481988.0, "18014398509481988" },
        { 0.5, "0.5" }, { 2.5, "2.5" }, { 100.0, "100" }, { 1.0 / 3, "0.3333333333333333" },
        { 2.0 / 3, "0.6666666666666666" }, { 5e-5, "5e-05" }, { 123e-7, "1.23e-05" },
        /* integer parts of 13, 14 and 15 digits (fixed-size copies up to 13) */
        { 1234567890123.5, "1234567890123.5" }, { -1234567890123.25, "-1234567890123.25" },
        { 12345678901234.5, "12345678901234.5" }, { -12345678901234.5, "-12345678901234.5" },
        { 123456789012345.6, "123456789012345.6" }, { -123456789012345.6, "-123456789012345.6" },
        { -0.8730678966160238, "-0.8730678966160238" }, { 1.8588077986866107, "1.8588077986866107" },
    };
    char buf[NW_DTOA_SIZE];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nw_dtoa_shortest(buf, cases[i].v);
        if (strcmp(buf, cases[i].text) != 0)
            fail_msg("%a: '%s', expected '%s'", cases[i].v, buf, cases[i].text);
    }
    assert_int_equal(nw_dtoa_shortest(buf, NAN), 3);
    assert_string_equal(buf, "nan");
    nw_dtoa_shortest(buf, -NAN);
    assert_string_equal(buf, "nan");
    nw_dtoa_shortest(buf, of_bits(0x7ff0000000000001u)); /* a signalling NaN */
    assert_string_equal(buf, "nan");
    nw_dtoa_shortest(buf, INFINITY);
    assert_string_equal(buf, "inf");
    assert_int_equal(nw_dtoa_shortest(buf, -INFINITY), 4);
    assert_string_equal(buf, "-inf");
    assert_int_equal(nw_dtoa_shortest(buf, -2.2250738585072014e-308), 24);
}

/* Every power of two and of ten, their neighbours, and the edges. */
static void test_dtoa_special_values(void **state)
{
    dtoa_stats st = {0};
    for (int e = -1074; e <= 1023; e++) {
        double p = ldexp(1.0, e);
        double around[] = { p, nextafter(p, 0), nextafter(p, INFINITY), -p };
        for (int i = 0; i < 4; i++) check_dtoa(around[i], &st);
    }
    for (int e = -325; e <= 309; e++) {
        char text[32];
        snprintf(text, sizeof text, "1e%d", e);
        double p = strtod(text, NULL);
        double around[] = { p, nextafter(p, 0), nextafter(p, INFINITY),
                            nextafter(nextafter(p, INFINITY), INFINITY) };
        for (int i = 0; i < 4; i++) check_dtoa(around[i], &st);
    }
    double edges[] = { DBL_MAX, nextafter(DBL_MAX, 0), DBL_MIN, nextafter(DBL_MIN, 0),
                       nextafter(DBL_MIN, 1), DBL_TRUE_MIN, 2 * DBL_TRUE_MIN, 3 * DBL_TRUE_MIN,
                       0.0, -0.0, INFINITY, -INFINITY, NAN, DBL_EPSILON, 1 + DBL_EPSILON,
                       1 - DBL_EPSILON / 2, 9007199254740991.0, 9007199254740992.0,
                       4503599627370495.5, 4503599627370496.0, 1.7976931348623157e308 / 3 };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        check_dtoa(edges[i], &st);
        check_dtoa(-edges[i], &st);
    }
    /* every biased exponent with the smallest, largest and random significands */
    for (uint64_t bq = 0; bq < 0x7ff; bq++)
        for (int i = 0; i < 8; i++) {
            uint64_t t = i == 0 ? 1 : i == 1 ? (UINT64_C(1) << 52) - 1 : below(UINT64_C(1) << 52);
            check_dtoa(of_bits(bq << 52 | t), &st);
        }
    print_message("special values: %ld checked; shorter than the loop: %ld lopsided powers of two,"
                  " %ld subnormals\n", st.checked, st.lopsided, st.subnormal);
}

/* Random bit patterns (every finite double equally likely), random
 * subnormals, random integers. */
static void test_dtoa_random_bits(void **state)
{
    dtoa_stats st = {0};
    long n = samples();
    for (long i = 0; i < n; i++) {
        uint64_t b = next_u64();
        if ((b & 0x7ff0000000000000u) == 0x7ff0000000000000u) continue; /* nan, inf */
        check_dtoa(of_bits(b), &st);
    }
    for (long i = 0; i < n / 20; i++) {
        check_dtoa(of_bits(below(UINT64_C(1) << 52)), &st);          /* subnormal */
        check_dtoa((double) (int64_t) (next_u64() >> below(64)), &st); /* integer */
    }
    print_message("random bit patterns: %ld checked; shorter than the loop: %ld lopsided powers"
                  " of two, %ld subnormals\n", st.checked, st.lopsided, st.subnormal);
}

/* Decimals of 1..17 random digits at random exponents, read by strtod:
 * the printed form must then have at most as many digits (the shortest),
 * and agree with ref_format. */
static void test_dtoa_short_decimals(void **state)
{
    dtoa_stats st = {0};
    long n = samples() / 2;
    char text[64], out[NW_DTOA_SIZE];
    for (long i = 0; i < n; i++) {
        int digits = 1 + (int) below(17);
        uint64_t d = 1 + below(9);
        for (int k = 1; k < digits; k++) d = 10 * d + below(10);
        int e = (int) below(630) - 325;
        snprintf(text, sizeof text, "%llue%d", (unsigned long long) d, e);
        double v = strtod(text, NULL);
        if (v == 0 || isinf(v)) continue;
        check_dtoa(v, &st);
        nw_dtoa_shortest(out, v);
        if (fabs(v) >= DBL_MIN && count_digits(out) > digits)
            fail_msg("%s: '%s' is longer than what was read", text, out);
    }
    print_message("short decimals: %ld checked\n", st.checked);
}

/* Every layout: 1 to 17 digits, the decimal exponent from -7 to 19 (both
 * notations, the point at every place), both signs, and trailing zeros. */
static void test_dtoa_layouts(void **state)
{
    dtoa_stats st = {0};
    char text[64];
    for (int digits = 1; digits <= 17; digits++)
        for (int x = -7; x <= 19; x++)
            for (int k = 0; k < 40; k++) {
                uint64_t d = 1 + below(9);
                for (int i = 1; i < digits; i++) d = 10 * d + (k % 4 == 0 ? 0 : below(10));
                snprintf(text, sizeof text, "%s%llue%d", k & 1 ? "-" : "",
                         (unsigned long long) d, x - digits + 1);
                check_dtoa(strtod(text, NULL), &st);
            }
    print_message("layouts: %ld checked\n", st.checked);
}

/* ----------------------------------------------------------- strtod */

/* ours against glibc: same bits, same end pointer, nw_strtod_n reading a
 * copy of exactly len + 1 bytes. */
static void check_strtod(const char *s)
{
    char *end_ref, *end_ours;
    double ref = strtod(s, &end_ref);
    size_t len = strlen(s);
    char *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, s, len + 1);
    double ours = nw_strtod_n(copy, len, &end_ours);
    if (bits_of(ours) != bits_of(ref) || end_ours - copy != end_ref - s)
        fail_msg("'%s' (nw_strtod_n): %a (end +%td), strtod %a (end +%td)", s, ours,
                 end_ours - copy, ref, end_ref - s);
    free(copy);
}

static void test_strtod_fixed(void **state)
{
    static const char *const cases[] = {
        /* the edges of the range */
        "4.9406564584124654e-324", "5e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
        "2.47032822920623272e-324", "2.2250738585072011e-308", "2.2250738585072014e-308",
        "2.2250738585072012e-308", "1.7976931348623157e308", "1.7976931348623158e308",
        "1.7976931348623159e308", "1.797693134862315807e308", "1.797693134862315808e308",
        "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649"
        "017977587207096330286416692887910946555547851940402630657488671505820681908902000708383"
        "676273854845817711531764475730270069855571366959622842914819860834936475292719074168444"
        "365510704342711559699508093042880177904174497791.9999999999",
        "1e400", "-1e400", "1e-400", "-1e-400", "1e308", "1e309", "1e-324", "1e-323",
        "0e999999999", "-0", "-0.0e5", "0", "+0", "0.000", "1e-99999999999999999999",
        "1e99999999999999999999", "123456789012345678901234567890", "0.1", "0.2", "0.3",
        /* halfway between doubles: 2^53 + 1 and its kin, ties to even */
        "9007199254740993", "9007199254740995", "9007199254740997", "18014398509481986",
        "18014398509481990", "4503599627370496.5", "4503599627370497.5", "2251799813685248.25",
        "2251799813685248.75", "9007199254740993.0000000001", "9007199254740992.9999999999",
        "9223372036854775807", "9223372036854775808", "18446744073709551615",
        "18446744073709551616", "10000000000000000000", "9999999999999999999",
        /* the Eisel-Lemire paper's and Go's hard cases */
        "7.3177701707893310e+15", "2.2250738585072011e-308", "1090544144181609348671888949248",
        "4.9406564584124654e-324", "3.4e38", "1.00000005960464477539062499", "9355950000000000000.00000000000000000000000000000000001844674407370955161600000184467440737095516161844674407370955161407370955161618446744073709551616000184467440737095516166000001844674407370955161618446744073709551614073709551616184467440737095516160001844674407370955161601844674407370955674451616184467440737095516140737095516161844674407370955161600018446744073709551616018446744073709551611616000184467440737095001844674407370955161600184467440737095516160018446744073709551168164467440737095516160001844073709551616018446744073709551616184467440737095516160001844674407536910751601611616000184467440737095001844674407370955161600184467440737095516160018446744073709551616184467440737095516160001844955161618446744073709551616000184467440753691075160018446744073709",
        /* syntax: what strtod stops at */
        "", ".", "+", "-", "+.", "-.e5", ".5", "5.", "5.e3", "1e", "1e+", "1e-", "1E5", "1e+05x",
        "1.5.5", "12abc", " 1", "\t1", "\n1", "1 ", "+-1", "--1", "0x1p3", "0X1P-2", "-0x10", "0x",
        "0xg", "00x1", "inf", "-Infinity", "nan", "NaN(123)", "-nan", "1,5", "1_000", "١",
        "0.0000000000000000000000000000001", "0000000000000000000000000000001.5",
        "1.0000000000000000000000000000", "1e0000000000000000000000000000005",
        "0.000000000000000000000000000000000000000000000000000000000000000000000001e74",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_strtod(cases[i]);
}

/* Random strings: sign, 1..25 digits (leading zeros sometimes), a point
 * anywhere or none, an exponent anywhere in the range (or none), and now
 * and then trailing junk. */
static void test_strtod_random(void **state)
{
    long n = samples();
    char s[96];
    for (long i = 0; i < n; i++) {
        char *p = s;
        uint64_t r = next_u64();
        if (r & 1) *p++ = r & 2 ? '-' : '+';
        int digits = 1 + (int) below(25), point = (int) below((uint64_t) digits + 2) - 1;
        int zeros = r & 4 ? (int) below(4) : 0;
        for (int k = 0; k < zeros; k++) *p++ = '0';
        for (int k = 0; k < digits; k++) {
            if (k == point) *p++ = '.';
            *p++ = (char) ('0' + (k == 0 ? 1 + below(9) : below(10)));
        }
        if (point == digits) *p++ = '.';
        if (r & 8) {
            /* place the value anywhere from 1e-345 to 1e+330 */
            int e = (int) below(680) - 350 - (point >= 0 ? point : digits) + 1;
            p += sprintf(p, "%c%d", r & 16 ? 'e' : 'E', e);
        }
        if ((r & 0xe0) == 0xe0) *p++ = "x. e+-0"[below(7)];
        *p = '\0';
        check_strtod(s);
    }
}

/* Digit runs of 1 to 40 digits, the point at every place or none, ended
 * by each of several tails, and with one non-digit put at every place:
 * every way a run of 8 can start, fit or be cut short. */
static void test_strtod_digit_runs(void **state)
{
    static const char *const tails[] = { "", "x", "e5", "E-17", ".", " ", "e", "5e+", "0" };
    static const char cuts[] = { 'x', '.', ' ', '/', ':', '\0' };
    char s[96];
    for (int digits = 1; digits <= 40; digits++)
        for (int point = -1; point <= digits; point++)
            for (size_t t = 0; t < sizeof tails / sizeof *tails; t++) {
                char *p = s;
                if (point & 1) *p++ = '-';
                for (int k = 0; k < digits; k++) {
                    if (k == point) *p++ = '.';
                    *p++ = (char) ('0' + (k == 0 ? 1 + below(9) : below(10)));
                }
                if (point == digits) *p++ = '.';
                strcpy(p, tails[t]);
                check_strtod(s);
                if (t != 0) continue;
                for (int at = 0; at < (int) (p - s); at++) {
                    char saved = s[at];
                    s[at] = cuts[(size_t) at % sizeof cuts];
                    check_strtod(s);
                    s[at] = saved;
                }
            }
}

/* Halfway points, exactly: m + 1/2 ulp for random m, written in full
 * (an integer, or a fraction of up to 3 decimals), and one digit away. */
static void test_strtod_halfway(void **state)
{
    long n = samples() / 10;
    char s[64];
    for (long i = 0; i < n; i++) {
        /* integers: between 2^53 and 2^63, ulp 2^j; the tie m 2^j + 2^(j-1) */
        int j = 1 + (int) below(10);
        uint64_t m = (UINT64_C(1) << 52) | below(UINT64_C(1) << 52);
        uint64_t tie = (m << j) + (UINT64_C(1) << (j - 1));
        snprintf(s, sizeof s, "%llu", (unsigned long long) tie);
        check_strtod(s);
        snprintf(s, sizeof s, "%llu", (unsigned long long) tie + 1);
        check_strtod(s);
        snprintf(s, sizeof s, "%llu", (unsigned long long) tie - 1);
        check_strtod(s);
        snprintf(s, sizeof s, "%llue-1", (unsigned long long) tie * 10 + 1);
        check_strtod(s);
        /* fractions: ulp 2^-k below 2^(53-k), tie = (m + 1/2) 2^-k */
        int k = 1 + (int) below(3);
        double tie_value = ldexp((double) m + 0.5, -k); /* exact: 54 bits */
        snprintf(s, sizeof s, "%.*f", k + 1, tie_value);
        check_strtod(s);
        snprintf(s, sizeof s, "%.*f1", k + 1, tie_value);
        check_strtod(s);
        snprintf(s, sizeof s, "%.*fe-3", k + 1, tie_value);
        check_strtod(s);
    }
}

/* What nw_dtoa_shortest writes, nw_strtod_n reads back exactly. */
static void test_round_trip(void **state)
{
    long n = samples() / 4;
    char buf[NW_DTOA_SIZE];
    for (long i = 0; i < n; i++) {
        double v = of_bits(next_u64());
        if (!isfinite(v)) continue;
        nw_dtoa_shortest(buf, v);
        char *end;
        double back = nw_strtod_n(buf, strlen(buf), &end);
        if (bits_of(back) != bits_of(v) || *end)
            fail_msg("%a: '%s' reads back as %a", v, buf, back);
        check_strtod(buf);
    }
}

/* ------------------------------------------------------ the CSV files */

/* nw_csv_write (shortest, and with --precision's digits) writes exactly
 * the text of nw_dtoa_shortest / %.*g, comma-separated rows; the reader
 * gives back the same bits. */
static void test_csv_write_read(void **state)
{
    enum { ROWS = 20000, COLS = 3 };
    double *data = malloc(ROWS * COLS * sizeof *data);
    char *expect = malloc((size_t) ROWS * COLS * NW_DTOA_SIZE + 64), *o;
    assert_non_null(data);
    assert_non_null(expect);
    dtoa_stats st = {0};
    for (size_t i = 0; i < ROWS * COLS; i++) {
        uint64_t b = next_u64();
        if (i % 7 == 1) b >>= 12 + below(52); /* subnormals and small */
        if ((b & 0x7ff0000000000000u) == 0x7ff0000000000000u) b &= ~UINT64_C(1) << 62;
        data[i] = of_bits(b);
        check_dtoa(data[i], &st);
    }
    data[3] = -0.0;
    data[4] = 1.0;
    const char *const names[] = { "a", "b c", "d" };
    for (int digits = 0; digits <= 17; digits += 6) {
        o = expect + sprintf(expect, "a,b c,d\n");
        for (size_t i = 0; i < ROWS; i++)
            for (size_t j = 0; j < COLS; j++) {
                double v = data[i * COLS + j];
                if (digits) o += sprintf(o, "%.*g", digits, v);
                else o += nw_dtoa_shortest(o, v);
                *o++ = j + 1 < COLS ? ',' : '\n';
            }
        *o = '\0';
        const char *path = in_dir("out.csv");
        nw_diag diag = {0};
        assert_int_equal(nw_csv_write_digits(path, names, data, ROWS, COLS, digits, &diag), NW_OK);
        char *text = slurp(path);
        assert_non_null(text);
        assert_string_equal(text, expect);
        free(text);
        if (digits) continue;
        nw_table *t = NULL;
        assert_int_equal(nw_table_read(path, &t, &diag), NW_OK);
        assert_int_equal(nw_table_rows(t), ROWS);
        const double *back = nw_table_data(t);
        for (size_t i = 0; i < ROWS * COLS; i++)
            if (bits_of(back[i]) != bits_of(data[i]))
                fail_msg("cell %zu: %a read back as %a", i, data[i], back[i]);
        nw_table_free(t);
    }
    /* non-finite values are written as nan, inf, -inf at any digits */
    double odd[] = { NAN, INFINITY, -INFINITY, -0.0 };
    const char *path = in_dir("odd.csv");
    assert_int_equal(nw_csv_write_digits(path, NULL, odd, 1, 4, 3, NULL), NW_OK);
    char *text = slurp(path);
    assert_string_equal(text, "nan,inf,-inf,-0\n");
    free(text);
    free(data);
    free(expect);
}

/* The reader's cells go through nw_strtod_n: random decimal cells, blanks
 * around them, some quoted, rows ended by LF or CRLF, give strtod's
 * values; the file (some 600 KB) has cells across its 64 KiB read blocks. */
static void test_csv_read_numbers(void **state)
{
    enum { ROWS = 20000 };
    char *text = malloc(ROWS * 64 + 16), *o = text;
    double *expect = malloc(ROWS * sizeof *expect);
    assert_non_null(text);
    assert_non_null(expect);
    o += sprintf(o, "v\n");
    for (size_t i = 0; i < ROWS; i++) {
        char cell[64], *c = cell;
        uint64_t r = next_u64();
        if (r & 1) *c++ = '-';
        int digits = 1 + (int) below(25), point = (int) below((uint64_t) digits + 1);
        for (int k = 0; k < digits; k++) {
            if (k == point) *c++ = '.';
            *c++ = (char) ('0' + below(10));
        }
        c += sprintf(c, "e%d", (int) below(600) - 300 - point);
        *c = '\0';
        expect[i] = strtod(cell, NULL);
        const char *quote = r & 8 ? "\"" : "";
        o += sprintf(o, "%s%s%s%s%s%s", quote, r & 2 ? " " : "", cell, r & 4 ? "\t" : "", quote,
                     r & 16 ? "\r\n" : "\n");
    }
    *o = '\0';
    const char *path = make_file("in.csv", text);
    nw_table *t = NULL;
    nw_diag diag = {0};
    assert_int_equal(nw_table_read(path, &t, &diag), NW_OK);
    assert_int_equal(nw_table_rows(t), ROWS);
    const double *got = nw_table_data(t);
    for (size_t i = 0; i < ROWS; i++)
        if (bits_of(got[i]) != bits_of(expect[i]))
            fail_msg("row %zu: %a, strtod %a", i + 2, got[i], expect[i]);
    nw_table_free(t);
    free(text);
    free(expect);
}

int main(void)
{
    const char *seed = getenv("NW_NUMCONV_SEED");
    if (seed) rng_state = strtoull(seed, NULL, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtoa_fixed),
        cmocka_unit_test(test_dtoa_special_values),
        cmocka_unit_test(test_dtoa_random_bits),
        cmocka_unit_test(test_dtoa_short_decimals),
        cmocka_unit_test(test_dtoa_layouts),
        cmocka_unit_test(test_strtod_fixed),
        cmocka_unit_test(test_strtod_random),
        cmocka_unit_test(test_strtod_digit_runs),
        cmocka_unit_test(test_strtod_halfway),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test_setup_teardown(test_csv_write_read, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_csv_read_numbers, tmpdir_setup, tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
