/*
 * reload.c - the rebuild path (see reload.h).
 *
 * Each source keeps the tree of its last good read, mounted under its
 * prefix.  A turn re-reads only the sources that changed, so an edit of
 * one file of ten parses one file; then every source's tree is laid over
 * the previous ones in order.  The trees are reference counted and the
 * merge copies only the nodes it changes (tree.c), so the cached trees
 * survive the merge untouched and are laid again next time.
 *
 * A turn that reads a source that is missing (and required) or broken
 * publishes nothing: the readers keep the last good snapshot, the control
 * file records the error with its file, line and column, and one log line
 * says the same.  The next good read of that source recovers.
 *
 * Before a read the source's watches are armed, and after it they are
 * checked again: if the path resolves differently now (a symlink swapped
 * during the read), the read is repeated, so what was read is always
 * what is being watched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "log.h"
#include "node.h"
#include "pending.h"
#include "reload.h"
#include "watch.h"

int
agent_init(struct agent *a, const struct agent_conf *c,
    struct cfg_error *err)
{
	size_t i;
	int rc;

	memset(a, 0, sizeof(*a));
	a->conf = c;
	if (c->nsrc == 0)
		return 0;
	if ((a->src = calloc(c->nsrc, sizeof(*a->src))) == NULL)
		return -ENOMEM;
	for (i = 0; i < c->nsrc; i++) {
		if ((rc = source_init(&a->src[i], i, &c->src[i], err)) != 0) {
			a->nsrc = i;
			return rc;
		}
		a->nsrc = i + 1;
	}
	return 0;
}

void
agent_fini(struct agent *a)
{
	size_t i;

	for (i = 0; i < a->nsrc; i++)
		source_fini(&a->src[i]);
	free(a->src);
	a->src = NULL;
	a->nsrc = 0;
}

/* Watch what source id resolves to; *changed as watch_source(). */
static void
arm(struct agent *a, size_t id, bool *changed)
{
	struct source *s = &a->src[id];

	*changed = false;
	if (a->watch == NULL || !s->ops->inotify)
		return;
	/* -ENOSPC leaves the source to the rescans (watch_degraded());
	 * watch.c has logged it. */
	(void)watch_source(a->watch, id, s->conf->path, changed);
}

/* Read source id if `how` says so and it changed.  True when read. */
static bool
read_one(struct agent *a, size_t id, int how)
{
	struct source *s = &a->src[id];
	int old = s->state, tries;
	bool changed;
	uint64_t fp;

	arm(a, id, &changed);
	if (how == PEND_CHECK && s->have_fp && !changed) {
		int rc = source_identity(s, &fp);

		if ((rc == 0 && !s->fp_missing && fp == s->fp) ||
		    (rc == -ENOENT && s->fp_missing))
			return false;
	}
	for (tries = 0;; tries++) {
		struct logline dl;

		source_read(s, &a->conf->limits);
		log_begin(&dl, LOGL_DEBUG, "read");
		log_str(&dl, "source", s->conf->name);
		log_str(&dl, "state", source_state_name(s->state));
		log_end(&dl);
		if (tries == 2)
			break;
		arm(a, id, &changed);
		if (!changed)
			break;
	}
	/* A feed's first data (after "waiting") is no recovery. */
	if (s->state != old && (s->state == SRCST_ABSENT ||
	    (s->state == SRCST_OK && old != SRCST_PENDING &&
	    old != SRCST_WAITING))) {
		struct logline l;

		log_begin(&l, LOGL_INFO, s->state == SRCST_OK ? "recovered" :
		    "absent");
		log_str(&l, "source", s->conf->name);
		if (old != SRCST_PENDING)
			log_str(&l, "was", source_state_name(old));
		log_end(&l);
	}
	return true;
}

int
agent_read_all(struct agent *a, struct cfg_error *err)
{
	size_t i;

	for (i = 0; i < a->nsrc; i++) {
		struct source *s = &a->src[i];

		read_one(a, i, PEND_READ);
		if (s->state == SRCST_ERROR || s->state == SRCST_WAITING) {
			/* Waiting, in a one-shot mode: its feed gave up
			 * without an answer (a ConfigMap: the API server did
			 * not answer in time). */
			*err = s->err;
			return s->state == SRCST_WAITING ? -EAGAIN : -EINVAL;
		}
		if (s->state == SRCST_MISSING) {
			memset(err, 0, sizeof(*err));
			snprintf(err->source, sizeof(err->source), "%s",
			    s->conf->name);
			/* A kind with its own feed says where it looked. */
			snprintf(err->msg, sizeof(err->msg), "required source "
			    "does not exist%s%.440s", s->ops->inotify ? "" : ": ",
			    s->ops->inotify ? "" : s->err.msg);
			return -ENOENT;
		}
	}
	return 0;
}

/* A source whose error stops every build (its last data is not used):
 * agent_build() reports the first, and the error line names it. */
static bool
src_broken(const struct source *s)
{
	return s->state == SRCST_MISSING || s->state == SRCST_ERROR;
}

int
agent_build(struct agent *a, void **blob, size_t *size, size_t *entries,
    struct cfg_error *err)
{
	struct hc_builder *b = NULL;
	struct cfg_node *root = NULL;
	char *dup = NULL;
	size_t i;
	int rc;

	*blob = NULL;
	*size = *entries = 0;
	memset(err, 0, sizeof(*err));
	for (i = 0; i < a->nsrc; i++) {
		const struct source *s = &a->src[i];

		if (src_broken(s)) {
			*err = s->err;
			return -EINVAL;
		}
		if (s->state == SRCST_PENDING || s->state == SRCST_WAITING) {
			snprintf(err->source, sizeof(err->source), "%s",
			    s->conf->name);
			snprintf(err->msg, sizeof(err->msg), "%s",
			    s->state == SRCST_WAITING ? s->err.msg :
			    "not read yet");
			return -EAGAIN;
		}
	}
	rc = -ENOMEM;
	for (i = 0; i < a->nsrc; i++) {
		struct cfg_node *t = a->src[i].tree;

		/* cfg_merge() takes over one reference and copies what it
		 * changes of a shared node: the cached tree stays as is. */
		if (t != NULL && cfg_merge(&root, cfg_node_ref(t)) != 0)
			goto nomem;
	}
	if (hc_builder_new(&b) != 0)
		goto nomem;
	for (i = 0; i < a->nsrc; i++) {
		unsigned id;

		if (hc_builder_source(b, a->src[i].conf->name, &id) != 0 ||
		    id != i)
			goto nomem;
	}
	if ((rc = cfg_emit(root, b, &a->conf->limits, err)) != 0) {
		if (err->source[0] == '\0')
			snprintf(err->source, sizeof(err->source), "snapshot");
		goto out;
	}
	*entries = hc_builder_count(b);
	rc = hc_builder_finish(b, hc_now_ns(), blob, size, &dup);
	if (rc == -EEXIST) {
		snprintf(err->source, sizeof(err->source), "snapshot");
		snprintf(err->msg, sizeof(err->msg), "key \"%s\" is set "
		    "twice", dup ? dup : "?");
	} else if (rc != 0) {
		snprintf(err->source, sizeof(err->source), "snapshot");
		snprintf(err->msg, sizeof(err->msg), "%s", rc == -E2BIG ?
		    "the snapshot is larger than the format allows" :
		    hotcfg_strerror(rc));
	}
	goto out;
nomem:
	rc = -ENOMEM;
	snprintf(err->source, sizeof(err->source), "snapshot");
	snprintf(err->msg, sizeof(err->msg), "out of memory");
out:
	free(dup);
	hc_builder_free(b);
	cfg_free(root);
	return rc;
}

/* Free the trees this turn's reads replaced: after the publish, so that
 * a large tree's release does not delay the readers. */
static void
release_stale(struct agent *a)
{
	size_t i;

	for (i = 0; i < a->nsrc; i++)
		source_release(&a->src[i]);
}

/* The per-source states into the control file. */
static void
record_sources(struct agent *a)
{
	struct hc_srcstate st[HOTCFG_STATUS_MAXSRC];
	char detail[HOTCFG_STATUS_MAXSRC][sizeof(((struct cfg_error *)0)->source) +
	    sizeof(((struct cfg_error *)0)->msg) + 32];
	size_t i, n = a->nsrc < HOTCFG_STATUS_MAXSRC ? a->nsrc :
	    HOTCFG_STATUS_MAXSRC;

	for (i = 0; i < n; i++) {
		struct source *s = &a->src[i];

		st[i].name = s->conf->name;
		st[i].state = source_state_name(s->state);
		/* A kind's own words describe its feed best ("forbidden",
		 * "not found"); data that does not load (a key that does
		 * not parse, a limit) is described by the generic error
		 * with its file, line and column. */
		if (s->ops->state != NULL && s->state != SRCST_PENDING &&
		    (s->state != SRCST_ERROR || s->rc == -EACCES ||
		    s->rc == -EIO)) {
			const char *k = s->ops->state(s,
			    detail[i], sizeof(detail[i]));

			if (k != NULL) {
				st[i].state = k;
				st[i].detail = detail[i];
				continue;
			}
		}
		if (s->state == SRCST_ERROR && s->err.line > 0)
			snprintf(detail[i], sizeof(detail[i]), "%s:%u:%u: %s",
			    s->err.source, s->err.line, s->err.col,
			    s->err.msg);
		else if (s->state == SRCST_ERROR)
			snprintf(detail[i], sizeof(detail[i]), "%s: %s",
			    s->err.source, s->err.msg);
		else if (s->state == SRCST_WAITING)
			snprintf(detail[i], sizeof(detail[i]), "%s",
			    s->err.msg);
		else if (s->state == SRCST_MISSING ||
		    s->state == SRCST_ABSENT)
			snprintf(detail[i], sizeof(detail[i]), "%s", s->state ==
			    SRCST_MISSING ? "waiting for it to appear" :
			    "optional, not there");
		else
			snprintf(detail[i], sizeof(detail[i]), "%s",
			    src_kind_name(s->conf->kind));
		st[i].detail = detail[i];
	}
	hc_pub_sources(a->pub, st, (unsigned)n);
}

int
agent_reload(struct agent *a, const int *how, const char *reason)
{
	struct cfg_error err;
	struct logline l;
	void *blob = NULL;
	size_t size, entries, i, changed = 0, first = SIZE_MAX;
	uint64_t gen = 0;
	int64_t t0 = hc_mono_ns(), t_read, t_build, t_pub;
	int rc = 0;
	bool states = false;

	for (i = 0; i < a->nsrc; i++) {
		/* A check of a kind that describes itself may be news for
		 * the status alone (reconnecting, forbidden while its last
		 * data is kept). */
		if (how[i] == PEND_CHECK && a->src[i].ops->state != NULL)
			states = true;
		if (how[i] == PEND_NONE || !read_one(a, i, how[i]))
			continue;
		changed++;
		if (first == SIZE_MAX)
			first = i;
	}
	/* Nothing read changed: rebuild only for a failed publish whose
	 * retry is due, so that checks (rescans) do not defeat the
	 * backoff. */
	if (changed == 0 && !(a->retry && a->retry_due)) {
		if (states && a->pub != NULL)
			record_sources(a);
		return 0;
	}
	t_read = hc_mono_ns();
	rc = agent_build(a, &blob, &size, &entries, &err);
	t_build = hc_mono_ns();
	if (rc == -EAGAIN) {
		/* A source has no data yet: publish nothing, and say so
		 * without calling it an error.  A due retry is moot: there
		 * is nothing to publish until that source answers. */
		a->retry = false;
		if (a->pub != NULL)
			record_sources(a);
		log_begin(&l, LOGL_INFO, "waiting");
		log_str(&l, "source", err.source);
		log_str(&l, "reason", reason);
		log_end(&l);
		release_stale(a);
		return 0;
	}
	if (rc != 0) {
		a->retry = false;
		if (a->pub != NULL) {
			/* States first: a reader that sees the outcome sees
			 * the states that go with it. */
			record_sources(a);
			hc_pub_outcome(a->pub, HOTCFG_OUTCOME_ERROR,
			    err.source, err.line, err.col, err.msg);
		}
		log_begin(&l, LOGL_ERROR, "error");
		/* The source in error, which need not be one read this turn
		 * (another may still be broken); none for an error of the
		 * merged whole ("snapshot"). */
		for (i = 0; i < a->nsrc; i++)
			if (src_broken(&a->src[i])) {
				log_str(&l, "source", a->src[i].conf->name);
				break;
			}
		log_str(&l, "file", err.source);
		log_uint(&l, "line", err.line);
		log_uint(&l, "column", err.col);
		log_str(&l, "error", err.msg);
		if (a->pub != NULL)
			log_uint(&l, "kept", hc_pub_generation(a->pub));
		log_str(&l, "reason", reason);
		log_end(&l);
		release_stale(a);
		return 0;
	}
	/* The states first, so that a reader woken by the publish finds
	 * them up to date. */
	record_sources(a);
	rc = hc_pub_publish(a->pub, blob, size, &gen);
	t_pub = hc_mono_ns();
	if (rc < 0) {
		/* Nothing became visible; try again shortly (the main loop
		 * retries while a.retry is set). */
		a->retry = true;
		hc_pub_outcome(a->pub, HOTCFG_OUTCOME_ERROR, "publish", 0, 0,
		    hotcfg_strerror(rc));
		log_begin(&l, LOGL_ERROR, "error");
		log_str(&l, "source", "publish");
		log_errno(&l, "error", rc);
		log_uint(&l, "kept", hc_pub_generation(a->pub));
		log_end(&l);
		goto out;
	}
	a->retry = false;
	log_begin(&l, LOGL_INFO, rc == 0 ? "reload" : "unchanged");
	if (first != SIZE_MAX)
		log_str(&l, "source", a->src[first].conf->name);
	if (changed > 1)
		log_uint(&l, "changed", changed);
	log_uint(&l, "generation", rc == 0 ? gen : hc_pub_generation(a->pub));
	if (rc == 0) {
		log_uint(&l, "entries", entries);
		log_uint(&l, "bytes", size);
	}
	log_ms(&l, "duration_ms", hc_mono_ns() - t0);
	/* Where the turn went: reading and parsing the changed sources,
	 * merging and building, publishing (up to the readers' wake). */
	log_ms(&l, "read_ms", t_read - t0);
	log_ms(&l, "build_ms", t_build - t_read);
	log_ms(&l, "publish_ms", t_pub - t_build);
	log_str(&l, "reason", reason);
	log_end(&l);
	rc = 0;
out:
	free(blob);
	release_stale(a);
	return rc;
}
