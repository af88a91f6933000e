/*
 * source.h - one configured source at run time: its kind, its last good
 * tree, its state.
 *
 * A kind is a table of operations.  Files and directories are read from
 * disk and watched by the inotify watcher thread (watch.h); their
 * `inotify` flag says so.  A kind that learns about changes by itself,
 * such as a ConfigMap followed through the Kubernetes API, provides
 * start() and stop(): start() runs its own thread (or registers its own
 * descriptor), keeps the newest data it received under its own lock, and
 * calls pending_post(p, s->id, PEND_READ, now, -1) when it changed; the
 * main loop then calls load(), which turns that data into a tree (for a
 * ConfigMap, with cfg_load_files()), exactly as for a file.  When only
 * what state() would say changed (reconnecting, forbidden while the last
 * data is kept), it posts PEND_CHECK instead: the main loop then records
 * the states in the control file without reading.  The main loop never
 * blocks on a kind's thread beyond that lock.
 *
 * All members are owned by the main loop except what a kind keeps in
 * priv for its own thread.
 */
#ifndef HOTCFGD_SOURCE_H
#define HOTCFGD_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "tree.h"

struct pending;
struct source;

enum src_state {
	SRCST_PENDING = 0,      /* not read yet */
	SRCST_OK,               /* read; its tree is in the snapshot */
	SRCST_ABSENT,           /* optional and missing: contributes nothing */
	SRCST_MISSING,          /* required and missing: nothing published */
	SRCST_ERROR,            /* unreadable or invalid: nothing published */
	SRCST_WAITING           /* its feed has no data yet (a ConfigMap
	                           before the first answer): nothing is
	                           published, and it is no error */
};

/* "pending", "ok", "absent", "missing", "error", "waiting". */
const char *source_state_name(int state);

struct source_ops {
	const char *kind;
	bool inotify;           /* the watcher thread watches `path` */
	/*
	 * Read the source now into a tree (NULL when it is empty), not yet
	 * mounted.  -ENOENT when it does not exist; -EAGAIN when its feed
	 * has no data yet; -EINVAL and others with err filled.  Main loop
	 * only.
	 */
	int (*load)(struct source *s, const struct cfg_limits *lim,
	    struct cfg_node **out, struct cfg_error *err);
	/*
	 * A cheap fingerprint of what load() would read (names, inodes,
	 * sizes, modification times), without reading it; -ENOENT when it
	 * does not exist.  NULL: every check reads again.
	 */
	int (*identity)(struct source *s, uint64_t *fp);
	/*
	 * Start and stop the kind's own change feed; NULL when none.
	 * start() runs once the pending board exists, in the daemon only;
	 * a failure (bad credentials...) is a configuration error: err
	 * filled.  stop() must end and join the kind's thread.
	 */
	int (*start)(struct source *s, struct pending *p,
	    struct cfg_error *err);
	void (*stop)(struct source *s);
	/*
	 * The kind's own words for the status ("synced", "reconnecting",
	 * "not found", "forbidden"), with a detail such as the
	 * resourceVersion; NULL: the generic state names.  Used in every
	 * state but an error in the data itself: an error counts as the
	 * feed's only when load() said -EACCES (refused) or -EIO (failed);
	 * otherwise the generic "error" with its file, line and column
	 * describes it better.  Main loop.
	 */
	const char *(*state)(struct source *s, char *detail, size_t len);
};

struct source {
	size_t id;                      /* index in the snapshot's sources */
	const struct src_conf *conf;
	const struct source_ops *ops;
	int state;                      /* enum src_state */
	int rc;                         /* what the last load() returned */
	struct cfg_node *tree;          /* last good tree, mounted */
	struct cfg_node *stale;         /* the tree it replaced, released by
	                                   source_release() (after the
	                                   publish, off the reload's path) */
	struct cfg_error err;           /* why it is missing or in error */
	struct cfg_pcache *pcache;      /* a file's sections (section.c) */
	bool have_fp, fp_missing;       /* identity at the last read */
	uint64_t fp;
	void *priv;                     /* the kind's own state */
	bool started;                   /* its feed runs */
};

/*
 * Set up source `id` from its configuration.  -ENOTSUP (err filled, with
 * the configuration's position) for a kind this build does not know.
 */
int source_init(struct source *s, size_t id, const struct src_conf *c,
    struct cfg_error *err);
void source_fini(struct source *s);

/*
 * Read the source (load() plus the prefix), and update its state, tree
 * and error.  The tree is replaced only by a good read; a missing
 * optional source gets an empty tree.  Returns the new state.
 */
int source_read(struct source *s, const struct cfg_limits *lim);

/* Release the tree the last read replaced (source.stale).  Freeing a
 * large tree takes time; the daemon does it once the new snapshot is
 * published. */
void source_release(struct source *s);

/* Start every kind's own feed (source_ops.start).  0 or the first
 * failure, err filled. */
int source_start(struct source *s, struct pending *p, struct cfg_error *err);
/* Stop it (once; source_fini() does it too). */
void source_stop(struct source *s);

/* The identity of the source now; 0 or -ENOENT (missing), or another
 * negative errno when it cannot be told (then read). */
int source_identity(struct source *s, uint64_t *fp);

#endif /* HOTCFGD_SOURCE_H */
