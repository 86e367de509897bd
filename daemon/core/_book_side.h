/* Per side storage of daemon/core/_book.c: sorted int64 keys and their float quantities, in
 * parallel arrays (PyMem, so tracemalloc counts them), best (largest key) at the end. */
#ifndef BASISD_BOOK_SIDE_H
#define BASISD_BOOK_SIDE_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    int64_t *key;
    double *qty;
    Py_ssize_t n, cap;
} Side;

static int side_reserve(Side *s, Py_ssize_t need) {
    if (need <= s->cap) return 0;
    Py_ssize_t cap = s->cap < 16 ? 16 : s->cap + s->cap / 2;
    if (cap < need) cap = need;
    int64_t *k = PyMem_Realloc(s->key, (size_t)cap * sizeof(int64_t));
    if (!k) { PyErr_NoMemory(); return -1; }
    s->key = k;
    double *q = PyMem_Realloc(s->qty, (size_t)cap * sizeof(double));
    if (!q) { PyErr_NoMemory(); return -1; }
    s->qty = q;
    s->cap = cap;
    return 0;
}

/* First index i with key[i] >= k, galloping from the end (updates cluster at the touch). */
static Py_ssize_t lower_bound(const Side *s, int64_t k) {
    Py_ssize_t lo = 0, hi = s->n, step = 1;
    while (hi - step > 0) {
        Py_ssize_t c = hi - step;
        if (s->key[c] < k) { lo = c + 1; break; }
        hi = c;
        step <<= 1;
    }
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (s->key[mid] < k) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static int side_set(Side *s, int64_t k, double q) {
    Py_ssize_t i = lower_bound(s, k);
    int found = i < s->n && s->key[i] == k;
    if (q > 0.0) {
        if (found) { s->qty[i] = q; return 0; }
        if (side_reserve(s, s->n + 1) < 0) return -1;
        Py_ssize_t tail = s->n - i;
        if (tail) {
            memmove(s->key + i + 1, s->key + i, (size_t)tail * sizeof(int64_t));
            memmove(s->qty + i + 1, s->qty + i, (size_t)tail * sizeof(double));
        }
        s->key[i] = k;
        s->qty[i] = q;
        s->n++;
    } else if (found) {
        Py_ssize_t tail = s->n - i - 1;
        if (tail) {
            memmove(s->key + i, s->key + i + 1, (size_t)tail * sizeof(int64_t));
            memmove(s->qty + i, s->qty + i + 1, (size_t)tail * sizeof(double));
        }
        s->n--;
    }
    return 0;
}

#endif
