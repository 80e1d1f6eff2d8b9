/* layerlab._ctar: the optional C accelerator of layerlab.fasttar.
 *
 * scan() indexes the run of *plain* tar members at the start of a buffer: ustar or GNU
 * headers of regular files, directories, symlinks and hardlinks whose every field is in
 * its usual spelling (octal digits, an ASCII name that is already clean, a checksum that
 * matches, numbers in range) and whose content lies in the buffer. For each it makes the
 * same Entry and RawMember that fasttar's Python code makes, content digest included. It
 * stops, without consuming it, at the first header that is anything else (a PAX or GNU
 * metadata header, a device, a non-ASCII or unclean name, a number spelled oddly, a bad
 * checksum, a limit reached, content cut by the end of the buffer, the end-of-archive
 * marker): fasttar's Python code takes that member, with every check and every error
 * message, then calls scan() again. So the accelerator decides nothing on its own; it is
 * a fast path through cases whose answer is the Python answer, and tests/test_fasttar.py
 * runs both on the same streams and compares every member.
 *
 * Digests come from the sha256 constructor fasttar passes in (hashlib's, OpenSSL), so the
 * hashing is as fast as in Python and this file links nothing but Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define BLOCK 512
#define NFIELDS 12
#define NAME_MAX_BYTES 255
#define MAX_ID 4294967294ULL       /* 2**32 - 2: fasttar._MAX_ID */
#define MAX_TIME 8589934591ULL     /* 8**11 - 1: fasttar._MAX_TIME */

/* set once by configure() */
static PyTypeObject *entry_type;
static PyTypeObject *member_type;
static PyObject *setters[NFIELDS]; /* Entry's slot descriptors, in field order */
static PyObject *kind_file, *kind_dir, *kind_symlink, *kind_hardlink;
static PyObject *sha256_new;
static PyObject *empty_tuple, *empty_str, *str_digest;

/* A numeric field in the spelling fasttar._number reads the same way: spaces, octal
 * digits, spaces, then a NUL (what follows it is ignored) or the end of the field.
 * Returns 0 and sets *out, or -1 for anything else (the Python parser then decides). */
static int
octal(const unsigned char *f, Py_ssize_t len, unsigned long long *out)
{
    Py_ssize_t i = 0;
    unsigned long long v = 0;
    int digits = 0;
    while (i < len && f[i] == ' ')
        i++;
    while (i < len && f[i] >= '0' && f[i] <= '7') {
        if (++digits > 20)
            return -1;
        v = v * 8 + (unsigned long long)(f[i] - '0');
        i++;
    }
    while (i < len && f[i] == ' ')
        i++;
    if (i < len && f[i] != 0)
        return -1;
    *out = v;
    return 0;
}

/* The checksum field as fasttar reads it first: NULs taken as spaces, then octal. */
static int
checksum_field(const unsigned char *f, unsigned long long *out)
{
    int i = 0, digits = 0;
    unsigned long long v = 0;
    while (i < 8 && (f[i] == ' ' || f[i] == 0))
        i++;
    while (i < 8 && f[i] >= '0' && f[i] <= '7') {
        v = v * 8 + (unsigned long long)(f[i] - '0');
        i++;
        digits++;
    }
    while (i < 8 && (f[i] == ' ' || f[i] == 0))
        i++;
    if (i < 8 || digits == 0)
        return -1;
    *out = v;
    return 0;
}

static Py_ssize_t
field_len(const unsigned char *f, Py_ssize_t max)
{
    const unsigned char *nul = memchr(f, 0, (size_t)max);
    return nul ? (Py_ssize_t)(nul - f) : max;
}

static int
ascii(const unsigned char *s, Py_ssize_t len)
{
    for (Py_ssize_t i = 0; i < len; i++)
        if (s[i] & 0x80)
            return 0;
    return 1;
}

/* paths.clean_member_name's fast path, exactly: strip one leading "./" and every leading
 * and trailing "/"; the rest must be non-empty, with no empty, "." or ".." component,
 * no NUL, at most max_bytes / 4 characters and (unless the whole of it is at most
 * NAME_MAX / 4) no component over NAME_MAX / 4. Sets the bare name's start and length;
 * returns 0, or -1 where the Python function would take its slow path. */
static int
clean(const char *name, Py_ssize_t len, Py_ssize_t max_bytes, Py_ssize_t *start,
      Py_ssize_t *bare_len)
{
    Py_ssize_t a = 0, b = len;
    if (len >= 2 && name[0] == '.' && name[1] == '/')
        a = 2;
    while (a < b && name[a] == '/')
        a++;
    while (b > a && name[b - 1] == '/')
        b--;
    if (a == b || (b - a) * 4 > max_bytes)
        return -1;
    int check_components = (b - a) * 4 > NAME_MAX_BYTES;
    Py_ssize_t comp = a;
    for (Py_ssize_t i = a; i <= b; i++) {
        if (i == b || name[i] == '/') {
            Py_ssize_t n = i - comp;
            if (n == 0)
                return -1;
            if (name[comp] == '.' && (n == 1 || (n == 2 && name[comp + 1] == '.')))
                return -1;
            if (check_components && n * 4 > NAME_MAX_BYTES)
                return -1;
            comp = i + 1;
        }
    }
    *start = a;
    *bare_len = b - a;
    return 0;
}

/* "/" + the bare name, as a str */
static PyObject *
rooted(const char *bare, Py_ssize_t len)
{
    PyObject *s = PyUnicode_New(len + 1, 127);
    if (s == NULL)
        return NULL;
    char *out = (char *)PyUnicode_DATA(s);
    out[0] = '/';
    memcpy(out + 1, bare, (size_t)len);
    return s;
}

static PyObject *
content_digest(const unsigned char *data, Py_ssize_t size)
{
    static const char hex[] = "0123456789abcdef";
    PyObject *view = PyMemoryView_FromMemory((char *)data, size, PyBUF_READ);
    if (view == NULL)
        return NULL;
    PyObject *hash = PyObject_CallOneArg(sha256_new, view);
    Py_DECREF(view);
    if (hash == NULL)
        return NULL;
    PyObject *raw = PyObject_CallMethodNoArgs(hash, str_digest);
    Py_DECREF(hash);
    if (raw == NULL)
        return NULL;
    if (!PyBytes_Check(raw) || PyBytes_GET_SIZE(raw) != 32) {
        Py_DECREF(raw);
        PyErr_SetString(PyExc_RuntimeError, "sha256().digest() is not 32 bytes");
        return NULL;
    }
    PyObject *s = PyUnicode_New(7 + 64, 127);
    if (s == NULL) {
        Py_DECREF(raw);
        return NULL;
    }
    char *out = (char *)PyUnicode_DATA(s);
    const unsigned char *d = (const unsigned char *)PyBytes_AS_STRING(raw);
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[d[i] >> 4];
        out[8 + 2 * i] = hex[d[i] & 15];
    }
    Py_DECREF(raw);
    return s;
}

/* A new Entry, each slot set through its descriptor (what fasttar's entry maker does);
 * steals no references. */
static PyObject *
new_entry(PyObject *values[NFIELDS])
{
    PyObject *entry = PyBaseObject_Type.tp_new(entry_type, empty_tuple, NULL);
    if (entry == NULL)
        return NULL;
    for (int i = 0; i < NFIELDS; i++) {
        if (Py_TYPE(setters[i])->tp_descr_set(setters[i], entry, values[i]) < 0) {
            Py_DECREF(entry);
            return NULL;
        }
    }
    return entry;
}

/* One plain member at buf[at:]: appended to members, returns the bytes it took; 0 when
 * it is not plain (nothing appended); -1 on a Python error. */
static Py_ssize_t
one(const unsigned char *buf, Py_ssize_t at, Py_ssize_t n, long long base,
    unsigned long long max_layer_bytes, Py_ssize_t max_path_bytes, PyObject *members)
{
    const unsigned char *h = buf + at;
    unsigned char type = h[156];
    PyObject *kind;
    if (type == '0' || type == '7' || type == 0)
        kind = kind_file;
    else if (type == '5')
        kind = kind_dir;
    else if (type == '2')
        kind = kind_symlink;
    else if (type == '1')
        kind = kind_hardlink;
    else
        return 0;

    unsigned long long stored, mode, uid, gid, mtime, size;
    if (checksum_field(h + 148, &stored) < 0)
        return 0;
    unsigned long long sum = 256; /* the checksum field counted as eight spaces */
    for (int i = 0; i < 148; i++)
        sum += h[i];
    for (int i = 156; i < BLOCK; i++)
        sum += h[i];
    if (sum != stored)
        return 0;
    if (octal(h + 100, 8, &mode) < 0 || octal(h + 108, 8, &uid) < 0
        || octal(h + 116, 8, &gid) < 0 || octal(h + 124, 12, &size) < 0
        || octal(h + 136, 12, &mtime) < 0)
        return 0;
    if (size > max_layer_bytes || uid > MAX_ID || gid > MAX_ID || mtime > MAX_TIME)
        return 0;

    /* the name: [prefix "/"] name, as fasttar joins them */
    char name[256 + 100];
    Py_ssize_t len = field_len(h, 100);
    Py_ssize_t plen = 0;
    if (h[345] != 0 && memcmp(h + 257, "ustar\0", 6) == 0) {
        plen = field_len(h + 345, 155);
        memcpy(name, h + 345, (size_t)plen);
        name[plen++] = '/';
    }
    memcpy(name + plen, h, (size_t)len);
    len += plen;
    if (!ascii((const unsigned char *)name, len))
        return 0;
    if (kind == kind_file && type == 0 && len && name[len - 1] == '/')
        return 0; /* a V7 directory */
    if (kind == kind_dir && len > 1) {
        while (len > 0 && name[len - 1] == '/')
            len--;
        if (len == 0)
            return 0;
    }
    Py_ssize_t start, bare_len;
    if (clean(name, len, max_path_bytes, &start, &bare_len) < 0)
        return 0;

    /* the link target */
    const char *link = (const char *)h + 157;
    Py_ssize_t link_len = 0, link_start = 0, link_bare = 0;
    if (kind == kind_symlink || kind == kind_hardlink) {
        link_len = field_len(h + 157, 100);
        if (!ascii(h + 157, link_len))
            return 0;
        if (kind == kind_symlink && link_len > max_path_bytes)
            return 0;
        if (kind == kind_hardlink
            && clean(link, link_len, max_path_bytes, &link_start, &link_bare) < 0)
            return 0;
    }

    Py_ssize_t taken = BLOCK;
    Py_ssize_t entry_size = 0;
    const unsigned char *content = NULL;
    if (kind == kind_file) {
        Py_ssize_t padded = (Py_ssize_t)((size + BLOCK - 1) / BLOCK * BLOCK);
        if ((unsigned long long)(n - at - BLOCK) < (unsigned long long)padded)
            return 0; /* content runs past this buffer: the streaming path takes it */
        taken += padded;
        entry_size = (Py_ssize_t)size;
        content = h + BLOCK;
    }

    PyObject *values[NFIELDS] = {NULL};
    PyObject *member_name = NULL, *offset = NULL, *entry = NULL, *packed = NULL;
    PyObject *args = NULL, *member = NULL;
    Py_ssize_t result = -1;
    values[0] = rooted(name + start, bare_len);
    values[1] = kind;
    Py_INCREF(kind);
    values[2] = PyLong_FromUnsignedLongLong(mode & 07777);
    values[3] = PyLong_FromUnsignedLongLong(uid);
    values[4] = PyLong_FromUnsignedLongLong(gid);
    values[5] = PyLong_FromUnsignedLongLong(mtime);
    values[6] = PyLong_FromSsize_t(entry_size);
    if (content != NULL) {
        values[7] = content_digest(content, entry_size);
    } else {
        values[7] = Py_None;
        Py_INCREF(Py_None);
    }
    if (kind == kind_symlink)
        values[8] = PyUnicode_DecodeASCII(link, link_len, NULL);
    else if (kind == kind_hardlink)
        values[8] = rooted(link + link_start, link_bare);
    else {
        values[8] = empty_str;
        Py_INCREF(empty_str);
    }
    values[9] = PyLong_FromLong(0);
    values[10] = PyLong_FromLong(0);
    values[11] = empty_tuple;
    Py_INCREF(empty_tuple);
    for (int i = 0; i < NFIELDS; i++)
        if (values[i] == NULL)
            goto done;
    member_name = PyUnicode_DecodeASCII(name, len, NULL);
    offset = PyLong_FromLongLong(base + at + BLOCK);
    if (member_name == NULL || offset == NULL)
        goto done;
    entry = new_entry(values);
    if (entry == NULL)
        goto done;
    packed = PyTuple_Pack(3, entry, offset, member_name);
    if (packed == NULL)
        goto done;
    args = PyTuple_Pack(1, packed);
    if (args == NULL)
        goto done;
    member = PyTuple_Type.tp_new(member_type, args, NULL); /* RawMember(entry, offset, name) */
    if (member == NULL || PyList_Append(members, member) < 0)
        goto done;
    result = taken;
done:
    for (int i = 0; i < NFIELDS; i++)
        Py_XDECREF(values[i]);
    Py_XDECREF(member_name);
    Py_XDECREF(offset);
    Py_XDECREF(entry);
    Py_XDECREF(packed);
    Py_XDECREF(args);
    Py_XDECREF(member);
    return result;
}

PyDoc_STRVAR(scan_doc,
"scan(buf, at, base, count, max_entries, max_layer_bytes, max_path_bytes, members)\n"
"--\n\n"
"Index the plain members at buf[at:], appending a RawMember for each to members.\n"
"Returns (position of the first header left for the Python parser, new count).");

static PyObject *
scan(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t at, max_path_bytes;
    long long base, count, max_entries;
    unsigned long long max_layer_bytes;
    PyObject *members;
    if (entry_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "layerlab._ctar.configure() was not called");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*nLLLKnO!", &view, &at, &base, &count, &max_entries,
                          &max_layer_bytes, &max_path_bytes, &PyList_Type, &members))
        return NULL;
    const unsigned char *buf = (const unsigned char *)view.buf;
    Py_ssize_t n = view.len;
    if (at < 0 || at > n) {
        PyBuffer_Release(&view);
        return PyErr_Format(PyExc_ValueError, "scan: position %zd outside the buffer (%zd bytes)",
                            at, n);
    }
    while (n - at >= BLOCK && count < max_entries) {
        if (buf[at] == 0)
            break; /* the end marker, or a header with no name: Python decides */
        Py_ssize_t taken = one(buf, at, n, base, max_layer_bytes, max_path_bytes, members);
        if (taken < 0) {
            PyBuffer_Release(&view);
            return NULL;
        }
        if (taken == 0)
            break;
        at += taken;
        count++;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("nL", at, count);
}

PyDoc_STRVAR(configure_doc,
"configure(entry_type, member_type, setters, kinds, sha256)\n"
"--\n\n"
"Give scan() what it builds: Entry, RawMember, Entry's twelve slot descriptors in field\n"
"order, the EntryKinds (FILE, DIR, SYMLINK, HARDLINK) and the sha256 constructor.");

static PyObject *
configure(PyObject *self, PyObject *args)
{
    PyObject *etype, *mtype, *fields, *kinds, *sha;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O", &PyType_Type, &etype, &PyType_Type, &mtype,
                          &PyTuple_Type, &fields, &PyTuple_Type, &kinds, &sha))
        return NULL;
    if (PyTuple_GET_SIZE(fields) != NFIELDS || PyTuple_GET_SIZE(kinds) != 4) {
        PyErr_SetString(PyExc_ValueError, "configure: 12 slot descriptors and 4 kinds");
        return NULL;
    }
    if (!PyType_IsSubtype((PyTypeObject *)mtype, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "configure: the member type must be a tuple type");
        return NULL;
    }
    for (int i = 0; i < NFIELDS; i++) {
        PyObject *d = PyTuple_GET_ITEM(fields, i);
        if (!Py_IS_TYPE(d, &PyMemberDescr_Type) || Py_TYPE(d)->tp_descr_set == NULL) {
            PyErr_SetString(PyExc_TypeError, "configure: the setters must be slot descriptors");
            return NULL;
        }
    }
    if (!PyCallable_Check(sha)) {
        PyErr_SetString(PyExc_TypeError, "configure: sha256 must be callable");
        return NULL;
    }
    Py_INCREF(etype);
    Py_XSETREF(entry_type, (PyTypeObject *)etype);
    Py_INCREF(mtype);
    Py_XSETREF(member_type, (PyTypeObject *)mtype);
    for (int i = 0; i < NFIELDS; i++) {
        PyObject *d = PyTuple_GET_ITEM(fields, i);
        Py_INCREF(d);
        Py_XSETREF(setters[i], d);
    }
    PyObject **slots[4] = {&kind_file, &kind_dir, &kind_symlink, &kind_hardlink};
    for (int i = 0; i < 4; i++) {
        PyObject *k = PyTuple_GET_ITEM(kinds, i);
        Py_INCREF(k);
        Py_XSETREF(*slots[i], k);
    }
    Py_INCREF(sha);
    Py_XSETREF(sha256_new, sha);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {"configure", configure, METH_VARARGS, configure_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "layerlab._ctar",
    "The optional C accelerator of layerlab.fasttar (see that module).", -1, methods,
};

PyMODINIT_FUNC
PyInit__ctar(void)
{
    empty_tuple = PyTuple_New(0);
    empty_str = PyUnicode_New(0, 127);
    str_digest = PyUnicode_InternFromString("digest");
    if (empty_tuple == NULL || empty_str == NULL || str_digest == NULL)
        return NULL;
    return PyModule_Create(&module);
}
