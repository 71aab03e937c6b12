/* Two counting loops that numpy can only do through a sort or an intp copy.
 * Optional: kcomplexity falls back to numpy when this module is not built (same results). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int as_int64_out(Py_buffer *b, Py_ssize_t n, const char *what) {
    if (b->len != n * (Py_ssize_t)sizeof(int64_t)) {
        PyErr_Format(PyExc_ValueError, "%s must hold %zd int64 values", what, n);
        return 0;
    }
    return 1;
}

/* histogram_uN(values: uintN buffer, out: int64 buffer of n bins): out[v] += 1 for each v, or
 * ValueError (out unchanged) when a value is n or more. */
#define HISTOGRAM(NAME, TYPE)                                                                   \
    static PyObject *NAME(PyObject *self, PyObject *args) {                                     \
        Py_buffer src, out;                                                                     \
        if (!PyArg_ParseTuple(args, "y*w*", &src, &out))                                        \
            return NULL;                                                                        \
        const TYPE *v = src.buf;                                                                \
        int64_t *bins = out.buf;                                                                \
        Py_ssize_t n = src.len / (Py_ssize_t)sizeof(TYPE), nbins = out.len / 8, bad = -1;       \
        Py_BEGIN_ALLOW_THREADS                                                                  \
        for (Py_ssize_t i = 0; i < n; i++) {                                                    \
            if (v[i] >= (uint64_t)nbins) { bad = i; break; }                                    \
            bins[v[i]]++;                                                                       \
        }                                                                                       \
        for (Py_ssize_t i = 0; i < bad; i++) /* an error leaves out as it was */                \
            bins[v[i]]--;                                                                       \
        Py_END_ALLOW_THREADS                                                                    \
        PyBuffer_Release(&src);                                                                 \
        PyBuffer_Release(&out);                                                                 \
        if (bad >= 0)                                                                           \
            return PyErr_Format(PyExc_ValueError, "value at %zd is outside the %zd bins", bad, nbins); \
        Py_RETURN_NONE;                                                                         \
    }

HISTOGRAM(histogram_u16, uint16_t)
HISTOGRAM(histogram_u32, uint32_t)

/* tile_runs(codes, per_row, distinct_by_code, every_by_code | None, multiplicities):
 * codes: uint16, one tile per row of per_row codes. Per tile, each distinct code c adds 1 to
 * distinct_by_code[c], its count n in the tile adds n to every_by_code[c] (when given) and 1 to
 * multiplicities[n] (per_row + 1 bins). No sort: a stamp per code marks the tile that saw it. */
static PyObject *tile_runs(PyObject *self, PyObject *args) {
    Py_buffer src, distinct, every = {0}, mult;
    Py_ssize_t per_row;
    PyObject *every_obj;
    if (!PyArg_ParseTuple(args, "y*nw*Ow*", &src, &per_row, &distinct, &every_obj, &mult))
        return NULL;
    PyObject *result = NULL;
    int has_every = every_obj != Py_None;
    if (has_every && PyObject_GetBuffer(every_obj, &every, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        goto done;
    Py_ssize_t n = src.len / 2, n_codes = distinct.len / 8;
    if (per_row <= 0 || n % per_row || n_codes > 65536 || !as_int64_out(&mult, per_row + 1, "multiplicities")
        || (has_every && !as_int64_out(&every, n_codes, "every_by_code"))) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "codes must be whole rows of per_row > 0 codes, at most 65536 bins");
        goto done;
    }
    uint32_t *stamp = calloc(n_codes, sizeof(uint32_t)), *count = malloc(n_codes * sizeof(uint32_t));
    uint16_t *seen = malloc(per_row * sizeof(uint16_t));
    if (!stamp || !count || !seen) {
        free(stamp); free(count); free(seen);
        PyErr_NoMemory();
        goto done;
    }
    const uint16_t *codes = src.buf;
    int64_t *by_code = distinct.buf, *all = has_every ? every.buf : NULL, *hist = mult.buf;
    Py_ssize_t bad = -1;
    Py_BEGIN_ALLOW_THREADS
    uint16_t top = 0;  /* codes checked first (a vectorised max): an error changes no output */
    for (Py_ssize_t i = 0; i < n; i++)
        top = codes[i] > top ? codes[i] : top;
    for (Py_ssize_t i = 0; top >= n_codes && bad < 0; i++)
        if (codes[i] >= n_codes)
            bad = i;
    uint32_t tile = 0;
    for (Py_ssize_t start = 0; start < n && bad < 0; start += per_row) {
        Py_ssize_t k = 0;
        if (++tile == 0) {  /* stamps wrapped around: forget them all */
            memset(stamp, 0, n_codes * sizeof(uint32_t));
            tile = 1;
        }
        for (Py_ssize_t i = start; i < start + per_row; i++) {
            uint16_t c = codes[i];
            if (stamp[c] != tile) { stamp[c] = tile; count[c] = 1; seen[k++] = c; }
            else count[c]++;
        }
        for (Py_ssize_t j = 0; j < k; j++) {
            uint16_t c = seen[j];
            by_code[c]++;
            hist[count[c]]++;
            if (all) all[c] += count[c];
        }
    }
    Py_END_ALLOW_THREADS
    free(stamp); free(count); free(seen);
    if (bad >= 0) {
        PyErr_Format(PyExc_ValueError, "code at %zd is outside the %zd bins", bad, n_codes);
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&src);
    PyBuffer_Release(&distinct);
    PyBuffer_Release(&mult);
    if (has_every && every.obj)
        PyBuffer_Release(&every);
    return result;
}

static PyMethodDef methods[] = {
    {"histogram_u16", histogram_u16, METH_VARARGS, "out[v] += 1 for each uint16 v (int64 bins)."},
    {"histogram_u32", histogram_u32, METH_VARARGS, "out[v] += 1 for each uint32 v (int64 bins)."},
    {"tile_runs", tile_runs, METH_VARARGS,
     "Per tile (row) of uint16 codes: distinct codes, every code's count and the multiplicities."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
