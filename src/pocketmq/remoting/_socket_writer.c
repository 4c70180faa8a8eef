/* The remoting writer thread: the send() system calls of plaintext connections, off the event loop.
 *
 * On loopback a send() also runs the receiving side's TCP path, and the broker's profile puts a
 * fifth of its event-loop thread there. A Python thread cannot take that work (it would need the
 * GIL for every hand-off); this one never touches Python objects. The event loop copies the
 * frames of a turn into a SocketWriter and goes on; one process-wide thread writes them with
 * send(MSG_DONTWAIT) on its own dup() of the socket, in order, and waits for POLLOUT when the
 * peer's window is full. Owning a dup means a closed or reused descriptor number can never
 * receive another connection's bytes: the socket closes when both the event loop and this
 * thread have let go of it.
 *
 * SocketWriter(fd): write(list of buffers), pending, error, close() (after what is queued is
 * written), abort() (drop it now). pocketmq.remoting.transport uses it when the extension was
 * built and writes through the event loop's transport otherwise. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define KEEP_BUFFER_BYTES (256 * 1024)

typedef struct Channel {
    int fd;                 /* our dup of the socket; -1 once closed */
    char *in;               /* appended by the event loop */
    size_t in_len, in_cap;
    char *out;              /* being written by the thread */
    size_t out_len, out_cap, out_pos;
    int queued;             /* on the ready list */
    int blocked;            /* on the blocked list, waiting for POLLOUT */
    int writing;            /* the thread is in send() without the lock */
    int closing;            /* close the fd once everything is written */
    int error;              /* errno of the send() that failed */
    int refs;               /* the Python object + the thread's lists */
    struct Channel *next;   /* ready or blocked list link */
} Channel;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;  /* a send() has returned */
static Channel *ready_head, *ready_tail, *blocked_head;
static int wake_fd = -1;
static int sleeping;
static int started;

static void
channel_release(Channel *ch)  /* with mu held */
{
    if (--ch->refs == 0) {
        free(ch->in);
        free(ch->out);
        free(ch);
    }
}

static void
channel_close_fd(Channel *ch)  /* with mu held */
{
    if (ch->fd >= 0) {
        close(ch->fd);
        ch->fd = -1;
    }
}

static int
channel_drained(Channel *ch)
{
    return ch->out_pos == ch->out_len && ch->in_len == 0;
}

static void
ready_push(Channel *ch)  /* with mu held; takes a reference */
{
    ch->queued = 1;
    ch->refs++;
    ch->next = NULL;
    if (ready_tail != NULL)
        ready_tail->next = ch;
    else
        ready_head = ch;
    ready_tail = ch;
}

static Channel *
ready_pop(void)  /* with mu held; the caller owns the list's reference */
{
    Channel *ch = ready_head;
    ready_head = ch->next;
    if (ready_head == NULL)
        ready_tail = NULL;
    ch->queued = 0;
    ch->next = NULL;
    return ch;
}

static void
blocked_remove(Channel *ch)  /* with mu held; drops the list's reference */
{
    for (Channel **link = &blocked_head; *link != NULL; link = &(*link)->next) {
        if (*link == ch) {
            *link = ch->next;
            ch->blocked = 0;
            ch->next = NULL;
            channel_release(ch);
            return;
        }
    }
}

static void
wake_thread(void)  /* with mu held */
{
    if (sleeping) {
        uint64_t one = 1;
        ssize_t ignored = write(wake_fd, &one, sizeof one);
        (void)ignored;
        sleeping = 0;
    }
}

/* Sleeps in poll() until woken or a blocked channel can be written; moves those to the ready list. */
static void
wait_for_work(void)  /* with mu held */
{
    static struct pollfd *fds;
    static Channel **owners;
    static size_t capacity;
    size_t n = 1;
    for (Channel *ch = blocked_head; ch != NULL; ch = ch->next)
        n++;
    if (n > capacity) {
        struct pollfd *more_fds = realloc(fds, n * sizeof *fds);
        Channel **more_owners = more_fds != NULL ? realloc(owners, n * sizeof *owners) : NULL;
        if (more_fds != NULL)
            fds = more_fds;
        if (more_owners == NULL) {  /* out of memory: sleep a little and try again */
            pthread_mutex_unlock(&mu);
            usleep(1000);
            pthread_mutex_lock(&mu);
            return;
        }
        owners = more_owners;
        capacity = n;
    }
    fds[0].fd = wake_fd;
    fds[0].events = POLLIN;
    size_t i = 1;
    for (Channel *ch = blocked_head; ch != NULL; ch = ch->next, i++) {
        fds[i].fd = ch->fd;
        fds[i].events = POLLOUT;
        owners[i] = ch;
        ch->refs++;  /* an abort while we sleep must not free what owners[] points to */
    }
    sleeping = 1;
    pthread_mutex_unlock(&mu);
    int ready = poll(fds, n, -1);
    pthread_mutex_lock(&mu);
    sleeping = 0;
    if (ready > 0 && fds[0].revents) {
        uint64_t count;
        ssize_t ignored = read(wake_fd, &count, sizeof count);
        (void)ignored;
    }
    for (i = 1; i < n; i++) {
        Channel *ch = owners[i];
        /* still blocked: not aborted while the lock was let go */
        if (ready > 0 && fds[i].revents && ch->blocked && ch->fd == fds[i].fd) {
            blocked_remove(ch);
            ready_push(ch);
        }
        channel_release(ch);
    }
}

static void
write_once(Channel *ch)  /* with mu held; ch came off the ready list with its reference */
{
    if (ch->out_pos == ch->out_len && ch->in_len > 0) {  /* take what the event loop queued */
        char *buf = ch->out;
        size_t cap = ch->out_cap;
        ch->out = ch->in;
        ch->out_cap = ch->in_cap;
        ch->out_len = ch->in_len;
        ch->out_pos = 0;
        ch->in = buf;
        ch->in_cap = cap;
        ch->in_len = 0;
    }
    if (ch->fd >= 0 && ch->out_pos < ch->out_len) {
        int fd = ch->fd;
        const char *data = ch->out + ch->out_pos;
        size_t length = ch->out_len - ch->out_pos;
        ch->writing = 1;
        pthread_mutex_unlock(&mu);
        ssize_t sent = send(fd, data, length, MSG_DONTWAIT | MSG_NOSIGNAL);
        int err = errno;
        pthread_mutex_lock(&mu);
        ch->writing = 0;
        pthread_cond_broadcast(&idle_cond);
        if (sent >= 0) {
            ch->out_pos += (size_t)sent;
            if (ch->out_pos == ch->out_len && ch->out_cap > KEEP_BUFFER_BYTES) {
                free(ch->out);  /* one large answer must not keep its buffer for the connection's life */
                ch->out = NULL;
                ch->out_cap = ch->out_len = ch->out_pos = 0;
            }
        } else if (err == EAGAIN || err == EWOULDBLOCK) {
            ch->blocked = 1;
            ch->next = blocked_head;
            blocked_head = ch;  /* the list keeps the reference */
            return;
        } else if (err != EINTR) {
            ch->error = err;
            ch->out_pos = ch->out_len = ch->in_len = 0;
        }
    }
    if (ch->fd >= 0 && !channel_drained(ch)) {
        ch->queued = 1;  /* more to write: back of the line, so one busy peer cannot starve the rest */
        ch->next = NULL;
        if (ready_tail != NULL)
            ready_tail->next = ch;
        else
            ready_head = ch;
        ready_tail = ch;
        return;
    }
    if (ch->closing || ch->error)
        channel_close_fd(ch);
    channel_release(ch);
}

static void *
writer_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (ready_head == NULL)
            wait_for_work();
        write_once(ready_pop());
    }
    return NULL;
}

static void
forget_thread_in_child(void)
{
    /* fork() keeps only the calling thread: a child starts its own writer when it needs one. */
    pthread_mutex_init(&mu, NULL);
    pthread_cond_init(&idle_cond, NULL);
    ready_head = ready_tail = blocked_head = NULL;
    if (wake_fd >= 0)
        close(wake_fd);
    wake_fd = -1;
    sleeping = 0;
    started = 0;
}

static int
ensure_thread(void)  /* with mu held */
{
    if (started)
        return 0;
    wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd < 0)
        return -1;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t thread;
    int err = pthread_create(&thread, &attr, writer_main, NULL);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        close(wake_fd);
        wake_fd = -1;
        errno = err;
        return -1;
    }
    started = 1;
    return 0;
}

/* ------------------------------------------------------------------------ the Python type */

typedef struct {
    PyObject_HEAD
    Channel *ch;
} SocketWriter;

static int
SocketWriter_init(SocketWriter *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"fd", NULL};
    int fd;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "i", keywords, &fd))
        return -1;
    if (self->ch != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "SocketWriter already initialised");
        return -1;
    }
    Channel *ch = calloc(1, sizeof *ch);
    if (ch == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    ch->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (ch->fd < 0) {
        free(ch);
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    ch->refs = 1;
    pthread_mutex_lock(&mu);
    int failed = ensure_thread();
    pthread_mutex_unlock(&mu);
    if (failed) {
        close(ch->fd);
        free(ch);
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    self->ch = ch;
    return 0;
}

static int
append(Channel *ch, const char *data, size_t length)  /* with mu held */
{
    if (ch->in_len + length > ch->in_cap) {
        size_t cap = ch->in_cap ? ch->in_cap : 4096;
        while (cap < ch->in_len + length)
            cap *= 2;
        char *bigger = realloc(ch->in, cap);
        if (bigger == NULL)
            return -1;
        ch->in = bigger;
        ch->in_cap = cap;
    }
    memcpy(ch->in + ch->in_len, data, length);
    ch->in_len += length;
    return 0;
}

static PyObject *
raise_closed(void)
{
    PyErr_SetString(PyExc_OSError, "SocketWriter is closed");
    return NULL;
}

static PyObject *
SocketWriter_write(SocketWriter *self, PyObject *buffers)
{
    Channel *ch = self->ch;
    if (ch == NULL)
        return raise_closed();
    PyObject *seq = PySequence_Fast(buffers, "write() needs a sequence of buffers");
    if (seq == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    Py_buffer *views = PyMem_Calloc((size_t)(count ? count : 1), sizeof *views);
    if (views == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    Py_ssize_t taken = 0;
    PyObject *result = NULL;
    for (; taken < count; taken++) {
        if (PyObject_GetBuffer(items[taken], &views[taken], PyBUF_SIMPLE) < 0)
            goto done;
    }
    pthread_mutex_lock(&mu);
    int err = ch->error;
    int closed = ch->fd < 0 || ch->closing;
    int nomem = 0;
    if (!err && !closed) {
        for (Py_ssize_t i = 0; i < count && !nomem; i++)
            nomem = append(ch, views[i].buf, (size_t)views[i].len) < 0;
        if (!ch->queued && !ch->blocked && !ch->writing) {
            ready_push(ch);
            wake_thread();
        }
    }
    pthread_mutex_unlock(&mu);
    if (err) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
    } else if (closed) {
        raise_closed();
    } else if (nomem) {
        PyErr_NoMemory();
    } else {
        result = Py_None;
        Py_INCREF(result);
    }
done:
    for (Py_ssize_t i = 0; i < taken; i++)
        PyBuffer_Release(&views[i]);
    PyMem_Free(views);
    Py_DECREF(seq);
    return result;
}

static PyObject *
SocketWriter_close(SocketWriter *self, PyObject *unused)
{
    (void)unused;
    Channel *ch = self->ch;
    if (ch == NULL)
        Py_RETURN_NONE;
    pthread_mutex_lock(&mu);
    ch->closing = 1;
    if (!ch->queued && !ch->blocked && !ch->writing && (channel_drained(ch) || ch->error))
        channel_close_fd(ch);
    pthread_mutex_unlock(&mu);
    Py_RETURN_NONE;
}

static void
abort_channel(Channel *ch)
{
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&mu);
    ch->closing = 1;
    ch->out_pos = ch->out_len = ch->in_len = 0;
    while (ch->writing)
        pthread_cond_wait(&idle_cond, &mu);
    if (ch->blocked)
        blocked_remove(ch);
    channel_close_fd(ch);  /* a queued channel is dropped by the thread: it finds fd < 0 */
    pthread_mutex_unlock(&mu);
    Py_END_ALLOW_THREADS
}

static PyObject *
SocketWriter_abort(SocketWriter *self, PyObject *unused)
{
    (void)unused;
    if (self->ch != NULL)
        abort_channel(self->ch);
    Py_RETURN_NONE;
}

enum Field { PENDING, ERROR, CLOSED };

static size_t
read_field(SocketWriter *self, enum Field field)
{
    Channel *ch = self->ch;
    if (ch == NULL)
        return field == CLOSED;
    pthread_mutex_lock(&mu);
    size_t value = field == PENDING ? ch->out_len - ch->out_pos + ch->in_len
                 : field == ERROR ? (size_t)ch->error
                 : (size_t)(ch->fd < 0);
    pthread_mutex_unlock(&mu);
    return value;
}

static PyObject *
SocketWriter_pending(SocketWriter *self, void *unused)
{
    (void)unused;
    return PyLong_FromSize_t(read_field(self, PENDING));
}

static PyObject *
SocketWriter_error(SocketWriter *self, void *unused)
{
    (void)unused;
    return PyLong_FromSize_t(read_field(self, ERROR));
}

static PyObject *
SocketWriter_closed(SocketWriter *self, void *unused)
{
    (void)unused;
    return PyBool_FromLong((long)read_field(self, CLOSED));
}

static void
SocketWriter_dealloc(SocketWriter *self)
{
    Channel *ch = self->ch;
    if (ch != NULL) {
        self->ch = NULL;
        pthread_mutex_lock(&mu);
        ch->closing = 1;  /* what is queued is still written, then the fd is closed */
        if (!ch->queued && !ch->blocked && !ch->writing)
            channel_close_fd(ch);
        channel_release(ch);
        pthread_mutex_unlock(&mu);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef SocketWriter_methods[] = {
    {"write", (PyCFunction)SocketWriter_write, METH_O,
     "Queue the bytes of a sequence of buffers (copied); raises OSError after a failed send or once closed."},
    {"close", (PyCFunction)SocketWriter_close, METH_NOARGS,
     "Close the writer's descriptor once what is queued has been written."},
    {"abort", (PyCFunction)SocketWriter_abort, METH_NOARGS,
     "Drop what is queued and close the writer's descriptor now."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef SocketWriter_getset[] = {
    {"pending", (getter)SocketWriter_pending, NULL, "Bytes queued and not yet sent.", NULL},
    {"error", (getter)SocketWriter_error, NULL, "errno of the send() that failed, 0 if none.", NULL},
    {"closed", (getter)SocketWriter_closed, NULL, "True once the writer's descriptor is closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject SocketWriterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pocketmq.remoting._socket_writer.SocketWriter",
    .tp_basicsize = sizeof(SocketWriter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Writes a socket's outgoing bytes on the process's writer thread.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)SocketWriter_init,
    .tp_dealloc = (destructor)SocketWriter_dealloc,
    .tp_methods = SocketWriter_methods,
    .tp_getset = SocketWriter_getset,
};

static struct PyModuleDef socket_writer_module = {
    PyModuleDef_HEAD_INIT, "pocketmq.remoting._socket_writer", NULL, -1, NULL,
};

PyMODINIT_FUNC
PyInit__socket_writer(void)
{
    if (PyType_Ready(&SocketWriterType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&socket_writer_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&SocketWriterType);
    if (PyModule_AddObject(module, "SocketWriter", (PyObject *)&SocketWriterType) < 0) {
        Py_DECREF(&SocketWriterType);
        Py_DECREF(module);
        return NULL;
    }
    static int atfork_registered;
    if (!atfork_registered) {
        pthread_atfork(NULL, NULL, forget_thread_in_child);
        atfork_registered = 1;
    }
    return module;
}
