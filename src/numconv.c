/*
 * numconv.c: doubles to the shortest exact decimal (Schubfach) and decimal
 * text to doubles (Eisel-Lemire), both on the 128-bit powers of ten of
 * pow10_table.h (see scripts/gen_pow10_table.py for what it holds).
 *
 * References:
 *   R. Giulietti, "The Schubfach way to render doubles", 2020 (2021 rev.).
 *   D. Lemire, "Number Parsing at a Gigabyte per Second", SPE 51(8), 2021;
 *   N. Tao, "The Eisel-Lemire ParseNumberF64 Algorithm", 2020.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "numconv.h"
#include "pow10_table.h"

/* ------------------------------------------------------------ 64 x 64 bits */

/* The 128-bit product a * b as hi * 2^64 + lo. */
static inline uint64_t mul_64x64(uint64_t a, uint64_t b, uint64_t *lo)
{
#if defined(__SIZEOF_INT128__)
    __extension__ typedef unsigned __int128 u128;
    u128 p = (u128) a * b;
    *lo = (uint64_t) p;
    return (uint64_t) (p >> 64);
#else
    uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    *lo = (mid << 32) | (p00 & 0xffffffffu);
    return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
#endif
}

static inline int leading_zeros64(uint64_t x) /* x != 0 */
{
#if defined(__GNUC__)
    return __builtin_clzll(x);
#else
    int n = 0;
    while (!(x & ((uint64_t) 1 << 63))) { x <<= 1; n++; }
    return n;
#endif
}

static inline uint64_t double_bits(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits;
}

static inline double bits_double(uint64_t bits)
{
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* ------------------------------------------------- logarithms of powers */

/* floor(e log10 2) for |e| <= 5456721 (Giulietti, section 11). */
static inline int flog10_pow2(int e) { return (int) ((int64_t) e * 661971961083 >> 41); }

/* floor(log10(3/4 2^e)) for |e| <= 5456721. */
static inline int flog10_three_quarters_pow2(int e)
{
    return (int) (((int64_t) e * 661971961083 - 274743187321) >> 41);
}

/* floor(e log2 10) for |e| <= 1838394. */
static inline int flog2_pow10(int e) { return (int) ((int64_t) e * 913124641741 >> 38); }

/* ----------------------------------------------------------- formatting */

enum {
    MANT_BITS = 52,                 /* stored significand bits */
    Q_MIN = -1074,                  /* exponent of the subnormals' unit */
};
#define C_MIN ((uint64_t) 1 << MANT_BITS)  /* the hidden bit */
#define MASK63 (((uint64_t) 1 << 63) - 1)

/* Round to odd of g cp / 2^127 (Giulietti, figure 9): floor, with the
 * last bit set when anything was cut.  g = g1 2^63 + g0 < 2^126 and
 * cp < 2^63; the bits the sum drops are below what the proof needs. */
static inline uint64_t rop(uint64_t g1, uint64_t g0, uint64_t cp)
{
    uint64_t x0, y0;
    uint64_t x1 = mul_64x64(g0, cp, &x0);
    uint64_t y1 = mul_64x64(g1, cp, &y0);
    uint64_t z = (y0 >> 1) + x1;
    uint64_t vbp = y1 + (z >> 63);
    return vbp | (((z & MASK63) + MASK63) >> 63);
}

/* The shortest decimal d 10^e10 in the rounding interval of v = c 2^q
 * (c > 0; the interval is closed when c is even, round-half-even reads
 * its ends back to v), of several the nearest v (ties: even d).
 * Giulietti's figure 7 without Java's "at least two digits" rule. */
static uint64_t schubfach(int q, uint64_t c, int *e10)
{
    uint64_t out = c & 1; /* 1: the ends are excluded */
    uint64_t cb = c << 2, cbr = cb + 2, cbl;
    int k;
    if (c != C_MIN || q == Q_MIN) {
        cbl = cb - 2; /* regular spacing: the neighbours are 2^q either side */
        k = flog10_pow2(q);
    } else {
        cbl = cb - 1; /* v a power of two: the neighbour below is 2^(q-1) away */
        k = flog10_three_quarters_pow2(q);
    }
    int h = q + flog2_pow10(-k) + 2; /* 2 <= h <= 5: cbr << h < 2^61 */
    /* g = floor(10^-k 2^(125 - flog2_pow10(-k))) + 1 = (F(-k) >> 2) + 1 */
    const uint64_t *f = nw_pow10_table[-k - NW_POW10_MIN];
    uint64_t ghi = f[0] >> 2, glo = (f[1] >> 2) | (f[0] << 62);
    if (++glo == 0) ghi++;
    uint64_t g1 = (ghi << 1) | (glo >> 63), g0 = glo & MASK63;

    /* 4 v 10^-k and the interval's ends, rounded to odd */
    uint64_t vb = rop(g1, g0, cb << h);
    uint64_t vbl = rop(g1, g0, cbl << h);
    uint64_t vbr = rop(g1, g0, cbr << h);
    uint64_t s = vb >> 2; /* floor(v 10^-k) */

    /* One digit fewer: of the multiples of 10 around s (u' <= v < w'), at
     * most one lies in the interval; when one does, it is the shortest. */
    uint64_t sp10 = s / 10 * 10, tp10 = sp10 + 10;
    int upin = vbl + out <= sp10 << 2;
    int wpin = (tp10 << 2) + out <= vbr;
    if (upin != wpin) {
        *e10 = k;
        return upin ? sp10 : tp10;
    }
    /* Else s or s + 1 at 10^k (at least one of them lies in the interval) */
    uint64_t t = s + 1;
    int uin = vbl + out <= s << 2;
    int win = (t << 2) + out <= vbr;
    *e10 = k;
    if (uin != win) return uin ? s : t;
    /* both: the nearer, the even one on a tie */
    uint64_t mid = (s + t) << 1; /* 4 (s + 1/2) */
    return (vb < mid || (vb == mid && (s & 1) == 0)) ? s : t;
}

/* "00" to "99": the decimal digits of 0..99, two characters each. */
static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* The 4 decimal digits of v < 10^4 at o (leading zeros included). */
static inline void write4(char *o, uint32_t v)
{
    memcpy(o, digit_pairs + 2 * (v / 100), 2);
    memcpy(o + 2, digit_pairs + 2 * (v % 100), 2);
}

/* The 8 decimal digits of v < 10^8 at o (leading zeros included). */
static inline void write8(char *o, uint32_t v)
{
    write4(o, v / 10000);
    write4(o + 4, v % 10000);
}

/* The number of decimal digits of d, 0 < d < 2^63 (pow10[t], t <= 18). */
static inline int decimal_length(uint64_t d)
{
    static const uint64_t pow10[19] = {
        1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u, 100000000u,
        1000000000u, 10000000000u, 100000000000u, 1000000000000u, 10000000000000u,
        100000000000000u, 1000000000000000u, 10000000000000000u, 100000000000000000u,
        1000000000000000000u,
    };
    int t = (64 - leading_zeros64(d)) * 1233 >> 12; /* floor(log10 d) or one more */
    return t + (d >= pow10[t]);
}

/* Write sign, digits d (0 < d < 10^17) and exponent e10 (value d 10^e10)
 * as %.*g would with P = max(15, digits of d): see nw_dtoa_shortest.
 * The digits are made two at a time (digit_pairs) in independent 8-digit
 * halves, not one division by 10 after another. */
static size_t format_g(char *buf, int negative, uint64_t d, int e10)
{
    char digits[17 + 16]; /* 17 digits, and room for the 16-byte copies below */
    uint64_t hi = d / 100000000u;   /* < 10^9 */
    uint32_t top = (uint32_t) (hi / 100000000u), mid = (uint32_t) (hi % 100000000u);
    digits[0] = (char) ('0' + top);
    write8(digits + 1, mid);
    write8(digits + 9, (uint32_t) (d % 100000000u));
    int n = decimal_length(d);
    const char *dp = digits + 17 - n;
    while (dp[n - 1] == '0') { n--; e10++; } /* d > 0: a nonzero digit stops it */
    int x = e10 + n - 1, p = n > 15 ? n : 15; /* decimal exponent; %g's precision */
    char *o = buf;
    if (negative) *o++ = '-';
    if (x < -4 || x >= p) {
        *o++ = dp[0];
        if (n > 1) {
            *o++ = '.';
            memcpy(o, dp + 1, (size_t) (n - 1));
            o += n - 1;
        }
        *o++ = 'e';
        *o++ = x < 0 ? '-' : '+';
        int ax = x < 0 ? -x : x;
        if (ax >= 100) { *o++ = (char) ('0' + ax / 100); ax %= 100; }
        memcpy(o, digit_pairs + 2 * ax, 2);
        o += 2;
    } else if (x >= 0) {
        if (n <= x + 1) { /* an integer: digits, then zeros */
            memcpy(o, dp, (size_t) n);
            o += n;
            memset(o, '0', (size_t) (x + 1 - n));
            o += x + 1 - n;
        } else if (x <= 12) {
            /* the common case, in copies of a fixed 16 bytes: x + 1
             * digits, the point, the other n - x - 1 digits.  They write
             * o[0..16) and o[x+2..x+18), inside buf[0..31) for x <= 12;
             * what lies past the digits is overwritten (the point, the
             * NUL) or left beyond the NUL (NW_DTOA_SIZE allows it) */
            memcpy(o, dp, 16);
            o[x + 1] = '.';
            memcpy(o + x + 2, dp + x + 1, 16);
            o += n + 1;
        } else {
            memcpy(o, dp, (size_t) (x + 1));
            o += x + 1;
            *o++ = '.';
            memcpy(o, dp + x + 1, (size_t) (n - x - 1));
            o += n - x - 1;
        }
    } else { /* -4 <= x < 0: 0.000ddd */
        *o++ = '0';
        *o++ = '.';
        memset(o, '0', (size_t) (-x - 1));
        o += -x - 1;
        memcpy(o, dp, (size_t) n);
        o += n;
    }
    *o = '\0';
    return (size_t) (o - buf);
}

size_t nw_dtoa_shortest(char *buf, double v)
{
    uint64_t bits = double_bits(v);
    int negative = (int) (bits >> 63);
    uint64_t t = bits & (C_MIN - 1);
    int bq = (int) (bits >> MANT_BITS) & 0x7ff;
    if (bq == 0x7ff) {
        const char *s = t ? "nan" : negative ? "-inf" : "inf";
        size_t len = strlen(s);
        memcpy(buf, s, len + 1);
        return len;
    }
    if (bq == 0 && t == 0) {
        memcpy(buf, negative ? "-0" : "0", negative ? 3 : 2);
        return (size_t) (negative ? 2 : 1);
    }
    int e10;
    uint64_t d;
    if (bq == 0) { /* subnormal: t 2^Q_MIN */
        d = schubfach(Q_MIN, t, &e10);
    } else {
        uint64_t c = C_MIN | t;
        int q = bq - 1075; /* v = c 2^q */
        /* an integer below 2^53 is its own shortest form: any other decimal
         * of as many digits or fewer is at least 1 away, more than half the
         * spacing of doubles (<= 1) there */
        if (q < 0 && q > -MANT_BITS - 1 && (c & (((uint64_t) 1 << -q) - 1)) == 0) {
            d = c >> -q;
            e10 = 0;
        } else {
            d = schubfach(q, c, &e10);
        }
    }
    return format_g(buf, negative, d, e10);
}

/* -------------------------------------------------------------- parsing */

/* w 10^e10 (w != 0) correctly rounded by Eisel-Lemire, as in Tao's
 * description (and Go's strconv): 1 and *out set, or 0 where it cannot
 * decide (the product too close to a halfway point for the table's
 * precision), or the result would be subnormal, zero or infinite. */
static int eisel_lemire(uint64_t w, int e10, int negative, double *out)
{
    if (e10 < NW_POW10_MIN || e10 > NW_POW10_MAX) return 0;
    const uint64_t *f = nw_pow10_table[e10 - NW_POW10_MIN];
    /* normalize: w 2^clz has its top bit set */
    int clz = leading_zeros64(w);
    w <<= clz;
    /* biased binary exponent of the result if the product's top bit is 63;
     * flog2_pow10(e10) = floor(e10 log2 10) is exact over the table. */
    int64_t exp2 = (int64_t) flog2_pow10(e10) + 64 + 1023 - clz;
    /* w F(e10) / 2^128 with F's top 64 bits; since F is rounded down and
     * its low half is dropped, the true product exceeds this by less than
     * w units of lo */
    uint64_t lo, hi = mul_64x64(w, f[0], &lo);
    if ((hi & 0x1ff) == 0x1ff && lo + w < w) {
        /* the error could carry into the bits kept: add w F_lo / 2^64 */
        uint64_t ylo, yhi = mul_64x64(w, f[1], &ylo);
        uint64_t mlo = lo + yhi, mhi = hi + (mlo < lo);
        if ((mhi & 0x1ff) == 0x1ff && mlo + 1 == 0 && ylo + w < w) return 0;
        hi = mhi;
        lo = mlo;
    }
    /* 54 bits: 53 and the rounding bit */
    int msb = (int) (hi >> 63);
    uint64_t m = hi >> (msb + 9);
    exp2 -= 1 ^ msb;
    /* exactly halfway, and rounding up would be wrong (to odd): undecided */
    if (lo == 0 && (hi & 0x1ff) == 0 && (m & 3) == 1) return 0;
    m += m & 1; /* round half up on the 54th bit */
    m >>= 1;
    if (m >> 53) { /* rounded up to 2^53 */
        m >>= 1;
        exp2++;
    }
    if (exp2 <= 0 || exp2 >= 0x7ff) return 0; /* subnormal or overflow */
    uint64_t bits = ((uint64_t) exp2 << 52) | (m & (C_MIN - 1));
    if (negative) bits |= (uint64_t) 1 << 63;
    *out = bits_double(bits);
    return 1;
}

#if FLT_EVAL_METHOD == 0
/* 10^0 .. 10^22, all exact doubles */
static const double exact_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define EIGHT_AT_ONCE 1
/* p[0..8) as one word, p[0] its lowest byte. */
static inline uint64_t load8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Whether all 8 bytes of v are '0'..'9' (D. Lemire's test: a byte above
 * '9' carries into its top bit when 0x46 is added, one below '0' borrows
 * when 0x30 is taken away). */
static inline int eight_digits(uint64_t v)
{
    return !(((v + 0x4646464646464646u) | (v - 0x3030303030303030u)) & 0x8080808080808080u);
}

/* The value of 8 decimal digits, the first the most significant, by
 * combining neighbours: pairs, then fours, then the eight (Lemire). */
static inline uint32_t eight_digits_value(uint64_t v)
{
    const uint64_t mask = 0x000000ff000000ffu;
    const uint64_t mul1 = 100 + ((uint64_t) 1000000 << 32);
    const uint64_t mul2 = 1 + ((uint64_t) 10000 << 32);
    v -= 0x3030303030303030u;
    v = v * 10 + (v >> 8);
    return (uint32_t) (((v & mask) * mul1 + ((v >> 16) & mask) * mul2) >> 32);
}
#else
#define EIGHT_AT_ONCE 0
#endif

/* nw_strtod_n: the text is s up to its NUL, and every byte of [s, limit)
 * may be read (limit <= s: none but those the scan reads one at a time, up
 * to the NUL).  8 digits in a row that end by
 * limit go into w at once while w holds at most 11 digits (19 after). */
static inline double strtod_limited(const char *s, const char *limit, char **end)
{
    const char *p = s;
    int negative = 0;
    if (*p == '-' || *p == '+') negative = *p++ == '-';
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) return strtod(s, end); /* hexadecimal */

    /* [digits][.digits]: w = the first 19 significant digits, value w 10^e10 */
    uint64_t w = 0;
    int significant = 0, e10 = 0, any_digit = 0;
    while (*p == '0') { p++; any_digit = 1; }
#if EIGHT_AT_ONCE
    while (significant <= 11 && limit - p >= 8 && eight_digits(load8(p))) {
        w = 100000000 * w + eight_digits_value(load8(p));
        p += 8;
        significant += 8;
        any_digit = 1;
    }
#endif
    for (; *p >= '0' && *p <= '9'; p++, significant++) {
        if (significant < 19) w = 10 * w + (uint64_t) (*p - '0');
        else e10++;
        any_digit = 1;
    }
    if (*p == '.') {
        p++;
        if (significant == 0)
            while (*p == '0') { p++; e10--; any_digit = 1; }
#if EIGHT_AT_ONCE
        while (significant <= 11 && limit - p >= 8 && eight_digits(load8(p))) {
            w = 100000000 * w + eight_digits_value(load8(p));
            p += 8;
            significant += 8;
            e10 -= 8;
            any_digit = 1;
        }
#endif
        for (; *p >= '0' && *p <= '9'; p++, significant++) {
            if (significant < 19) { w = 10 * w + (uint64_t) (*p - '0'); e10--; }
            any_digit = 1;
        }
    }
    /* no digits (".", "inf", blanks...) or more than 19: strtod's case */
    if (!any_digit || significant > 19) return strtod(s, end);
    if (*p == 'e' || *p == 'E') { /* the exponent counts only with a digit */
        const char *x = p + 1;
        int xneg = 0, xval = 0;
        if (*x == '-' || *x == '+') xneg = *x++ == '-';
        if (*x >= '0' && *x <= '9') {
            for (; *x >= '0' && *x <= '9'; x++)
                if (xval < 100000) xval = 10 * xval + (*x - '0');
            e10 += xneg ? -xval : xval; /* |e10| < 100019 + 10: no overflow */
            p = x;
        }
    }
    if (w == 0) {
        if (end) *end = (char *) p;
        return negative ? -0.0 : 0.0;
    }
    double v;
#if FLT_EVAL_METHOD == 0
    /* Clinger's fast path: w and 10^|e10| are exact doubles, and one
     * correctly rounded multiplication or division gives the result */
    if (w <= (uint64_t) 1 << 53 && e10 >= -22 && e10 <= 22) {
        v = (double) w;
        v = e10 >= 0 ? v * exact_pow10[e10] : v / exact_pow10[-e10];
        if (end) *end = (char *) p;
        return negative ? -v : v;
    }
#endif
    if (!eisel_lemire(w, e10, negative, &v)) return strtod(s, end);
    if (end) *end = (char *) p;
    return v;
}

double nw_strtod_n(const char *s, size_t len, char **end) { return strtod_limited(s, s + len, end); }
