/* Text -> numbers for daemon/core/_book.c: decimal price text to an exact integer key, quantity
 * text to the float float() gives, and a scanner for the JSON text of [[price, qty], ...]. */
#ifndef BASISD_BOOK_TEXT_H
#define BASISD_BOOK_TEXT_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

static const uint64_t POW10[19] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
    1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
    1000000000000000000ULL};

/* Plain decimal text (digits, at most one '.', <= 18 significant digits) on the book's unit:
 * 1 and *out = unsigned key; 0 = not for the fast path (the exact Python path decides). */
static int text_key(long long units, long long scale, const char *p, Py_ssize_t len,
                    int64_t *out) {
    uint64_t m = 0;
    int sig = 0, frac = -1, any = 0;
    if (len <= 0 || len > 64) return 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9') {
            any = 1;
            if (frac >= 0) frac++;
            if (m == 0 && c == '0') continue;
            if (++sig > 18) return 0;
            m = m * 10 + (uint64_t)(c - '0');
        } else if (c == '.' && frac < 0) {
            frac = 0;
        } else {
            return 0;
        }
    }
    if (!any) return 0;
    if (frac < 0) frac = 0;
    if (frac > 18) return 0;
    /* key = m * scale / (10**frac * units), exactly or not at all */
    __int128 num = (__int128)m * (__int128)scale;
    __int128 den = (__int128)POW10[frac] * (__int128)units;
    __int128 q;
    if (num <= (__int128)UINT64_MAX && den <= (__int128)UINT64_MAX) {
        uint64_t un = (uint64_t)num, ud = (uint64_t)den;
        if (un % ud) return 0;
        q = un / ud;
    } else {
        if (num % den) return 0;
        q = num / den;
    }
    if (q > (__int128)INT64_MAX) return 0;
    *out = (int64_t)q;
    return 1;
}

static const double DPOW10[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A quantity as float(x) gives it: plain text here, anything else through float(). Plain
 * decimals with a mantissa below 2**53 and at most 22 decimals are one IEEE division of two
 * exact doubles, the correctly rounded value float() also returns (Clinger's fast path; it
 * skips PyOS_string_to_double, which costs more than the rest of a level update). */
static int text_qty(const char *p, Py_ssize_t len, double *out) {
    char buf[72];
    if (len <= 0 || len > 64) return 0;
    {
        uint64_t m = 0;
        int frac = -1, any = 0, ok = 1;
        for (Py_ssize_t i = 0; i < len && ok; i++) {
            char c = p[i];
            if (c >= '0' && c <= '9') {
                any = 1;
                if (frac >= 0) frac++;
                m = m * 10 + (uint64_t)(c - '0');
                if (m > (1ULL << 53)) ok = 0;
            } else if (c == '.' && frac < 0) {
                frac = 0;
            } else {
                ok = 0;
            }
        }
        if (ok && any && frac <= 22) {
            *out = frac > 0 ? (double)m / DPOW10[frac] : (double)m;
            return 1;
        }
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        char c = p[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+'))
            return 0;
    }
    memcpy(buf, p, (size_t)len);
    buf[len] = 0;
    char *end;
    double v = PyOS_string_to_double(buf, &end, NULL);
    if (end != buf + len) { PyErr_Clear(); return 0; }
    if (v == -1.0 && PyErr_Occurred()) { PyErr_Clear(); return 0; }
    *out = v;
    return 1;
}

#define WS(c) ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t')

typedef int (*level_fn)(void *ctx, const char *p, Py_ssize_t pl, const char *q, Py_ssize_t ql);

/* The JSON text [["p","q"], ...]: `fn` on each level's two strings, in order. 0 = done, -1 = `fn`
 * failed, 1 = not that shape (escapes, numbers, extra fields: the caller's slow path). */
static int scan_levels(const char *p, Py_ssize_t len, level_fn fn, void *ctx) {
    const char *e = p + len;
#define SKIP while (p < e && WS(*p)) p++
    SKIP;
    if (p >= e || *p++ != '[') return 1;
    SKIP;
    if (p < e && *p == ']') return 0;
    for (;;) {
        const char *s[2];
        Py_ssize_t l[2];
        SKIP;
        if (p >= e || *p++ != '[') return 1;
        for (int f = 0; f < 2; f++) {
            SKIP;
            if (p >= e || *p++ != '"') return 1;
            s[f] = p;
            while (p < e && *p != '"' && *p != '\\') p++;
            if (p >= e || *p != '"') return 1;
            l[f] = p - s[f];
            p++;
            SKIP;
            if (p >= e || *p++ != (f ? ']' : ',')) return 1;
        }
        if (fn(ctx, s[0], l[0], s[1], l[1]) < 0) return -1;
        SKIP;
        if (p >= e) return 1;
        if (*p == ']') return 0;
        if (*p++ != ',') return 1;
    }
#undef SKIP
}

#endif
