/* The Arrow C data interface for logtool/_native.c: string-view arrays handed to and from polars
 * without pyarrow (https://arrow.apache.org/docs/format/CDataInterface.html and its PyCapsule
 * protocol). Included once, by _native.c.
 *
 * strings(stream) reads polars' one-chunk string-view array (Series.__arrow_c_stream__) into a
 * Strings object: its length, offset, null count, and its buffers as Buf objects (each one keeps
 * the array alive through the buffer protocol, so a view into polars' memory never outlives it;
 * the array goes when the last of them does).
 * export_strings(name, n, views, data, validity) wraps buffers (bytes, bytearray, memoryview, Buf)
 * as an object with __arrow_c_array__, which polars' Series constructor takes without a copy;
 * the buffers are held until polars releases the array. export_numbers(name, n, format, values,
 * validity) does the same for int64 and int16 values.
 */
#include <stdlib.h>

struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

struct ArrowArrayStream {
    int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
    int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
    const char *(*get_last_error)(struct ArrowArrayStream *);
    void (*release)(struct ArrowArrayStream *);
    void *private_data;
};

#define ARROW_FLAG_NULLABLE 2

/* ---- Buf: one buffer of an imported array, exported through the buffer protocol ---------- */

typedef struct {
    PyObject_HEAD PyObject *owner; /* the Strings whose array holds the memory */
    const void *ptr;
    Py_ssize_t len;
} Buf;

static int buf_getbuffer(PyObject *self, Py_buffer *view, int flags) {
    Buf *b = (Buf *)self;
    return PyBuffer_FillInfo(view, self, (void *)b->ptr, b->len, 1, flags);
}

static void buf_dealloc(PyObject *self) {
    Py_XDECREF(((Buf *)self)->owner);
    Py_TYPE(self)->tp_free(self);
}

static PyBufferProcs buf_as_buffer = {buf_getbuffer, NULL};

static PyTypeObject BufType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "logtool._native.Buf",
    .tp_basicsize = sizeof(Buf),
    .tp_dealloc = buf_dealloc,
    .tp_as_buffer = &buf_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A read-only buffer of an imported Arrow array.",
};

static PyObject *make_buf(PyObject *owner, const void *ptr, Py_ssize_t len) {
    Buf *b = PyObject_New(Buf, &BufType);
    if (b == NULL) return NULL;
    Py_INCREF(owner);
    b->owner = owner;
    b->ptr = ptr ? ptr : "";
    b->len = ptr ? len : 0;
    return (PyObject *)b;
}

/* ---- Strings: an imported string-view array --------------------------------------------- */

typedef struct {
    PyObject_HEAD struct ArrowArray array; /* released with the object */
} Strings;

static void strings_dealloc(PyObject *self) {
    Strings *s = (Strings *)self;
    if (s->array.release != NULL) s->array.release(&s->array);
    Py_TYPE(self)->tp_free(self);
}

/* Its buffers as new Buf objects on every access: a Buf refers to its Strings, never the other
 * way round (a cycle of these types would never be freed). */
static PyObject *strings_get(PyObject *self, void *which) {
    struct ArrowArray *a = &((Strings *)self)->array;
    Py_ssize_t rows = (Py_ssize_t)(a->offset + a->length);
    switch ((intptr_t)which) {
    case 0: return PyLong_FromLongLong(a->length);
    case 1: return PyLong_FromLongLong(a->offset);
    case 2: return PyLong_FromLongLong(a->null_count);
    case 3: return make_buf(self, a->n_buffers ? a->buffers[1] : NULL, rows * 16);
    case 4:
        if (!a->n_buffers || a->buffers[0] == NULL) Py_RETURN_NONE;
        return make_buf(self, a->buffers[0], (rows + 7) / 8);
    default: {
        Py_ssize_t ndata = a->n_buffers ? (Py_ssize_t)a->n_buffers - 3 : 0;
        const int64_t *sizes = ndata ? a->buffers[a->n_buffers - 1] : NULL;
        PyObject *t = PyTuple_New(ndata);
        for (Py_ssize_t k = 0; t != NULL && k < ndata; k++) {
            PyObject *b = make_buf(self, a->buffers[2 + k], sizes != NULL ? (Py_ssize_t)sizes[k] : 0);
            if (b == NULL) Py_CLEAR(t);
            else PyTuple_SET_ITEM(t, k, b);
        }
        return t;
    }
    }
}

static PyGetSetDef strings_getset[] = {
    {"length", strings_get, NULL, "rows", (void *)0},
    {"offset", strings_get, NULL, "the first row's index in the buffers", (void *)1},
    {"null_count", strings_get, NULL, "null rows", (void *)2},
    {"views", strings_get, NULL, "the 16-byte views (from row 0 of the buffers)", (void *)3},
    {"validity", strings_get, NULL, "the validity bitmap, or None", (void *)4},
    {"data", strings_get, NULL, "the data buffers", (void *)5},
    {NULL},
};

static PyTypeObject StringsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "logtool._native.Strings",
    .tp_basicsize = sizeof(Strings),
    .tp_dealloc = strings_dealloc,
    .tp_getset = strings_getset,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A string-view array imported from polars.",
};

/* strings(stream_capsule) -> Strings, or None when the array is not one chunk of string views. */
static PyObject *strings(PyObject *self, PyObject *capsule) {
    struct ArrowArrayStream *stream = PyCapsule_GetPointer(capsule, "arrow_array_stream");
    if (stream == NULL) return NULL;
    struct ArrowSchema schema = {0};
    if (stream->get_schema(stream, &schema) != 0) {
        PyErr_SetString(PyExc_ValueError, "the Arrow stream has no schema");
        return NULL;
    }
    int is_views = schema.format != NULL && strcmp(schema.format, "vu") == 0;
    if (schema.release != NULL) schema.release(&schema);
    if (!is_views) Py_RETURN_NONE;
    Strings *s = PyObject_New(Strings, &StringsType);
    if (s == NULL) return NULL;
    memset(&s->array, 0, sizeof(s->array));
    struct ArrowArray next = {0};
    int chunks = 0;
    for (;;) {
        if (stream->get_next(stream, &next) != 0) {
            PyErr_SetString(PyExc_ValueError, "the Arrow stream failed");
            Py_DECREF(s);
            return NULL;
        }
        if (next.release == NULL) break; /* the end of the stream */
        if (++chunks > 1) {
            next.release(&next);
            Py_DECREF(s);
            Py_RETURN_NONE; /* several chunks: the caller rechunks or falls back */
        }
        s->array = next;
        memset(&next, 0, sizeof(next));
    }
    struct ArrowArray *a = &s->array;
    if (chunks && (a->n_buffers < 3 || a->n_children != 0 || a->length < 0 || a->offset < 0 ||
                   a->buffers[a->n_buffers - 1] == NULL)) {
        PyErr_SetString(PyExc_ValueError, "not a string-view array");
        Py_DECREF(s);
        return NULL;
    }
    return (PyObject *)s; /* no chunk: an empty array */
}

/* ---- export_strings: buffers handed to polars as a string-view array --------------------- */

typedef struct {
    Py_ssize_t nbufs;   /* strings: validity, views, data..., then the variadic sizes (not a
                           Py_buffer); numbers: validity, values */
    Py_ssize_t nheld;   /* the Py_buffers in held (validity's is empty when there is none) */
    Py_buffer *held;
    const void **ptrs;  /* nbufs pointers */
    int64_t *sizes;     /* the data buffers' sizes (strings) */
    char *name;
    const char *format; /* "vu" (string views), "l" (int64), "s" (int16) */
} Held;

static void held_free(Held *h) {
    if (h == NULL) return;
    if (h->held != NULL) {
        if (Py_IsInitialized()) { /* released by whichever thread drops the array */
            PyGILState_STATE g = PyGILState_Ensure();
            for (Py_ssize_t k = 0; k < h->nheld; k++) PyBuffer_Release(&h->held[k]);
            PyGILState_Release(g);
        }
        free(h->held);
    }
    free(h->ptrs);
    free(h->sizes);
    free(h->name);
    free(h);
}

static void release_array(struct ArrowArray *a) {
    held_free(a->private_data);
    a->release = NULL;
}

static void release_schema(struct ArrowSchema *s) {
    free(s->private_data); /* its own copy of the name: the array may be released first */
    s->private_data = NULL;
    s->release = NULL;
}

static void schema_capsule_free(PyObject *capsule) {
    struct ArrowSchema *s = PyCapsule_GetPointer(capsule, "arrow_schema");
    if (s != NULL && s->release != NULL) s->release(s);
    free(s);
}

static void array_capsule_free(PyObject *capsule) {
    struct ArrowArray *a = PyCapsule_GetPointer(capsule, "arrow_array");
    if (a != NULL && a->release != NULL) a->release(a);
    free(a);
}

typedef struct {
    PyObject_HEAD Held *held; /* moved into the array by __arrow_c_array__ */
    Py_ssize_t n, null_count;
} Exported;

static void exported_dealloc(PyObject *self) {
    held_free(((Exported *)self)->held);
    Py_TYPE(self)->tp_free(self);
}

static PyObject *exported_c_array(PyObject *self, PyObject *args, PyObject *kwargs) {
    Exported *e = (Exported *)self;
    if (e->held == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the array was handed over already");
        return NULL;
    }
    struct ArrowSchema *schema = calloc(1, sizeof(*schema));
    struct ArrowArray *array = calloc(1, sizeof(*array));
    PyObject *sc = NULL, *ac = NULL;
    if (schema == NULL || array == NULL) {
        free(schema);
        free(array);
        return PyErr_NoMemory();
    }
    Held *h = e->held;
    char *name = strdup(h->name);
    if (name == NULL) {
        free(schema);
        free(array);
        return PyErr_NoMemory();
    }
    schema->format = h->format;
    schema->name = name;
    schema->private_data = name;
    schema->flags = ARROW_FLAG_NULLABLE;
    schema->release = release_schema;
    array->length = e->n;
    array->null_count = e->null_count;
    array->n_buffers = h->nbufs;
    array->buffers = h->ptrs;
    array->release = release_array;
    array->private_data = h;
    sc = PyCapsule_New(schema, "arrow_schema", schema_capsule_free);
    if (sc == NULL) {
        free(name);
        free(schema);
        free(array);
        return NULL;
    }
    e->held = NULL; /* the array owns the buffers from here on (its capsule frees it if unused) */
    ac = PyCapsule_New(array, "arrow_array", array_capsule_free);
    if (ac == NULL) {
        held_free(h);
        free(array);
        Py_DECREF(sc);
        return NULL;
    }
    PyObject *pair = PyTuple_Pack(2, sc, ac);
    Py_DECREF(sc);
    Py_DECREF(ac);
    return pair;
}

static PyMethodDef exported_methods[] = {
    {"__arrow_c_array__", (PyCFunction)(void (*)(void))exported_c_array, METH_VARARGS | METH_KEYWORDS,
     "(schema capsule, array capsule), once"},
    {NULL},
};

static PyTypeObject ExportedType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "logtool._native.Exported",
    .tp_basicsize = sizeof(Exported),
    .tp_dealloc = exported_dealloc,
    .tp_methods = exported_methods,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A string-view or number array for polars (the Arrow PyCapsule protocol).",
};

/* An Exported that owns h (freed here when one cannot be made). */
static PyObject *exported(Held *h, Py_ssize_t n, Py_ssize_t null_count) {
    Exported *e = PyObject_New(Exported, &ExportedType);
    if (e == NULL) {
        held_free(h);
        return NULL;
    }
    e->held = h;
    e->n = n;
    e->null_count = null_count;
    return (PyObject *)e;
}

/* export_strings(name, n, views, data_buffers, validity_or_None) -> Exported: n rows of 16-byte
 * views (checked to point inside the data buffers) and an optional validity bitmap. The caller
 * vouches for the rest of the contract polars relies on: the bytes are valid UTF-8 and each
 * view's first four bytes are its string's (split() validates the text, put_view() writes the
 * prefix, and cuts fall on ASCII bytes); and no buffer is written after it is handed over. */
static PyObject *export_strings(PyObject *self, PyObject *args) {
    const char *name;
    Py_ssize_t n;
    PyObject *views, *datas, *validity;
    if (!PyArg_ParseTuple(args, "snOO!O", &name, &n, &views, &PyTuple_Type, &datas, &validity)) return NULL;
    Py_ssize_t ndata = PyTuple_GET_SIZE(datas), nbufs = 3 + ndata;
    Held *h = calloc(1, sizeof(Held));
    if (h == NULL) return PyErr_NoMemory();
    h->nbufs = nbufs, h->nheld = nbufs - 1, h->format = "vu";
    h->held = calloc((size_t)(nbufs - 1), sizeof(Py_buffer));
    h->ptrs = calloc((size_t)nbufs, sizeof(void *));
    h->sizes = calloc((size_t)(ndata ? ndata : 1), sizeof(int64_t));
    h->name = strdup(name);
    if (h->held == NULL || h->ptrs == NULL || h->sizes == NULL || h->name == NULL) {
        held_free(h);
        return PyErr_NoMemory();
    }
    Py_ssize_t got = 0, null_count = 0;
    /* held[0] validity (when given), held[1] views, held[2 + k] data k */
    if (validity != Py_None && PyObject_GetBuffer(validity, &h->held[0], PyBUF_SIMPLE) < 0) goto fail;
    if (PyObject_GetBuffer(views, &h->held[1], PyBUF_SIMPLE) < 0) goto fail;
    for (got = 0; got < ndata; got++)
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(datas, got), &h->held[2 + got], PyBUF_SIMPLE) < 0) goto fail;
    if (n < 0 || n > PY_SSIZE_T_MAX / 16 || h->held[1].len < n * 16 ||
        (validity != Py_None && h->held[0].len < (n + 7) / 8)) {
        PyErr_SetString(PyExc_ValueError, "buffer sizes do not fit the line count");
        goto fail;
    }
    const uint8_t *vw = h->held[1].buf, *bits = validity != Py_None ? h->held[0].buf : NULL;
    for (Py_ssize_t r = 0; r < n; r++) {
        int valid = bits == NULL || (bits[r >> 3] >> (r & 7)) & 1;
        if (!valid) {
            null_count++;
            continue;
        }
        int32_t len, bi, off;
        memcpy(&len, vw + r * 16, 4);
        if (len <= 12) {
            if (len < 0) goto outside;
            continue;
        }
        memcpy(&bi, vw + r * 16 + 8, 4);
        memcpy(&off, vw + r * 16 + 12, 4);
        if (bi < 0 || bi >= ndata || off < 0 || (Py_ssize_t)off + len > h->held[2 + bi].len) goto outside;
    }
    h->ptrs[0] = bits;
    h->ptrs[1] = h->held[1].buf;
    for (Py_ssize_t k = 0; k < ndata; k++) {
        h->ptrs[2 + k] = h->held[2 + k].buf;
        h->sizes[k] = (int64_t)h->held[2 + k].len;
    }
    h->ptrs[nbufs - 1] = h->sizes;
    return exported(h, n, null_count);
outside:
    PyErr_SetString(PyExc_ValueError, "a view points outside its data buffer");
fail:
    held_free(h);
    return NULL;
}

/* export_numbers(name, n, format, values, validity_or_None) -> Exported: n int64 ("l") or
 * int16 ("s") values and an optional validity bitmap, uncopied. */
static PyObject *export_numbers(PyObject *self, PyObject *args) {
    const char *name, *format;
    Py_ssize_t n;
    PyObject *values, *validity;
    if (!PyArg_ParseTuple(args, "snsOO", &name, &n, &format, &values, &validity)) return NULL;
    Py_ssize_t width = strcmp(format, "l") == 0 ? 8 : strcmp(format, "s") == 0 ? 2 : 0;
    if (width == 0) {
        PyErr_SetString(PyExc_ValueError, "not a number format this exports");
        return NULL;
    }
    Held *h = calloc(1, sizeof(Held));
    if (h == NULL) return PyErr_NoMemory();
    h->nbufs = 2, h->nheld = 2, h->format = width == 8 ? "l" : "s";
    h->held = calloc(2, sizeof(Py_buffer));
    h->ptrs = calloc(2, sizeof(void *));
    h->name = strdup(name);
    if (h->held == NULL || h->ptrs == NULL || h->name == NULL) {
        held_free(h);
        return PyErr_NoMemory();
    }
    if (validity != Py_None && PyObject_GetBuffer(validity, &h->held[0], PyBUF_SIMPLE) < 0) goto fail;
    if (PyObject_GetBuffer(values, &h->held[1], PyBUF_SIMPLE) < 0) goto fail;
    if (n < 0 || n > PY_SSIZE_T_MAX / 8 || h->held[1].len < n * width ||
        (validity != Py_None && h->held[0].len < (n + 7) / 8)) {
        PyErr_SetString(PyExc_ValueError, "buffer sizes do not fit the row count");
        goto fail;
    }
    Py_ssize_t null_count = 0;
    const uint8_t *bits = validity != Py_None ? h->held[0].buf : NULL;
    if (bits != NULL)
        for (Py_ssize_t r = 0; r < n; r++) null_count += !((bits[r >> 3] >> (r & 7)) & 1);
    h->ptrs[0] = bits;
    h->ptrs[1] = h->held[1].buf;
    return exported(h, n, null_count);
fail:
    held_free(h);
    return NULL;
}

static int arrow_types_ready(void) {
    return PyType_Ready(&BufType) < 0 || PyType_Ready(&StringsType) < 0 || PyType_Ready(&ExportedType) < 0 ? -1 : 0;
}
