/*
 * hotcfg.h - the public interface of libhotcfg.
 *
 * libhotcfg reads a configuration that the hotcfgd agent publishes into a
 * directory (by default /dev/shm/hotcfg/NAME).  The agent writes one
 * immutable snapshot file per generation and stores the newest generation
 * in a small shared "control" file; readers map both read-only.  Reading a
 * value takes no lock, makes no system call and copies nothing: one acquire
 * load of the generation, one comparison, then a hash lookup in place.
 *
 * Conventions, as in the rest of the library:
 *  - every function that can fail returns 0 on success or a negative error
 *    code: a negated errno value, or one of the HOTCFG_E* codes below;
 *    hotcfg_strerror() describes both;
 *  - handles are opaque; destructors accept NULL;
 *  - nothing here keeps a global "last error".
 *
 * Lifetime rule (the one to remember): a snapshot pointer, and every pointer
 * read out of it (strings, keys, bytes), stays valid until the SAME thread
 * calls hotcfg_snapshot() again on the same handle, or the handle is
 * closed.  Other threads are never blocked by it.
 *
 * This header is the only public one.  See libhotcfg(3).
 */
#ifndef HOTCFG_H
#define HOTCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with -fvisibility=hidden; what this header declares
 * is what it exports. */
#if defined(__GNUC__) && __GNUC__ >= 4
#pragma GCC visibility push(default)
#endif

#define HOTCFG_VERSION_MAJOR 0
#define HOTCFG_VERSION_MINOR 1
#define HOTCFG_VERSION_PATCH 0
#define HOTCFG_VERSION_STRING "0.1.0"
/* One number for comparisons: 0xMMmmpp. */
#define HOTCFG_VERSION_NUMBER \
	((HOTCFG_VERSION_MAJOR << 16) | (HOTCFG_VERSION_MINOR << 8) | \
	 HOTCFG_VERSION_PATCH)

/*
 * The library's own error codes.  They lie far outside the errno range so
 * that a caller can tell them apart; all are negative like the errno ones.
 */
#define HOTCFG_ETYPE     (-20001) /* the key exists with another type */
#define HOTCFG_ECORRUPT  (-20002) /* snapshot or control file is invalid */
#define HOTCFG_EVERSION  (-20003) /* a format version this library does not read */
#define HOTCFG_ERANGE    (-20004) /* value does not fit the requested type */
#define HOTCFG_ENOTPUB   (-20005) /* directory exists, nothing published yet */

/* The type of an entry.  Values are stable: they are stored in snapshots. */
enum hotcfg_type {
	HOTCFG_NULL  = 0,
	HOTCFG_BOOL  = 1,
	HOTCFG_INT   = 2,
	HOTCFG_FLOAT = 3,
	HOTCFG_STR   = 4,
	HOTCFG_BYTES = 5,
	HOTCFG_MAP   = 6,
	HOTCFG_SEQ   = 7
};

typedef struct hotcfg hotcfg;
typedef struct hotcfg_snap hotcfg_snap;

/*
 * One entry as the iterator hands it out.  Every member is public and
 * documented; the pointers point into the snapshot and share its lifetime.
 *  key, key_len    the escaped key path ("servers[0].host"), NUL-terminated
 *  type            an enum hotcfg_type value
 *  text, text_len  strings: the string; bytes: the raw bytes (also followed
 *                  by a NUL); null, bool, int, float: the canonical YAML
 *                  form ("null", "true", "42", "2.5"); map and seq: ""
 *  i, f, b         the value for HOTCFG_INT, HOTCFG_FLOAT, HOTCFG_BOOL
 *                  (an int also fills f; other members are zero)
 *  count           the number of children of a map or seq, else 0
 *  source          index of the source that set the entry; see
 *                  hotcfg_snap_source()
 */
typedef struct hotcfg_entry {
	const char *key;
	size_t key_len;
	int type;
	const char *text;
	size_t text_len;
	int64_t i;
	double f;
	bool b;
	size_t count;
	unsigned source;
} hotcfg_entry;

/* Library version at run time, e.g. "0.1.0". */
const char *hotcfg_version(void);

/* A description of err (negative or positive errno, or HOTCFG_E*).  The
 * string is static; never NULL. */
const char *hotcfg_strerror(int err);

/* The name of a type ("int", "map"...), or "unknown". */
const char *hotcfg_type_name(int type);

/*
 * Open the configuration at `where`: a NAME (no slash) under $HOTCFG_ROOT,
 * default /dev/shm/hotcfg, or a directory path (anything containing '/').
 * NULL means $HOTCFG_NAME, else "default".  Maps the control file read-only;
 * fails with -ENOENT when there is no control file (the agent never ran
 * there) and HOTCFG_ECORRUPT/HOTCFG_EVERSION when it is not one we read.
 * The handle may be used by any number of threads at once.
 */
int hotcfg_open(hotcfg **out, const char *where);

/* Close a handle; every snapshot pointer from it becomes invalid.  No
 * other thread may be using the handle.  NULL is a no-op. */
void hotcfg_close(hotcfg *h);

/* The directory the handle reads (owned by the handle). */
const char *hotcfg_dir(const hotcfg *h);

/*
 * The newest snapshot for the calling thread.  Steady state: one acquire
 * load of the published generation and one comparison; no lock, no system
 * call, no write to shared memory.  When a new generation was published,
 * the first call maps and validates it (a slow path that takes the handle's
 * mutex).  The previous snapshot of this thread is released by this call.
 *
 * Returns 0, HOTCFG_ENOTPUB before the first publish, or -ENOMEM out of
 * memory.  A bad snapshot never replaces a good one: when the newest is
 * unusable, a thread that holds a snapshot keeps it and one that holds
 * none gets the handle's newest good one; both get 0.  Only when the
 * handle has no good snapshot does the call fail: HOTCFG_ECORRUPT or
 * HOTCFG_EVERSION (the newest snapshot is damaged or in a format this
 * library does not read), -ENOENT (its file is missing although the
 * control file names it), or another negative errno from openat(2) or
 * mmap(2).  A control file overwritten in place fails only a thread that
 * holds no snapshot.
 */
int hotcfg_snapshot(hotcfg *h, const hotcfg_snap **out);

/*
 * With GCC and Clang the steady state of hotcfg_snapshot() is inline in the
 * caller: it compares the generation this thread last mapped for the handle
 * with the published one and, when they agree, returns the snapshot it
 * mapped; anything else calls the library.  It saves the call, and lets the
 * caller's next load of the snapshot come from a register, not from *out.
 * It reads the two layouts below, which are part of libhotcfg.so.0's binary
 * interface and nothing else: do not use them.  Define HOTCFG_NO_INLINE
 * before including this header to call the library every time;
 * (hotcfg_snapshot)(h, out) calls it once.
 */
#if defined(__GNUC__)
struct hotcfg__head {           /* the first member of every handle */
	uint64_t id;            /* unique in the process, never 0 */
	const uint64_t *gen;    /* the published generation, in shared memory */
};
struct hotcfg__slot {           /* a thread's cache for one handle */
	uint64_t hid;           /* the handle's id; 0: unused */
	void *thr;
	uint64_t gen;           /* the generation of snap */
	const hotcfg_snap *snap;
};
#define HOTCFG__SLOTS 4
extern __thread struct hotcfg__slot hotcfg__tls[HOTCFG__SLOTS]
    __attribute__((tls_model("initial-exec")));
#endif

#if defined(__GNUC__) && !defined(HOTCFG_NO_INLINE)
static inline int
hotcfg__snapshot(hotcfg *h, const hotcfg_snap **out)
{
	const struct hotcfg__head *hd = (const struct hotcfg__head *)
	    (const void *)h;

	/* (The slot is named, not reached through a pointer: GCC 12 with
	 * -fsanitize=undefined tests a pointer to thread-local storage for
	 * NULL with flags that another instruction set.) */
	if (__builtin_expect(hotcfg__tls[0].hid == hd->id, 1) &&
	    __builtin_expect(__atomic_load_n(hd->gen, __ATOMIC_ACQUIRE) ==
	    hotcfg__tls[0].gen, 1)) {
		*out = hotcfg__tls[0].snap;
		return 0;
	}
	return (hotcfg_snapshot)(h, out);
}
#define hotcfg_snapshot(h, out) hotcfg__snapshot((h), (out))
#endif

/* Facts about a snapshot. */
uint64_t hotcfg_snap_generation(const hotcfg_snap *s);
size_t hotcfg_snap_count(const hotcfg_snap *s);       /* entries */
size_t hotcfg_snap_size(const hotcfg_snap *s);        /* bytes */
int64_t hotcfg_snap_time(const hotcfg_snap *s);       /* build time, ns
                                                         since the epoch */
/* The name of source `id` ("examples/app.yaml", "configmap:ns/name"), or
 * NULL if there is no such source. */
const char *hotcfg_snap_source(const hotcfg_snap *s, unsigned id);
unsigned hotcfg_snap_nsources(const hotcfg_snap *s);

/*
 * Typed getters.  `key` is an escaped key path.  Each returns 0, -ENOENT
 * when the key is missing, HOTCFG_ETYPE when it has another type.  An int
 * read with hotcfg_get_float converts, and hotcfg_get_bytes also reads a
 * str as its bytes; nothing else converts.  Pointers returned share the
 * snapshot's lifetime and are NUL-terminated.
 */
int hotcfg_get_int(const hotcfg_snap *s, const char *key, int64_t *out);
int hotcfg_get_float(const hotcfg_snap *s, const char *key, double *out);
int hotcfg_get_bool(const hotcfg_snap *s, const char *key, bool *out);
int hotcfg_get_str(const hotcfg_snap *s, const char *key, const char **out);
int hotcfg_get_bytes(const hotcfg_snap *s, const char *key,
    const void **data, size_t *len);
/* Any entry: fills *e (see hotcfg_entry).  0 or -ENOENT. */
int hotcfg_get(const hotcfg_snap *s, const char *key, hotcfg_entry *e);
/* The type of a key (enum hotcfg_type) in *type.  0 or -ENOENT. */
int hotcfg_get_type(const hotcfg_snap *s, const char *key, int *type);
/* The child count of a map or seq.  0, -ENOENT or HOTCFG_ETYPE. */
int hotcfg_get_count(const hotcfg_snap *s, const char *key, size_t *out);

/*
 * Ordered iteration, by key bytes (memcmp order).  Start with *cursor = 0;
 * each call fills *e with the next entry and returns 0, or returns -ENOENT
 * at the end.  With a non-empty prefix, only the subtree at that key is
 * visited: the key itself and keys continuing with '.' or '['.  NULL or ""
 * visits everything.  The cursor is plain data: copy it, store it.
 */
int hotcfg_next(const hotcfg_snap *s, const char *prefix, size_t *cursor,
    hotcfg_entry *e);

/*
 * Sleep until a generation greater than `after` has been published, or
 * timeout_ms passes (negative: no limit).  Returns 0 at once if one
 * already exists, -ETIMEDOUT on timeout, -EINTR if a signal interrupted the
 * sleep.  Waits on the control file's futex (shared, not private).
 */
int hotcfg_wait(hotcfg *h, uint64_t after, int timeout_ms);

/* The newest published generation (an acquire load), 0 if none. */
uint64_t hotcfg_generation(const hotcfg *h);

/*
 * A file descriptor that becomes readable after each publish, for poll(2)
 * and epoll(7) loops.  It is owned by the handle (do not close it).  Call
 * hotcfg_fd_clear() once it is readable, then hotcfg_snapshot().  The
 * publisher signals the fd only after the new generation is stored, so a
 * reader woken by it always finds the new generation.
 */
int hotcfg_fd(hotcfg *h);
/* Drain the readiness of hotcfg_fd().  0, or a negative errno. */
int hotcfg_fd_clear(hotcfg *h);

/* What the agent last reported, read consistently from the control file. */
enum hotcfg_outcome {
	HOTCFG_OUTCOME_NONE      = 0,   /* nothing reported yet */
	HOTCFG_OUTCOME_OK        = 1,   /* published a new generation */
	HOTCFG_OUTCOME_UNCHANGED = 2,   /* rebuilt, content identical */
	HOTCFG_OUTCOME_ERROR     = 3    /* last build failed; old one kept */
};

#define HOTCFG_STATUS_MAXSRC 32

/*
 * A consistent copy of the control file's record (plain data, owned by the
 * caller).  Times are nanoseconds since the epoch; 0 when unknown.
 */
typedef struct hotcfg_status {
	uint64_t generation;        /* newest published generation */
	int64_t published_ns;       /* when it was published */
	uint64_t entries;           /* its entry count */
	uint64_t bytes;             /* its size in bytes */
	int pid;                    /* the agent's pid, 0 if never started */
	int64_t heartbeat_ns;       /* the agent's last sign of life */
	int64_t started_ns;         /* when the agent started */
	int outcome;                /* enum hotcfg_outcome */
	int64_t outcome_ns;         /* when the outcome was recorded */
	char source[256];           /* error: the source at fault */
	unsigned line, column;      /* error: 1-based position, 0 if none */
	char message[512];          /* error: what went wrong */
	unsigned nsources;
	struct {
		char name[256];     /* as in hotcfg_snap_source() */
		char state[64];     /* "ok", "missing", "error", "synced" ... */
		char detail[256];   /* free text: last error, resourceVersion */
	} sources[HOTCFG_STATUS_MAXSRC];
} hotcfg_status;

/* Copy the agent's status record.  Never sees a half-written record.
 * 0; HOTCFG_ECORRUPT or HOTCFG_EVERSION when the mapped control file was
 * overwritten with something else; or a negative errno. */
int hotcfg_status_read(hotcfg *h, hotcfg_status *out);

#if defined(__GNUC__) && __GNUC__ >= 4
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* HOTCFG_H */
