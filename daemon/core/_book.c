/* daemon.core._book: the compiled core of daemon/core/book.py (plain CPython C API).
 *
 * Same contract as the pure-Python core in daemon/core/book_core.py (tests/daemon/core/
 * test_book_native.py feeds both the same frames and compares): per side, a sorted array of int64
 * keys ("key space": +units on bids, -units on asks, best = largest = last) and a parallel array of
 * double quantities. Decimal price text is parsed straight into an exact integer key at the
 * book's unit; anything this fast parser does not take (off-grid, exponent, sign, > 18 digits,
 * non-str) goes to the Python method `_slow_key(price, grow)` - the one exact Decimal path, which
 * may refine the unit (`_rescale`). Levels come as a sequence of [price, qty, ...] or as the raw
 * JSON text of such an array (msgspec.Raw): the JSON form is parsed here without a Python object
 * per level; JSON it does not expect is handed to `_apply_json_slow(side, raw)` (re-applying
 * levels is idempotent, so a partial fast pass before it changes nothing).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

#include "_book_side.h"
#include "_book_text.h"

typedef struct {
    PyObject_HEAD
    Side s[2];
    long long units, scale, per_tick, tick_units, tick_scale;
    PyObject *last_update_id, *ts_ms;
} Core;

static PyObject *str_slow_key, *str_apply_json_slow;
static const double EXACT = 9007199254740992.0; /* 2**53 */

static int qty_of(PyObject *o, double *out) {
    if (PyFloat_CheckExact(o)) { *out = PyFloat_AS_DOUBLE(o); return 0; }
    if (PyUnicode_Check(o) && PyUnicode_IS_COMPACT_ASCII(o)
        && text_qty((const char *)PyUnicode_DATA(o), PyUnicode_GET_LENGTH(o), out))
        return 0;
    PyObject *f = PyNumber_Float(o);
    if (!f) return -1;
    *out = PyFloat_AS_DOUBLE(f);
    Py_DECREF(f);
    return 0;
}

/* Unsigned key of a price object; 1 = key, 0 = no level can sit there (not grow), -1 = error. */
static int key_of(Core *self, PyObject *price, int grow, int64_t *out) {
    if (PyUnicode_Check(price) && PyUnicode_IS_COMPACT_ASCII(price)
        && text_key(self->units, self->scale, (const char *)PyUnicode_DATA(price), PyUnicode_GET_LENGTH(price), out))
        return 1;
    PyObject *r = PyObject_CallMethodObjArgs((PyObject *)self, str_slow_key, price,
                                             grow ? Py_True : Py_False, NULL);
    if (!r) return -1;
    if (r == Py_None) { Py_DECREF(r); return 0; }
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(r, &overflow);
    Py_DECREF(r);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (overflow || v == INT64_MIN) {
        PyErr_SetString(PyExc_ValueError, "price is beyond the book's 64-bit key range");
        return -1;
    }
    *out = v;
    return 1;
}

/* One level: price and qty as objects. */
static int apply_one(Core *self, int side, PyObject *price, PyObject *qtyo) {
    double q;
    int64_t k;
    if (qty_of(qtyo, &q) < 0) return -1;
    int r = key_of(self, price, q > 0.0, &k);
    if (r <= 0) return r;
    return side_set(&self->s[side], side ? -k : k, q);
}

/* One level from JSON text spans. */
static int apply_span(Core *self, int side, const char *p, Py_ssize_t pl, const char *qs,
                      Py_ssize_t ql) {
    double q;
    int64_t k;
    if (!text_qty(qs, ql, &q)) {
        PyObject *t = PyUnicode_DecodeUTF8(qs, ql, NULL);
        if (!t) return -1;
        int r = qty_of(t, &q);
        Py_DECREF(t);
        if (r < 0) return -1;
    }
    if (!text_key(self->units, self->scale, p, pl, &k)) {
        PyObject *t = PyUnicode_DecodeUTF8(p, pl, NULL);
        if (!t) return -1;
        int r = key_of(self, t, q > 0.0, &k);
        Py_DECREF(t);
        if (r <= 0) return r;
    }
    return side_set(&self->s[side], side ? -k : k, q);
}

typedef struct { Core *self; int side; } SpanCtx;

static int span_fn(void *ctx, const char *p, Py_ssize_t pl, const char *q, Py_ssize_t ql) {
    SpanCtx *c = ctx;
    return apply_span(c->self, c->side, p, pl, q, ql);
}

/* [["p","q"], ...]: 0 done, -1 error, 1 not the expected shape (slow path). */
static int apply_json(Core *self, int side, const char *p, Py_ssize_t len) {
    SpanCtx ctx = {self, side};
    return scan_levels(p, len, span_fn, &ctx);
}

static int get_side(PyObject *o, int *side) {
    long v = PyLong_AsLong(o);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v != 0 && v != 1) { PyErr_SetString(PyExc_ValueError, "side must be BID (0) or ASK (1)"); return -1; }
    *side = (int)v;
    return 0;
}

static int item2(PyObject *lv, PyObject **a, PyObject **b) {  /* new references */
    if (PyTuple_CheckExact(lv) && PyTuple_GET_SIZE(lv) >= 2) {
        *a = PyTuple_GET_ITEM(lv, 0); *b = PyTuple_GET_ITEM(lv, 1);
        Py_INCREF(*a); Py_INCREF(*b);
        return 0;
    }
    if (PyList_CheckExact(lv) && PyList_GET_SIZE(lv) >= 2) {
        *a = PyList_GET_ITEM(lv, 0); *b = PyList_GET_ITEM(lv, 1);
        Py_INCREF(*a); Py_INCREF(*b);
        return 0;
    }
    *a = PySequence_GetItem(lv, 0);
    if (!*a) return -1;
    *b = PySequence_GetItem(lv, 1);
    if (!*b) { Py_CLEAR(*a); return -1; }
    return 0;
}

static int apply_item(Core *self, int side, PyObject *lv) {
    PyObject *a, *b;
    if (item2(lv, &a, &b) < 0) return -1;
    int r = apply_one(self, side, a, b);
    Py_DECREF(a);
    Py_DECREF(b);
    return r;
}

static int apply_levels_obj(Core *self, int side, PyObject *levels) {
    if (PyList_CheckExact(levels) || PyTuple_CheckExact(levels)) {
        /* Index each time: a slow-path callback could in principle mutate a list. */
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(levels); i++) {
            PyObject *lv = PySequence_Fast_GET_ITEM(levels, i);
            Py_INCREF(lv);
            int r = apply_item(self, side, lv);
            Py_DECREF(lv);
            if (r < 0) return -1;
        }
        return 0;
    }
    if (PyObject_CheckBuffer(levels) && !PyUnicode_Check(levels)) {
        Py_buffer view;
        if (PyObject_GetBuffer(levels, &view, PyBUF_SIMPLE) < 0) return -1;
        int r = apply_json(self, side, (const char *)view.buf, view.len);
        PyBuffer_Release(&view);
        if (r != 1) return r;
        PyObject *side_o = PyLong_FromLong(side);
        if (!side_o) return -1;
        PyObject *x = PyObject_CallMethodObjArgs((PyObject *)self, str_apply_json_slow, side_o,
                                                 levels, NULL);
        Py_DECREF(side_o);
        if (!x) return -1;
        Py_DECREF(x);
        return 0;
    }
    PyObject *it = PyObject_GetIter(levels);
    if (!it) return -1;
    PyObject *lv;
    while ((lv = PyIter_Next(it))) {
        int r = apply_item(self, side, lv);
        Py_DECREF(lv);
        if (r < 0) { Py_DECREF(it); return -1; }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* ------------------------------------------------------------------ prices */
/* units * unsigned_key / den_mul*scale as the correctly rounded float Python's int / int gives. */
static PyObject *price_obj(const Core *self, __int128 ukey, long long den_mul) {
    __int128 num = ukey * self->units;
    __int128 den = (__int128)self->scale * den_mul;
    if (num < (__int128)EXACT && num > -(__int128)EXACT && den < (__int128)EXACT)
        return PyFloat_FromDouble((double)(long long)num / (double)(long long)den);
    /* |ukey| < 2**64: two halves keep it exact */
    PyObject *k = NULL, *u = PyLong_FromLongLong(self->units);
    {
        int neg = ukey < 0;
        unsigned __int128 a = neg ? -(unsigned __int128)ukey : (unsigned __int128)ukey;
        PyObject *lo = PyLong_FromUnsignedLongLong((unsigned long long)a);
        PyObject *nk = (lo && neg) ? PyNumber_Negative(lo) : NULL;
        if (neg) { Py_XDECREF(lo); k = nk; } else k = lo;
    }
    PyObject *s = PyLong_FromUnsignedLongLong((unsigned long long)self->scale * (unsigned long long)den_mul);  /* scale <= 2**62 */
    PyObject *n = (k && u) ? PyNumber_Multiply(k, u) : NULL;
    PyObject *r = (n && s) ? PyNumber_TrueDivide(n, s) : NULL;
    Py_XDECREF(k); Py_XDECREF(u); Py_XDECREF(s); Py_XDECREF(n);
    return r;
}

static PyObject *level_tuple(const Core *self, int side, Py_ssize_t i) {
    const Side *s = &self->s[side];
    PyObject *p = price_obj(self, side ? -(__int128)s->key[i] : (__int128)s->key[i], 1);
    if (!p) return NULL;
    PyObject *q = PyFloat_FromDouble(s->qty[i]);
    if (!q) { Py_DECREF(p); return NULL; }
    PyObject *t = PyTuple_Pack(2, p, q);
    Py_DECREF(p); Py_DECREF(q);
    return t;
}

/* ------------------------------------------------------------------ type */
static PyObject *Core_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    Core *self = (Core *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->units = self->scale = self->per_tick = self->tick_units = self->tick_scale = 1;
    self->last_update_id = PyLong_FromLong(0);
    self->ts_ms = PyLong_FromLong(0);
    if (!self->last_update_id || !self->ts_ms) { Py_DECREF(self); return NULL; }
    return (PyObject *)self;
}

static void Core_dealloc(Core *self) {
    for (int i = 0; i < 2; i++) { PyMem_Free(self->s[i].key); PyMem_Free(self->s[i].qty); }
    Py_CLEAR(self->last_update_id);
    Py_CLEAR(self->ts_ms);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Core_set_grid(Core *self, PyObject *args) {
    long long units, scale;
    if (!PyArg_ParseTuple(args, "LL", &units, &scale)) return NULL;
    if (units <= 0 || scale <= 0 || scale > (1LL << 62)) {
        PyErr_SetString(PyExc_ValueError, "tick is beyond the book's 64-bit key range");
        return NULL;
    }
    self->units = self->tick_units = units;
    self->scale = self->tick_scale = scale;
    self->per_tick = 1;
    Py_RETURN_NONE;
}

static PyObject *Core_rescale(Core *self, PyObject *arg) {
    long long f = PyLong_AsLongLong(arg);
    if (f == -1 && PyErr_Occurred()) return NULL;
    if (f <= 0 || self->scale > ((1LL << 62) / f) || self->per_tick > (INT64_MAX / f)) goto range;
    for (int i = 0; i < 2; i++) {
        Side *s = &self->s[i];
        for (Py_ssize_t j = 0; j < s->n; j++) {
            int64_t k = s->key[j];
            if (k > INT64_MAX / f || k < -(INT64_MAX / f)) goto range;
        }
    }
    for (int i = 0; i < 2; i++)
        for (Py_ssize_t j = 0; j < self->s[i].n; j++) self->s[i].key[j] *= f;
    self->scale *= f;
    self->per_tick *= f;
    Py_RETURN_NONE;
range:
    PyErr_SetString(PyExc_ValueError, "price is beyond the book's 64-bit key range");
    return NULL;
}

static void back_to_grid(Core *self) {
    self->units = self->tick_units;
    self->scale = self->tick_scale;
    self->per_tick = 1;
}

static PyObject *Core_clear(Core *self, PyObject *unused) {
    self->s[0].n = self->s[1].n = 0;
    back_to_grid(self);
    Py_RETURN_NONE;
}

static PyObject *Core_apply_levels(Core *self, PyObject *const *args, Py_ssize_t n) {
    int side;
    if (n != 2) { PyErr_SetString(PyExc_TypeError, "apply_levels(side, levels)"); return NULL; }
    if (get_side(args[0], &side) < 0 || apply_levels_obj(self, side, args[1]) < 0) return NULL;
    Py_RETURN_NONE;
}

static int crossed(const Core *self) {
    const Side *b = &self->s[0], *a = &self->s[1];
    return b->n && a->n && b->key[b->n - 1] >= -a->key[a->n - 1];
}

/* apply_update(bids, asks, update_id, ts_ms) -> crossed: one diff, both sides and its ids. */
static PyObject *Core_apply_update(Core *self, PyObject *const *args, Py_ssize_t n) {
    if (n != 4) { PyErr_SetString(PyExc_TypeError, "apply_update(bids, asks, update_id, ts_ms)"); return NULL; }
    if (apply_levels_obj(self, 0, args[0]) < 0 || apply_levels_obj(self, 1, args[1]) < 0)
        return NULL;
    Py_INCREF(args[2]);
    Py_XSETREF(self->last_update_id, args[2]);
    Py_INCREF(args[3]);
    Py_XSETREF(self->ts_ms, args[3]);
    return PyBool_FromLong(crossed(self));
}

typedef struct { int64_t key; Py_ssize_t ord; double qty; } Entry;

static int entry_cmp(const void *x, const void *y) {
    const Entry *a = x, *b = y;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return a->ord < b->ord ? -1 : (a->ord > b->ord);
}

/* One side of a snapshot: parse everything, then one sort (or none: venues send best first). */
static int load_side(Core *self, int side, PyObject *levels) {
    PyObject *seq = PySequence_Fast(levels, "levels must be iterable");
    if (!seq) return -1;
    Py_ssize_t m = PySequence_Fast_GET_SIZE(seq), cnt = 0;
    Entry *tmp = PyMem_Malloc((size_t)(m ? m : 1) * sizeof(Entry));
    if (!tmp) { Py_DECREF(seq); PyErr_NoMemory(); return -1; }
    int ok = -1, desc = 1;
    for (Py_ssize_t i = 0; i < m; i++) {
        PyObject *a, *b;
        double q;
        int64_t k;
        if (item2(PySequence_Fast_GET_ITEM(seq, i), &a, &b) < 0) goto done;
        long long pt = self->per_tick;
        int r = qty_of(b, &q);
        if (r == 0) r = key_of(self, a, q > 0.0, &k);
        Py_DECREF(a); Py_DECREF(b);
        if (r < 0) goto done;
        if (self->per_tick != pt) {  /* the slow path refined the unit: rescale what we hold */
            long long f = self->per_tick / pt;
            for (Py_ssize_t j = 0; j < cnt; j++) tmp[j].key *= f;
        }
        if (r == 0) continue;
        tmp[cnt].key = side ? -k : k;
        tmp[cnt].ord = cnt;
        tmp[cnt].qty = q;
        if (cnt && tmp[cnt].key >= tmp[cnt - 1].key) desc = 0;
        cnt++;
    }
    if (!desc) qsort(tmp, (size_t)cnt, sizeof(Entry), entry_cmp);
    else for (Py_ssize_t i = 0, j = cnt - 1; i < j; i++, j--) { Entry t = tmp[i]; tmp[i] = tmp[j]; tmp[j] = t; }
    Side *s = &self->s[side];
    s->n = 0;
    if (side_reserve(s, cnt) < 0) goto done;
    for (Py_ssize_t i = 0; i < cnt; i++) {
        if (i + 1 < cnt && tmp[i + 1].key == tmp[i].key) continue;  /* a later one wins */
        if (tmp[i].qty > 0.0) { s->key[s->n] = tmp[i].key; s->qty[s->n] = tmp[i].qty; s->n++; }
    }
    ok = 0;
done:
    PyMem_Free(tmp);
    Py_DECREF(seq);
    return ok;
}

static PyObject *Core_load_snapshot(Core *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"bids", "asks", "last_update_id", "ts_ms", NULL};
    PyObject *bids, *asks, *uid = Py_None, *ts = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$OO", kwlist, &bids, &asks, &uid, &ts))
        return NULL;
    self->s[0].n = self->s[1].n = 0;
    if (load_side(self, 0, bids) < 0 || load_side(self, 1, asks) < 0) {
        self->s[0].n = self->s[1].n = 0;  /* a snapshot that cannot be read leaves no half a book */
        return NULL;
    }
    if (uid != Py_None) { Py_INCREF(uid); Py_XSETREF(self->last_update_id, uid); }
    if (ts != Py_None) { Py_INCREF(ts); Py_XSETREF(self->ts_ms, ts); }
    Py_RETURN_NONE;
}

static PyObject *best(Core *self, int side) {
    if (!self->s[side].n) Py_RETURN_NONE;
    return level_tuple(self, side, self->s[side].n - 1);
}
static PyObject *Core_best_bid(Core *self, PyObject *u) { return best(self, 0); }
static PyObject *Core_best_ask(Core *self, PyObject *u) { return best(self, 1); }

static PyObject *Core_mid(Core *self, PyObject *u) {
    const Side *b = &self->s[0], *a = &self->s[1];
    if (!b->n || !a->n) Py_RETURN_NONE;
    return price_obj(self, (__int128)b->key[b->n - 1] - a->key[a->n - 1], 2);
}

static PyObject *Core_is_crossed(Core *self, PyObject *u) { return PyBool_FromLong(crossed(self)); }

static PyObject *Core_count(Core *self, PyObject *arg) {
    int side;
    if (get_side(arg, &side) < 0) return NULL;
    return PyLong_FromSsize_t(self->s[side].n);
}

static PyObject *Core_best_key(Core *self, PyObject *arg) {
    int side;
    if (get_side(arg, &side) < 0) return NULL;
    const Side *s = &self->s[side];
    if (!s->n) Py_RETURN_NONE;
    return PyLong_FromLongLong(s->key[s->n - 1]);
}

/* levels(side, n): up to n (price, qty), best first. */
static int side_and_n(PyObject *args, int *side, Py_ssize_t *n) {  /* (side, n), n >= 0 */
    PyObject *so;
    if (!PyArg_ParseTuple(args, "On", &so, n) || get_side(so, side) < 0) return -1;
    if (*n < 0) *n = 0;
    return 0;
}

static PyObject *Core_levels(Core *self, PyObject *args) {
    int side;
    Py_ssize_t n;
    if (side_and_n(args, &side, &n) < 0) return NULL;
    const Side *s = &self->s[side];
    if (n > s->n) n = s->n;
    PyObject *out = PyList_New(n);
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = level_tuple(self, side, s->n - 1 - i);
        if (!t) { Py_DECREF(out); return NULL; }
        PyList_SET_ITEM(out, i, t);
    }
    return out;
}

static PyObject *key_list(const Side *s, Py_ssize_t from) {  /* [(key, qty)] from the best down to from */
    Py_ssize_t n = s->n - from;
    PyObject *out = PyList_New(n > 0 ? n : 0);
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t j = s->n - 1 - i;
        PyObject *t = Py_BuildValue("(Ld)", (long long)s->key[j], s->qty[j]);
        if (!t) { Py_DECREF(out); return NULL; }
        PyList_SET_ITEM(out, i, t);
    }
    return out;
}

/* _top(side, n): up to n (key, qty) in key space, best first. */
static PyObject *Core_top(Core *self, PyObject *args) {
    int side;
    Py_ssize_t n;
    if (side_and_n(args, &side, &n) < 0) return NULL;
    const Side *s = &self->s[side];
    return key_list(s, n >= s->n ? 0 : s->n - n);
}

/* _within(side, lo): every (key, qty) with key >= lo (None: all), best first. */
static PyObject *Core_within(Core *self, PyObject *args) {
    int side;
    PyObject *so, *lo;
    if (!PyArg_ParseTuple(args, "OO", &so, &lo) || get_side(so, &side) < 0) return NULL;
    const Side *s = &self->s[side];
    if (lo == Py_None) return key_list(s, 0);
    long long k = PyLong_AsLongLong(lo);
    if (k == -1 && PyErr_Occurred()) return NULL;
    return key_list(s, lower_bound(s, k));
}

static PyObject *Core_qty_key(Core *self, PyObject *args) {
    int side;
    PyObject *so;
    long long k;
    if (!PyArg_ParseTuple(args, "OL", &so, &k) || get_side(so, &side) < 0) return NULL;
    const Side *s = &self->s[side];
    Py_ssize_t i = lower_bound(s, k);
    return PyFloat_FromDouble(i < s->n && s->key[i] == k ? s->qty[i] : 0.0);
}

static PyObject *Core_set_key(Core *self, PyObject *args) {
    int side;
    PyObject *so;
    long long k;
    double q;
    if (!PyArg_ParseTuple(args, "OLd", &so, &k, &q) || get_side(so, &side) < 0) return NULL;
    if (side_set(&self->s[side], k, q) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Core_trim(Core *self, PyObject *args) {
    int side;
    Py_ssize_t keep;
    if (side_and_n(args, &side, &keep) < 0) return NULL;
    Side *s = &self->s[side];
    Py_ssize_t excess = s->n - keep;
    if (excess <= 0) return PyLong_FromLong(0);
    memmove(s->key, s->key + excess, (size_t)(s->n - excess) * sizeof(int64_t));
    memmove(s->qty, s->qty + excess, (size_t)(s->n - excess) * sizeof(double));
    s->n -= excess;
    return PyLong_FromSsize_t(excess);
}

static PyTypeObject CoreType;

static PyObject *Core_copy_core(Core *self, PyObject *arg) {
    if (!PyObject_TypeCheck(arg, &CoreType)) { PyErr_SetString(PyExc_TypeError, "not a book"); return NULL; }
    Core *o = (Core *)arg;
    for (int i = 0; i < 2; i++) {
        o->s[i].n = 0;
        if (side_reserve(&o->s[i], self->s[i].n) < 0) return NULL;
        memcpy(o->s[i].key, self->s[i].key, (size_t)self->s[i].n * sizeof(int64_t));
        memcpy(o->s[i].qty, self->s[i].qty, (size_t)self->s[i].n * sizeof(double));
        o->s[i].n = self->s[i].n;
    }
    o->units = self->units; o->scale = self->scale; o->per_tick = self->per_tick;
    o->tick_units = self->tick_units; o->tick_scale = self->tick_scale;
    Py_INCREF(self->last_update_id); Py_XSETREF(o->last_update_id, self->last_update_id);
    Py_INCREF(self->ts_ms); Py_XSETREF(o->ts_ms, self->ts_ms);
    Py_RETURN_NONE;
}

static PyObject *Core_sizeof(Core *self, PyObject *u) {
    return PyLong_FromSsize_t(Py_TYPE(self)->tp_basicsize
                              + (self->s[0].cap + self->s[1].cap) * 16);
}

static PyMethodDef Core_methods[] = {
    {"apply_levels", (PyCFunction)(void (*)(void))Core_apply_levels, METH_FASTCALL, NULL},
    {"apply_update", (PyCFunction)(void (*)(void))Core_apply_update, METH_FASTCALL, NULL},
    {"load_snapshot", (PyCFunction)(void (*)(void))Core_load_snapshot, METH_VARARGS | METH_KEYWORDS, NULL},
    {"clear", (PyCFunction)Core_clear, METH_NOARGS, NULL},
    {"best_bid", (PyCFunction)Core_best_bid, METH_NOARGS, NULL},
    {"best_ask", (PyCFunction)Core_best_ask, METH_NOARGS, NULL},
    {"mid", (PyCFunction)Core_mid, METH_NOARGS, NULL},
    {"is_crossed", (PyCFunction)Core_is_crossed, METH_NOARGS, NULL},
    {"count", (PyCFunction)Core_count, METH_O, NULL},
    {"levels", (PyCFunction)Core_levels, METH_VARARGS, NULL},
    {"trim", (PyCFunction)Core_trim, METH_VARARGS, NULL},
    {"_best_key", (PyCFunction)Core_best_key, METH_O, NULL},
    {"_top", (PyCFunction)Core_top, METH_VARARGS, NULL},
    {"_within", (PyCFunction)Core_within, METH_VARARGS, NULL},
    {"_qty_key", (PyCFunction)Core_qty_key, METH_VARARGS, NULL},
    {"_set_key", (PyCFunction)Core_set_key, METH_VARARGS, NULL},
    {"_set_grid", (PyCFunction)Core_set_grid, METH_VARARGS, NULL},
    {"_rescale", (PyCFunction)Core_rescale, METH_O, NULL},
    {"_copy_core", (PyCFunction)Core_copy_core, METH_O, NULL},
    {"__sizeof__", (PyCFunction)Core_sizeof, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyMemberDef Core_members[] = {
    {"_units", T_LONGLONG, offsetof(Core, units), READONLY, NULL},
    {"_scale", T_LONGLONG, offsetof(Core, scale), READONLY, NULL},
    {"_per_tick", T_LONGLONG, offsetof(Core, per_tick), READONLY, NULL},
    {"_tick_units", T_LONGLONG, offsetof(Core, tick_units), READONLY, NULL},
    {"_tick_scale", T_LONGLONG, offsetof(Core, tick_scale), READONLY, NULL},
    {"last_update_id", T_OBJECT_EX, offsetof(Core, last_update_id), 0, NULL},
    {"ts_ms", T_OBJECT_EX, offsetof(Core, ts_ms), 0, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "daemon.core._book.BookCore",
    .tp_basicsize = sizeof(Core),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Compiled core of daemon.core.book.OrderBook (see book_core.PyBookCore).",
    .tp_new = Core_new,
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_methods = Core_methods,
    .tp_members = Core_members,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "daemon.core._book", NULL, -1, NULL};

PyMODINIT_FUNC PyInit__book(void) {
    if (PyType_Ready(&CoreType) < 0) return NULL;
    str_slow_key = PyUnicode_InternFromString("_slow_key");
    str_apply_json_slow = PyUnicode_InternFromString("_apply_json_slow");
    if (!str_slow_key || !str_apply_json_slow) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&CoreType);
    if (PyModule_AddObject(m, "BookCore", (PyObject *)&CoreType) < 0) {
        Py_DECREF(&CoreType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
