/*
 * watch.c - the watcher thread (see watch.h for what is watched and why).
 *
 * Three parts:
 *
 *  1. Resolution.  resolve() walks a source's path one component at a
 *     time, as the kernel would, and lists every (directory, name) pair
 *     the result depends on.  A relative symlink is followed from the
 *     directory holding it, so kubelet's "name -> ..data/name" and
 *     "..data -> ..2026_01_02_03_04_05.123" both become pairs in the
 *     volume directory, and the timestamped directory itself is watched
 *     for the file inside it.  An absolute symlink restarts the walk at
 *     the target's parent.  A missing component ends the walk: the pair
 *     that names it is how we learn that it appeared.
 *
 *  2. The table.  Directories are watched once whatever the number of
 *     pairs in them (inotify gives one descriptor per inode); each source
 *     keeps its pairs and the descriptor of each.  The main loop replaces
 *     a source's pairs (watch_source()) and the thread reads them, under
 *     one mutex.
 *
 *  3. The thread.  It sleeps in poll(2) on the inotify descriptor and a
 *     stop eventfd, reads a batch of events, and turns each that concerns
 *     a source into a post on the pending board.  It keeps, per source,
 *     the names that writers still hold open (IN_MODIFY seen, no
 *     IN_CLOSE_WRITE yet): while any is held, the source is on hold.  It
 *     never reads a source and never builds; it uses no CPU when nothing
 *     happens.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "pending.h"
#include "watch.h"

#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
	IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | \
	IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

/* Symlinks followed in one resolution, as the kernel's MAXSYMLINKS. */
#define MAX_HOPS 40
/* Names a source remembers as held open by a writer. */
#define MAX_HELD 64

/* ------------------------------------------------------------------ */
/* Pairs and their resolution.                                          */
/* ------------------------------------------------------------------ */

struct pair {
	char *dir;              /* absolute, symlink-free */
	char *name;             /* an entry of dir; NULL: any visible entry */
};

struct plist {
	struct pair *v;
	size_t n, cap;
};

static void
plist_free(struct plist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].dir);
		free(l->v[i].name);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int
plist_add(struct plist *l, const char *dir, const char *name)
{
	struct pair *p;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;

		if ((p = realloc(l->v, cap * sizeof(*p))) == NULL)
			return -ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	p = &l->v[l->n];
	p->dir = strdup(dir);
	p->name = name != NULL ? strdup(name) : NULL;
	if (p->dir == NULL || (name != NULL && p->name == NULL)) {
		free(p->dir);
		free(p->name);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

static int
pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c = strcmp(x->dir, y->dir);

	if (c != 0)
		return c;
	if (x->name == NULL || y->name == NULL)
		return (x->name != NULL) - (y->name != NULL);
	return strcmp(x->name, y->name);
}

static void
plist_sort(struct plist *l)
{
	size_t i, j;

	if (l->n == 0)
		return;
	qsort(l->v, l->n, sizeof(l->v[0]), pair_cmp);
	for (i = 1, j = 1; i < l->n; i++) {
		if (pair_cmp(&l->v[i], &l->v[j - 1]) == 0) {
			free(l->v[i].dir);
			free(l->v[i].name);
		} else {
			l->v[j++] = l->v[i];
		}
	}
	l->n = j;
}

static bool
plist_equal(const struct plist *a, const struct plist *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (pair_cmp(&a->v[i], &b->v[i]) != 0)
			return false;
	return true;
}

/* dir + "/" + name, without a double slash at the root. */
static char *
join(const char *dir, const char *name)
{
	char *s;

	if (asprintf(&s, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/",
	    name) < 0)
		return NULL;
	return s;
}

/*
 * Where to start walking `path` (absolute): the deepest ancestor of its
 * parent that exists, made symlink-free, and the components left below
 * it.  "/" always exists, so this ends.
 */
static int
start_point(const char *path, char **dir, char **rest)
{
	char *head = NULL, *real = NULL, *slash;
	int rc = -ENOMEM;

	*dir = *rest = NULL;
	if ((head = strdup(path)) == NULL)
		goto out;
	/* Drop trailing slashes ("/x/conf.d/"). */
	while (strlen(head) > 1 && head[strlen(head) - 1] == '/')
		head[strlen(head) - 1] = '\0';
	for (;;) {
		slash = strrchr(head, '/');
		if (slash == NULL || slash == head) {
			real = strdup("/");
			*rest = strdup(slash ? head + 1 : head);
			break;
		}
		*slash = '\0';
		if ((real = realpath(head, NULL)) != NULL) {
			*rest = strdup(path + (slash - head) + 1);
			break;
		}
		if (errno != ENOENT && errno != ENOTDIR && errno != EACCES)
			goto out;
		/* head is missing: the next turn looks one level up, and
		 * the missing names stay in what is left to walk. */
	}
	if (real == NULL || *rest == NULL)
		goto out;
	*dir = real;
	real = NULL;
	rc = 0;
out:
	if (rc != 0) {
		free(*rest);
		*rest = NULL;
	}
	free(real);
	free(head);
	return rc;
}

/*
 * Walk `rest` below the real directory `dir` (both taken over), adding
 * pairs.  With expand, a final directory also gets an any-name pair and
 * every visible symlink in it is walked too (a ConfigMap volume).
 */
static int walk(char *dir, char *rest, struct plist *out, int hops,
    bool expand);

static int
expand_dir(const char *dir, struct plist *out, int hops)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if ((rc = plist_add(out, dir, NULL)) != 0)
		return rc;
	if ((d = opendir(dir)) == NULL)
		return 0;       /* gone or unreadable: the load will say */
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char *d2, *r2;

		if (de->d_name[0] == '.' ||
		    (de->d_type != DT_LNK && de->d_type != DT_UNKNOWN))
			continue;
		d2 = strdup(dir);
		r2 = strdup(de->d_name);
		if (d2 == NULL || r2 == NULL) {
			free(d2);
			free(r2);
			rc = -ENOMEM;
			break;
		}
		rc = walk(d2, r2, out, hops, false);
	}
	closedir(d);
	return rc;
}

static int
walk(char *dir, char *rest, struct plist *out, int hops, bool expand)
{
	char *path = NULL, *target = NULL, *next = NULL;
	struct stat st;
	int rc = 0;
	bool isdir = true;

	for (;;) {
		char *comp = rest, *slash;

		while (*comp == '/')
			comp++;
		if (*comp == '\0')
			break;
		if ((slash = strchr(comp, '/')) != NULL)
			*slash = '\0';
		if (strcmp(comp, ".") == 0)
			goto advance;
		if (strcmp(comp, "..") == 0) {
			/* dir is symlink-free, so ".." is lexical. */
			char *up = strrchr(dir, '/');

			if (up != NULL && up != dir)
				*up = '\0';
			else
				strcpy(dir, "/");
			goto advance;
		}
		if ((rc = plist_add(out, dir, comp)) != 0)
			goto out;
		free(path);
		if ((path = join(dir, comp)) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		if (lstat(path, &st) != 0) {
			isdir = false;
			goto out;       /* missing: the pair waits for it */
		}
		if (S_ISLNK(st.st_mode)) {
			char buf[PATH_MAX];
			ssize_t n;

			if (++hops > MAX_HOPS ||
			    (n = readlink(path, buf, sizeof(buf) - 1)) <= 0) {
				isdir = false;
				goto out;
			}
			buf[n] = '\0';
			if (asprintf(&target, "%s%s%s", buf, slash ? "/" : "",
			    slash ? slash + 1 : "") < 0) {
				target = NULL;
				rc = -ENOMEM;
				goto out;
			}
			if (buf[0] == '/') {
				char *d2, *r2;

				if ((rc = start_point(target, &d2, &r2)) != 0)
					goto out;
				free(dir);
				dir = d2;
				free(target);
				target = r2;
			}
			free(rest);
			rest = target;
			target = NULL;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			isdir = false;
			goto out;       /* a file; anything below it is moot */
		}
		free(dir);
		dir = path;
		path = NULL;
advance:
		if (slash == NULL)
			break;
		if ((next = strdup(slash + 1)) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		free(rest);
		rest = next;
		next = NULL;
	}
	if (expand && isdir)
		rc = expand_dir(dir, out, hops);
out:
	free(path);
	free(target);
	free(dir);
	free(rest);
	return rc;
}

static int
resolve(const char *path, struct plist *out)
{
	char *abs = NULL, *dir, *rest;
	int rc;

	if (path[0] != '/') {
		char cwd[PATH_MAX];

		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return -errno;
		if ((abs = join(cwd, path)) == NULL)
			return -ENOMEM;
		path = abs;
	}
	rc = start_point(path, &dir, &rest);
	free(abs);
	if (rc != 0)
		return rc;
	if ((rc = walk(dir, rest, out, 0, true)) != 0)
		return rc;
	plist_sort(out);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The table.                                                           */
/* ------------------------------------------------------------------ */

struct wdir {
	int wd;
	char *path;
	unsigned refs;
};

struct held {
	char *name;
	int64_t until;          /* writer hold ends (last write + timeout) */
	bool writing;           /* IN_MODIFY seen, not closed */
	bool fresh;             /* created during this burst */
};

struct wsrc {
	struct plist pairs;
	int *wds;               /* per pair, -1 when not watched */
	bool stale;             /* a watch of it went away */
	bool degraded;          /* the watch limit left it unwatched */
	struct held held[MAX_HELD];
	size_t nheld;
	/* The last entry of a directory source renamed away, to pair its
	 * IN_MOVED_TO: was it a fresh temporary (sed -i) or a file that
	 * existed (vim renaming the original to its backup)? */
	uint32_t move_cookie;
	bool move_fresh;
};

struct watcher {
	pthread_mutex_t mtx;
	int ifd;
	int stopfd;
	pthread_t thr;
	bool started;
	struct pending *pend;
	struct watch_opts o;
	size_t nsrc;
	struct wsrc *src;
	struct wdir *dirs;
	size_t ndirs, capdirs;
	uint64_t events, overflows;
	bool warned_limit;
	bool dead;              /* the thread stopped on an error: rescans */
};

static struct wdir *
dir_by_wd(struct watcher *w, int wd)
{
	size_t i;

	for (i = 0; i < w->ndirs; i++)
		if (w->dirs[i].wd == wd)
			return &w->dirs[i];
	return NULL;
}

/* Watch `path`; its descriptor in *wd (refcounted).  Under mtx. */
static int
dir_ref(struct watcher *w, const char *path, int *wd)
{
	struct wdir *d;
	int n;

	n = inotify_add_watch(w->ifd, path, WATCH_MASK);
	if (n < 0)
		return -errno;
	if ((d = dir_by_wd(w, n)) == NULL) {
		if (w->ndirs == w->capdirs) {
			size_t cap = w->capdirs ? w->capdirs * 2 : 16;
			struct wdir *v = realloc(w->dirs, cap * sizeof(*v));

			if (v == NULL)
				return -ENOMEM;
			w->dirs = v;
			w->capdirs = cap;
		}
		d = &w->dirs[w->ndirs];
		if ((d->path = strdup(path)) == NULL)
			return -ENOMEM;
		d->wd = n;
		d->refs = 0;
		w->ndirs++;
	} else if (strcmp(d->path, path) != 0) {
		/* The same directory under a new name (it was moved). */
		char *p = strdup(path);

		if (p != NULL) {
			free(d->path);
			d->path = p;
		}
	}
	d->refs++;
	*wd = n;
	return 0;
}

static void
dir_remove(struct watcher *w, struct wdir *d, bool rm)
{
	if (rm)
		inotify_rm_watch(w->ifd, d->wd);
	free(d->path);
	*d = w->dirs[--w->ndirs];
}

static void
dir_unref(struct watcher *w, int wd)
{
	struct wdir *d = dir_by_wd(w, wd);

	if (d != NULL && --d->refs == 0)
		dir_remove(w, d, true);
}

int
watch_new(struct watcher **out, struct pending *p, size_t nsrc,
    const struct watch_opts *o)
{
	struct watcher *w;
	int rc = -ENOMEM;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->ifd = w->stopfd = -1;
	pthread_mutex_init(&w->mtx, NULL);
	w->pend = p;
	w->o = *o;
	w->nsrc = nsrc;
	if (nsrc > 0 && (w->src = calloc(nsrc, sizeof(*w->src))) == NULL)
		goto out;
	if ((w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0 ||
	    (w->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		rc = -errno;
		goto out;
	}
	*out = w;
	w = NULL;
	rc = 0;
out:
	watch_free(w);
	return rc;
}

static void *watch_main(void *arg);

int
watch_start(struct watcher *w)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&w->thr, NULL, watch_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		w->started = true;
	return rc;
}

static void
held_clear(struct wsrc *s)
{
	size_t i;

	for (i = 0; i < s->nheld; i++)
		free(s->held[i].name);
	s->nheld = 0;
}

void
watch_free(struct watcher *w)
{
	size_t i;

	if (w == NULL)
		return;
	if (w->started) {
		uint64_t one = 1;

		while (write(w->stopfd, &one, sizeof(one)) < 0 &&
		    errno == EINTR)
			;
		pthread_join(w->thr, NULL);
	}
	for (i = 0; i < w->nsrc && w->src != NULL; i++) {
		plist_free(&w->src[i].pairs);
		free(w->src[i].wds);
		held_clear(&w->src[i]);
	}
	free(w->src);
	for (i = 0; i < w->ndirs; i++)
		free(w->dirs[i].path);
	free(w->dirs);
	if (w->ifd >= 0)
		close(w->ifd);
	if (w->stopfd >= 0)
		close(w->stopfd);
	pthread_mutex_destroy(&w->mtx);
	free(w);
}

int
watch_source(struct watcher *w, size_t id, const char *path, bool *changed)
{
	struct plist pl = { 0 };
	struct wsrc *s;
	int *wds = NULL;
	size_t i;
	int rc, limit = 0;

	*changed = false;
	if (id >= w->nsrc)
		return -EINVAL;
	if ((rc = resolve(path, &pl)) != 0)
		goto out;
	if (pl.n > 0 && (wds = malloc(pl.n * sizeof(*wds))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&w->mtx);
	s = &w->src[id];
	*changed = s->stale || !plist_equal(&s->pairs, &pl);
	/* Watch the new set before letting go of the old one, so that a
	 * directory in both is never unwatched in between. */
	for (i = 0; i < pl.n; i++) {
		wds[i] = -1;
		if (i > 0 && strcmp(pl.v[i].dir, pl.v[i - 1].dir) == 0 &&
		    wds[i - 1] >= 0) {
			struct wdir *d = dir_by_wd(w, wds[i - 1]);

			d->refs++;
			wds[i] = wds[i - 1];
			continue;
		}
		rc = dir_ref(w, pl.v[i].dir, &wds[i]);
		if (rc == -ENOSPC || rc == -ENOMEM) {
			limit = rc;
		} else if (rc != 0) {
			/* Vanished or unreadable since resolve(): the next
			 * read of the source resolves again. */
			*changed = true;
		}
	}
	for (i = 0; i < s->pairs.n; i++)
		if (s->wds[i] >= 0)
			dir_unref(w, s->wds[i]);
	plist_free(&s->pairs);
	free(s->wds);
	s->pairs = pl;
	s->wds = wds;
	s->stale = false;
	s->degraded = limit != 0;
	pl = (struct plist){ 0 };
	wds = NULL;
	if (limit != 0 && !w->warned_limit) {
		struct logline l;

		w->warned_limit = true;
		log_begin(&l, LOGL_WARNING, "watch_limit");
		log_errno(&l, "error", limit);
		log_str(&l, "dir", s->pairs.v[0].dir);
		log_str(&l, "fallback", "rescan");
		log_end(&l);
	}
	pthread_mutex_unlock(&w->mtx);
	rc = limit;
out:
	plist_free(&pl);
	free(wds);
	return rc;
}

bool
watch_degraded(struct watcher *w)
{
	bool any = false;
	size_t i;

	pthread_mutex_lock(&w->mtx);
	any = w->dead;
	for (i = 0; i < w->nsrc; i++)
		any |= w->src[i].degraded;
	pthread_mutex_unlock(&w->mtx);
	return any;
}

void
watch_counters(struct watcher *w, uint64_t *events, uint64_t *overflows)
{
	pthread_mutex_lock(&w->mtx);
	*events = w->events;
	*overflows = w->overflows;
	pthread_mutex_unlock(&w->mtx);
}

/* ------------------------------------------------------------------ */
/* Events into posts.                                                   */
/* ------------------------------------------------------------------ */

static struct held *
held_find(struct wsrc *s, const char *name, bool add)
{
	size_t i;

	for (i = 0; i < s->nheld; i++)
		if (strcmp(s->held[i].name, name) == 0)
			return &s->held[i];
	if (!add)
		return NULL;
	if (s->nheld == MAX_HELD) {
		/* Forget the oldest; its writer's hold then ends early,
		 * which only costs an extra read. */
		free(s->held[0].name);
		memmove(&s->held[0], &s->held[1],
		    (MAX_HELD - 1) * sizeof(s->held[0]));
		s->nheld--;
	}
	i = s->nheld;
	if ((s->held[i].name = strdup(name)) == NULL)
		return NULL;
	s->held[i].until = 0;
	s->held[i].writing = false;
	s->held[i].fresh = false;
	s->nheld++;
	return &s->held[i];
}

static void
held_drop(struct wsrc *s, struct held *h)
{
	free(h->name);
	*h = s->held[--s->nheld];
}

/* The end of the longest writer hold still running, 0 when none;
 * entries that ran out (or are done) are forgotten. */
static int64_t
held_until(struct wsrc *s, int64_t now)
{
	int64_t until = 0;
	size_t i = 0;

	while (i < s->nheld) {
		struct held *h = &s->held[i];

		if (h->writing && h->until > now) {
			if (h->until > until)
				until = h->until;
			i++;
		} else if (!h->writing && h->fresh && h->until > now) {
			i++;    /* keep the fresh mark a little */
		} else {
			held_drop(s, h);
		}
	}
	return until;
}

static bool
visible(const char *name)
{
	return name[0] != '.';
}

/*
 * One event concerning source s, for an entry `name` of directory `dir`;
 * `anyname` when it matched only as an entry of a directory source.
 */
static void
classify(struct watcher *w, size_t id, const char *dir, const char *name,
    uint32_t mask, uint32_t cookie, bool anyname, int64_t now)
{
	struct wsrc *s = &w->src[id];
	const int64_t grace = w->o.delete_grace_ns;
	int64_t due = now + w->o.debounce_ns;
	int how = PEND_READ;
	struct held *h;

	if (mask & IN_MODIFY) {
		if ((h = held_find(s, name, true)) != NULL) {
			h->writing = true;
			h->until = now + w->o.write_timeout_ns;
		}
	} else if (mask & IN_CLOSE_WRITE) {
		h = held_find(s, name, false);
		if (h != NULL && h->fresh && anyname) {
			/* A new file in a directory: wait a moment in case
			 * it is a temporary about to be renamed away. */
			h->writing = false;
			if (grace > w->o.debounce_ns)
				due = now + grace;
			h->until = due;
		} else if (h != NULL) {
			held_drop(s, h);
		}
	} else if (mask & IN_CREATE) {
		char *path = join(dir, name);
		struct stat st;

		if (path != NULL && lstat(path, &st) == 0 &&
		    S_ISREG(st.st_mode) && !(mask & IN_ISDIR)) {
			/* A new regular file is being written until its
			 * writer closes it (a hard link never closes:
			 * the write timeout covers it). */
			if ((h = held_find(s, name, true)) != NULL) {
				h->writing = true;
				h->fresh = anyname;
				h->until = now + w->o.write_timeout_ns;
			}
		}
		free(path);
	} else if (mask & IN_MOVED_TO) {
		if ((h = held_find(s, name, false)) != NULL)
			held_drop(s, h);
		/* A file of a directory that was renamed to another name
		 * in it, such as vim's backup, is not a completed change:
		 * the new file is still to come. */
		if (anyname && cookie != 0 && cookie == s->move_cookie &&
		    !s->move_fresh && grace > w->o.debounce_ns)
			due = now + grace;
		s->move_cookie = 0;
	} else if (mask & (IN_DELETE | IN_MOVED_FROM)) {
		h = held_find(s, name, false);
		if (mask & IN_MOVED_FROM) {
			s->move_cookie = cookie;
			s->move_fresh = h != NULL && h->fresh;
		}
		if (h != NULL)
			held_drop(s, h);
		how = PEND_CHECK;
		due = now + (grace > w->o.debounce_ns ? grace :
		    w->o.debounce_ns);
	} else if (mask & IN_ATTRIB) {
		how = PEND_CHECK;
	} else {
		return;
	}
	pending_post(w->pend, id, how, due, held_until(s, now));
}

/* The directory `d` itself went away or moved: its sources resolve
 * again after the grace window (it may come right back). */
static void
dir_gone(struct watcher *w, int wd, bool ignored, int64_t now)
{
	size_t id, i;

	for (id = 0; id < w->nsrc; id++) {
		struct wsrc *s = &w->src[id];
		bool hit = false;

		for (i = 0; i < s->pairs.n; i++) {
			if (s->wds[i] != wd)
				continue;
			hit = true;
			if (ignored)
				s->wds[i] = -1;
		}
		if (hit) {
			s->stale = true;
			pending_post(w->pend, id, PEND_READ,
			    now + w->o.delete_grace_ns, -1);
		}
	}
}

static void
handle(struct watcher *w, const struct inotify_event *ev, int64_t now)
{
	struct wdir *d;
	size_t id, i;

	w->events++;
	if (ev->mask & IN_Q_OVERFLOW) {
		struct logline l;

		w->overflows++;
		log_begin(&l, LOGL_WARNING, "overflow");
		log_str(&l, "action", "rescan");
		log_end(&l);
		for (id = 0; id < w->nsrc; id++)
			w->src[id].stale = true;
		pending_post_all(w->pend, PEND_READ, now);
		return;
	}
	if ((d = dir_by_wd(w, ev->wd)) == NULL)
		return;
	if (ev->mask & IN_IGNORED) {
		dir_gone(w, ev->wd, true, now);
		dir_remove(w, d, false);
		return;
	}
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
		dir_gone(w, ev->wd, false, now);
		return;
	}
	if (ev->len == 0 || ev->name[0] == '\0')
		return;
	for (id = 0; id < w->nsrc; id++) {
		struct wsrc *s = &w->src[id];
		bool named = false, any = false;

		for (i = 0; i < s->pairs.n; i++) {
			const struct pair *p = &s->pairs.v[i];

			if (s->wds[i] != ev->wd)
				continue;
			if (p->name == NULL)
				any |= visible(ev->name);
			else if (strcmp(p->name, ev->name) == 0)
				named = true;
		}
		if (named || any)
			classify(w, id, d->path, ev->name, ev->mask,
			    ev->cookie, !named, now);
	}
}

/* The thread cannot go on (poll or read of the inotify descriptor
 * failed): say so, and let the main loop fall back on rescans. */
static void
watch_died(struct watcher *w, const char *call, int err)
{
	struct logline l;

	pthread_mutex_lock(&w->mtx);
	w->dead = true;
	pthread_mutex_unlock(&w->mtx);
	log_begin(&l, LOGL_ERROR, "watch_failed");
	log_str(&l, "call", call);
	log_errno(&l, "error", err);
	log_str(&l, "fallback", "rescan");
	log_end(&l);
}

static void *
watch_main(void *arg)
{
	struct watcher *w = arg;
	/* Room for many events, aligned for struct inotify_event. */
	char buf[64 * 1024]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd pfd[2];

	pfd[0].fd = w->ifd;
	pfd[0].events = POLLIN;
	pfd[1].fd = w->stopfd;
	pfd[1].events = POLLIN;
	for (;;) {
		ssize_t n;
		char *p;
		int64_t now;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			watch_died(w, "poll", errno);
			break;
		}
		if (pfd[1].revents != 0)
			break;
		n = read(w->ifd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			watch_died(w, "read", errno);
			break;
		}
		now = hc_mono_ns();
		pthread_mutex_lock(&w->mtx);
		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			handle(w, ev, now);
			p += sizeof(*ev) + ev->len;
		}
		pthread_mutex_unlock(&w->mtx);
	}
	return NULL;
}
