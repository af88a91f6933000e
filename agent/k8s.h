/*
 * k8s.h - a ConfigMap followed through the Kubernetes API: one thread per
 * ConfigMap doing list+watch (or polling) with libcurl, keeping the newest
 * data under a mutex, telling the agent when it changed.
 *
 * The agent's main loop drives it through four calls:
 *
 *	k8s_start()  reads the credentials (kubeconfig.h) and starts the
 *	             thread; errors in the configuration come back at once;
 *	k8s_load()   turns the newest data into a tree with cfg_load_files(),
 *	             exactly as a mounted directory of the same ConfigMap;
 *	k8s_state()  what to show in the status: "synced", "reconnecting"...
 *	k8s_stop()   ends the thread and frees everything, promptly (a
 *	             libcurl wake-up, not a timeout), even mid-watch.
 *
 * The thread calls the notify callback when what k8s_load() would return
 * changed (K8S_NOTIFY_DATA) or when only the state did (K8S_NOTIFY_STATE).
 * The callback runs on the k8s thread with no lock of ours held; it must
 * be quick and must not call back into this module (post to a queue, write
 * an eventfd).  It is never called after k8s_stop() returns.
 *
 * The client behaves like client-go's reflector:
 *  - list with fieldSelector=metadata.name=NAME, remember the list's
 *    resourceVersion; watch from it with allowWatchBookmarks=true and a
 *    timeoutSeconds drawn at random from [watch_min, watch_max];
 *  - ADDED / MODIFIED replace the data, DELETED keeps it (state says so)
 *    or drops it (drop_on_delete), BOOKMARK moves the resourceVersion;
 *  - a clean end of the stream re-watches at once from the last
 *    resourceVersion; an ERROR event with code 410 relists;
 *  - 429 waits for Retry-After; connection errors, cut streams, 5xx, 403
 *    and other failures back off exponentially with jitter from
 *    backoff_min up to backoff_max, starting over once no failure was
 *    seen for backoff_reset;
 *  - 401 re-reads the token file at once and retries; the token is also
 *    re-read every token_reread;
 *  - a ConfigMap that does not exist is waited for (the watch delivers
 *    ADDED when it is created).
 * With poll > 0 it GETs the ConfigMap every `poll` instead of watching (for
 * API servers or proxies that do not allow watch).
 *
 * Failures keep the last good data (design.md failure rules).  No secret
 * is ever logged or put in a state detail.
 */
#ifndef HOTCFGD_K8S_H
#define HOTCFGD_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tree.h"

struct k8s;

/* What changed, for the notify callback (a bit mask). */
#define K8S_NOTIFY_DATA  1u     /* k8s_load() would give something else */
#define K8S_NOTIFY_STATE 2u     /* k8s_state() would */

typedef void (*k8s_notify_fn)(void *arg, unsigned what);

struct k8s_opts {
	/* Which ConfigMap.  ns NULL or "": the namespace of the kubeconfig
	 * context, or of the service account, else "default". */
	const char *ns;
	const char *name;
	/* How logs name it; NULL: "configmap:NS/NAME". */
	const char *label;

	/* Credentials (kubeconfig.h).  All NULL: the usual search. */
	const char *kubeconfig;
	const char *context;
	const char *sa_dir;     /* service-account directory (tests) */

	int64_t poll_ns;        /* > 0: poll every poll_ns instead of watch */
	bool drop_on_delete;    /* deleted: drop the data (default: keep) */

	/* Timings; 0 means the default in brackets. */
	int64_t watch_min_ns;   /* timeoutSeconds range [300 s, */
	int64_t watch_max_ns;   /*                        600 s] */
	int64_t idle_ns;        /* no byte for this long ends a watch
	                           [watch_max + 60 s] */
	int64_t request_ns;     /* a list or get takes at most [30 s] */
	int64_t connect_ns;     /* TCP + TLS connect [10 s] */
	int64_t keepalive_ns;   /* TCP keepalive idle and interval [30 s] */
	int64_t backoff_min_ns; /* [0.8 s] */
	int64_t backoff_max_ns; /* [30 s] */
	int64_t backoff_reset_ns; /* [120 s] */
	int64_t token_reread_ns;  /* [60 s] */
	size_t max_object;      /* bytes of one event or response [16 MiB] */
};

/*
 * Start following a ConfigMap.  The options are copied.  Credentials are
 * read here, so a missing kubeconfig or a bad one is reported at once:
 * 0; -EINVAL (bad name or namespace, unusable kubeconfig), -ENOENT (no
 * credentials at all), -ENOMEM, or a thread creation error; err is filled
 * (err->source names the ConfigMap, err->msg says why).  notify may be
 * NULL.  Any thread; the returned handle belongs to the caller.
 */
int k8s_start(struct k8s **out, const struct k8s_opts *o,
    k8s_notify_fn notify, void *arg, struct cfg_error *err);

/*
 * Stop the thread (at once, whatever it is doing), join it, close its
 * connections and free everything.  NULL is a no-op.  Not concurrently
 * with other calls on the same handle.
 */
void k8s_stop(struct k8s *k);

/*
 * The newest data as a tree, through cfg_load_files() (`source` and `lim`
 * as there).  The data is shared, not copied, and parsed without our lock
 * held, so the thread is never held up by a long parse.
 *  0         *out is the tree (NULL when the ConfigMap has no keys);
 *  -EAGAIN   no answer from the API server yet, or only transient
 *            failures so far (connection errors, 5xx, 429): "waiting";
 *  -ENOENT   the ConfigMap does not exist (or was deleted and
 *            drop_on_delete is set);
 *  -EACCES   refused (401, 403) before any data arrived;
 *  -EIO      other failures before any data arrived;
 *  -EINVAL   a data key does not parse (err from cfg_load_files(), its
 *            source being "configmap:NS/NAME/KEY").
 * err is filled on every failure.  Any thread.
 */
int k8s_load(struct k8s *k, unsigned source, const struct cfg_limits *lim,
    struct cfg_node **out, struct cfg_error *err);

/*
 * A fingerprint of what k8s_load() would return: it changes whenever that
 * does.  0, or -ENOENT when k8s_load() would fail.  Any thread.
 */
int k8s_identity(struct k8s *k, uint64_t *fp);

/*
 * The state for status output: state is one of "waiting", "synced",
 * "not found", "deleted", "deleted (keeping last data)", "reconnecting",
 * "unauthorized", "forbidden", "error"; detail says more ("resourceVersion
 * 1234", the last error and when the next attempt is).  Both are cut to
 * their buffers and always NUL-terminated.  Returns the resourceVersion
 * of the data held as a number when it is one, else 0.  Any thread.
 */
uint64_t k8s_state(struct k8s *k, char *state, size_t statelen,
    char *detail, size_t detaillen);

/*
 * For the one-shot modes (hotcfgd -n, --print): start, wait for the first
 * definite answer (at most o->request_ns, default 30 s), load it as
 * k8s_load() does, stop.  Returns what k8s_load() returned; -EAGAIN when
 * no answer came in time (err says what the client saw), or k8s_start()'s
 * error.
 */
int k8s_load_once(const struct k8s_opts *o, unsigned source,
    const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err);

/* Counters, for tests and debugging.  Any thread. */
struct k8s_stats {
	unsigned long lists;    /* list (or poll) requests made */
	unsigned long watches;  /* watch requests made */
	unsigned long events;   /* watch events applied */
	unsigned long failures; /* failed requests (any cause) */
	unsigned long relists;  /* lists caused by 410 Expired */
	unsigned long token_reads; /* token file reads */
	bool watching;          /* a watch stream is open right now */
};
void k8s_get_stats(struct k8s *k, struct k8s_stats *st);

/*
 * The "configmap" kind of source for source.h (k8ssource.c): in
 * source_init(), `case SRC_CONFIGMAP: s->ops = &k8s_source_ops;`.
 */
struct source_ops;
extern const struct source_ops k8s_source_ops;

#endif /* HOTCFGD_K8S_H */
