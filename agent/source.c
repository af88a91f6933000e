/*
 * source.c - the kinds of source and what reading one does to its state
 * (see source.h).
 *
 * Files and directories: load() is the tree code's cfg_load_file() or
 * cfg_load_dir(); a "path" source (what the command line gives) is
 * whichever of the two the path is when it is read.  identity() hashes
 * what stat(2) says about the file, or about every visible entry of the
 * directory, following symlinks as a read would: it lets the main loop
 * skip a read when only names moved around it (the kubelet removing the
 * previous data directory, an editor's chmod after a save, a periodic
 * rescan) without missing a write, which always comes as its own event.
 * A directory in the kubelet's volume layout is read through its ..data
 * link (see kubelet_data()).
 *
 * ConfigMaps: the Kubernetes client's adapter, k8s_source_ops
 * (k8ssource.c).  Its thread posts to the pending board; load() hands
 * over the newest data it received, or, in the one-shot modes, asks the
 * API server once.  What it says about itself (not found, forbidden, the
 * API server's own message) is kept as the source's error, so that
 * hotcfgd -n and the control file repeat it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "k8s.h"
#include "source.h"

const char *
source_state_name(int state)
{
	switch (state) {
	case SRCST_PENDING:
		return "pending";
	case SRCST_OK:
		return "ok";
	case SRCST_ABSENT:
		return "absent";
	case SRCST_MISSING:
		return "missing";
	case SRCST_ERROR:
		return "error";
	case SRCST_WAITING:
		return "waiting";
	}
	return "unknown";
}

/* ------------------------------------------------------------------ */
/* Identity.                                                            */
/* ------------------------------------------------------------------ */

/* FNV-1a, 64 bits: a fingerprint, not a defence against anyone. */
static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0) {
		h ^= *b++;
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t
fnv_stat(uint64_t h, const struct stat *st)
{
	uint64_t v[7] = {
		(uint64_t)st->st_dev, (uint64_t)st->st_ino,
		(uint64_t)st->st_mode, (uint64_t)st->st_size,
		(uint64_t)st->st_mtim.tv_sec, (uint64_t)st->st_mtim.tv_nsec,
		(uint64_t)st->st_nlink,
	};

	return fnv(h, v, sizeof(v));
}

static int
dir_identity(const char *path, const struct stat *dst, uint64_t *fp)
{
	DIR *d;
	char **names = NULL;
	size_t n = 0, i;
	uint64_t h = 0xcbf29ce484222325ull;
	int rc = -ENOMEM;

	if ((d = opendir(path)) == NULL)
		return -errno;
	h = fnv_stat(h, dst);
	if ((rc = cfg_dir_names(d, &names, &n)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		struct stat st;

		h = fnv(h, names[i], strlen(names[i]) + 1);
		if (fstatat(dirfd(d), names[i], &st, 0) == 0)
			h = fnv_stat(h, &st);
	}
	*fp = h;
	rc = 0;
out:
	cfg_names_free(names, n);
	closedir(d);
	return rc;
}

/*
 * A directory in the kubelet's ConfigMap volume layout holds a "..data"
 * symlink to the timestamped directory with every data key, and the
 * visible names are symlinks through it.  The kubelet swaps ..data first
 * and adds or removes visible names afterwards, so reading the visible
 * names right after the swap can see a new value without its new
 * neighbour.  Reading ..data itself sees each update whole: one update,
 * one generation.  Returns the directory to read (malloc'd), or NULL for
 * `path` itself.
 */
static char *
kubelet_data(const char *path)
{
	struct stat st;
	char *data;

	if (asprintf(&data, "%s/..data", path) < 0)
		return NULL;
	if (lstat(data, &st) == 0 && S_ISLNK(st.st_mode) &&
	    stat(data, &st) == 0 && S_ISDIR(st.st_mode))
		return data;
	free(data);
	return NULL;
}

static int
path_identity(struct source *s, uint64_t *fp)
{
	struct stat st;
	char *data;
	int rc;

	if (stat(s->conf->path, &st) != 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	if (S_ISDIR(st.st_mode)) {
		if ((data = kubelet_data(s->conf->path)) != NULL &&
		    stat(data, &st) != 0) {
			free(data);
			return -ESTALE;         /* swapped meanwhile: read */
		}
		rc = dir_identity(data ? data : s->conf->path, &st, fp);
		free(data);
		return rc;
	}
	*fp = fnv_stat(0xcbf29ce484222325ull, &st);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Files and directories.                                               */
/* ------------------------------------------------------------------ */

static void
set_err(struct cfg_error *err, const char *source, const char *msg)
{
	memset(err, 0, sizeof(*err));
	snprintf(err->source, sizeof(err->source), "%s", source);
	snprintf(err->msg, sizeof(err->msg), "%s", msg);
}

static int
path_load(struct source *s, const struct cfg_limits *lim,
    struct cfg_node **out, struct cfg_error *err)
{
	const char *path = s->conf->path;
	struct stat st;
	int kind = s->conf->kind;

	*out = NULL;
	if (stat(path, &st) != 0) {
		int rc = errno == ENOTDIR ? -ENOENT : -errno;

		set_err(err, path, strerror(-rc));
		return rc;
	}
	if (kind == SRC_PATH)
		kind = S_ISDIR(st.st_mode) ? SRC_DIR : SRC_FILE;
	if (kind == SRC_DIR) {
		if (!S_ISDIR(st.st_mode)) {
			set_err(err, path, "not a directory");
			return -ENOTDIR;
		}
		char *data = kubelet_data(path);
		int rc;

		rc = cfg_load_dir(data ? data : path, (unsigned)s->id, lim,
		    out, err);
		free(data);
		return rc;
	}
	if (S_ISDIR(st.st_mode)) {
		set_err(err, path, "is a directory (configure it as dir)");
		return -EISDIR;
	}
	return cfg_load_file_cached(path, (unsigned)s->id, lim, &s->pcache,
	    out, err);
}

static const struct source_ops path_ops = {
	.kind = "path",
	.inotify = true,
	.load = path_load,
	.identity = path_identity,
};

/* ------------------------------------------------------------------ */
/* The common part.                                                     */
/* ------------------------------------------------------------------ */

int
source_init(struct source *s, size_t id, const struct src_conf *c,
    struct cfg_error *err)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->conf = c;
	s->state = SRCST_PENDING;
	switch (c->kind) {
	case SRC_PATH:
	case SRC_FILE:
	case SRC_DIR:
		s->ops = &path_ops;
		return 0;
	case SRC_CONFIGMAP:
		s->ops = &k8s_source_ops;
		return 0;
	}
	memset(err, 0, sizeof(*err));
	snprintf(err->source, sizeof(err->source), "%s", c->where ? c->where :
	    "");
	err->line = c->line;
	err->col = c->col;
	snprintf(err->msg, sizeof(err->msg), "%s: unknown kind of source",
	    c->name);
	return -ENOTSUP;
}

int
source_start(struct source *s, struct pending *p, struct cfg_error *err)
{
	int rc;

	if (s->ops->start == NULL || s->started)
		return 0;
	if ((rc = s->ops->start(s, p, err)) == 0)
		s->started = true;
	return rc;
}

void
source_stop(struct source *s)
{
	if (s->started && s->ops->stop != NULL)
		s->ops->stop(s);
	s->started = false;
}

void
source_fini(struct source *s)
{
	if (s == NULL)
		return;
	if (s->ops != NULL)
		source_stop(s);
	cfg_free(s->tree);
	s->tree = NULL;
	source_release(s);
	cfg_pcache_free(s->pcache);
	s->pcache = NULL;
}

void
source_release(struct source *s)
{
	cfg_free(s->stale);
	s->stale = NULL;
}

/* Put the current tree aside for source_release(). */
static void
retire_tree(struct source *s)
{
	source_release(s);
	s->stale = s->tree;
	s->tree = NULL;
}

int
source_identity(struct source *s, uint64_t *fp)
{
	if (s->ops->identity == NULL)
		return -ENOSYS;
	return s->ops->identity(s, fp);
}

int
source_read(struct source *s, const struct cfg_limits *lim)
{
	struct cfg_node *tree = NULL;
	struct cfg_error err;
	uint64_t fp = 0;
	int rc, idrc;

	memset(&err, 0, sizeof(err));
	/* The identity is taken before the read: a change after it comes
	 * with its own event, so an equal identity later is safe. */
	idrc = source_identity(s, &fp);
	rc = s->ops->load(s, lim, &tree, &err);
	if (rc == 0 && (rc = cfg_mount(&tree, s->conf->prefix,
	    (unsigned)s->id)) != 0)
		set_err(&err, s->conf->name, "bad prefix");
	s->have_fp = idrc == 0 || idrc == -ENOENT;
	s->fp_missing = idrc == -ENOENT;
	s->fp = fp;
	s->rc = rc;
	if (rc == 0) {
		retire_tree(s);
		s->tree = tree;
		tree = NULL;
		memset(&s->err, 0, sizeof(s->err));
		s->state = SRCST_OK;
	} else if (rc == -EAGAIN) {
		/* No data yet from the kind's feed: not an error, and
		 * nothing to publish without it.  The kind may say what it
		 * is waiting for. */
		memset(&s->err, 0, sizeof(s->err));
		snprintf(s->err.source, sizeof(s->err.source), "%s",
		    s->conf->name);
		snprintf(s->err.msg, sizeof(s->err.msg), "%s", err.msg[0] ?
		    err.msg : "waiting for its first data");
		s->state = SRCST_WAITING;
	} else if (rc == -ENOENT) {
		/* The source itself is missing (a file missing inside a
		 * directory source is no error: it is simply not there). */
		if (s->conf->optional) {
			retire_tree(s);
			memset(&s->err, 0, sizeof(s->err));
			s->state = SRCST_ABSENT;
		} else if (!s->ops->inotify && err.msg[0] != '\0') {
			/* A kind with its own feed knows more than "it is
			 * not there" (a ConfigMap: where it looked). */
			set_err(&s->err, s->conf->name, err.msg);
			s->state = SRCST_MISSING;
		} else {
			set_err(&s->err, s->conf->name, "required source is "
			    "missing; waiting for it to appear");
			s->state = SRCST_MISSING;
		}
	} else {
		if (err.source[0] == '\0')
			snprintf(err.source, sizeof(err.source), "%s",
			    s->conf->name);
		s->err = err;
		s->state = SRCST_ERROR;
	}
	cfg_free(tree);
	return s->state;
}
