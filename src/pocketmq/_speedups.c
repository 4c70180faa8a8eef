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
 * makes a version-2 entry (upstream 5's MESSAGE_MAGIC_CODE_V2: a two-byte topic length). *
 * decode_header_fields(specs, cls, fallback, fields) -> header: a typed request header built from
 * its extFields (remoting/header.py owns the rules and the pure-Python decoder). specs holds one
 * (key, kind, required, default, factory) per dataclass field, in order; kind 0 is a str, 1 a Java
 * long, 2 a Java int, 3 a boolean. Anything this cannot take as it comes (a missing required
 * field, a bad number, a boolean other than true/false) is handed whole to fallback(fields), so
 * errors and odd spellings keep the Python decoder's exact answer.
 *
 * index_put(buffer, hash_slot_num, index_count, key, phy_offset, store_timestamp) -> bool: one
 * IndexFile entry (store/index.py, which keeps the pure-Python twin): entry, then header, then
 * hash slot, reading the header's begin timestamp and counts from the buffer; True when the key's
 * slot was empty before.
 *
 * property_from_string(text, name) -> str | None: one property's value from a stored properties
 * string (NAME\x01VALUE items joined by \x02), None when absent or empty; the first item named so
 * wins, as protocol/message.py's pure-Python version.
 *
 * json_command(loads, cls, fallback, data) -> RemotingCommand: a remoting JSON header
 * (remoting/codec.py owns the rules and the pure-Python decoder) parsed by loads (orjson) and
 * built as cls(code, language, version, opaque, flag, remark, extFields) when every field is
 * what a client usually sends; anything else (bad JSON, a number as a string, extFields values
 * that are not strings, a missing code) is handed whole to fallback(data), whose answer or
 * ProtocolError stands.
 *
 * json_header(fallback, code, ext_fields, flag, language, opaque, remark, version) -> bytes: the
 * JSON header of a command, byte for byte what fallback (codec.json_header_py, orjson's
 * encoding) makes of the same fields, escapes included; a header over 4 KiB, or a field of an
 * unusual type, is handed to fallback with the same arguments.
 *
 * json_frame_head(fallback, body_length, code, ext_fields, flag, language, opaque, remark,
 * version) -> bytes: a whole frame up to its body (length, serialize type and header length,
 * JSON header), or fallback(body_length, code, ...)'s answer where json_header would hand over.
 *
 * ordinary_stored_properties(text, cluster_pair) -> str | None: the stored properties of an
 * ordinary send, by the same string edits as broker/send_processor.py's pure-Python version
 * (WAIT=true dropped, CLUSTER appended; None when the message needs the full property map). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Java's String.hashCode() of a str the caller checked is one. */
static int32_t
java_hash_value(PyObject *text)
{
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
    return (int32_t)hash;
}

static PyObject *
java_string_hash(PyObject *module, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "java_string_hash() needs a str");
        return NULL;
    }
    return PyLong_FromLong((long)java_hash_value(text));
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

/* ------------------------------------------------------------------ typed request headers */

enum { KIND_STR = 0, KIND_LONG = 1, KIND_INT = 2, KIND_BOOL = 3 };
#define MAX_HEADER_FIELDS 64

/* The field's value, a new reference; NULL without an error set when the Python decoder must
 * answer instead (missing required field, bad or out-of-range number, unusual boolean). */
static PyObject *
header_field_value(PyObject *fields, PyObject *spec)
{
    PyObject *key = PyTuple_GET_ITEM(spec, 0);
    long kind = PyLong_AsLong(PyTuple_GET_ITEM(spec, 1));
    PyObject *text = PyDict_GetItemWithError(fields, key);  /* borrowed */
    if (text == NULL && PyErr_Occurred())
        return NULL;
    int missing = text == NULL || text == Py_None
        || (kind != KIND_STR && PyUnicode_Check(text) && PyUnicode_GET_LENGTH(text) == 0);
    if (missing) {
        if (PyObject_IsTrue(PyTuple_GET_ITEM(spec, 2)))
            return NULL;
        PyObject *factory = PyTuple_GET_ITEM(spec, 4);
        if (factory != Py_None)
            return PyObject_CallNoArgs(factory);
        PyObject *value = PyTuple_GET_ITEM(spec, 3);
        Py_INCREF(value);
        return value;
    }
    if (!PyUnicode_CheckExact(text))
        return NULL;
    if (kind == KIND_STR) {
        Py_INCREF(text);
        return text;
    }
    if (kind == KIND_BOOL) {
        if (PyUnicode_CompareWithASCIIString(text, "true") == 0)
            Py_RETURN_TRUE;
        if (PyUnicode_CompareWithASCIIString(text, "false") == 0)
            Py_RETURN_FALSE;
        return NULL;
    }
    PyObject *number = PyLong_FromUnicodeObject(text, 10);  /* what int(text) accepts */
    if (number == NULL) {
        PyErr_Clear();
        return NULL;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(number, &overflow);
    if (overflow != 0 || (kind == KIND_INT && (v < INT32_MIN || v > INT32_MAX))) {
        Py_DECREF(number);
        return NULL;
    }
    return number;
}

static PyObject *
decode_header_fields(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyTuple_Check(args[0]) || !PyDict_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "decode_header_fields(specs: tuple, cls, fallback, fields: dict)");
        return NULL;
    }
    PyObject *specs = args[0], *cls = args[1], *fallback = args[2], *fields = args[3];
    Py_ssize_t count = PyTuple_GET_SIZE(specs);
    if (count > MAX_HEADER_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "decode_header_fields(): too many fields");
        return NULL;
    }
    PyObject *values[MAX_HEADER_FIELDS];
    Py_ssize_t made = 0;
    PyObject *result = NULL;
    for (; made < count; made++) {
        values[made] = header_field_value(fields, PyTuple_GET_ITEM(specs, made));
        if (values[made] == NULL)
            break;
    }
    if (made == count)
        result = PyObject_Vectorcall(cls, values, (size_t)count, NULL);
    else if (!PyErr_Occurred())
        result = PyObject_CallOneArg(fallback, fields);
    for (Py_ssize_t i = 0; i < made; i++)
        Py_DECREF(values[i]);
    return result;
}

/* ------------------------------------------------------------------------------ index file */

#define INDEX_HEADER_SIZE 40
#define INDEX_ENTRY_SIZE 20

static uint64_t
get_be(const unsigned char *p, int width)
{
    uint64_t value = 0;
    for (int i = 0; i < width; i++)
        value = (value << 8) | p[i];
    return value;
}

static PyObject *
index_put(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 || !PyUnicode_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "index_put(buffer, hash_slot_num, index_count, key: str, phy_offset, store_timestamp)");
        return NULL;
    }
    int64_t slots, count, phy, timestamp;
    if (as_int64(args[1], &slots) < 0 || as_int32(args[2], &count) < 0
            || as_int64(args[4], &phy) < 0 || as_int64(args[5], &timestamp) < 0)
        return NULL;
    if (slots <= 0 || count < 0) {
        PyErr_SetString(PyExc_ValueError, "index_put(): hash_slot_num must be > 0 and index_count >= 0");
        return NULL;
    }
    int32_t hashed = java_hash_value(args[3]);
    int64_t key_hash = hashed == INT32_MIN ? 0 : (hashed < 0 ? -(int64_t)hashed : hashed);
    Py_buffer out;
    if (PyObject_GetBuffer(args[0], &out, PyBUF_WRITABLE) < 0)
        return NULL;
    int64_t slot_at = INDEX_HEADER_SIZE + (key_hash % slots) * 4;
    int64_t entry_at = INDEX_HEADER_SIZE + slots * 4 + count * INDEX_ENTRY_SIZE;
    if (entry_at + INDEX_ENTRY_SIZE > out.len) {
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "index_put(): entry outside the buffer");
        return NULL;
    }
    unsigned char *base = (unsigned char *)out.buf;
    int64_t begin_timestamp = (int64_t)get_be(base, 8);
    int32_t slot_value = (int32_t)get_be(base + slot_at, 4);
    int slot_was_empty = slot_value <= 0 || slot_value > count;
    if (slot_was_empty)
        slot_value = 0;
    int64_t diff = 0;
    if (begin_timestamp > 0) {
        int64_t elapsed = timestamp - begin_timestamp;
        diff = elapsed < 0 ? 0 : elapsed / 1000;
        if (diff > INT32_MAX)
            diff = INT32_MAX;
    }
    /* Entry, then header, then slot: see IndexFile.put_key for why this order. */
    unsigned char *p = put_be(base + entry_at, (uint64_t)key_hash, 4);
    p = put_be(p, (uint64_t)phy, 8);
    p = put_be(p, (uint64_t)diff, 4);
    put_be(p, (uint64_t)(uint32_t)slot_value, 4);
    if (count <= 1) {
        put_be(base, (uint64_t)timestamp, 8);   /* beginTimestamp */
        put_be(base + 16, (uint64_t)phy, 8);    /* beginPhyOffset */
    }
    put_be(base + 8, (uint64_t)timestamp, 8);   /* endTimestamp */
    put_be(base + 24, (uint64_t)phy, 8);        /* endPhyOffset */
    if (slot_was_empty)
        put_be(base + 32, get_be(base + 32, 4) + 1, 4);  /* hashSlotCount */
    put_be(base + 36, (uint64_t)(count + 1), 4);         /* indexCount */
    put_be(base + slot_at, (uint64_t)count, 4);
    PyBuffer_Release(&out);
    return PyBool_FromLong(slot_was_empty);
}

/* --------------------------------------------------------------------------- properties */

#define NAME_VALUE_SEPARATOR 0x01
#define PROPERTY_SEPARATOR 0x02

static PyObject *
property_from_string(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "property_from_string(text: str, name: str)");
        return NULL;
    }
    PyObject *text = args[0], *name = args[1];
    Py_ssize_t length = PyUnicode_GET_LENGTH(text), name_length = PyUnicode_GET_LENGTH(name);
    int kind = PyUnicode_KIND(text), name_kind = PyUnicode_KIND(name);
    const void *data = PyUnicode_DATA(text), *name_data = PyUnicode_DATA(name);
    for (Py_ssize_t item = 0; item <= length;) {  /* each NAME\x01VALUE item: [item, next) */
        Py_ssize_t next = item;
        while (next < length && PyUnicode_READ(kind, data, next) != PROPERTY_SEPARATOR)
            next++;
        if (next - item > name_length && PyUnicode_READ(kind, data, item + name_length) == NAME_VALUE_SEPARATOR) {
            Py_ssize_t i = 0;
            while (i < name_length && PyUnicode_READ(kind, data, item + i) == PyUnicode_READ(name_kind, name_data, i))
                i++;
            if (i == name_length) {
                Py_ssize_t begin = item + name_length + 1;
                if (begin == next)
                    Py_RETURN_NONE;
                return PyUnicode_Substring(text, begin, next);
            }
        }
        item = next + 1;
    }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------------- remoting JSON headers */

static PyObject *s_code, *s_language, *s_version, *s_opaque, *s_flag, *s_remark, *s_ext_fields, *s_java;

/* A header field that must be an int32; 1 ok, 0 unusual (missing counts as 0 unless required). */
static int
int32_field(PyObject *header, PyObject *key, int required, PyObject **out)
{
    PyObject *value = PyDict_GetItemWithError(header, key);
    if (value == NULL) {
        if (PyErr_Occurred() || required)
            return 0;
        *out = PyLong_FromLong(0);
        return *out != NULL;
    }
    if (!PyLong_CheckExact(value))
        return 0;
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow != 0 || v < INT32_MIN || v > INT32_MAX)
        return 0;
    Py_INCREF(value);
    *out = value;
    return 1;
}

static int
all_str_values(PyObject *fields)
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(fields, &pos, &key, &value))
        if (!PyUnicode_CheckExact(value))
            return 0;
    return 1;
}

static PyObject *
json_command(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "json_command(loads, cls, fallback, data)");
        return NULL;
    }
    PyObject *loads = args[0], *cls = args[1], *fallback = args[2], *data = args[3];
    PyObject *header = PyObject_CallOneArg(loads, data);
    PyObject *fields[7] = {NULL};  /* code, language, version, opaque, flag, remark, extFields */
    PyObject *result = NULL;
    int usual = header != NULL && PyDict_CheckExact(header)
        && int32_field(header, s_code, 1, &fields[0])
        && int32_field(header, s_version, 0, &fields[2])
        && int32_field(header, s_opaque, 0, &fields[3])
        && int32_field(header, s_flag, 0, &fields[4]);
    if (usual) {
        PyObject *language = PyDict_GetItemWithError(header, s_language);
        PyObject *remark = PyDict_GetItemWithError(header, s_remark);
        PyObject *ext = PyDict_GetItemWithError(header, s_ext_fields);
        usual = !PyErr_Occurred()
            && (language == NULL || PyUnicode_CheckExact(language))
            && (remark == NULL || remark == Py_None || PyUnicode_CheckExact(remark))
            && (ext == NULL || ext == Py_None || (PyDict_CheckExact(ext) && all_str_values(ext)));
        if (usual) {
            fields[1] = language == NULL ? s_java : language;
            fields[5] = remark == NULL ? Py_None : remark;
            fields[6] = ext == NULL ? Py_None : ext;
            Py_INCREF(fields[1]);
            Py_INCREF(fields[5]);
            Py_INCREF(fields[6]);
            result = PyObject_Vectorcall(cls, fields, 7, NULL);
        }
    }
    if (!usual) {
        PyErr_Clear();  /* the fallback decodes it again and says what is wrong */
        result = PyObject_CallOneArg(fallback, data);
    }
    for (int i = 0; i < 7; i++)
        Py_XDECREF(fields[i]);
    Py_XDECREF(header);
    return result;
}

/* A JSON string with orjson's escapes (\" \\ \b \t \n \f \r, \u00xx for other control
 * characters; everything else as UTF-8); 0 when it does not fit or is not valid UTF-8. */
static int
append_json_string(PyObject *text, char **p, char *end)
{
    static const char hex[] = "0123456789abcdef";
    Py_ssize_t size;
    const char *utf8 = PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &size) : NULL;
    if (utf8 == NULL) {
        PyErr_Clear();
        return 0;
    }
    if (*p + size + 2 > end)
        return 0;
    char *q = *p;
    *q++ = '"';
    for (Py_ssize_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)utf8[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            if (q + 2 > end)  /* this byte and the closing quote */
                return 0;
            *q++ = (char)c;
            continue;
        }
        if (q + 7 > end)
            return 0;
        *q++ = '\\';
        switch (c) {
        case '"': *q++ = '"'; break;
        case '\\': *q++ = '\\'; break;
        case '\b': *q++ = 'b'; break;
        case '\t': *q++ = 't'; break;
        case '\n': *q++ = 'n'; break;
        case '\f': *q++ = 'f'; break;
        case '\r': *q++ = 'r'; break;
        default:
            *q++ = 'u';
            *q++ = '0';
            *q++ = '0';
            *q++ = hex[c >> 4];
            *q++ = hex[c & 0xF];
        }
    }
    *q++ = '"';
    *p = q;
    return 1;
}

static int
append_ascii(const char *text, char **p, char *end)
{
    size_t size = strlen(text);
    if (*p + size > end)
        return 0;
    memcpy(*p, text, size);
    *p += size;
    return 1;
}

static int
append_int32(PyObject *value, char **p, char *end)
{
    if (!PyLong_Check(value) || PyBool_Check(value))  /* IntEnum codes as their number; true stays true */
        return 0;
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow != 0 || v < INT32_MIN || v > INT32_MAX)
        return 0;
    char digits[12];  /* snprintf costs more than the rest of a header */
    int n = 0;
    unsigned long long magnitude = v < 0 ? (unsigned long long)(-v) : (unsigned long long)v;
    do {
        digits[n++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);
    if (*p + n + 1 > end)
        return 0;
    if (v < 0)
        *(*p)++ = '-';
    while (n > 0)
        *(*p)++ = digits[--n];
    return 1;
}

#define JSON_HEADER_STACK 4096

static int
write_json_header(PyObject *const *args, char *out, char *end, Py_ssize_t *length)
{
    /* args: code, ext_fields, flag, language, opaque, remark, version; keys in orjson's order of
     * the dict codec builds: code, extFields, flag, language, opaque, remark, serializeType, version */
    char *p = out;
    if (!append_ascii("{\"code\":", &p, end) || !append_int32(args[0], &p, end))
        return 0;
    PyObject *ext = args[1];
    if (ext != Py_None) {
        if (!PyDict_CheckExact(ext) || !append_ascii(",\"extFields\":{", &p, end))
            return 0;
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        int first = 1;
        while (PyDict_Next(ext, &pos, &key, &value)) {
            if (!PyUnicode_CheckExact(key) || !PyUnicode_CheckExact(value))
                return 0;
            if ((!first && !append_ascii(",", &p, end)) || !append_json_string(key, &p, end)
                    || !append_ascii(":", &p, end) || !append_json_string(value, &p, end))
                return 0;
            first = 0;
        }
        if (!append_ascii("}", &p, end))
            return 0;
    }
    if (!append_ascii(",\"flag\":", &p, end) || !append_int32(args[2], &p, end)
            || !append_ascii(",\"language\":", &p, end) || !PyUnicode_CheckExact(args[3])
            || !append_json_string(args[3], &p, end)
            || !append_ascii(",\"opaque\":", &p, end) || !append_int32(args[4], &p, end))
        return 0;
    if (args[5] != Py_None && (!PyUnicode_CheckExact(args[5]) || !append_ascii(",\"remark\":", &p, end)
                               || !append_json_string(args[5], &p, end)))
        return 0;
    if (!append_ascii(",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":", &p, end)
            || !append_int32(args[6], &p, end) || !append_ascii("}", &p, end))
        return 0;
    *length = p - out;
    return 1;
}

static PyObject *
json_frame_head(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "json_frame_head(fallback, body_length, code, ext_fields, flag, "
                                         "language, opaque, remark, version)");
        return NULL;
    }
    int64_t body_length;
    if (as_int64(args[1], &body_length) < 0)
        return NULL;
    char stack[8 + JSON_HEADER_STACK];
    Py_ssize_t length = 0;
    if (body_length >= 0 && write_json_header(args + 2, stack + 8, stack + sizeof stack, &length)
            && 4 + length + body_length <= INT32_MAX) {
        put_be((unsigned char *)stack, (uint64_t)(4 + length + body_length), 4);
        put_be((unsigned char *)stack + 4, (uint64_t)length, 4);  /* serialize type JSON (0) << 24 */
        return PyBytes_FromStringAndSize(stack, 8 + length);
    }
    PyErr_Clear();
    return PyObject_Vectorcall(args[0], args + 1, 8, NULL);
}

static PyObject *
json_header(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError,
                        "json_header(fallback, code, ext_fields, flag, language, opaque, remark, version)");
        return NULL;
    }
    char stack[JSON_HEADER_STACK];
    Py_ssize_t length = 0;
    if (write_json_header(args + 1, stack, stack + sizeof stack, &length))
        return PyBytes_FromStringAndSize(stack, length);
    PyErr_Clear();
    return PyObject_Vectorcall(args[0], args + 1, 7, NULL);  /* long or unusual: the Python encoder */
}

/* --------------------------------------------------------------- stored properties of a send */

static PyObject *s_wait_true_item, *s_wait_true, *s_sep_wait_true_sep, *s_sep_wait_true, *s_sep,
    *s_wait_key, *s_tran_key, *s_cluster_key, *s_empty;

static PyObject *
ordinary_stored_properties(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "ordinary_stored_properties(text: str, cluster_pair: str)");
        return NULL;
    }
    PyObject *text = args[0];
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    Py_ssize_t wait_length = PyUnicode_GET_LENGTH(s_wait_true);  /* WAIT\x01true */
    PyObject *kept;  /* text without its WAIT=true item */
    if (PyUnicode_Tailmatch(text, s_wait_true_item, 0, length, -1) == 1) {
        kept = PyUnicode_Substring(text, wait_length + 1, length);
    } else if (PyUnicode_Compare(text, s_wait_true) == 0) {
        kept = Py_NewRef(s_empty);
    } else {
        Py_ssize_t i = PyUnicode_Find(text, s_sep_wait_true_sep, 0, length, 1);
        if (i == -2)
            return NULL;
        if (i >= 0) {
            PyObject *head = PyUnicode_Substring(text, 0, i + 1);
            PyObject *tail = PyUnicode_Substring(text, i + 2 + wait_length, length);
            kept = head && tail ? PyUnicode_Concat(head, tail) : NULL;
            Py_XDECREF(head);
            Py_XDECREF(tail);
        } else if (PyUnicode_Tailmatch(text, s_sep_wait_true, 0, length, 1) == 1) {
            kept = PyUnicode_Substring(text, 0, length - wait_length - 1);
        } else {
            kept = Py_NewRef(text);
        }
    }
    if (kept == NULL)
        return NULL;
    PyObject *result = NULL;
    int needs_map = 0;
    PyObject *keys[] = {s_wait_key, s_tran_key, s_cluster_key};
    for (int k = 0; k < 3 && !needs_map; k++) {
        int found = PyUnicode_Contains(kept, keys[k]);
        if (found < 0)
            goto done;
        needs_map = found;
    }
    if (needs_map) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    Py_ssize_t kept_length = PyUnicode_GET_LENGTH(kept);
    if (kept_length > 0 && PyUnicode_READ_CHAR(kept, kept_length - 1) != PROPERTY_SEPARATOR) {
        PyObject *with_sep = PyUnicode_Concat(kept, s_sep);
        if (with_sep == NULL)
            goto done;
        Py_SETREF(kept, with_sep);
    }
    result = PyUnicode_Concat(kept, args[1]);
done:
    Py_DECREF(kept);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"java_string_hash", java_string_hash, METH_O, "Java String.hashCode() of a str."},
    {"write_entry", (PyCFunction)(void (*)(void))write_entry, METH_FASTCALL, "Write one commit-log entry."},
    {"decode_header_fields", (PyCFunction)(void (*)(void))decode_header_fields, METH_FASTCALL,
     "A typed request header from its extFields, or fallback(fields)'s answer."},
    {"property_from_string", (PyCFunction)(void (*)(void))property_from_string, METH_FASTCALL,
     "One property's value from a properties string."},
    {"json_command", (PyCFunction)(void (*)(void))json_command, METH_FASTCALL,
     "A RemotingCommand from a JSON header, or fallback(data)'s answer."},
    {"json_header", (PyCFunction)(void (*)(void))json_header, METH_FASTCALL, "A command's JSON header."},
    {"json_frame_head", (PyCFunction)(void (*)(void))json_frame_head, METH_FASTCALL,
     "A JSON command's frame up to its body."},
    {"ordinary_stored_properties", (PyCFunction)(void (*)(void))ordinary_stored_properties, METH_FASTCALL,
     "The stored properties of an ordinary send, or None."},
    {"index_put", (PyCFunction)(void (*)(void))index_put, METH_FASTCALL, "Write one index entry."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT, "pocketmq._speedups", NULL, -1, speedups_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    s_code = PyUnicode_InternFromString("code");
    s_language = PyUnicode_InternFromString("language");
    s_version = PyUnicode_InternFromString("version");
    s_opaque = PyUnicode_InternFromString("opaque");
    s_flag = PyUnicode_InternFromString("flag");
    s_remark = PyUnicode_InternFromString("remark");
    s_ext_fields = PyUnicode_InternFromString("extFields");
    s_java = PyUnicode_InternFromString("JAVA");
    s_wait_true_item = PyUnicode_InternFromString("WAIT\x01true\x02");
    s_wait_true = PyUnicode_InternFromString("WAIT\x01true");
    s_sep_wait_true_sep = PyUnicode_InternFromString("\x02WAIT\x01true\x02");
    s_sep_wait_true = PyUnicode_InternFromString("\x02WAIT\x01true");
    s_sep = PyUnicode_InternFromString("\x02");
    s_wait_key = PyUnicode_InternFromString("WAIT\x01");
    s_tran_key = PyUnicode_InternFromString("TRAN_MSG\x01");
    s_cluster_key = PyUnicode_InternFromString("CLUSTER\x01");
    s_empty = PyUnicode_InternFromString("");
    if (!s_wait_true_item || !s_wait_true || !s_sep_wait_true_sep || !s_sep_wait_true || !s_sep || !s_wait_key
            || !s_tran_key || !s_cluster_key || !s_empty)
        return NULL;
    if (!s_code || !s_language || !s_version || !s_opaque || !s_flag || !s_remark || !s_ext_fields || !s_java)
        return NULL;
    return PyModule_Create(&speedups_module);
}
