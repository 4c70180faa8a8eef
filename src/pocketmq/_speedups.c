/* Compiled versions of per-message functions that pure Python cannot make cheaper.
 *
 * java_string_hash(text) -> int: Java's String.hashCode() (over UTF-16 code units, signed
 * 32-bit), used for every index key and tag. pocketmq.protocol.message keeps the pure-Python
 * version and uses this one when the extension was built (it is optional at install). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

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

static PyMethodDef speedups_methods[] = {
    {"java_string_hash", java_string_hash, METH_O, "Java String.hashCode() of a str."},
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
