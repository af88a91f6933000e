/*
 * reader.c - the public reader API: handles, per-thread snapshots, waiting.
 *
 * The read path.  hotcfg_snapshot() must cost one acquire load and one
 * comparison when nothing changed, with no lock, no system call and no
 * write to memory another thread reads.  So each thread keeps, per handle,
 * a small record (struct hc_thr) holding the mapping it uses; the thread
 * finds it through a thread-local cache keyed by the handle's unique id.
 * When the control file's generation equals the generation of the thread's
 * mapping, the call returns at once.
 *
 * Reclamation is quiescent-state based, with the thread's own next call as
 * its quiescent state: a mapping carries a count of the thread records (plus
 * the handle's "newest" pointer) that refer to it, changed only under the
 * handle's mutex on the slow path.  A thread moving to a new generation
 * drops its reference to the old mapping; the last one out unmaps it.  A
 * pointer a thread got from a snapshot therefore stays valid until that
 * same thread calls hotcfg_snapshot() again, and no other thread ever waits
 * for it.  Unlinked snapshot files stay readable while mapped.
 *
 * Thread exit runs a pthread key destructor that releases the thread's
 * records.  Closing a handle orphans the records of other threads (their
 * handle pointer becomes NULL under a global mutex); those threads free the
 * orphans on their next slow path or at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "hotcfg.h"
#include "internal.h"
#include "snap.h"

#define TLS_CACHE HOTCFG__SLOTS
#define MAP_RETRIES 16

struct hc_map {
	struct hotcfg_snap snap;   /* first: &map->snap is what users get */
	void *addr;
	size_t len;
	unsigned refs;
	struct hc_map *next;
};

struct hc_thr {
	struct hotcfg *h;          /* NULL once the handle is closed */
	uint64_t hid;
	struct hc_map *map;
	struct hc_thr *hnext;      /* the handle's list */
	struct hc_thr *tnext;      /* the thread's list */
};

struct hotcfg {
	struct hotcfg__head pub;   /* first: read by hotcfg.h's inline path */
	const struct hc_ctl *ctl;
	char *dir;
	int dirfd;
	int inofd;
	pthread_mutex_t mu;
	struct hc_map *maps;
	struct hc_map *newest;     /* holds one reference */
	struct hc_thr *thrs;
	_Atomic uint64_t bad_gen;  /* newest generation that failed to map */
	int bad_err;
};
_Static_assert(offsetof(struct hotcfg, pub) == 0,
    "hotcfg.h reads struct hotcfg__head at the start of a handle");

/*
 * A thread's cache of its records, keyed by handle id (struct hotcfg__slot,
 * declared in hotcfg.h, whose inline hotcfg_snapshot() reads slot 0).  Each
 * slot also holds a copy of the record's generation and snapshot pointer,
 * so that the fast path compares and returns without following the record
 * and its mapping (two dependent loads fewer).  Only the owning thread
 * changes t->map, and it refreshes the copy when it does (tls_sync); gen is
 * UINT64_MAX while the record has no mapping.
 *
 * initial-exec: a plain %fs-relative access on the read path instead of a
 * call to __tls_get_addr.  The cost is a few bytes of static TLS.
 */
__thread struct hotcfg__slot hotcfg__tls[HOTCFG__SLOTS]
    __attribute__((tls_model("initial-exec")));
static __thread struct hc_thr *tls_all
    __attribute__((tls_model("initial-exec")));

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t thr_key;
static _Atomic uint64_t next_id = 1;

static void map_unref(struct hotcfg *h, struct hc_map *m);

static void
tls_forget(struct hc_thr *t)
{
	for (int i = 0; i < TLS_CACHE; i++)
		if (hotcfg__tls[i].thr == t)
			hotcfg__tls[i] = (struct hotcfg__slot){ 0 };
}

/* Release one thread record: caller holds reg_mu. */
static void
thr_release_locked(struct hc_thr *t)
{
	struct hotcfg *h = t->h;

	if (h != NULL) {
		pthread_mutex_lock(&h->mu);
		for (struct hc_thr **pp = &h->thrs; *pp; pp = &(*pp)->hnext) {
			if (*pp == t) {
				*pp = t->hnext;
				break;
			}
		}
		if (t->map)
			map_unref(h, t->map);
		pthread_mutex_unlock(&h->mu);
	}
	free(t);
}

static void
thread_exit(void *arg)
{
	struct hc_thr *t, *next;

	(void)arg;
	pthread_mutex_lock(&reg_mu);
	for (t = tls_all; t != NULL; t = next) {
		next = t->tnext;
		thr_release_locked(t);
	}
	tls_all = NULL;
	memset(hotcfg__tls, 0, sizeof(hotcfg__tls));
	pthread_mutex_unlock(&reg_mu);
}

static void
make_key(void)
{
	pthread_key_create(&thr_key, thread_exit);
}

/* Free this thread's records whose handle was closed. */
static void
prune_orphans(void)
{
	struct hc_thr **pp = &tls_all;

	pthread_mutex_lock(&reg_mu);
	while (*pp) {
		struct hc_thr *t = *pp;
		if (t->h == NULL) {
			*pp = t->tnext;
			tls_forget(t);
			free(t);
		} else {
			pp = &t->tnext;
		}
	}
	pthread_mutex_unlock(&reg_mu);
}

static inline struct hc_thr *
tls_find(const struct hotcfg *h)
{
	for (int i = 0; i < TLS_CACHE; i++)
		if (hotcfg__tls[i].hid == h->pub.id)
			return hotcfg__tls[i].thr;
	for (struct hc_thr *t = tls_all; t; t = t->tnext)
		if (t->hid == h->pub.id)
			return t;
	return NULL;
}

static struct hotcfg__slot
tls_slot_of(struct hc_thr *t)
{
	return (struct hotcfg__slot){ t->hid, t,
	    t->map ? t->map->snap.generation : UINT64_MAX,
	    t->map ? &t->map->snap : NULL };
}

static void
tls_remember(struct hc_thr *t)
{
	static __thread unsigned rr __attribute__((tls_model("initial-exec")));

	for (int i = 0; i < TLS_CACHE; i++) {
		if (hotcfg__tls[i].thr == NULL) {
			hotcfg__tls[i] = tls_slot_of(t);
			return;
		}
	}
	hotcfg__tls[rr++ % TLS_CACHE] = tls_slot_of(t);
}

/* After this thread changed t->map: refresh the cached copies. */
static void
tls_sync(struct hc_thr *t)
{
	for (int i = 0; i < TLS_CACHE; i++)
		if (hotcfg__tls[i].thr == t)
			hotcfg__tls[i] = tls_slot_of(t);
}

static void
map_free(struct hc_map *m)
{
	munmap(m->addr, m->len);
	free(m);
}

/* Caller holds h->mu. */
static void
map_unref(struct hotcfg *h, struct hc_map *m)
{
	if (--m->refs > 0)
		return;
	for (struct hc_map **pp = &h->maps; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	map_free(m);
}

/* Map and validate snapshot `gen`.  -ENOENT when its file is gone. */
static int
map_generation(struct hotcfg *h, uint64_t gen, struct hc_map **out)
{
	char name[64];
	struct stat st;
	struct hc_map *m = NULL;
	void *addr;
	int fd, rc;

	snprintf(name, sizeof(name), HC_SNAP_PREFIX "%016" PRIx64, gen);
	/* O_NONBLOCK: a FIFO put in a snapshot's place must not block us;
	 * it is refused below like any file that is not a snapshot, and so
	 * is a symbolic link (ELOOP). */
	fd = openat(h->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK);
	if (fd < 0)
		return errno == ELOOP ? HOTCFG_ECORRUPT : -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(struct hc_snap_hdr) ||
	    (uint64_t)st.st_size > UINT32_MAX) {
		close(fd);
		return HOTCFG_ECORRUPT;
	}
	addr = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	rc = -errno;
	close(fd);
	if (addr == MAP_FAILED)
		return rc;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		munmap(addr, (size_t)st.st_size);
		return -ENOMEM;
	}
	m->addr = addr;
	m->len = (size_t)st.st_size;
	rc = hc_snap_validate(addr, m->len, &m->snap);
	if (rc == 0 && m->snap.generation != gen)
		rc = HOTCFG_ECORRUPT;
	if (rc != 0) {
		map_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

static int
ctl_check(const struct hc_ctl *c)
{
	if (c->magic != HC_CTL_MAGIC || c->size != HC_CTL_SIZE)
		return HOTCFG_ECORRUPT;
	if (c->version != HC_CTL_VERSION)
		return c->version > HC_CTL_VERSION ? HOTCFG_EVERSION :
		    HOTCFG_ECORRUPT;
	return 0;
}

int
hotcfg_open(hotcfg **out, const char *where)
{
	struct hotcfg *h;
	struct stat st;
	void *c;
	int fd = -1, rc;

	*out = NULL;
	pthread_once(&key_once, make_key);
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -ENOMEM;
	h->dirfd = h->inofd = -1;
	pthread_mutex_init(&h->mu, NULL);
	h->pub.id = atomic_fetch_add(&next_id, 1);
	if ((rc = hc_resolve_dir(where, &h->dir)) != 0)
		goto fail;
	if ((h->dirfd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = -errno;
		goto fail;
	}
	if ((fd = openat(h->dirfd, HC_CTL_NAME, O_RDONLY | O_CLOEXEC |
	    O_NONBLOCK)) < 0) {
		rc = -errno;
		goto fail;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size != HC_CTL_SIZE) {
		rc = HOTCFG_ECORRUPT;
		goto fail;
	}
	c = mmap(NULL, HC_CTL_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	h->ctl = c;
	h->pub.gen = (const uint64_t *)(const void *)&h->ctl->generation;
	if ((rc = ctl_check(h->ctl)) != 0)
		goto fail;
	close(fd);
	*out = h;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	hotcfg_close(h);
	return rc;
}

void
hotcfg_close(hotcfg *h)
{
	struct hc_map *m, *next;

	if (h == NULL)
		return;
	pthread_mutex_lock(&reg_mu);
	pthread_mutex_lock(&h->mu);
	for (struct hc_thr *t = h->thrs; t; t = t->hnext)
		t->h = NULL;
	h->thrs = NULL;
	pthread_mutex_unlock(&h->mu);
	pthread_mutex_unlock(&reg_mu);
	/* This thread's own records can go now. */
	prune_orphans();
	for (m = h->maps; m; m = next) {
		next = m->next;
		map_free(m);
	}
	if (h->ctl)
		munmap((void *)h->ctl, HC_CTL_SIZE);
	if (h->inofd >= 0)
		close(h->inofd);
	if (h->dirfd >= 0)
		close(h->dirfd);
	pthread_mutex_destroy(&h->mu);
	free(h->dir);
	free(h);
}

const char *
hotcfg_dir(const hotcfg *h)
{
	return h->dir;
}

uint64_t
hotcfg_generation(const hotcfg *h)
{
	return atomic_load_explicit(&h->ctl->generation, memory_order_acquire);
}

/*
 * Bring h->newest up to the published generation.  Caller holds h->mu.
 * A generation whose file is already gone (two publishes in quick
 * succession) is skipped by reading the generation again.
 */
static int
refresh_newest(struct hotcfg *h, uint64_t gen)
{
	struct hc_map *m = NULL;
	int rc = 0;

	for (int tries = 0; tries < MAP_RETRIES; tries++) {
		if (h->newest && h->newest->snap.generation == gen)
			return 0;
		if (gen == atomic_load_explicit(&h->bad_gen, memory_order_relaxed))
			return h->bad_err;
		rc = map_generation(h, gen, &m);
		if (rc == 0) {
			m->refs = 1;
			m->next = h->maps;
			h->maps = m;
			if (h->newest)
				map_unref(h, h->newest);
			h->newest = m;
			return 0;
		}
		if (rc == HOTCFG_ECORRUPT || rc == HOTCFG_EVERSION) {
			/* Remember it, so that every later call does not map
			 * and validate the same bad file again. */
			h->bad_err = rc;
			atomic_store_explicit(&h->bad_gen, gen,
			    memory_order_relaxed);
			return rc;
		}
		if (rc != -ENOENT)
			return rc;
		uint64_t g2 = atomic_load_explicit(&h->ctl->generation,
		    memory_order_acquire);
		if (g2 == gen)
			return -ENOENT;   /* current file missing: not retryable */
		gen = g2;
	}
	return rc;
}

/*
 * Kept out of line (and out of the hot text) on purpose: inlined into
 * hotcfg_snapshot(), its locals made the fast path save six registers and
 * reserve a stack frame on every call.
 */
__attribute__((noinline, cold)) static int
snapshot_slow(struct hotcfg *h, struct hc_thr *t, const hotcfg_snap **out)
{
	uint64_t gen;
	int rc;

	pthread_once(&key_once, make_key);
	if (t == NULL) {
		prune_orphans();
		if ((t = calloc(1, sizeof(*t))) == NULL)
			return -ENOMEM;
		t->hid = h->pub.id;
		pthread_mutex_lock(&reg_mu);
		t->h = h;
		pthread_mutex_lock(&h->mu);
		t->hnext = h->thrs;
		h->thrs = t;
		pthread_mutex_unlock(&h->mu);
		t->tnext = tls_all;
		tls_all = t;
		pthread_mutex_unlock(&reg_mu);
		pthread_setspecific(thr_key, (void *)1);
		tls_remember(t);
	}

	pthread_mutex_lock(&h->mu);
	gen = atomic_load_explicit(&h->ctl->generation, memory_order_acquire);
	/*
	 * A control file overwritten in place (garbage, another format) may
	 * show any generation, 0 included: a thread that holds a good
	 * snapshot keeps it, as it would for a bad snapshot file.
	 */
	if ((rc = ctl_check(h->ctl)) != 0 || gen == 0) {
		if (rc == 0)
			rc = HOTCFG_ENOTPUB;
		if (t->map != NULL) {
			*out = &t->map->snap;
			rc = 0;
		}
		goto out;
	}
	rc = refresh_newest(h, gen);
	if (rc != 0 && h->newest == NULL && t->map == NULL)
		goto out;
	if (rc != 0 && t->map != NULL) {
		/* Keep what this thread has: a bad or vanished new snapshot
		 * never replaces a good one. */
		*out = &t->map->snap;
		rc = 0;
		goto out;
	}
	if (t->map != h->newest) {
		h->newest->refs++;
		if (t->map)
			map_unref(h, t->map);
		t->map = h->newest;
		tls_sync(t);
	}
	*out = &t->map->snap;
	rc = 0;
out:
	pthread_mutex_unlock(&h->mu);
	return rc;
}

/* Another handle in the thread's first cache slot, or a new generation. */
__attribute__((noinline)) static int
snapshot_other(struct hotcfg *h, const hotcfg_snap **out)
{
	struct hc_thr *t = tls_find(h);

	if (t != NULL && t->map != NULL &&
	    atomic_load_explicit(&h->ctl->generation, memory_order_acquire) ==
	    t->map->snap.generation) {
		*out = &t->map->snap;
		return 0;
	}
	return snapshot_slow(h, t, out);
}

/* The name in parentheses: hotcfg.h defines a macro of the same name that
 * calls the inline copy of this fast path. */
int
(hotcfg_snapshot)(hotcfg *h, const hotcfg_snap **out)
{
	const struct hotcfg__slot *c = &hotcfg__tls[0];

	if (HC_LIKELY(c->hid == h->pub.id) &&
	    HC_LIKELY(atomic_load_explicit(&h->ctl->generation,
	    memory_order_acquire) == c->gen)) {
		*out = c->snap;
		return 0;
	}
	return snapshot_other(h, out);
}

static long
futex_wait(const _Atomic uint32_t *addr, uint32_t val,
    const struct timespec *rel)
{
	/* Shared (not FUTEX_PRIVATE_FLAG): the waker is another process. */
	return syscall(SYS_futex, addr, FUTEX_WAIT, val, rel, NULL, 0);
}

int
hotcfg_wait(hotcfg *h, uint64_t after, int timeout_ms)
{
	int64_t deadline = 0;

	if (timeout_ms >= 0)
		deadline = hc_mono_ns() + (int64_t)timeout_ms * 1000000;
	for (;;) {
		struct timespec ts, *tp = NULL;
		uint32_t w = atomic_load_explicit(&h->ctl->futex,
		    memory_order_acquire);

		if (atomic_load_explicit(&h->ctl->generation,
		    memory_order_acquire) > after)
			return 0;
		if (timeout_ms >= 0) {
			int64_t left = deadline - hc_mono_ns();
			if (left <= 0)
				return -ETIMEDOUT;
			ts.tv_sec = left / 1000000000;
			ts.tv_nsec = left % 1000000000;
			tp = &ts;
		}
		if (futex_wait(&h->ctl->futex, w, tp) != 0) {
			if (errno == EINTR)
				return -EINTR;
			if (errno != EAGAIN && errno != ETIMEDOUT)
				return -errno;
		}
	}
}

int
hotcfg_fd(hotcfg *h)
{
	char path[PATH_MAX];
	int rc;

	pthread_mutex_lock(&h->mu);
	if (h->inofd >= 0) {
		rc = h->inofd;
		goto out;
	}
	if (snprintf(path, sizeof(path), "%s/%s", h->dir, HC_CTL_NAME) >=
	    (int)sizeof(path)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	if ((rc = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		rc = -errno;
		goto out;
	}
	if (inotify_add_watch(rc, path, IN_ATTRIB | IN_MODIFY |
	    IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
		int err = -errno;
		close(rc);
		rc = err;
		goto out;
	}
	h->inofd = rc;
out:
	pthread_mutex_unlock(&h->mu);
	return rc;
}

int
hotcfg_fd_clear(hotcfg *h)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int fd = h->inofd;

	if (fd < 0)
		return 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		return 0;
	}
}

int
hotcfg_status_read(hotcfg *h, hotcfg_status *out)
{
	uint64_t words[HC_STATUS_WORDS];
	struct hc_status_rec rec;
	const struct hc_ctl *c = h->ctl;
	int tries;

	if ((tries = ctl_check(c)) != 0)
		return tries;
	for (tries = 0; tries < 100000; tries++) {
		uint32_t s1 = atomic_load_explicit(&c->seq, memory_order_acquire);
		if (s1 & 1) {
			if (tries > 100)
				sched_yield();
			continue;
		}
		for (size_t i = 0; i < HC_STATUS_WORDS; i++)
			words[i] = atomic_load_explicit(&c->status[i],
			    memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&c->seq, memory_order_relaxed) == s1)
			break;
	}
	if (tries == 100000)
		return -EAGAIN;
	memcpy(&rec, words, sizeof(rec));

	memset(out, 0, sizeof(*out));
	out->generation = atomic_load_explicit(&c->generation,
	    memory_order_acquire);
	out->published_ns = rec.published_ns;
	out->entries = rec.entries;
	out->bytes = rec.bytes;
	out->pid = atomic_load_explicit(&c->pid, memory_order_relaxed);
	out->heartbeat_ns = atomic_load_explicit(&c->heartbeat_ns,
	    memory_order_relaxed);
	out->started_ns = atomic_load_explicit(&c->started_ns,
	    memory_order_relaxed);
	out->outcome = (int)rec.outcome;
	out->outcome_ns = rec.outcome_ns;
	snprintf(out->source, sizeof(out->source), "%.*s",
	    (int)sizeof(rec.source) - 1, rec.source);
	out->line = rec.line;
	out->column = rec.column;
	snprintf(out->message, sizeof(out->message), "%.*s",
	    (int)sizeof(rec.message) - 1, rec.message);
	out->nsources = rec.nsources > HOTCFG_STATUS_MAXSRC ?
	    HOTCFG_STATUS_MAXSRC : rec.nsources;
	for (unsigned i = 0; i < out->nsources; i++) {
		snprintf(out->sources[i].name, sizeof(out->sources[i].name),
		    "%.*s", (int)sizeof(rec.src[i].name) - 1, rec.src[i].name);
		snprintf(out->sources[i].state, sizeof(out->sources[i].state),
		    "%.*s", (int)sizeof(rec.src[i].state) - 1, rec.src[i].state);
		snprintf(out->sources[i].detail, sizeof(out->sources[i].detail),
		    "%.*s", (int)sizeof(rec.src[i].detail) - 1,
		    rec.src[i].detail);
	}
	return 0;
}
