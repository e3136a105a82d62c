/* logtool's compiled part (optional: without it, the same results come from polars, slower).
 *
 * split(): a batch of bytes cut into lines, as an Arrow string-view array over the batch's own
 * bytes (see logtool/linesplit.py, which falls back to polars' CSV reader when the lines are not
 * valid UTF-8). count_lines(): the newlines in a batch.
 *
 * cut(): the CLF family's fields in one pass over each line, for the formats whose regex is a
 * plain sequence of literals and a few field shapes (see logtool/parsers/fastcut.py, which turns
 * such a regex into the program this runs and falls back to the regex for every other format).
 * Input: an Arrow string-view array (16-byte views and their data buffers). Output: for each
 * captured field, views into the same data buffers (a value of up to 12 bytes is held in its
 * view), and one validity bitmap: a line that does not match has every field null, as the
 * regex's groups are. pack() then copies each field's longer values into a buffer of its own,
 * as a regex's groups would be laid out (logtool/native.py).
 *
 * Every shape matches exactly what its regex matches, on bytes: the delimiters (space, tab,
 * quote, backslash, digits, letters) are ASCII, and no byte of a multi-byte UTF-8 character is
 * ASCII, so a byte scan and the regex's character scan find the same ends. The program must be
 * deterministic (fastcut.py checks it): a field's end is decided by the next byte alone.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "_native_arrow.h"

enum {
    OP_LIT = 'L',    /* L len bytes...: the bytes themselves */
    OP_NONSP = 'N',  /* [^ \t]+ */
    OP_NAME = 'V',   /* [^ \t:]+  (a virtual host before its port) */
    OP_DIGITS = 'D', /* [0-9]+ */
    OP_STATUS = 'S', /* [0-9]{3}|- */
    OP_BYTES = 'B',  /* [0-9]+|- */
    OP_TIME = 'T',   /* [0-9]{1,2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4} */
    OP_QUOTED = 'Q', /* [^"\\]*(?:\\.[^"\\]*)*  (the body of a quoted field) */
    OP_END = 'E',    /* [ \t]*$ */
};
#define NO_SLOT 255
#define MAX_SLOTS 32

static inline int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static inline int is_alpha(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

static inline int digits(const uint8_t *p, size_t n, size_t i, size_t count) {
    if (i + count > n) return 0;
    for (size_t k = 0; k < count; k++)
        if (!is_digit(p[i + k])) return 0;
    return 1;
}

/* Whether prog is a program match() can run for nslots slots: known operations, literals
 * inside the program, every slot below nslots and each filled exactly once, ending in OP_END.
 * (fastcut.plan only makes such programs; a hand-made one must not write past start/end.) */
static int program_ok(const uint8_t *prog, size_t plen, Py_ssize_t nslots) {
    uint32_t seen = 0;
    size_t pc = 0;
    while (pc < plen) {
        uint8_t op = prog[pc++];
        if (op == OP_END) return pc == plen && seen == (nslots == 32 ? 0xFFFFFFFFu : ((1u << nslots) - 1));
        if (pc >= plen) return 0;
        if (op == OP_LIT) {
            size_t len = prog[pc++];
            if (pc + len > plen) return 0;
            pc += len;
            continue;
        }
        if (op != OP_NONSP && op != OP_NAME && op != OP_DIGITS && op != OP_STATUS && op != OP_BYTES && op != OP_TIME &&
            op != OP_QUOTED)
            return 0;
        uint8_t slot = prog[pc++];
        if (slot == NO_SLOT) continue;
        if (slot >= nslots || (seen >> slot) & 1u) return 0;
        seen |= 1u << slot;
    }
    return 0;
}

/* Match one line; on success fill start/end per slot and return 1. */
static int match(const uint8_t *p, size_t n, const uint8_t *prog, size_t plen, int32_t *start, int32_t *end) {
    size_t i = 0, pc = 0;
    while (pc < plen) {
        uint8_t op = prog[pc++];
        if (op == OP_LIT) {
            size_t len = prog[pc++];
            if (i + len > n || memcmp(p + i, prog + pc, len) != 0) return 0;
            i += len;
            pc += len;
            continue;
        }
        if (op == OP_END) {
            while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
            return i == n;
        }
        uint8_t slot = prog[pc++];
        size_t s = i;
        switch (op) {
        case OP_NONSP:
            while (i < n && p[i] != ' ' && p[i] != '\t') i++;
            if (i == s) return 0;
            break;
        case OP_NAME:
            while (i < n && p[i] != ' ' && p[i] != '\t' && p[i] != ':') i++;
            if (i == s) return 0;
            break;
        case OP_DIGITS:
            while (i < n && is_digit(p[i])) i++;
            if (i == s) return 0;
            break;
        case OP_STATUS:
            if (digits(p, n, i, 3)) i += 3;
            else if (i < n && p[i] == '-') i += 1;
            else return 0;
            break;
        case OP_BYTES:
            if (i < n && p[i] == '-') { i += 1; break; }
            while (i < n && is_digit(p[i])) i++;
            if (i == s) return 0;
            break;
        case OP_TIME:
            /* day: one or two digits, then '/' */
            if (!digits(p, n, i, 1)) return 0;
            i += (i + 1 < n && is_digit(p[i + 1])) ? 2 : 1;
            if (i >= n || p[i] != '/') return 0;
            i++;
            if (i + 3 > n || !is_alpha(p[i]) || !is_alpha(p[i + 1]) || !is_alpha(p[i + 2])) return 0;
            i += 3;
            if (i >= n || p[i] != '/') return 0;
            i++;
            if (!digits(p, n, i, 4)) return 0;
            i += 4;
            for (int k = 0; k < 3; k++) {
                if (i >= n || p[i] != ':') return 0;
                i++;
                if (!digits(p, n, i, 2)) return 0;
                i += 2;
            }
            if (i + 2 > n || p[i] != ' ' || (p[i + 1] != '+' && p[i + 1] != '-')) return 0;
            i += 2;
            if (!digits(p, n, i, 4)) return 0;
            i += 4;
            break;
        case OP_QUOTED: {
            /* the first quote, then any backslash before it: escapes are rare, so two memchr
             * scans (vectorised in libc) replace the byte loop for almost every line */
            const uint8_t *q = memchr(p + i, '"', n - i);
            size_t stop = q ? (size_t)(q - p) : n;
            if (memchr(p + i, '\\', stop - i) == NULL) {
                i = stop;
                break;
            }
            while (i < n) {
                uint8_t c = p[i];
                if (c == '"') break;
                if (c == '\\') {
                    /* \\. : any character but a newline (lines hold none); a trailing backslash ends the body */
                    if (i + 1 >= n || p[i + 1] == '\n') break;
                    i += 2;
                    continue;
                }
                i++;
            }
            break;
        }
        default:
            return 0;
        }
        if (slot != NO_SLOT) {
            start[slot] = (int32_t)s;
            end[slot] = (int32_t)i;
        }
    }
    return 0; /* a program always ends in OP_END */
}

/* One Arrow string view: the length, then the bytes inline (up to 12) or their first four, the
 * buffer index and the offset. */
static inline void put_view(uint8_t *o, const uint8_t *s, int32_t len, int32_t bi, int32_t off) {
    memset(o, 0, 16);
    memcpy(o, &len, 4);
    if (len <= 12) {
        memcpy(o + 4, s, (size_t)len);
    } else {
        memcpy(o + 4, s, 4);
        memcpy(o + 8, &bi, 4);
        memcpy(o + 12, &off, 4);
    }
}

/* The buffers of a tuple of data buffers, *got of them taken (all, unless an error is set);
 * NULL with an error when out of memory. Release with release_buffers(bufs, *got). */
static Py_buffer *get_buffers(PyObject *datas, Py_ssize_t *got) {
    Py_ssize_t ndata = PyTuple_GET_SIZE(datas);
    Py_buffer *bufs = PyMem_Calloc(ndata ? ndata : 1, sizeof(Py_buffer));
    *got = 0;
    if (bufs == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (; *got < ndata; (*got)++)
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(datas, *got), &bufs[*got], PyBUF_SIMPLE) < 0) break;
    return bufs;
}

static void release_buffers(Py_buffer *bufs, Py_ssize_t got) {
    for (Py_ssize_t k = 0; k < got; k++) PyBuffer_Release(&bufs[k]);
    PyMem_Free(bufs);
}

static PyObject *cut(PyObject *self, PyObject *args) {
    Py_buffer views = {0}, prog = {0}, out = {0}, valid = {0};
    PyObject *datas;
    Py_ssize_t n, offset, nslots;
    if (!PyArg_ParseTuple(args, "y*O!nny*nw*w*", &views, &PyTuple_Type, &datas, &n, &offset, &prog, &nslots, &out,
                          &valid))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t ndata = PyTuple_GET_SIZE(datas), got;
    Py_buffer *bufs = get_buffers(datas, &got);
    if (bufs == NULL || got < ndata) goto done;
    if (nslots < 0 || nslots > MAX_SLOTS || n < 0 || offset < 0 || n > PY_SSIZE_T_MAX / (16 * MAX_SLOTS) - offset ||
        views.len < (offset + n) * 16 ||
        out.len < nslots * n * 16 || valid.len < (n + 7) / 8) {
        PyErr_SetString(PyExc_ValueError, "buffer sizes do not fit the line count");
        goto done;
    }
    if (!program_ok(prog.buf, (size_t)prog.len, nslots)) {
        PyErr_SetString(PyExc_ValueError, "not a program for this many fields");
        goto done;
    }
    const uint8_t *vw = (const uint8_t *)views.buf + offset * 16;
    uint8_t *ov = out.buf, *bits = valid.buf;
    const uint8_t *pg = prog.buf;
    size_t plen = (size_t)prog.len;
    Py_ssize_t matched = 0, total[MAX_SLOTS] = {0};
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS;
    memset(bits, 0, (size_t)((n + 7) / 8));
    int32_t start[MAX_SLOTS], end[MAX_SLOTS];
    for (Py_ssize_t r = 0; r < n; r++) {
        const uint8_t *v = vw + r * 16;
        int32_t len, bi = 0, off = 0;
        memcpy(&len, v, 4);
        const uint8_t *line;
        if (len <= 12) {
            line = v + 4;
        } else {
            memcpy(&bi, v + 8, 4);
            memcpy(&off, v + 12, 4);
            if (bi < 0 || bi >= ndata || off < 0 || (Py_ssize_t)off + len > bufs[bi].len ||
                (int64_t)off + len > INT32_MAX) {
                bad = 1;
                break;
            }
            line = (const uint8_t *)bufs[bi].buf + off;
        }
        if (len < 0 || !match(line, (size_t)len, pg, plen, start, end)) {
            for (Py_ssize_t s = 0; s < nslots; s++) memset(ov + (s * n + r) * 16, 0, 16);
            continue;
        }
        matched++;
        bits[r >> 3] |= (uint8_t)(1u << (r & 7));
        for (Py_ssize_t s = 0; s < nslots; s++) {
            uint8_t *o = ov + (s * n + r) * 16;
            int32_t flen = end[s] - start[s];
            if (flen > 12) total[s] += flen;
            put_view(o, line + start[s], flen, bi, off + start[s]);
        }
    }
    Py_END_ALLOW_THREADS;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "a view points outside its data buffer");
        goto done;
    }
    result = PyTuple_New(nslots);
    if (result == NULL) goto done;
    for (Py_ssize_t s = 0; s < nslots; s++) {
        PyObject *v = PyLong_FromSsize_t(total[s]);
        if (v == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyTuple_SET_ITEM(result, s, v);
    }
done:
    if (bufs != NULL) release_buffers(bufs, got);
    PyBuffer_Release(&views);
    PyBuffer_Release(&prog);
    PyBuffer_Release(&out);
    PyBuffer_Release(&valid);
    return result;
}

/* Whether p[0..n) is valid UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above
 * U+10FFFF), ASCII eight bytes at a time. */
static int valid_utf8(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if ((w & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
        else return 0;
        if (i + len > n) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        i += len;
    }
    return 1;
}

/* split(data, start, n_lines, strip_cr, out_views, first_row, buffer_index) -> 1, or 0 when
 * the lines are not valid UTF-8 (out_views is then incomplete). The first n_lines
 * newline-terminated lines of data[start:], without the newline (and one CR before it when
 * strip_cr), as views into data (which the caller passes as buffer buffer_index), written to
 * out_views from row first_row on. */
static PyObject *split(PyObject *self, PyObject *args) {
    Py_buffer data = {0}, out = {0};
    Py_ssize_t start, n, first;
    int strip_cr, buf_index;
    if (!PyArg_ParseTuple(args, "y*nnpw*ni", &data, &start, &n, &strip_cr, &out, &first, &buf_index)) return NULL;
    PyObject *result = NULL;
    if (n < 0 || first < 0 || start < 0 || start > data.len || out.len < (first + n) * 16 || data.len > INT32_MAX ||
        buf_index < 0) {
        PyErr_SetString(PyExc_ValueError, "buffer sizes do not fit the line count");
        goto done;
    }
    const uint8_t *d = data.buf;
    uint8_t *ov = (uint8_t *)out.buf + first * 16;
    size_t len = (size_t)data.len, pos = (size_t)start;
    int ok = 1, short_data = 0;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t r = 0; r < n; r++) {
        const uint8_t *nl = memchr(d + pos, '\n', len - pos);
        if (nl == NULL) {
            short_data = 1;
            break;
        }
        size_t end = (size_t)(nl - d);
        /* only the lines returned are checked (a batch may end inside a character of the line
         * it carries over); no character spans a newline, so line by line is the same check */
        if (!valid_utf8(d + pos, end - pos)) {
            ok = 0;
            break;
        }
        if (strip_cr && end > pos && d[end - 1] == '\r') end--;
        put_view(ov + r * 16, d + pos, (int32_t)(end - pos), buf_index, (int32_t)pos);
        pos = (size_t)(nl - d) + 1;
    }
    Py_END_ALLOW_THREADS;
    if (short_data) {
        PyErr_SetString(PyExc_ValueError, "fewer lines than n_lines");
        goto done;
    }
    result = PyBool_FromLong(ok);
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&out);
    return result;
}

/* pack(views, first, data_buffers, n, out_data) -> None: the out-of-line strings of the n views
 * from index first copied,
 * in order, into out_data (exactly their total size), and the views (rewritten in place)
 * pointed at it as buffer 0. Strings the cutter left in the lines' buffers come out compact, as
 * a regex's groups would: hashing and comparing them then touches a quarter of the memory. */
/* The bytes of row r of a view array: NULL when a view points outside its data buffer. */
static inline const uint8_t *view_bytes(const uint8_t *v, const Py_buffer *bufs, Py_ssize_t ndata, int32_t *len,
                                        int32_t *bi, int32_t *off) {
    memcpy(len, v, 4);
    *bi = 0, *off = 0;
    if (*len < 0) return NULL;
    if (*len <= 12) return v + 4;
    memcpy(bi, v + 8, 4);
    memcpy(off, v + 12, 4);
    if (*bi < 0 || *bi >= ndata || *off < 0 || (Py_ssize_t)*off + *len > bufs[*bi].len) return NULL;
    return (const uint8_t *)bufs[*bi].buf + *off;
}

static inline int bit(const Py_buffer *bits, Py_ssize_t i) {
    return bits->buf == NULL || (((const uint8_t *)bits->buf)[i >> 3] >> (i & 7)) & 1;
}

/* A value's hash for pack()'s table, keyed with random bytes taken when the module loads (a
 * log line's author cannot aim values at one slot); eight bytes a step. A collision costs a
 * memcmp, and a value is probed for in at most MAX_PROBES slots. */
static uint64_t hash_key = 0x9E3779B97F4A7C15ull;
#define MAX_PROBES 32

static inline uint64_t hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = hash_key ^ n, w;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, p, n);
    h = (h ^ w ^ (hash_key >> 7)) * 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 29);
}

/* Apache's \" and \\ undone (as polars' replace_all(r'\\(["\\])', "$1") does, left to right);
 * returns the new length, at most n. */
static inline int32_t unescape(const uint8_t *s, int32_t n, uint8_t *d) {
    int32_t o = 0;
    for (int32_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && (s[i + 1] == '"' || s[i + 1] == '\\')) i++;
        d[o++] = s[i];
    }
    return o;
}

typedef struct {
    const uint8_t *src; /* the value as cut (NULL: a free slot) */
    uint64_t hash;
    int32_t len;
    uint8_t view[16]; /* its view in the packed buffer */
} Seen;

enum { PACK_KEEP = 0, PACK_NULLISH = 1, PACK_CLEAN = 2 };

/* pack(views, first, data_buffers, n, cap, validity, mode, out_validity) -> bytes: the longer
 * values of one field (n views from row `first`) copied into one buffer, and the views pointed
 * at it (buffer 0); `cap`: the bytes of the longer values (cut's count). Mode 0 copies every
 * value as it is (out_validity is validity). Mode 1 and 2 copy each distinct value once (equal
 * values get equal views, as when a column's distinct values are joined back) and make "-" and
 * "" null (out_validity); mode 2 also undoes Apache's \" and \\ escapes: the clean-up the
 * normaliser would run on the field's distinct values (logtool/parsers/normalise.py). */
static PyObject *pack(PyObject *self, PyObject *args) {
    Py_buffer views = {0}, valid = {0}, vout = {0};
    PyObject *datas, *result = NULL;
    Py_ssize_t first, n, cap;
    int mode;
    if (!PyArg_ParseTuple(args, "w*nO!nny*iw*", &views, &first, &PyTuple_Type, &datas, &n, &cap, &valid, &mode, &vout))
        return NULL;
    Py_ssize_t ndata = PyTuple_GET_SIZE(datas), got;
    Py_buffer *bufs = get_buffers(datas, &got);
    uint8_t *dst = NULL;
    Seen *seen = NULL;
    if (bufs == NULL || got < ndata) goto done;
    if (n < 0 || first < 0 || cap < 0 || cap > INT32_MAX || n > PY_SSIZE_T_MAX / 16 - first ||
        views.len < (first + n) * 16 || valid.len < (n + 7) / 8 ||
        vout.len < (n + 7) / 8 || mode < PACK_KEEP || mode > PACK_CLEAN) {
        PyErr_SetString(PyExc_ValueError, "buffer sizes do not fit the line count");
        goto done;
    }
    size_t slots = 1024, used = 0, pos = 0;
    dst = PyMem_RawMalloc(cap ? (size_t)cap : 1);
    seen = PyMem_RawCalloc(slots, sizeof(Seen));
    if (dst == NULL || seen == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    uint8_t *vw = (uint8_t *)views.buf + first * 16, *bits = vout.buf;
    const uint8_t *in_bits = valid.buf;
    int bad = 0, nomem = 0;
    Py_BEGIN_ALLOW_THREADS;
    if (bits != in_bits) memcpy(bits, in_bits, (size_t)((n + 7) / 8));
    for (Py_ssize_t r = 0; r < n && !bad && !nomem; r++) {
        if (!((in_bits[r >> 3] >> (r & 7)) & 1)) continue;
        uint8_t *v = vw + r * 16;
        int32_t len, bi, off;
        const uint8_t *p = view_bytes(v, bufs, ndata, &len, &bi, &off);
        if (p == NULL) {
            bad = 1;
            break;
        }
        if (mode != PACK_KEEP && (len == 0 || (len == 1 && p[0] == '-'))) {
            bits[r >> 3] &= (uint8_t)~(1u << (r & 7));
            memset(v, 0, 16);
            continue;
        }
        if (len > 12 && mode == PACK_KEEP) {  /* copied as it is, equal values too */
            if (pos + (size_t)len > (size_t)cap) {
                bad = 1;
                break;
            }
            memcpy(dst + pos, p, (size_t)len);
            put_view(v, dst + pos, len, 0, (int32_t)pos);
            pos += (size_t)len;
            continue;
        }
        if (len <= 12) {
            if (mode == PACK_CLEAN && memchr(p, '\\', (size_t)len) != NULL) {
                uint8_t tmp[12];
                put_view(v, tmp, unescape(p, len, tmp), 0, 0);
            }
            continue;
        }
        uint64_t h = hash_bytes(p, (size_t)len);
        size_t k = (size_t)h & (slots - 1);
        int probes = 0; /* bounded: values made to collide cost a copy each, not a scan of all */
        while (seen[k].src != NULL && probes < MAX_PROBES &&
               (seen[k].hash != h || seen[k].len != len || memcmp(seen[k].src, p, (size_t)len))) {
            k = (k + 1) & (slots - 1);
            probes++;
        }
        int keep = probes < MAX_PROBES;
        if (keep && seen[k].src != NULL) {
            memcpy(v, seen[k].view, 16);
            continue;
        }
        if (pos + (size_t)len > (size_t)cap) {
            bad = 1;
            break;
        }
        int32_t out = len;
        const uint8_t *kept = dst + pos; /* compared with later values: near, unlike the line */
        if (mode == PACK_CLEAN && memchr(p, '\\', (size_t)len) != NULL) {
            out = unescape(p, len, dst + pos);
            kept = p;
        } else {
            memcpy(dst + pos, p, (size_t)len);
        }
        put_view(v, dst + pos, out, 0, (int32_t)pos);
        if (out > 12) pos += (size_t)out; /* else the view holds it */
        if (!keep) continue; /* copied, not remembered */
        seen[k] = (Seen){kept, h, len, {0}};
        memcpy(seen[k].view, v, 16);
        if (++used * 2 > slots) {  /* grow: at most half full */
            size_t bigger = slots * 2;
            Seen *t = PyMem_RawCalloc(bigger, sizeof(Seen));
            if (t == NULL) {
                nomem = 1;
                break;
            }
            for (size_t j = 0; j < slots; j++) {
                if (seen[j].src == NULL) continue;
                size_t q = (size_t)seen[j].hash & (bigger - 1);
                while (t[q].src != NULL) q = (q + 1) & (bigger - 1);
                t[q] = seen[j];
            }
            PyMem_RawFree(seen);
            seen = t, slots = bigger;
        }
    }
    Py_END_ALLOW_THREADS;
    if (nomem) {
        PyErr_NoMemory();
    } else if (bad) {
        PyErr_SetString(PyExc_ValueError, "the views do not fit their buffers");
    } else {
        result = PyBytes_FromStringAndSize((const char *)dst, (Py_ssize_t)pos);
    }
done:
    PyMem_RawFree(dst);
    PyMem_RawFree(seen);
    if (bufs != NULL) release_buffers(bufs, got);
    PyBuffer_Release(&views);
    PyBuffer_Release(&valid);
    PyBuffer_Release(&vout);
    return result;
}

/* first_space(views, data_buffers, n, offset, out_first, out_rest, out_validity) -> None: each
 * line cut at its first space into the text before it (not empty) and the text after it, as
 * views into the lines' own buffers (nothing copied); a line without a space, or starting with
 * one, is null in both. */
static PyObject *first_space(PyObject *self, PyObject *args) {
    Py_buffer views = {0}, first = {0}, rest = {0}, valid = {0};
    PyObject *datas;
    Py_ssize_t n, offset;
    if (!PyArg_ParseTuple(args, "y*O!nnw*w*w*", &views, &PyTuple_Type, &datas, &n, &offset, &first, &rest, &valid))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t ndata = PyTuple_GET_SIZE(datas), got;
    Py_buffer *bufs = get_buffers(datas, &got);
    if (bufs == NULL || got < ndata) goto done;
    if (n < 0 || offset < 0 || n > PY_SSIZE_T_MAX / 16 - offset || views.len < (offset + n) * 16 ||
        first.len < n * 16 || rest.len < n * 16 || valid.len < (n + 7) / 8) {
        PyErr_SetString(PyExc_ValueError, "buffer sizes do not fit the line count");
        goto done;
    }
    const uint8_t *vw = (const uint8_t *)views.buf + offset * 16;
    uint8_t *of = first.buf, *orest = rest.buf, *bits = valid.buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS;
    memset(bits, 0, (size_t)((n + 7) / 8));
    for (Py_ssize_t r = 0; r < n; r++) {
        int32_t len, bi, off;
        const uint8_t *line = view_bytes(vw + r * 16, bufs, ndata, &len, &bi, &off);
        if (line == NULL) {
            bad = 1;
            break;
        }
        const uint8_t *sp = len ? memchr(line, ' ', (size_t)len) : NULL;
        if (sp == NULL || sp == line) {
            memset(of + r * 16, 0, 16);
            memset(orest + r * 16, 0, 16);
            continue;
        }
        int32_t cut = (int32_t)(sp - line);
        put_view(of + r * 16, line, cut, bi, off);
        put_view(orest + r * 16, line + cut + 1, len - cut - 1, bi, off + cut + 1);
        bits[r >> 3] |= (uint8_t)(1u << (r & 7));
    }
    Py_END_ALLOW_THREADS;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "a view points outside its data buffer");
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    if (bufs != NULL) release_buffers(bufs, got);
    PyBuffer_Release(&views);
    PyBuffer_Release(&first);
    PyBuffer_Release(&rest);
    PyBuffer_Release(&valid);
    return result;
}

/* join(views, data_buffers, validity, offset, tail_views, tail_data_buffers, tail_validity,
 * tail_offset, n, final_newline) -> bytes: row by row, the line (a null one is empty), then a
 * space and the tail where the tail is not null, then a newline (after the last row only when
 * final_newline). The tail arguments may be None (no tails). A validity of None: no nulls. */
static PyObject *join(PyObject *self, PyObject *args) {
    Py_buffer views = {0}, valid = {0}, tviews = {0}, tvalid = {0};
    PyObject *datas, *tdatas, *ov, *otv, *otvalid;
    Py_ssize_t n, offset, toffset;
    int final_newline;
    if (!PyArg_ParseTuple(args, "y*O!OnOOOnnp", &views, &PyTuple_Type, &datas, &ov, &offset, &otv, &tdatas, &otvalid,
                          &toffset, &n, &final_newline))
        return NULL;
    PyObject *result = NULL;
    Py_buffer *bufs = NULL, *tbufs = NULL;
    Py_ssize_t got = 0, tgot = 0, ndata = PyTuple_GET_SIZE(datas), tndata = 0;
    int tails = otv != Py_None;
    if ((ov != Py_None && PyObject_GetBuffer(ov, &valid, PyBUF_SIMPLE) < 0) ||
        (tails && PyObject_GetBuffer(otv, &tviews, PyBUF_SIMPLE) < 0) ||
        (otvalid != Py_None && PyObject_GetBuffer(otvalid, &tvalid, PyBUF_SIMPLE) < 0))
        goto done;
    if (tails && !PyTuple_Check(tdatas)) {
        PyErr_SetString(PyExc_TypeError, "tail data buffers must be a tuple");
        goto done;
    }
    bufs = get_buffers(datas, &got);
    if (bufs == NULL || got < ndata) goto done;
    if (tails) {
        tndata = PyTuple_GET_SIZE(tdatas);
        tbufs = get_buffers(tdatas, &tgot);
        if (tbufs == NULL || tgot < tndata) goto done;
    }
    if (n < 0 || offset < 0 || toffset < 0 || n > PY_SSIZE_T_MAX / 16 - offset ||
        n > PY_SSIZE_T_MAX / 16 - toffset || views.len < (offset + n) * 16 ||
        (tails && tviews.len < (toffset + n) * 16) || (valid.buf && valid.len < (offset + n + 7) / 8) ||
        (tvalid.buf && tvalid.len < (toffset + n + 7) / 8)) {
        PyErr_SetString(PyExc_ValueError, "buffer sizes do not fit the line count");
        goto done;
    }
    const uint8_t *vw = (const uint8_t *)views.buf + offset * 16;
    const uint8_t *tvw = tails ? (const uint8_t *)tviews.buf + toffset * 16 : NULL;
    /* first pass: the size; second pass: the copy (no view is trusted before it is checked) */
    size_t total = 0;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t r = 0; r < n && !bad; r++) {
        int32_t len, bi, off;
        if (bit(&valid, offset + r)) {
            if (view_bytes(vw + r * 16, bufs, ndata, &len, &bi, &off) == NULL) bad = 1;
            else total += (size_t)len;
        }
        if (tails && bit(&tvalid, toffset + r)) {
            if (view_bytes(tvw + r * 16, tbufs, tndata, &len, &bi, &off) == NULL) bad = 1;
            else total += 1 + (size_t)len;
        }
        total += 1;
    }
    Py_END_ALLOW_THREADS;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "a view points outside its data buffer");
        goto done;
    }
    if (n && !final_newline) total -= 1;
    result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (result == NULL) goto done;
    uint8_t *dst = (uint8_t *)PyBytes_AS_STRING(result);
    /* every write bounded by total: a writable input changed by another thread since the first
     * pass must not write past the output */
    Py_BEGIN_ALLOW_THREADS;
    size_t pos = 0;
    for (Py_ssize_t r = 0; r < n && !bad; r++) {
        int32_t len, bi, off;
        const uint8_t *s;
        if (bit(&valid, offset + r) && (s = view_bytes(vw + r * 16, bufs, ndata, &len, &bi, &off)) != NULL) {
            if ((size_t)len > total - pos) bad = 1;
            else memcpy(dst + pos, s, (size_t)len), pos += (size_t)len;
        }
        if (!bad && tails && bit(&tvalid, toffset + r) &&
            (s = view_bytes(tvw + r * 16, tbufs, tndata, &len, &bi, &off)) != NULL) {
            if ((size_t)len + 1 > total - pos) bad = 1;
            else dst[pos++] = ' ', memcpy(dst + pos, s, (size_t)len), pos += (size_t)len;
        }
        if (pos < total) dst[pos++] = '\n';
    }
    if (pos != total) bad = 1;
    Py_END_ALLOW_THREADS;
    if (bad) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_ValueError, "the lines changed while they were joined");
    }
done:
    if (bufs != NULL) release_buffers(bufs, got);
    if (tbufs != NULL) release_buffers(tbufs, tgot);
    PyBuffer_Release(&views);
    PyBuffer_Release(&valid);
    PyBuffer_Release(&tviews);
    PyBuffer_Release(&tvalid);
    return result;
}

/* ---- clf_times: CLF timestamps ("24/Nov/2026:10:00:00 +0100") read in one pass --------- */

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static int month_number(const uint8_t *p) { /* "Jan".."Dec" in any case, else 0 */
    static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    uint8_t a = p[0] | 0x20, b = p[1] | 0x20, c = p[2] | 0x20;
    for (int k = 0; k < 12; k++)
        if (a == names[3 * k] && b == names[3 * k + 1] && c == names[3 * k + 2]) return k + 1;
    return 0;
}

static inline int num(const uint8_t *p, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) v = v * 10 + (p[i] - '0');
    return v;
}

/* One time field: 1 and *us (UTC microseconds; *ok = 0 for a date or time that does not
 * exist or lies outside 1970..9999, as polars' strptime and the normaliser's bounds make it)
 * and *tz (the offset in minutes, always read), or 0 when the text is not in the canonical
 * layout or is a leap second (polars decides those). */
static inline int d2(const uint8_t *p) { return is_digit(p[0]) && is_digit(p[1]); }

static int clf_time(const uint8_t *p, int32_t len, int64_t *us, int16_t *tz, int *ok) {
    if (len != 25 && len != 26) return 0;
    int dl = len - 24; /* one or two digits of day */
    const uint8_t *q = p + dl; /* "/Nov/2026:10:00:00 +0100" */
    if (!is_digit(p[0]) || (dl == 2 && !is_digit(p[1])) || q[0] != '/' || !is_alpha(q[1]) || !is_alpha(q[2]) ||
        !is_alpha(q[3]) || q[4] != '/' || !d2(q + 5) || !d2(q + 7) || q[9] != ':' || !d2(q + 10) || q[12] != ':' ||
        !d2(q + 13) || q[15] != ':' || !d2(q + 16) || q[18] != ' ' || (q[19] != '+' && q[19] != '-') ||
        !d2(q + 20) || !d2(q + 22))
        return 0;
    int day = num(p, dl), month = month_number(q + 1), year = num(q + 5, 4);
    int hh = num(q + 10, 2), mi = num(q + 13, 2), ss = num(q + 16, 2), oh = num(q + 20, 2), om = num(q + 22, 2);
    int sign = q[19] == '-' ? -1 : 1;
    if (ss == 60) return 0;
    *tz = (int16_t)(sign * (oh * 60 + om));
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    int dim = month ? mdays[month - 1] + (month == 2 && leap) : 0;
    int64_t secs = days_from_civil(year, month, day) * 86400 + hh * 3600 + mi * 60 + ss - sign * (oh * 3600 + om * 60);
    *ok = month && day >= 1 && day <= dim && hh <= 23 && mi <= 59 && ss <= 59 && oh <= 23 && om <= 59 &&
          secs >= 0 && secs <= 253402300799LL; /* 9999-12-31 23:59:59 */
    *us = *ok ? secs * 1000000 : 0;
    return 1;
}

/* clf_times(views, data_buffers, n, validity, out_us, out_tz, out_ts_valid) -> bool: each
 * valid row's CLF time as UTC microseconds (valid where the time exists, see clf_time) and
 * its offset in minutes (valid where the row is); False, with the outputs unfinished, when a
 * time is one that polars must read (the caller then reads them all with polars). */
static PyObject *clf_times(PyObject *self, PyObject *args) {
    Py_buffer views = {0}, valid = {0}, ous = {0}, otz = {0}, ovalid = {0};
    PyObject *datas, *result = NULL;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "y*O!ny*w*w*w*", &views, &PyTuple_Type, &datas, &n, &valid, &ous, &otz, &ovalid))
        return NULL;
    Py_ssize_t ndata = PyTuple_GET_SIZE(datas), got;
    Py_buffer *bufs = get_buffers(datas, &got);
    if (bufs == NULL || got < ndata) goto done;
    if (n < 0 || n > PY_SSIZE_T_MAX / 16 || views.len < n * 16 || valid.len < (n + 7) / 8 || ous.len < n * 8 ||
        otz.len < n * 2 ||
        ovalid.len < (n + 7) / 8) {
        PyErr_SetString(PyExc_ValueError, "buffer sizes do not fit the line count");
        goto done;
    }
    const uint8_t *vw = views.buf, *in_bits = valid.buf;
    uint8_t *bits = ovalid.buf;
    int64_t *us = ous.buf;
    int16_t *tz = otz.buf;
    int decided = 1, bad = 0, last_ok = 0;
    const uint8_t *last = NULL;
    int32_t last_len = -1;
    int64_t last_us = 0;
    int16_t last_tz = 0;
    Py_BEGIN_ALLOW_THREADS;
    memset(bits, 0, (size_t)((n + 7) / 8));
    for (Py_ssize_t r = 0; r < n; r++) {
        us[r] = 0, tz[r] = 0;
        if (!((in_bits[r >> 3] >> (r & 7)) & 1)) continue;
        int32_t len, bi, off;
        int ok;
        const uint8_t *p = view_bytes(vw + r * 16, bufs, ndata, &len, &bi, &off);
        if (p == NULL) {
            bad = 1;
            break;
        }
        if (len == last_len && memcmp(p, last, (size_t)len) == 0) { /* the line before's second, often */
            us[r] = last_us, tz[r] = last_tz, ok = last_ok;
        } else if (!clf_time(p, len, &us[r], &tz[r], &ok)) {
            decided = 0;
            break;
        } else {
            last = p, last_len = len, last_us = us[r], last_tz = tz[r], last_ok = ok;
        }
        if (ok) bits[r >> 3] |= (uint8_t)(1u << (r & 7));
    }
    Py_END_ALLOW_THREADS;
    if (bad)
        PyErr_SetString(PyExc_ValueError, "a view points outside its data buffer");
    else
        result = PyBool_FromLong(decided);
done:
    if (bufs != NULL) release_buffers(bufs, got);
    PyBuffer_Release(&views);
    PyBuffer_Release(&valid);
    PyBuffer_Release(&ous);
    PyBuffer_Release(&otz);
    PyBuffer_Release(&ovalid);
    return result;
}

/* count_lines(data) -> the number of newlines in data (Python's bytes.count is ~10 times slower) */
static PyObject *count_lines(PyObject *self, PyObject *args) {
    Py_buffer data = {0};
    if (!PyArg_ParseTuple(args, "y*", &data)) return NULL;
    const uint8_t *d = data.buf, *end = d + data.len;
    Py_ssize_t n = 0;
    Py_BEGIN_ALLOW_THREADS;
    while (d < end && (d = memchr(d, '\n', (size_t)(end - d))) != NULL) {
        n++;
        d++;
    }
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&data);
    return PyLong_FromSsize_t(n);
}

/* An IPv6 literal as inet_pton reads it, without '.', '%' or '[' (no IPv4 part, zone or
 * brackets), into out. */
static int v6_literal(const uint8_t *s, int32_t n, uint8_t *out) {
    char text[64];
    if (n <= 0 || n >= (int32_t)sizeof text || memchr(s, 0, (size_t)n)) return 0;
    for (int32_t i = 0; i < n; i++)
        if (s[i] == '.' || s[i] == '%' || s[i] == '[') return 0;
    memcpy(text, s, (size_t)n);
    text[n] = 0;
    return inet_pton(AF_INET6, text, out) == 1;
}

/* v6_networks(views, data_buffers, n, offset, prefix, out_views, out_data, out_validity) -> int:
 * each string that is a plain IPv6 literal, truncated to prefix bits, as inet_ntop spells the
 * network, then "/prefix" (net.fast_v6_network's rule: no '.', '%' or '['; not in ::/80, NAT64's
 * 64:ff9b::/96, or a network in ::/80); the others null, for the caller to decide. Returns the
 * bytes of out_data used (each network at most 56). */
static PyObject *v6_networks(PyObject *self, PyObject *args) {
    Py_buffer views = {0}, ov = {0}, od = {0}, ovalid = {0};
    PyObject *datas, *result = NULL;
    Py_ssize_t n, offset;
    int prefix;
    if (!PyArg_ParseTuple(args, "y*O!nniw*w*w*", &views, &PyTuple_Type, &datas, &n, &offset, &prefix, &ov, &od,
                          &ovalid))
        return NULL;
    Py_ssize_t ndata = PyTuple_GET_SIZE(datas), got;
    Py_buffer *bufs = get_buffers(datas, &got);
    if (bufs == NULL || got < ndata) goto done;
    if (n < 0 || offset < 0 || n > PY_SSIZE_T_MAX / 64 - offset || views.len < (offset + n) * 16 || ov.len < n * 16 ||
        od.len < n * 56 || od.len > INT32_MAX || ovalid.len < (n + 7) / 8 || prefix < 0 || prefix > 128) {
        PyErr_SetString(PyExc_ValueError, "buffer sizes do not fit the count");
        goto done;
    }
    const uint8_t *vw = (const uint8_t *)views.buf + offset * 16;
    uint8_t *outv = ov.buf, *data = od.buf, *bits = ovalid.buf;
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t zero[10] = {0};
    int32_t used = 0;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS;
    memset(bits, 0, (size_t)((n + 7) / 8));
    for (Py_ssize_t r = 0; r < n; r++) {
        int32_t len, bi, off;
        const uint8_t *s = view_bytes(vw + r * 16, bufs, ndata, &len, &bi, &off);
        if (s == NULL) {
            bad = 1;
            break;
        }
        memset(outv + r * 16, 0, 16);
        uint8_t a[16];
        if (!v6_literal(s, len, a) || memcmp(a, zero, 10) == 0 || memcmp(a, nat64, 12) == 0) continue;
        for (int i = 0; i < 16; i++) { /* keep the first prefix bits */
            int keep = prefix - i * 8;
            a[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
        }
        if (memcmp(a, zero, 10) == 0) continue;
        char *o = (char *)data + used;
        if (inet_ntop(AF_INET6, a, o, 48) == NULL) continue;
        int32_t m = (int32_t)strlen(o);
        m += snprintf(o + m, 8, "/%d", prefix);
        put_view(outv + r * 16, (const uint8_t *)o, m, 0, used);
        used += m;
        bits[r >> 3] |= (uint8_t)(1u << (r & 7));
    }
    Py_END_ALLOW_THREADS;
    if (bad)
        PyErr_SetString(PyExc_ValueError, "a view points outside its data buffer");
    else
        result = PyLong_FromLong(used);
done:
    if (bufs != NULL) release_buffers(bufs, got);
    PyBuffer_Release(&views);
    PyBuffer_Release(&ov);
    PyBuffer_Release(&od);
    PyBuffer_Release(&ovalid);
    return result;
}

/* ---- mmdb_walk: addresses → their records in a MaxMind DB search tree ---------------------
 * The country of a client is the record its address leads to in the database's binary tree
 * (https://maxmind.github.io/MaxMind-DB/): from the root (an IPv4 address in an IPv6 tree: from
 * the node 96 zero bits down), one bit of the address a step, until a record is not a node. */

/* A node's left (bit 0) or right (bit 1) record, for records of 24, 28 or 32 bits. */
static inline uint32_t mmdb_record(const uint8_t *tree, uint32_t node, int right, int size) {
    const uint8_t *p;
    if (size == 24) {
        p = tree + (size_t)node * 6 + (right ? 3 : 0);
        return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    }
    if (size == 28) {
        p = tree + (size_t)node * 7;
        if (!right) return (uint32_t)(p[3] & 0xF0) << 20 | (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        return (uint32_t)(p[3] & 0x0F) << 24 | (uint32_t)p[4] << 16 | (uint32_t)p[5] << 8 | p[6];
    }
    p = tree + (size_t)node * 8 + (right ? 4 : 0);
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A dotted quad as net.V4_RX matches it (0..255, no leading zero), into out. */
static int canonical_quad(const uint8_t *s, int32_t n, uint8_t *out) {
    int32_t i = 0;
    for (int k = 0; k < 4; k++) {
        if (k) {
            if (i >= n || s[i] != '.') return 0;
            i++;
        }
        int32_t start = i;
        unsigned v = 0;
        while (i < n && i - start < 3 && is_digit(s[i])) v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || (i - start > 1 && s[start] == '0') || v > 255) return 0;
        out[k] = (uint8_t)v;
    }
    return i == n;
}

/* An IPv6 literal geo._plain_v6 takes (inet_pton reads it; no '.', '%' or '['; not IPv4-mapped,
 * not NAT64), into out. */
static int plain_v6(const uint8_t *s, int32_t n, uint8_t *out) {
    if (!v6_literal(s, n, out)) return 0;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    return memcmp(out, mapped, 12) != 0 && memcmp(out, nat64, 12) != 0;
}

/* mmdb_walk(views, data_buffers, n, offset, db, node_count, record_size, ip_version, out) ->
 * bool: out[r] (int64) is, for string r, the record its address leads to, node_count or more
 * (node_count: the tree has nothing for it); -1 when the database is IPv4-only and the address
 * IPv6; -2 when the caller must look it up itself: the text is no canonical dotted quad or plain
 * IPv6 literal (a mapped or NAT64 address, a port, a name), or the walk ends on a node. False
 * when the tree does not fit db. */
static PyObject *mmdb_walk(PyObject *self, PyObject *args) {
    Py_buffer views = {0}, db = {0}, out = {0};
    PyObject *datas, *result = NULL;
    Py_ssize_t n, offset;
    unsigned long node_count;
    int size, version;
    if (!PyArg_ParseTuple(args, "y*O!nny*kiiw*", &views, &PyTuple_Type, &datas, &n, &offset, &db, &node_count, &size,
                          &version, &out))
        return NULL;
    Py_ssize_t ndata = PyTuple_GET_SIZE(datas), got;
    Py_buffer *bufs = get_buffers(datas, &got);
    if (bufs == NULL || got < ndata) goto done;
    if (n < 0 || offset < 0 || n > PY_SSIZE_T_MAX / 16 - offset || views.len < (offset + n) * 16 || out.len < n * 8) {
        PyErr_SetString(PyExc_ValueError, "buffer sizes do not fit the count");
        goto done;
    }
    if ((size != 24 && size != 28 && size != 32) || (version != 4 && version != 6) || node_count == 0 ||
        node_count > UINT32_MAX || (unsigned long long)node_count * (unsigned)size / 4 > (unsigned long long)db.len) {
        result = Py_NewRef(Py_False);
        goto done;
    }
    const uint8_t *vw = (const uint8_t *)views.buf + offset * 16, *tree = db.buf;
    int64_t *rec = out.buf;
    uint32_t nodes = (uint32_t)node_count, v4_start = 0;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS;
    if (version == 6)
        for (int i = 0; i < 96 && v4_start < nodes; i++) v4_start = mmdb_record(tree, v4_start, 0, size);
    for (Py_ssize_t r = 0; r < n; r++) {
        int32_t len, bi, off;
        const uint8_t *s = view_bytes(vw + r * 16, bufs, ndata, &len, &bi, &off);
        if (s == NULL) {
            bad = 1;
            break;
        }
        uint8_t addr[16];
        int bits;
        uint32_t node;
        if (canonical_quad(s, len, addr))
            bits = 32, node = v4_start;
        else if (plain_v6(s, len, addr))
            bits = 128, node = 0;
        else {
            rec[r] = -2;
            continue;
        }
        if (bits == 128 && version == 4) {
            rec[r] = -1;
            continue;
        }
        for (int i = 0; i < bits && node < nodes; i++) node = mmdb_record(tree, node, (addr[i >> 3] >> (7 - (i & 7))) & 1, size);
        rec[r] = node < nodes ? -2 : (int64_t)node;
    }
    Py_END_ALLOW_THREADS;
    if (bad)
        PyErr_SetString(PyExc_ValueError, "a view points outside its data buffer");
    else
        result = Py_NewRef(Py_True);
done:
    if (bufs != NULL) release_buffers(bufs, got);
    PyBuffer_Release(&views);
    PyBuffer_Release(&db);
    PyBuffer_Release(&out);
    return result;
}

/* value_hash(data) -> int: the keyed hash pack() files a value under (for tests). */
static PyObject *value_hash(PyObject *self, PyObject *args) {
    Py_buffer data = {0};
    if (!PyArg_ParseTuple(args, "y*", &data)) return NULL;
    uint64_t h = hash_bytes(data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    return PyLong_FromUnsignedLongLong(h);
}

static PyMethodDef methods[] = {
    {"count_lines", count_lines, METH_VARARGS, "count_lines(data) -> newlines in data"},
    {"strings", strings, METH_O, "strings(arrow_array_stream capsule) -> Strings, or None if not one chunk of string views"},
    {"export_strings", export_strings, METH_VARARGS,
     "export_strings(name, n, views, data_buffers, validity) -> an object with __arrow_c_array__"},
    {"clf_times", clf_times, METH_VARARGS,
     "clf_times(views, data_buffers, n, validity, out_us, out_tz, out_ts_validity) -> whether every time was read"},
    {"export_numbers", export_numbers, METH_VARARGS,
     "export_numbers(name, n, format, values, validity) -> an object with __arrow_c_array__"},
    {"v6_networks", v6_networks, METH_VARARGS,
     "v6_networks(views, data_buffers, n, offset, prefix, out_views, out_data, out_validity) -> bytes used"},
    {"mmdb_walk", mmdb_walk, METH_VARARGS,
     "mmdb_walk(views, data_buffers, n, offset, db, node_count, record_size, ip_version, out) -> bool"},
    {"value_hash", value_hash, METH_VARARGS, "value_hash(data) -> the keyed hash pack() files a value under"},
    {"pack", pack, METH_VARARGS, "pack(views, first, data_buffers, n, cap, validity, mode, out_validity) -> bytes"},
    {"split", split, METH_VARARGS,
     "split(data, start, n_lines, strip_cr, out_views, first_row, buffer_index) -> whether the lines are valid UTF-8"},
    {"first_space", first_space, METH_VARARGS,
     "first_space(views, data_buffers, n, offset, out_first, out_rest, out_validity) -> None"},
    {"join", join, METH_VARARGS,
     "join(views, data_buffers, validity, offset, tail_views, tail_data_buffers, tail_validity, tail_offset, n, "
     "final_newline) -> bytes"},
    {"cut", cut, METH_VARARGS,
     "cut(views, data_buffers, n, offset, program, nslots, out_views, out_validity) -> out-of-line bytes per field"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", "logtool's compiled part: lines split and CLF fields cut in one pass.", -1,
                                    methods};

static int take_hash_key(void) { /* os.urandom(8): the key of pack()'s table */
    PyObject *os = PyImport_ImportModule("os");
    PyObject *key = os ? PyObject_CallMethod(os, "urandom", "i", 8) : NULL;
    Py_XDECREF(os);
    if (key == NULL) return -1;
    if (PyBytes_Check(key) && PyBytes_GET_SIZE(key) == 8) memcpy(&hash_key, PyBytes_AS_STRING(key), 8);
    Py_DECREF(key);
    hash_key |= 1;
    return 0;
}

PyMODINIT_FUNC PyInit__native(void) {
    if (arrow_types_ready() < 0 || take_hash_key() < 0) return NULL;
    return PyModule_Create(&module);
}
