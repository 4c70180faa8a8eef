/* Compiled versions of per-message functions that pure Python cannot make cheaper.
 * pocketmq.protocol.message keeps the pure-Python version of each and uses these when the
 * extension was built (it is optional at install); tests compare the two.
 *
 * java_string_hash(text) -> int: Java's String.hashCode() (over UTF-16 code units, signed
 * 32-bit), used for every index key and tag.
 *
 * write_entry(buffer, pos, body_crc, queue_id, flag, queue_offset, physical_offset, sys_flag,
 *             born_timestamp, born_ip, born_port, store_timestamp, store_ip, store_port,
 *             reconsume_times, prepared_transaction_offset, body, topic, properties) -> int:
 * one commit-log entry (big-endian, section 4.1 of the protocol notes) written at pos of a
 * writable buffer (the mapped file), TOTALSIZE last; returns TOTALSIZE. A topic over 127 bytes
 * makes a version-2 entry (upstream 5's MESSAGE_MAGIC_CODE_V2: a two-byte topic length). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static PyObject *
java_string_hash(PyObject *module, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "java_string_hash() needs a str");
        return NULL;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    uint32_t hash = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        Py_UCS4 cp = PyUnicode_READ(kind, data, i);
        if (cp > 0xFFFF) {  /* a surrogate pair in UTF-16 */
            cp -= 0x10000;
            hash = hash * 31u + (uint32_t)(0xD800 + (cp >> 10));
            hash = hash * 31u + (uint32_t)(0xDC00 + (cp & 0x3FF));
        } else {
            hash = hash * 31u + (uint32_t)cp;
        }
    }
    return PyLong_FromLong((long)(int32_t)hash);
}

static unsigned char *
put_be(unsigned char *p, uint64_t value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (unsigned char)(value & 0xFF);
        value >>= 8;
    }
    return p + width;
}

static int
as_int64(PyObject *value, int64_t *out)
{
    long long v = PyLong_AsLongLong(value);
    if (v == -1 && PyErr_Occurred())
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int
as_int32(PyObject *value, int64_t *out)
{
    if (as_int64(value, out) < 0)
        return -1;
    if (*out < INT32_MIN || *out > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "int32 field out of range");
        return -1;
    }
    return 0;
}

#define WRITE_ENTRY_ARGS 19
#define MAGIC_CODE 0xDAA320A7u
#define MAGIC_CODE_V2 0xDAA320ABu  /* upstream 5: a two-byte topic length, for topics over 127 bytes */
#define TOPIC_V1_MAX 127
#define TOPIC_V2_MAX 32767

static PyObject *
write_entry(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != WRITE_ENTRY_ARGS) {
        PyErr_Format(PyExc_TypeError, "write_entry() takes %d arguments (%zd given)", WRITE_ENTRY_ARGS, nargs);
        return NULL;
    }
    /* int32 fields: body_crc, queue_id, flag, sys_flag, born_port, store_port, reconsume_times */
    static const int int32_at[] = {2, 3, 4, 7, 10, 13, 14};
    /* int64 fields: pos, queue_offset, physical_offset, born_timestamp, store_timestamp, prepared */
    static const int int64_at[] = {1, 5, 6, 8, 11, 15};
    int64_t v[WRITE_ENTRY_ARGS] = {0};
    for (size_t i = 0; i < sizeof(int32_at) / sizeof(int32_at[0]); i++)
        if (as_int32(args[int32_at[i]], &v[int32_at[i]]) < 0)
            return NULL;
    for (size_t i = 0; i < sizeof(int64_at) / sizeof(int64_at[0]); i++)
        if (as_int64(args[int64_at[i]], &v[int64_at[i]]) < 0)
            return NULL;
    if (!PyBytes_Check(args[9]) || !PyBytes_Check(args[12]) || !PyBytes_Check(args[17]) || !PyBytes_Check(args[18])) {
        PyErr_SetString(PyExc_TypeError, "write_entry(): hosts, topic and properties must be bytes");
        return NULL;
    }
    Py_ssize_t born_len = PyBytes_GET_SIZE(args[9]), store_len = PyBytes_GET_SIZE(args[12]);
    Py_ssize_t topic_len = PyBytes_GET_SIZE(args[17]), props_len = PyBytes_GET_SIZE(args[18]);
    if ((born_len != 4 && born_len != 16) || (store_len != 4 && store_len != 16)) {
        PyErr_SetString(PyExc_ValueError, "write_entry(): a packed host is 4 or 16 bytes");
        return NULL;
    }
    if (topic_len > TOPIC_V2_MAX || props_len > 32767) {
        PyErr_SetString(PyExc_ValueError, "entry does not fit: topic, properties or buffer too small");
        return NULL;
    }
    Py_buffer body, out;
    if (PyObject_GetBuffer(args[16], &body, PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[0], &out, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&body);
        return NULL;
    }
    Py_ssize_t header = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + (born_len + 4) + 8 + (store_len + 4) + 4 + 8 + 4;
    int topic_len_size = topic_len > TOPIC_V1_MAX ? 2 : 1;
    int64_t total = header + body.len + topic_len_size + topic_len + 2 + props_len;
    int64_t pos = v[1];
    PyObject *result = NULL;
    if (pos < 0 || total > INT32_MAX || pos + total > out.len) {
        PyErr_SetString(PyExc_ValueError, "entry does not fit: topic, properties or buffer too small");
        goto done;
    }
    unsigned char *start = (unsigned char *)out.buf + pos;
    unsigned char *p = start + 4;  /* TOTALSIZE last */
    p = put_be(p, topic_len_size == 2 ? MAGIC_CODE_V2 : MAGIC_CODE, 4);
    p = put_be(p, (uint64_t)v[2], 4);
    p = put_be(p, (uint64_t)v[3], 4);
    p = put_be(p, (uint64_t)v[4], 4);
    p = put_be(p, (uint64_t)v[5], 8);
    p = put_be(p, (uint64_t)v[6], 8);
    p = put_be(p, (uint64_t)v[7], 4);
    p = put_be(p, (uint64_t)v[8], 8);
    memcpy(p, PyBytes_AS_STRING(args[9]), born_len);
    p = put_be(p + born_len, (uint64_t)v[10], 4);
    p = put_be(p, (uint64_t)v[11], 8);
    memcpy(p, PyBytes_AS_STRING(args[12]), store_len);
    p = put_be(p + store_len, (uint64_t)v[13], 4);
    p = put_be(p, (uint64_t)v[14], 4);
    p = put_be(p, (uint64_t)v[15], 8);
    p = put_be(p, (uint64_t)body.len, 4);
    memcpy(p, body.buf, body.len);
    p += body.len;
    p = put_be(p, (uint64_t)topic_len, topic_len_size);
    memcpy(p, PyBytes_AS_STRING(args[17]), topic_len);
    p = put_be(p + topic_len, (uint64_t)props_len, 2);
    memcpy(p, PyBytes_AS_STRING(args[18]), props_len);
    put_be(start, (uint64_t)total, 4);
    result = PyLong_FromLongLong(total);
done:
    PyBuffer_Release(&out);
    PyBuffer_Release(&body);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"java_string_hash", java_string_hash, METH_O, "Java String.hashCode() of a str."},
    {"write_entry", (PyCFunction)(void (*)(void))write_entry, METH_FASTCALL, "Write one commit-log entry."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT, "pocketmq._speedups", NULL, -1, speedups_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&speedups_module);
}
