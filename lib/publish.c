/*
 * publish.c - the agent's side of design.md "Publication across processes".
 *
 * One publisher per directory, made sure of with an flock(2) on a lock file.
 * A publish is, in this order:
 *   1. write snap.<generation> under a temporary name, make it read-only;
 *   2. rename it into place (readers can now open it, but none looks yet);
 *   3. store the generation in the control file, release order, so a reader
 *      whose acquire load sees it also sees the renamed file;
 *   4. bump the futex word and FUTEX_WAKE every waiter (shared futex: the
 *      waiters are other processes);
 *   5. touch the control file's times, which inotify turns into readiness
 *      of every reader's hotcfg_fd();
 *   6. unlink snapshots past the history.
 * The status record (outcome "ok", entries, bytes) is written just before
 * step 3, so a reader woken by the publish reads the outcome that goes
 * with it.
 * A failure before step 3 leaves nothing visible: the temporary file is
 * removed and readers keep the generation they have.
 *
 * Generations continue across restarts: on open we take the larger of the
 * control file's generation and the highest snapshot file in the directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "control.h"
#include "internal.h"
#include "snap.h"

#define MAX_HISTORY 64

struct hc_pub {
	char *dir;
	int dirfd;
	int lockfd;
	int ctlfd;
	struct hc_ctl *ctl;
	struct hc_pub_opts opts;
	uint64_t gen;
	uint64_t content;         /* content hash of snapshot `gen` */
	bool have_content;
	uint64_t kept[MAX_HISTORY + 2];   /* generations on disk, ascending */
	unsigned nkept;
	struct hc_status_rec rec; /* our copy of the status record */
};

static void
snap_name(char *buf, size_t len, uint64_t gen)
{
	snprintf(buf, len, HC_SNAP_PREFIX "%016" PRIx64, gen);
}

/* Parse "snap.<16 hex>"; 0 if the name is not a snapshot. */
static uint64_t
parse_snap_name(const char *name)
{
	const char *p = name + sizeof(HC_SNAP_PREFIX) - 1;
	uint64_t g = 0;

	if (strncmp(name, HC_SNAP_PREFIX, sizeof(HC_SNAP_PREFIX) - 1) != 0 ||
	    strlen(p) != 16)
		return 0;
	for (; *p; p++) {
		int d;
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else
			return 0;
		g = g << 4 | (uint64_t)d;
	}
	return g;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Collect the snapshot generations on disk, remove stale temp files (an
 * agent that died between creating one and renaming it left it; we hold
 * the lock, so none is being written). */
static int
scan_dir(struct hc_pub *p)
{
	uint64_t found[256];
	unsigned n = 0;
	DIR *d;
	struct dirent *de;
	int fd = dup(p->dirfd);

	if (fd < 0)
		return -errno;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		uint64_t g;
		if (strncmp(de->d_name, ".snap.tmp.", 10) == 0 ||
		    strncmp(de->d_name, ".control.tmp.", 13) == 0) {
			unlinkat(p->dirfd, de->d_name, 0);
			continue;
		}
		if ((g = parse_snap_name(de->d_name)) == 0)
			continue;
		if (n < sizeof(found) / sizeof(found[0]))
			found[n++] = g;
		else {
			/* Far more files than any history: keep the newest. */
			qsort(found, n, sizeof(found[0]), cmp_u64);
			if (g > found[0])
				found[0] = g;
		}
	}
	closedir(d);
	qsort(found, n, sizeof(found[0]), cmp_u64);
	p->nkept = 0;
	for (unsigned i = 0; i < n; i++) {
		if (found[i] > p->gen)
			p->gen = found[i];
		p->kept[p->nkept++] = found[i];
		if (p->nkept == sizeof(p->kept) / sizeof(p->kept[0])) {
			/* Drop the oldest from our list; trim() unlinks it. */
			char name[64];
			snap_name(name, sizeof(name), p->kept[0]);
			unlinkat(p->dirfd, name, 0);
			memmove(p->kept, p->kept + 1,
			    (p->nkept - 1) * sizeof(p->kept[0]));
			p->nkept--;
		}
	}
	return 0;
}

/* The content hash of the current snapshot file, if it is readable. */
static void
load_current_content(struct hc_pub *p)
{
	struct hc_snap_hdr h;
	char name[64];
	int fd;

	p->have_content = false;
	if (p->gen == 0)
		return;
	snap_name(name, sizeof(name), p->gen);
	if ((fd = openat(p->dirfd, name, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	if (pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    h.magic == HC_SNAP_MAGIC && h.version == HC_SNAP_VERSION &&
	    h.generation == p->gen) {
		p->content = h.content_hash;
		p->have_content = true;
	}
	close(fd);
}

static mode_t
file_mode(const struct hc_pub *p)
{
	return p->opts.group_read ? 0440 : 0400;
}

/*
 * Map the control file read-write, creating it (through a temporary name
 * and a rename, so no reader ever maps a half-made one) when it is absent
 * or not ours.  An old-format file that we replace is marked retired so
 * that readers still mapping it know to reopen.
 */
static int
open_control(struct hc_pub *p)
{
	struct stat st;
	struct hc_ctl *c;
	char tmp[64];
	int fd, rc;

	fd = openat(p->dirfd, HC_CTL_NAME, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size == HC_CTL_SIZE) {
		c = mmap(NULL, HC_CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
		if (c != MAP_FAILED) {
			if (c->magic == HC_CTL_MAGIC &&
			    c->version == HC_CTL_VERSION &&
			    c->size == HC_CTL_SIZE) {
				p->ctl = c;
				p->ctlfd = fd;
				return 0;
			}
			if (c->magic == HC_CTL_MAGIC) {
				atomic_store(&c->retired, 1);
				atomic_fetch_add(&c->futex, 1);
				syscall(SYS_futex, &c->futex, FUTEX_WAKE,
				    INT_MAX, NULL, NULL, 0);
			}
			munmap(c, HC_CTL_SIZE);
		}
	}
	if (fd >= 0)
		close(fd);

	snprintf(tmp, sizeof(tmp), ".control.tmp.%ld", (long)getpid());
	unlinkat(p->dirfd, tmp, 0);
	fd = openat(p->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    p->opts.group_read ? 0640 : 0600);
	if (fd < 0)
		return -errno;
	if (p->opts.gid != (gid_t)-1 && fchown(fd, (uid_t)-1, p->opts.gid) != 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = posix_fallocate(fd, 0, HC_CTL_SIZE)) != 0) {
		rc = -rc;
		goto fail;
	}
	c = mmap(NULL, HC_CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	c->magic = HC_CTL_MAGIC;
	c->version = HC_CTL_VERSION;
	c->size = HC_CTL_SIZE;
	atomic_store(&c->generation, p->gen);
	if (renameat(p->dirfd, tmp, p->dirfd, HC_CTL_NAME) != 0) {
		rc = -errno;
		munmap(c, HC_CTL_SIZE);
		goto fail;
	}
	p->ctl = c;
	p->ctlfd = fd;
	return 0;
fail:
	unlinkat(p->dirfd, tmp, 0);
	close(fd);
	return rc;
}

static void
status_write(struct hc_pub *p)
{
	uint64_t words[HC_STATUS_WORDS];
	uint32_t s = atomic_load_explicit(&p->ctl->seq, memory_order_relaxed);

	memset(words, 0, sizeof(words));
	memcpy(words, &p->rec, sizeof(p->rec));
	/* An odd sequence tells readers a write is in progress. */
	atomic_store_explicit(&p->ctl->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (size_t i = 0; i < HC_STATUS_WORDS; i++)
		atomic_store_explicit(&p->ctl->status[i], words[i],
		    memory_order_relaxed);
	atomic_store_explicit(&p->ctl->seq, s + 2, memory_order_release);
}

/* Create the parents of path (0755) as mkdir -p would; the directory
 * itself is made by the caller with its own mode. */
static int
make_parents(const char *path)
{
	char *copy = strdup(path), *p;
	int rc = 0;

	if (copy == NULL)
		return -ENOMEM;
	for (p = copy + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		*p = '/';
	}
	free(copy);
	return rc;
}

/*
 * Files kept from an earlier run carry the group and mode of that run.
 * Give the control file and the snapshots still on disk the ones of this
 * run, so that a changed group (hotcfgd.yaml `group`) lets its readers in
 * at once instead of at the next publish, or never for the control file.
 * Only what differs is changed: a change of the control file's attributes
 * wakes every reader's hotcfg_fd(), which promises readiness only after a
 * publish.  Best effort: what cannot be changed stays as it was.
 */
static void
regroup_one(struct hc_pub *p, int fd, const char *name, mode_t mode)
{
	struct stat st;

	if ((fd >= 0 ? fstat(fd, &st) :
	    fstatat(p->dirfd, name, &st, AT_SYMLINK_NOFOLLOW)) != 0 ||
	    !S_ISREG(st.st_mode))
		return;
	if (p->opts.gid != (gid_t)-1 && st.st_gid != p->opts.gid)
		(void)(fd >= 0 ? fchown(fd, (uid_t)-1, p->opts.gid) :
		    fchownat(p->dirfd, name, (uid_t)-1, p->opts.gid,
		    AT_SYMLINK_NOFOLLOW));
	if ((st.st_mode & 07777) != mode)
		(void)(fd >= 0 ? fchmod(fd, mode) :
		    fchmodat(p->dirfd, name, mode, 0));
}

static void
regroup(struct hc_pub *p)
{
	char name[64];

	regroup_one(p, p->ctlfd, NULL, p->opts.group_read ? 0640 : 0600);
	for (unsigned i = 0; i < p->nkept; i++) {
		snap_name(name, sizeof(name), p->kept[i]);
		regroup_one(p, -1, name, file_mode(p));
	}
}

int
hc_pub_open(struct hc_pub **out, const char *dir,
    const struct hc_pub_opts *opts)
{
	struct hc_pub *p;
	int rc = -ENOMEM;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->dirfd = p->lockfd = p->ctlfd = -1;
	p->opts.history = 2;
	p->opts.gid = (gid_t)-1;
	p->opts.group_read = true;
	if (opts)
		p->opts = *opts;
	if (p->opts.history > MAX_HISTORY)
		p->opts.history = MAX_HISTORY;
	if ((p->dir = strdup(dir)) == NULL)
		goto fail;

	if ((rc = make_parents(dir)) != 0)
		goto fail;
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	if ((p->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = -errno;
		goto fail;
	}
	if (p->opts.gid != (gid_t)-1)
		(void)fchown(p->dirfd, (uid_t)-1, p->opts.gid);
	p->lockfd = openat(p->dirfd, HC_LOCK_NAME,
	    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (p->lockfd < 0) {
		rc = -errno;
		goto fail;
	}
	if (flock(p->lockfd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	if ((rc = scan_dir(p)) != 0)
		goto fail;
	if ((rc = open_control(p)) != 0)
		goto fail;
	{
		uint64_t g = atomic_load(&p->ctl->generation);
		if (g > p->gen)
			p->gen = g;
	}
	regroup(p);
	load_current_content(p);

	/* Start from what the control file says, minus any write a crashed
	 * agent left half done (its sequence may be odd). */
	{
		uint64_t words[HC_STATUS_WORDS];
		for (size_t i = 0; i < HC_STATUS_WORDS; i++)
			words[i] = atomic_load_explicit(&p->ctl->status[i],
			    memory_order_relaxed);
		memcpy(&p->rec, words, sizeof(p->rec));
		p->rec.source[sizeof(p->rec.source) - 1] = '\0';
		p->rec.message[sizeof(p->rec.message) - 1] = '\0';
		if (p->rec.nsources > HOTCFG_STATUS_MAXSRC)
			p->rec.nsources = 0;
		uint32_t s = atomic_load(&p->ctl->seq);
		if (s & 1)
			atomic_store(&p->ctl->seq, s + 1);
	}
	p->rec.generation = p->gen;
	status_write(p);
	atomic_store(&p->ctl->pid, (int32_t)getpid());
	atomic_store(&p->ctl->started_ns, hc_now_ns());
	atomic_store(&p->ctl->heartbeat_ns, hc_now_ns());
	*out = p;
	return 0;
fail:
	hc_pub_close(p);
	return rc;
}

void
hc_pub_close(struct hc_pub *p)
{
	if (p == NULL)
		return;
	/* A clean exit says so: pid 0 tells `hotcfg status` the agent
	 * stopped, rather than letting it look alive until the heartbeat
	 * ages.  A crashed agent leaves its pid; the heartbeat tells. */
	if (p->ctl != NULL && atomic_load(&p->ctl->pid) == (int32_t)getpid())
		atomic_store(&p->ctl->pid, 0);
	if (p->ctl != NULL)
		munmap(p->ctl, HC_CTL_SIZE);
	if (p->ctlfd >= 0)
		close(p->ctlfd);
	if (p->lockfd >= 0)
		close(p->lockfd);
	if (p->dirfd >= 0)
		close(p->dirfd);
	free(p->dir);
	free(p);
}

uint64_t
hc_pub_generation(const struct hc_pub *p)
{
	return p->gen;
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *s = buf;

	while (len > 0) {
		ssize_t n = write(fd, s, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Unlink snapshots beyond the history; the current one always stays. */
static void
trim(struct hc_pub *p)
{
	while (p->nkept > p->opts.history + 1) {
		char name[64];
		snap_name(name, sizeof(name), p->kept[0]);
		unlinkat(p->dirfd, name, 0);
		memmove(p->kept, p->kept + 1, (p->nkept - 1) * sizeof(p->kept[0]));
		p->nkept--;
	}
}

int
hc_pub_publish(struct hc_pub *p, void *blob, size_t size, uint64_t *genp)
{
	const struct hc_snap_hdr *h = blob;
	char tmp[64], name[64];
	uint64_t gen;
	int fd, rc;

	if (p->have_content && h->content_hash == p->content) {
		if (genp)
			*genp = p->gen;
		hc_pub_outcome(p, HOTCFG_OUTCOME_UNCHANGED, NULL, 0, 0, NULL);
		return 1;
	}
	gen = p->gen + 1;
	hc_blob_set_generation(blob, gen);
	snap_name(name, sizeof(name), gen);
	snprintf(tmp, sizeof(tmp), ".snap.tmp.%ld", (long)getpid());
	unlinkat(p->dirfd, tmp, 0);
	fd = openat(p->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return -errno;
	if ((rc = write_all(fd, blob, size)) != 0)
		goto fail;
	if (p->opts.gid != (gid_t)-1 && fchown(fd, (uid_t)-1, p->opts.gid) != 0) {
		rc = -errno;
		goto fail;
	}
	if (fchmod(fd, file_mode(p)) != 0) {
		rc = -errno;
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = -errno;
		goto fail;
	}
	fd = -1;
	if (renameat(p->dirfd, tmp, p->dirfd, name) != 0) {
		rc = -errno;
		goto fail;
	}

	/* The status record first, so that a reader woken by this publish
	 * finds the outcome that goes with it. */
	p->rec.generation = gen;
	p->rec.published_ns = h->time_ns ? h->time_ns : hc_now_ns();
	p->rec.entries = h->count;
	p->rec.bytes = size;
	hc_pub_outcome(p, HOTCFG_OUTCOME_OK, NULL, 0, 0, NULL);

	/* The file is in place: make it the current generation. */
	atomic_store_explicit(&p->ctl->generation, gen, memory_order_release);
	atomic_fetch_add_explicit(&p->ctl->futex, 1, memory_order_release);
	syscall(SYS_futex, &p->ctl->futex, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	futimens(p->ctlfd, NULL);

	p->gen = gen;
	p->content = h->content_hash;
	p->have_content = true;
	if (p->nkept == sizeof(p->kept) / sizeof(p->kept[0])) {
		snap_name(tmp, sizeof(tmp), p->kept[0]);
		unlinkat(p->dirfd, tmp, 0);
		memmove(p->kept, p->kept + 1, (p->nkept - 1) * sizeof(p->kept[0]));
		p->nkept--;
	}
	p->kept[p->nkept++] = gen;
	trim(p);
	if (genp)
		*genp = gen;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(p->dirfd, tmp, 0);
	return rc;
}

void
hc_pub_heartbeat(struct hc_pub *p)
{
	atomic_store_explicit(&p->ctl->heartbeat_ns, hc_now_ns(),
	    memory_order_relaxed);
}

static void
copy_str(char *dst, size_t len, const char *src)
{
	if (src == NULL)
		src = "";
	snprintf(dst, len, "%s", src);
}

void
hc_pub_outcome(struct hc_pub *p, int outcome, const char *source,
    unsigned line, unsigned col, const char *msg)
{
	p->rec.outcome = (uint32_t)outcome;
	p->rec.outcome_ns = hc_now_ns();
	p->rec.line = line;
	p->rec.column = col;
	copy_str(p->rec.source, sizeof(p->rec.source), source);
	copy_str(p->rec.message, sizeof(p->rec.message), msg);
	status_write(p);
	hc_pub_heartbeat(p);
}

void
hc_pub_sources(struct hc_pub *p, const struct hc_srcstate *s, unsigned n)
{
	if (n > HOTCFG_STATUS_MAXSRC)
		n = HOTCFG_STATUS_MAXSRC;
	memset(p->rec.src, 0, sizeof(p->rec.src));
	for (unsigned i = 0; i < n; i++) {
		copy_str(p->rec.src[i].name, sizeof(p->rec.src[i].name), s[i].name);
		copy_str(p->rec.src[i].state, sizeof(p->rec.src[i].state),
		    s[i].state);
		copy_str(p->rec.src[i].detail, sizeof(p->rec.src[i].detail),
		    s[i].detail);
	}
	p->rec.nsources = n;
	status_write(p);
}
