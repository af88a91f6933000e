/*
 * reload.h - the rebuild path: read the sources that changed, lay every
 * source's last good tree over the previous ones, build the snapshot, and
 * publish it or record why not.
 *
 * The same code serves the daemon (with a publisher and a watcher) and
 * the one-shot modes -n and --print (without them).
 */
#ifndef HOTCFGD_RELOAD_H
#define HOTCFGD_RELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "source.h"

struct hc_pub;
struct pending;
struct watcher;

struct agent {
	const struct agent_conf *conf;
	struct source *src;
	size_t nsrc;
	struct pending *pend;           /* daemon only */
	struct watcher *watch;          /* daemon only */
	struct hc_pub *pub;             /* daemon only */
	bool retry;                     /* the last publish failed */
	bool retry_due;                 /* and its retry is due now (the
	                                   daemon's backoff) */
};

/* Set up the sources of c.  -ENOTSUP and others, err filled. */
int agent_init(struct agent *a, const struct agent_conf *c,
    struct cfg_error *err);
void agent_fini(struct agent *a);

/*
 * Read every source once (one-shot modes).  0, or the first problem:
 * -ENOENT for a required source that is missing, -EINVAL and others for
 * one that cannot be read, with err filled.
 */
int agent_read_all(struct agent *a, struct cfg_error *err);

/*
 * Build a snapshot blob (malloc'd) from the sources' current trees.
 * Refuses (-EINVAL, err filled) while a required source is missing or any
 * source is in error.  *entries gets the entry count.
 */
int agent_build(struct agent *a, void **blob, size_t *size,
    size_t *entries, struct cfg_error *err);

/*
 * One turn of the daemon: read the sources with how[id] != PEND_NONE,
 * then, if any of them changed, build and publish (or record the error).
 * `reason` goes into the log ("start", "change", "signal", "rescan").
 * Returns 0, or a negative errno when publishing failed (a.retry set).
 */
int agent_reload(struct agent *a, const int *how, const char *reason);

#endif /* HOTCFGD_RELOAD_H */
