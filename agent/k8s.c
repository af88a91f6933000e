/*
 * k8s.c - one ConfigMap followed through the Kubernetes API (see k8s.h).
 *
 * Each ConfigMap has its own thread, which owns a libcurl easy handle, the
 * credentials and the reflector's bookkeeping (the resourceVersion to
 * watch from, the backoff).  It talks to the rest of the agent through a
 * small shared part under a mutex: the newest data, the state and detail
 * shown in the status, and a version counter that moves when what
 * k8s_load() returns moves.  The data itself is an immutable k8s_cm with a
 * reference count, so k8s_load() takes a reference under the lock and
 * parses without it.
 *
 * Every wait of the thread - a transfer in progress, a backoff, a poll
 * interval - is curl_multi_poll() on the handle's own multi handle, which
 * k8s_stop() interrupts with curl_multi_wakeup(): stopping takes as long
 * as one trip around the loop, whatever the thread was doing, and needs no
 * signal and no timeout.  The thread is joined and every handle closed, so
 * however often it reconnects or is restarted nothing is left behind.
 *
 * The token is re-read from its file every token_reread and after a 401;
 * it lives in the credentials and, for the length of one request, in the
 * request's header list, which is wiped before it is freed.  Logs and
 * state details carry URLs, codes and the server's Status messages, never
 * a header.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "internal.h"
#include "k8s.h"
#include "k8swatch.h"
#include "kubeconfig.h"
#include "log.h"

#define NS_PER_S  INT64_C(1000000000)
#define NS_PER_MS INT64_C(1000000)

enum k8s_st {
	ST_WAITING = 0,
	ST_SYNCED,
	ST_NOT_FOUND,
	ST_DELETED,
	ST_DELETED_KEPT,
	ST_RECONNECTING,
	ST_UNAUTHORIZED,
	ST_FORBIDDEN,
	ST_ERROR
};

static const char *const st_names[] = {
	[ST_WAITING] = "waiting",
	[ST_SYNCED] = "synced",
	[ST_NOT_FOUND] = "not found",
	[ST_DELETED] = "deleted",
	[ST_DELETED_KEPT] = "deleted (keeping last data)",
	[ST_RECONNECTING] = "reconnecting",
	[ST_UNAUTHORIZED] = "unauthorized",
	[ST_FORBIDDEN] = "forbidden",
	[ST_ERROR] = "error",
};

/* One version of the data, shared by the thread and k8s_load(). */
struct k8s_data {
	atomic_size_t refs;
	struct k8s_cm *cm;
};

struct k8s {
	/* Set by k8s_start(), read-only afterwards. */
	struct k8s_opts o;      /* timings resolved; strings below */
	char *ns, *name, *label;
	char *base;             /* SERVER/api/v1/namespaces/NS/configmaps */
	k8s_notify_fn notify;
	void *arg;
	CURLM *multi;
	pthread_t thread;
	atomic_bool stop;

	/* The thread's own. */
	CURL *easy;
	struct kube_creds creds;
	char rv[K8S_RV_MAX];    /* where the next watch starts */
	bool listed;            /* rv is good to watch from */
	bool retried_401;       /* the immediate retry after a 401 is used */
	unsigned expired;       /* 410s in a row, without an event between */
	int64_t backoff, last_failure;
	uint64_t rng;

	/* Shared, under mtx. */
	pthread_mutex_t mtx;
	struct k8s_data *cur;   /* the newest data, NULL when none */
	bool answered;          /* the API server said what there is */
	bool deleted;           /* the ConfigMap went away after we saw it */
	int load_rc;            /* what k8s_load() returns when cur is NULL */
	char load_msg[256];
	uint64_t version;       /* moves with what k8s_load() returns */
	int state;
	char detail[256];
	char pos_rv[K8S_RV_MAX];  /* the newest resourceVersion seen */
	char del_rv[K8S_RV_MAX];  /* the DELETED event's */
	struct k8s_stats stats;
};

/* One request in flight. */
struct xfer {
	struct k8s *k;
	bool watch;
	long http;
	bool established;       /* a watch answered 200 */
	char *body;             /* non-watch (or error) body */
	size_t len, cap;
	bool too_big;
	struct k8s_stream stream;
	int stream_rc;          /* the stream's error, or 0 */
	bool expired;           /* ERROR 410 */
	bool error_event;       /* another ERROR */
	struct k8s_status status; /* of the ERROR event */
	bool bad_object;        /* an event object we could not use */
	char why[200];          /* what was wrong with it */
	bool stopped;
	CURLcode cc;
	char curl_err[CURL_ERROR_SIZE];
	long retry_after;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ------------------------------------------------------------------ */
/* Small helpers.                                                       */
/* ------------------------------------------------------------------ */

static bool
stopping(struct k8s *k)
{
	return atomic_load_explicit(&k->stop, memory_order_acquire);
}

static uint64_t
rnd(struct k8s *k)
{
	/* xorshift64*: jitter, not cryptography. */
	k->rng ^= k->rng >> 12;
	k->rng ^= k->rng << 25;
	k->rng ^= k->rng >> 27;
	return k->rng * UINT64_C(2685821657736338717);
}

/* A uniform draw in [lo, hi]. */
static int64_t
rnd_range(struct k8s *k, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)(rnd(k) % (uint64_t)(hi - lo + 1));
}

static void
data_release(struct k8s_data *d)
{
	if (d != NULL && atomic_fetch_sub_explicit(&d->refs, 1,
	    memory_order_acq_rel) == 1) {
		k8s_cm_free(d->cm);
		free(d);
	}
}

static void
fmt_secs(char *buf, size_t size, int64_t ns)
{
	if (ns < NS_PER_S)
		snprintf(buf, size, "%" PRId64 "ms", ns / NS_PER_MS);
	else
		snprintf(buf, size, "%.1fs", (double)ns / (double)NS_PER_S);
}

/* Copy src, cut to fit (never inside a UTF-8 sequence). */
static void
cut_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
log_head(struct logline *l, struct k8s *k, int level, const char *event)
{
	log_begin(l, level, event);
	log_str(l, "source", k->label);
}

/* ------------------------------------------------------------------ */
/* The shared part.                                                     */
/* ------------------------------------------------------------------ */

/* The state when nothing is failing, from what we know.  Under mtx. */
static void
healthy_state(struct k8s *k)
{
	const char *poll = "";
	char every[32] = "";

	if (k->o.poll_ns > 0) {
		fmt_secs(every, sizeof(every), k->o.poll_ns);
		poll = ", polling every ";
	}
	if (k->cur != NULL && !k->deleted) {
		k->state = ST_SYNCED;
		snprintf(k->detail, sizeof(k->detail), "resourceVersion %s%s%s",
		    k->pos_rv, poll, every);
	} else if (k->cur != NULL) {
		k->state = ST_DELETED_KEPT;
		snprintf(k->detail, sizeof(k->detail), "deleted at "
		    "resourceVersion %s; keeping the data of resourceVersion %s",
		    k->del_rv[0] ? k->del_rv : k->pos_rv, k->cur->cm->rv);
	} else if (k->deleted) {
		k->state = ST_DELETED;
		snprintf(k->detail, sizeof(k->detail), "deleted at "
		    "resourceVersion %s; waiting for it to be created again",
		    k->del_rv[0] ? k->del_rv : k->pos_rv);
	} else {
		k->state = ST_NOT_FOUND;
		snprintf(k->detail, sizeof(k->detail), "configmap \"%s\" does "
		    "not exist in namespace \"%s\"; waiting for it to be "
		    "created", k->name, k->ns);
	}
}

static void
notify(struct k8s *k, unsigned what)
{
	if (what != 0 && k->notify != NULL)
		k->notify(k->arg, what);
}

/* Under mtx: recompute the healthy state; which bits changed. */
static unsigned
settle(struct k8s *k, int old_state, const char *old_detail)
{
	healthy_state(k);
	return k->state != old_state || strcmp(k->detail, old_detail) != 0 ?
	    K8S_NOTIFY_STATE : 0;
}

/* The watch position moved (an event, a bookmark, a list). */
static void
set_pos(struct k8s *k, const char *rv)
{
	if (rv == NULL || rv[0] == '\0')
		return;
	snprintf(k->rv, sizeof(k->rv), "%s", rv);
	pthread_mutex_lock(&k->mtx);
	snprintf(k->pos_rv, sizeof(k->pos_rv), "%s", rv);
	/* "synced at resourceVersion X" follows the position; a bookmark
	 * alone is not worth a notification. */
	if (k->answered && k->state < ST_RECONNECTING)
		healthy_state(k);
	pthread_mutex_unlock(&k->mtx);
}

/*
 * The ConfigMap exists with this data (takes cm).  Data equal to what we
 * hold changes nothing that k8s_load() returns, so it is not signalled.
 * false when there was no memory to hold new data: nothing changed, the
 * position included, and the caller fails the request so that the data
 * is listed again.
 */
static bool
install(struct k8s *k, struct k8s_cm *cm, const char *how)
{
	struct k8s_data *d = NULL, *old = NULL;
	char old_detail[sizeof(k->detail)];
	unsigned what = 0;
	bool same;
	int old_state;

	pthread_mutex_lock(&k->mtx);
	old_state = k->state;
	memcpy(old_detail, k->detail, sizeof(old_detail));
	same = k->cur != NULL && k8s_cm_same_data(k->cur->cm, cm);
	if (!same && (d = malloc(sizeof(*d))) == NULL) {
		pthread_mutex_unlock(&k->mtx);
		k8s_cm_free(cm);
		return false;
	}
	if (cm->rv[0] != '\0')
		snprintf(k->pos_rv, sizeof(k->pos_rv), "%s", cm->rv);
	if (!same) {
		atomic_init(&d->refs, 1);
		d->cm = cm;
		cm = NULL;
		old = k->cur;
		k->cur = d;
		k->version++;
		what |= K8S_NOTIFY_DATA;
	}
	k->answered = true;
	if (k->deleted)
		what |= K8S_NOTIFY_DATA;        /* state says "deleted" no more */
	k->deleted = false;
	k->del_rv[0] = '\0';
	what |= settle(k, old_state, old_detail);
	pthread_mutex_unlock(&k->mtx);
	if (what & K8S_NOTIFY_DATA) {
		struct logline l;

		log_head(&l, k, LOGL_INFO, "k8s_update");
		log_str(&l, "via", how);
		log_str(&l, "resource_version", d ? d->cm->rv : "");
		log_uint(&l, "keys", d ? d->cm->nfiles : 0);
		log_uint(&l, "bytes", d ? d->cm->bytes : 0);
		log_end(&l);
	}
	data_release(old);
	k8s_cm_free(cm);
	notify(k, what);
	return true;
}

/* The ConfigMap is not there: never was (list), or deleted (event). */
static void
absent(struct k8s *k, const char *rv, bool event)
{
	struct k8s_data *old = NULL;
	char old_detail[sizeof(k->detail)];
	unsigned what = 0;
	bool had, was_deleted, now_deleted;
	int old_state, old_rc;

	pthread_mutex_lock(&k->mtx);
	old_state = k->state;
	old_rc = k->cur != NULL ? 0 : k->load_rc;
	memcpy(old_detail, k->detail, sizeof(old_detail));
	if (rv != NULL && rv[0] != '\0')
		snprintf(k->pos_rv, sizeof(k->pos_rv), "%s", rv);
	had = k->cur != NULL;
	was_deleted = k->deleted;
	/* Something we saw, gone now: a deletion, by event or by a list that
	 * no longer has it. */
	if (had || k->deleted) {
		if (!k->deleted && rv != NULL)
			snprintf(k->del_rv, sizeof(k->del_rv), "%s", rv);
		k->deleted = true;
	}
	if (had && k->o.drop_on_delete) {
		old = k->cur;
		k->cur = NULL;
	}
	k->answered = true;
	if (k->cur == NULL) {
		k->load_rc = -ENOENT;
		snprintf(k->load_msg, sizeof(k->load_msg), "configmap \"%s\" %s "
		    "in namespace \"%s\"", k->name, k->deleted ? "was deleted" :
		    "does not exist", k->ns);
		if (old_rc != -ENOENT) {
			k->version++;
			what |= K8S_NOTIFY_DATA;
		}
	}
	what |= settle(k, old_state, old_detail);
	now_deleted = k->deleted;
	pthread_mutex_unlock(&k->mtx);
	if (now_deleted && !was_deleted) {
		struct logline l;

		log_head(&l, k, LOGL_WARNING, "k8s_deleted");
		log_str(&l, "resource_version", rv ? rv : "");
		log_bool(&l, "data_kept", had && !k->o.drop_on_delete);
		log_bool(&l, "event", event);
		log_end(&l);
	}
	data_release(old);
	notify(k, what);
}

/* A watch answered 200: the failure, if any, is over. */
static void
recovered(struct k8s *k)
{
	char old_detail[sizeof(k->detail)];
	unsigned what = 0;
	int old_state;

	pthread_mutex_lock(&k->mtx);
	if (k->answered && k->state >= ST_RECONNECTING) {
		old_state = k->state;
		memcpy(old_detail, k->detail, sizeof(old_detail));
		what = settle(k, old_state, old_detail);
	}
	pthread_mutex_unlock(&k->mtx);
	notify(k, what);
}

/* Record a failure in the state (and in what k8s_load() says when there is
 * no data yet); returns nothing, logs one line. */
static void
failed(struct k8s *k, int state, int load_rc, const char *msg,
    int64_t retry_ns)
{
	char old_detail[sizeof(k->detail)], when[32], line[720];
	unsigned what = 0;
	int old_state;
	struct logline l;

	fmt_secs(when, sizeof(when), retry_ns);
	pthread_mutex_lock(&k->mtx);
	k->stats.failures++;
	old_state = k->state;
	memcpy(old_detail, k->detail, sizeof(old_detail));
	k->state = state;
	snprintf(line, sizeof(line), "%.640s; retrying in %s", msg, when);
	cut_copy(k->detail, sizeof(k->detail), line);
	if (strcmp(old_detail, k->detail) != 0 || old_state != state)
		what |= K8S_NOTIFY_STATE;
	/* Without data, k8s_load() reports the failure - unless the last
	 * thing we knew for sure was that the ConfigMap does not exist.  A
	 * transient failure (connection, 5xx, 429) before the first answer
	 * is still "waiting" (-EAGAIN), not an error. */
	if (k->cur == NULL && k->load_rc != -ENOENT) {
		/* Only a new kind of failure is news for k8s_load(); a new
		 * wording of the same one (curl's timings) is not. */
		cut_copy(k->load_msg, sizeof(k->load_msg), msg);
		if (k->load_rc != load_rc) {
			k->load_rc = load_rc;
			k->version++;
			what |= K8S_NOTIFY_DATA;
		}
	}
	pthread_mutex_unlock(&k->mtx);
	log_head(&l, k, state == ST_RECONNECTING ? LOGL_INFO : LOGL_WARNING,
	    "k8s_error");
	log_str(&l, "state", st_names[state]);
	log_str(&l, "error", msg);
	log_int(&l, "retry_ms", retry_ns / NS_PER_MS);
	log_end(&l);
	notify(k, what);
}

/* ------------------------------------------------------------------ */
/* Waiting.                                                             */
/* ------------------------------------------------------------------ */

/* Sleep for ns unless stopped first.  false when stopped. */
static bool
nap(struct k8s *k, int64_t ns)
{
	int64_t end = hc_mono_ns() + ns, left;

	while (!stopping(k) && (left = end - hc_mono_ns()) > 0) {
		int64_t ms = (left + NS_PER_MS - 1) / NS_PER_MS;

		if (curl_multi_poll(k->multi, NULL, 0, ms > INT_MAX ? INT_MAX :
		    (int)ms, NULL) != CURLM_OK) {
			/* Cannot happen with a good handle; never spin. */
			struct timespec ts = { 0, 50 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	return !stopping(k);
}

/* The next backoff delay: exponential with jitter, starting over after
 * a quiet period (client-go's reflector does the same). */
static int64_t
next_backoff(struct k8s *k)
{
	int64_t now = hc_mono_ns(), d;

	if (k->last_failure == 0 || now - k->last_failure >
	    k->o.backoff_reset_ns || k->backoff == 0)
		k->backoff = k->o.backoff_min_ns;
	d = k->backoff + rnd_range(k, 0, k->backoff / 2);
	if (d > k->o.backoff_max_ns)
		d = k->o.backoff_max_ns;
	k->backoff = k->backoff > k->o.backoff_max_ns / 2 ?
	    k->o.backoff_max_ns : k->backoff * 2;
	k->last_failure = now;
	return d;
}

/* ------------------------------------------------------------------ */
/* HTTP.                                                                */
/* ------------------------------------------------------------------ */

static int on_event(void *arg, const struct k8s_event *ev);

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	/* The blank line that ends the headers of the final response. */
	if (len <= 2 && (len == 0 || p[0] == '\r' || p[0] == '\n')) {
		long code = 0;

		curl_easy_getinfo(x->k->easy, CURLINFO_RESPONSE_CODE, &code);
		x->http = code;
		if (x->watch && code == 200 && !x->established) {
			x->established = true;
			pthread_mutex_lock(&x->k->mtx);
			x->k->stats.watching = true;
			pthread_mutex_unlock(&x->k->mtx);
			recovered(x->k);
		}
	}
	return len;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	int rc;

	if (x->http == 0)
		curl_easy_getinfo(x->k->easy, CURLINFO_RESPONSE_CODE, &x->http);
	if (x->watch && x->http == 200) {
		rc = k8s_stream_feed(&x->stream, p, len);
		if (rc < 0)
			x->stream_rc = rc;
		return rc == 0 ? len : 0;     /* 0 aborts the transfer */
	}
	if (len > x->k->o.max_object || x->len > x->k->o.max_object - len) {
		x->too_big = true;
		return 0;
	}
	if (x->len + len + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 16384;
		char *b;

		while (cap < x->len + len + 1)
			cap *= 2;
		if ((b = realloc(x->body, cap)) == NULL)
			return 0;
		x->body = b;
		x->cap = cap;
	}
	memcpy(x->body + x->len, p, len);
	x->len += len;
	x->body[x->len] = '\0';
	return len;
}

static void
xfer_init(struct xfer *x, struct k8s *k, bool watch)
{
	memset(x, 0, sizeof(*x));
	x->k = k;
	x->watch = watch;
	k8s_stream_init(&x->stream, k->o.max_object, on_event, x);
}

static void
xfer_fini(struct xfer *x)
{
	k8s_stream_fini(&x->stream);
	free(x->body);
	x->body = NULL;
}

static void
wipe_headers(struct curl_slist *h)
{
	struct curl_slist *p;

	for (p = h; p != NULL; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

/*
 * Run one request to completion (or until k8s_stop()).  timeout_ns bounds
 * the whole transfer, idle_ns the time without a byte.  The outcome is in
 * x: cc, http, body or the events applied.
 */
static void
perform(struct k8s *k, struct xfer *x, const char *url, int64_t timeout_ns,
    int64_t idle_ns)
{
	struct curl_slist *hdrs = NULL, *h;
	CURL *e = k->easy;
	CURLcode cc = CURLE_OK;
	char *auth = NULL;
	bool done = false;
	int running = 0, q;
	curl_off_t ra = 0;

	curl_easy_reset(e);
#define SET(opt, val) do { \
	if (cc == CURLE_OK) \
		cc = curl_easy_setopt(e, opt, val); \
} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "https,http");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_ACCEPT_ENCODING, "");
	SET(CURLOPT_USERAGENT, "hotcfgd/" HOTCFG_VERSION_STRING);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)(k->o.connect_ns / NS_PER_MS));
	SET(CURLOPT_TIMEOUT_MS, (long)(timeout_ns / NS_PER_MS));
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, (long)((idle_ns + NS_PER_S - 1) /
	    NS_PER_S));
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, (long)(k->o.keepalive_ns / NS_PER_S));
	SET(CURLOPT_TCP_KEEPINTVL, (long)(k->o.keepalive_ns / NS_PER_S));
	SET(CURLOPT_ERRORBUFFER, x->curl_err);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, x);
#undef SET
	if (cc == CURLE_OK && kube_curl_tls(&k->creds, e) != 0)
		cc = CURLE_SSL_CERTPROBLEM;
	if ((h = curl_slist_append(NULL, "Accept: application/json")) != NULL)
		hdrs = h;
	if (k->creds.token != NULL && hdrs != NULL) {
		if (asprintf(&auth, "Authorization: Bearer %s",
		    k->creds.token) < 0)
			auth = NULL;
		if (auth != NULL && (h = curl_slist_append(hdrs, auth)) != NULL)
			hdrs = h;
		if (auth != NULL) {
			explicit_bzero(auth, strlen(auth));
			free(auth);
		}
	}
	if (hdrs == NULL)
		cc = CURLE_OUT_OF_MEMORY;
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	if (cc != CURLE_OK) {
		x->cc = cc;
		goto out;
	}
	if (curl_multi_add_handle(k->multi, e) != CURLM_OK) {
		x->cc = CURLE_FAILED_INIT;
		goto out;
	}
	while (!done) {
		CURLMsg *m;

		if (stopping(k)) {
			x->stopped = true;
			cc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (curl_multi_perform(k->multi, &running) != CURLM_OK) {
			cc = CURLE_FAILED_INIT;
			break;
		}
		while ((m = curl_multi_info_read(k->multi, &q)) != NULL) {
			if (m->msg == CURLMSG_DONE && m->easy_handle == e) {
				cc = m->data.result;
				done = true;
			}
		}
		if (!done && running == 0) {
			cc = CURLE_FAILED_INIT;
			break;
		}
		if (!done && curl_multi_poll(k->multi, NULL, 0, 1000, NULL) !=
		    CURLM_OK) {
			cc = CURLE_FAILED_INIT;
			break;
		}
	}
	curl_multi_remove_handle(k->multi, e);
	x->cc = cc;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &x->http);
	if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK &&
	    ra > 0)
		x->retry_after = ra > 86400 ? 86400 : (long)ra;
out:
	/* Nothing of this request may outlive it: not the token in the
	 * header list, not the pointers to x. */
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	curl_easy_reset(e);
	wipe_headers(hdrs);
}

/* Re-read the token when it is due (or forced).  1 when it changed. */
static int
refresh_token(struct k8s *k, bool force)
{
	char err[256];
	int64_t last = k->creds.token_read_ns;
	int rc;

	if (k->creds.token_file == NULL)
		return 0;
	err[0] = '\0';
	rc = kube_token_refresh(&k->creds, force, hc_mono_ns(),
	    k->o.token_reread_ns, err, sizeof(err));
	if (k->creds.token_read_ns != last) {
		pthread_mutex_lock(&k->mtx);
		k->stats.token_reads++;
		pthread_mutex_unlock(&k->mtx);
	}
	if (rc != 0 || force) {
		struct logline l;

		log_head(&l, k, rc < 0 ? LOGL_WARNING : LOGL_INFO,
		    "k8s_token");
		log_str(&l, "file", k->creds.token_file);
		log_bool(&l, "changed", rc > 0);
		if (rc < 0)
			log_str(&l, "error", err);
		log_end(&l);
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* What came back.                                                      */
/* ------------------------------------------------------------------ */

static const char *
http_reason(long code)
{
	switch (code) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 410: return "Gone";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "";
}

/*
 * Turn a failed request into a state, a wait and the next step; sleeps.
 * Returns with k->listed cleared when the next step must be a list.
 */
static void
handle_failure(struct k8s *k, struct xfer *x, const char *what)
{
	struct k8s_status st;
	char msg[640];          /* cut to the detail's size later */
	int64_t wait;
	int state = ST_RECONNECTING, load_rc = -EAGAIN;

	memset(&st, 0, sizeof(st));
	if (x->stopped)
		return;
	if (x->expired) {
		struct logline l;

		log_head(&l, k, LOGL_INFO, "k8s_relist");
		log_str(&l, "reason", x->status.message[0] ?
		    x->status.message : "resourceVersion expired");
		log_end(&l);
		pthread_mutex_lock(&k->mtx);
		k->stats.relists++;
		pthread_mutex_unlock(&k->mtx);
		k->listed = false;
		/* Relist at once - but a server that expires every fresh
		 * list at once must not make us spin. */
		if (++k->expired < 2)
			return;
		snprintf(msg, sizeof(msg), "%s: resourceVersion expired again "
		    "right after a list", what);
		wait = next_backoff(k);
		goto sleep;
	}
	if (x->too_big) {
		state = ST_ERROR;
		load_rc = -EIO;
		snprintf(msg, sizeof(msg), "%s: response larger than %zu bytes",
		    what, k->o.max_object);
	} else if (x->stream_rc != 0 || x->bad_object) {
		state = ST_ERROR;
		load_rc = -EIO;
		snprintf(msg, sizeof(msg), "%s: %s", what, x->bad_object ?
		    x->why : x->stream.err);
		k->listed = false;
	} else if (x->error_event) {
		snprintf(msg, sizeof(msg), "%s: ERROR event: %d %s: %s", what,
		    x->status.code, x->status.reason, x->status.message);
		k->listed = false;
	} else if (x->cc != CURLE_OK && !(x->cc == CURLE_WRITE_ERROR &&
	    x->http != 200 && x->http != 0)) {
		snprintf(msg, sizeof(msg), "%s: %s", what, x->curl_err[0] ?
		    x->curl_err : curl_easy_strerror(x->cc));
	} else {
		long code = x->http;

		k8s_status_parse(x->body, x->len, &st);
		if (code == 401) {
			/* Rotated token: one retry at once with the new
			 * one; the same token again waits like any failure. */
			if (refresh_token(k, true) > 0 && !k->retried_401) {
				k->retried_401 = true;
				return;
			}
			state = ST_UNAUTHORIZED;
			load_rc = -EACCES;
		} else if (code == 403) {
			state = ST_FORBIDDEN;
			load_rc = -EACCES;
		} else if (code == 410) {
			k->listed = false;
		} else if (code != 429 && code < 500) {
			state = ST_ERROR;
			load_rc = -EIO;
		}
		snprintf(msg, sizeof(msg), "%s: HTTP %ld%s%s%s%s", what, code,
		    http_reason(code)[0] ? " " : "", http_reason(code),
		    st.message[0] ? ": " : "", st.message);
		if (code == 429 || code >= 500) {
			long ra = x->retry_after ? x->retry_after :
			    st.retry_after;

			if (ra > 0) {
				wait = (int64_t)ra * NS_PER_S;
				if (wait > 600 * NS_PER_S)
					wait = 600 * NS_PER_S;
				k->last_failure = hc_mono_ns();
				goto sleep;
			}
		}
	}
	k->retried_401 = false;
	wait = next_backoff(k);
sleep:
	failed(k, state, load_rc, msg, wait);
	nap(k, wait);
}

/* ------------------------------------------------------------------ */
/* Watch events.                                                        */
/* ------------------------------------------------------------------ */

/* Whether a watch event's object is our ConfigMap. */
static bool
is_ours(struct k8s *k, const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");
	const json_t *name = json_object_get(md, "name");

	return json_is_string(name) && strcmp(json_string_value(name),
	    k->name) == 0;
}

static int
on_event(void *arg, const struct k8s_event *ev)
{
	struct xfer *x = arg;
	struct k8s *k = x->k;
	struct k8s_cm *cm = NULL;

	if (ev->type != K8S_EV_ERROR) {
		pthread_mutex_lock(&k->mtx);
		k->stats.events++;
		pthread_mutex_unlock(&k->mtx);
		k->expired = 0;
	}
	switch (ev->type) {
	case K8S_EV_ADDED:
	case K8S_EV_MODIFIED:
		if (!is_ours(k, ev->object))
			break;
		if (k8s_cm_from_json(ev->object, &cm, x->why,
		    sizeof(x->why)) != 0) {
			x->bad_object = true;
			return 1;
		}
		set_pos(k, ev->rv);
		if (!install(k, cm, k8s_ev_name(ev->type))) {
			/* Ends the watch; the data is listed again. */
			snprintf(x->why, sizeof(x->why), "out of memory for "
			    "the update");
			x->bad_object = true;
			return 1;
		}
		break;
	case K8S_EV_DELETED:
		if (!is_ours(k, ev->object))
			break;
		set_pos(k, ev->rv);
		absent(k, ev->rv, true);
		break;
	case K8S_EV_BOOKMARK:
		set_pos(k, ev->rv);
		break;
	case K8S_EV_ERROR:
		x->status = ev->status;
		if (ev->status.code == 410)
			x->expired = true;
		else
			x->error_event = true;
		return 1;               /* the stream is over */
	default:
		break;                  /* a newer event type: not ours */
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* List, watch, poll.                                                   */
/* ------------------------------------------------------------------ */

/* The ConfigMap in a list or get answer; *cm NULL when absent. */
static int
parse_answer(struct k8s *k, struct xfer *x, bool list, struct k8s_cm **cm,
    char rv[K8S_RV_MAX])
{
	json_error_t jerr;
	json_t *root, *items, *md, *v, *it;
	size_t i;
	int rc = -EBADMSG;

	*cm = NULL;
	rv[0] = '\0';
	if ((root = json_loadb(x->body ? x->body : "", x->len, JSON_ALLOW_NUL,
	    &jerr)) == NULL) {
		snprintf(x->why, sizeof(x->why), "answer is not valid JSON");
		return -EBADMSG;
	}
	if (!list) {
		rc = k8s_cm_from_json(root, cm, x->why, sizeof(x->why));
		if (rc == 0)
			snprintf(rv, K8S_RV_MAX, "%s", (*cm)->rv);
		goto out;
	}
	md = json_object_get(root, "metadata");
	v = json_object_get(md, "resourceVersion");
	items = json_object_get(root, "items");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= K8S_RV_MAX) {
		snprintf(x->why, sizeof(x->why), "list answer has no usable "
		    "metadata.resourceVersion");
		goto out;
	}
	if (!json_is_array(items) && !json_is_null(items) && items != NULL) {
		snprintf(x->why, sizeof(x->why), "list answer has no items");
		goto out;
	}
	snprintf(rv, K8S_RV_MAX, "%s", json_string_value(v));
	json_array_foreach(items, i, it) {
		if (!is_ours(k, it))
			continue;
		if (k8s_cm_from_json(it, cm, x->why, sizeof(x->why)) != 0)
			goto out;
		break;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* List (list=true) or get (poll mode) and apply the answer.  0 on
 * success; otherwise the failure was handled (and waited for). */
static int
fetch(struct k8s *k, bool list)
{
	struct xfer x;
	struct k8s_cm *cm = NULL;
	char *url = NULL, rv[K8S_RV_MAX];
	int rc = -EIO;

	refresh_token(k, false);
	if (list)
		rc = asprintf(&url, "%s?fieldSelector=metadata.name%%3D%s",
		    k->base, k->name);
	else
		rc = asprintf(&url, "%s/%s", k->base, k->name);
	if (rc < 0) {
		nap(k, k->o.backoff_min_ns);
		return -ENOMEM;
	}
	pthread_mutex_lock(&k->mtx);
	k->stats.lists++;
	pthread_mutex_unlock(&k->mtx);
	xfer_init(&x, k, false);
	perform(k, &x, url, k->o.request_ns, k->o.request_ns);
	free(url);
	rc = -EIO;
	if (x.stopped)
		goto out;
	if (x.cc == CURLE_OK && !list && x.http == 404) {
		absent(k, NULL, false);
		k->retried_401 = false;
		rc = 0;
		goto out;
	}
	if (x.cc != CURLE_OK || x.http != 200) {
		handle_failure(k, &x, list ? "list" : "get");
		goto out;
	}
	if (parse_answer(k, &x, list, &cm, rv) != 0) {
		x.bad_object = true;
		handle_failure(k, &x, list ? "list" : "get");
		goto out;
	}
	k->retried_401 = false;
	if (cm != NULL) {
		set_pos(k, rv);
		if (!install(k, cm, list ? "list" : "get")) {
			snprintf(x.why, sizeof(x.why), "out of memory for "
			    "the data");
			x.bad_object = true;
			handle_failure(k, &x, list ? "list" : "get");
			goto out;
		}
	} else {
		set_pos(k, rv);
		absent(k, rv, false);
	}
	k->listed = true;
	rc = 0;
out:
	xfer_fini(&x);
	return rc;
}

static void
watch(struct k8s *k)
{
	struct xfer x;
	char *url = NULL, *rv;
	int64_t tmo, t0;

	refresh_token(k, false);
	tmo = rnd_range(k, k->o.watch_min_ns / NS_PER_S,
	    k->o.watch_max_ns / NS_PER_S);
	if (tmo < 1)
		tmo = 1;
	if ((rv = curl_easy_escape(k->easy, k->rv, 0)) == NULL ||
	    asprintf(&url, "%s?fieldSelector=metadata.name%%3D%s&watch=true"
	    "&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%"
	    PRId64, k->base, k->name, rv, tmo) < 0) {
		curl_free(rv);
		nap(k, k->o.backoff_min_ns);
		return;
	}
	curl_free(rv);
	pthread_mutex_lock(&k->mtx);
	k->stats.watches++;
	pthread_mutex_unlock(&k->mtx);
	xfer_init(&x, k, true);
	t0 = hc_mono_ns();
	perform(k, &x, url, tmo * NS_PER_S + k->o.idle_ns, k->o.idle_ns);
	free(url);
	pthread_mutex_lock(&k->mtx);
	k->stats.watching = false;
	pthread_mutex_unlock(&k->mtx);
	if (x.cc == CURLE_OK && x.http == 200 && !x.stopped) {
		if (k8s_stream_finish(&x.stream) < 0) {
			x.stream_rc = -EBADMSG;
			handle_failure(k, &x, "watch");
		} else if (x.expired || x.error_event || x.bad_object) {
			handle_failure(k, &x, "watch");
		} else if (x.stream.events == 0 &&
		    hc_mono_ns() - t0 < NS_PER_S) {
			/* A watch that ends at once, again and again, must
			 * not spin: treat it as a failure (client-go does). */
			snprintf(x.curl_err, sizeof(x.curl_err), "the watch "
			    "ended at once");
			x.cc = CURLE_GOT_NOTHING;
			handle_failure(k, &x, "watch");
		} else {
			k->retried_401 = false;
			k->expired = 0;
		}
	} else if (!x.stopped) {
		if (x.http == 200)
			k->retried_401 = false;
		handle_failure(k, &x, "watch");
	}
	xfer_fini(&x);
}

static void *
run(void *arg)
{
	struct k8s *k = arg;

	while (!stopping(k)) {
		if (k->o.poll_ns > 0) {
			if (fetch(k, false) == 0)
				nap(k, k->o.poll_ns);
			continue;
		}
		if (!k->listed && fetch(k, true) != 0)
			continue;
		if (!stopping(k) && k->listed)
			watch(k);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The handle.                                                          */
/* ------------------------------------------------------------------ */

/* A DNS-1123 name: lower-case alphanumerics, '-' and (subdomain) '.',
 * starting and ending with an alphanumeric. */
static bool
dns_name_ok(const char *s, size_t max, bool dots)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && c != '-' && !(dots && c == '.'))
			return false;
		if ((i == 0 || i == n - 1) && !alnum)
			return false;
	}
	return true;
}

static void
start_err(struct cfg_error *err, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
start_err(struct cfg_error *err, const char *label, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	memset(err, 0, sizeof(*err));
	snprintf(err->source, sizeof(err->source), "%s", label);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static void
k8s_free(struct k8s *k)
{
	if (k == NULL)
		return;
	if (k->multi != NULL)
		curl_multi_cleanup(k->multi);
	kube_free(&k->creds);
	data_release(k->cur);
	pthread_mutex_destroy(&k->mtx);
	free(k->ns);
	free(k->name);
	free(k->label);
	free(k->base);
	free(k);
}

static int64_t
dflt(int64_t v, int64_t d)
{
	return v > 0 ? v : d;
}

int
k8s_start(struct k8s **out, const struct k8s_opts *o, k8s_notify_fn fn,
    void *arg, struct cfg_error *err)
{
	struct k8s *k = NULL;
	struct kube_opts ko;
	sigset_t all, old;
	char why[512];
	const char *label = o->label;
	char tmp[300];
	int rc;

	*out = NULL;
	if (label == NULL) {
		snprintf(tmp, sizeof(tmp), "configmap:%s/%s", o->ns ? o->ns :
		    "", o->name ? o->name : "");
		label = tmp;
	}
	if (o->name == NULL || !dns_name_ok(o->name, 253, true)) {
		start_err(err, label, "configmap name is not a valid "
		    "Kubernetes name (lower-case alphanumerics, '-' and '.')");
		return -EINVAL;
	}
	if (o->ns != NULL && o->ns[0] != '\0' && !dns_name_ok(o->ns, 63,
	    false)) {
		start_err(err, label, "namespace is not a valid Kubernetes "
		    "namespace name (lower-case alphanumerics and '-')");
		return -EINVAL;
	}
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK) {
		start_err(err, label, "libcurl: %s",
		    curl_easy_strerror(curl_init_rc));
		return -EIO;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		start_err(err, label, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&k->mtx, NULL);
	atomic_init(&k->stop, false);
	k->o = *o;
	k->o.ns = k->o.name = k->o.label = NULL;
	k->o.kubeconfig = k->o.context = k->o.sa_dir = NULL;
	k->o.watch_min_ns = dflt(o->watch_min_ns, 300 * NS_PER_S);
	k->o.watch_max_ns = dflt(o->watch_max_ns, 600 * NS_PER_S);
	if (k->o.watch_max_ns < k->o.watch_min_ns)
		k->o.watch_max_ns = k->o.watch_min_ns;
	k->o.idle_ns = dflt(o->idle_ns, k->o.watch_max_ns + 60 * NS_PER_S);
	k->o.request_ns = dflt(o->request_ns, 30 * NS_PER_S);
	k->o.connect_ns = dflt(o->connect_ns, 10 * NS_PER_S);
	k->o.keepalive_ns = dflt(o->keepalive_ns, 30 * NS_PER_S);
	if (k->o.keepalive_ns < NS_PER_S)
		k->o.keepalive_ns = NS_PER_S;
	k->o.backoff_min_ns = dflt(o->backoff_min_ns, 800 * NS_PER_MS);
	k->o.backoff_max_ns = dflt(o->backoff_max_ns, 30 * NS_PER_S);
	if (k->o.backoff_max_ns < k->o.backoff_min_ns)
		k->o.backoff_max_ns = k->o.backoff_min_ns;
	k->o.backoff_reset_ns = dflt(o->backoff_reset_ns, 120 * NS_PER_S);
	k->o.token_reread_ns = dflt(o->token_reread_ns, 60 * NS_PER_S);
	if (k->o.max_object == 0)
		k->o.max_object = K8S_MAX_LINE_DEFAULT;
	k->notify = fn;
	k->arg = arg;
	k->load_rc = -EAGAIN;
	k->rng = (uint64_t)hc_now_ns() ^ (uint64_t)(uintptr_t)k ^
	    UINT64_C(0x9e3779b97f4a7c15);
	if (k->rng == 0)
		k->rng = 1;

	memset(&ko, 0, sizeof(ko));
	ko.kubeconfig = o->kubeconfig;
	ko.context = o->context;
	ko.sa_dir = o->sa_dir;
	why[0] = '\0';
	if ((rc = kube_load(&k->creds, &ko, why, sizeof(why))) != 0) {
		start_err(err, label, "%s", why);
		goto fail;
	}
	rc = -ENOMEM;
	if ((k->name = strdup(o->name)) == NULL ||
	    (k->ns = strdup(o->ns && o->ns[0] ? o->ns : k->creds.namespace ?
	    k->creds.namespace : "default")) == NULL)
		goto nomem;
	if (!dns_name_ok(k->ns, 63, false)) {
		start_err(err, label, "namespace from %s is not a valid "
		    "namespace name", k->creds.where);
		rc = -EINVAL;
		goto fail;
	}
	if (o->label != NULL)
		k->label = strdup(o->label);
	else if (asprintf(&k->label, "configmap:%s/%s", k->ns, k->name) < 0)
		k->label = NULL;
	if (k->label == NULL)
		goto nomem;
	if (asprintf(&k->base, "%s/api/v1/namespaces/%s/configmaps",
	    k->creds.server, k->ns) < 0) {
		k->base = NULL;
		goto nomem;
	}
	snprintf(k->load_msg, sizeof(k->load_msg), "no answer from the API "
	    "server %s yet", k->creds.server);
	snprintf(k->detail, sizeof(k->detail), "connecting to %s",
	    k->creds.server);
	if ((k->multi = curl_multi_init()) == NULL ||
	    (k->easy = curl_easy_init()) == NULL)
		goto nomem;
	/* The first token read happens here, so a token file that cannot
	 * be read is reported at once (the thread retries later). */
	if (k->creds.token_file != NULL && kube_token_refresh(&k->creds, true,
	    hc_mono_ns(), k->o.token_reread_ns, why, sizeof(why)) < 0) {
		struct logline l;

		log_head(&l, k, LOGL_WARNING, "k8s_token");
		log_str(&l, "error", why);
		log_end(&l);
	}

	/* The thread takes no signal: the main loop handles them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&k->thread, NULL, run, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		start_err(err, label, "cannot start a thread: %s",
		    strerror(rc));
		rc = -rc;
		goto fail;
	}
	{
		struct logline l;
		bool plain = strncmp(k->creds.server, "http://", 7) == 0;

		log_head(&l, k, LOGL_INFO, "k8s_start");
		log_str(&l, "server", k->creds.server);
		log_str(&l, "credentials", k->creds.where);
		log_str(&l, "mode", k->o.poll_ns > 0 ? "poll" : "watch");
		log_str(&l, "tls", plain ? "none" : k->creds.insecure ?
		    "no-verify" : "verify");
		log_end(&l);
		if (plain && (k->creds.token != NULL ||
		    k->creds.token_file != NULL)) {
			log_head(&l, k, LOGL_WARNING, "k8s_plaintext");
			log_str(&l, "error", "the bearer token goes to the "
			    "API server over http://, unencrypted");
			log_end(&l);
		}
	}
	*out = k;
	return 0;
nomem:
	start_err(err, label, "out of memory");
	rc = -ENOMEM;
fail:
	if (k->easy != NULL)
		curl_easy_cleanup(k->easy);
	k8s_free(k);
	return rc;
}

void
k8s_stop(struct k8s *k)
{
	if (k == NULL)
		return;
	atomic_store_explicit(&k->stop, true, memory_order_release);
	curl_multi_wakeup(k->multi);
	pthread_join(k->thread, NULL);
	/* The easy handle is out of the multi handle: perform() always
	 * removes it before returning. */
	curl_easy_cleanup(k->easy);
	k->easy = NULL;
	k8s_free(k);
}

int
k8s_load(struct k8s *k, unsigned source, const struct cfg_limits *lim,
    struct cfg_node **out, struct cfg_error *err)
{
	struct k8s_data *d;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&k->mtx);
	if ((d = k->cur) != NULL) {
		atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
		rc = 0;
	} else {
		rc = k->load_rc;
		start_err(err, k->label, "%s", k->load_msg);
	}
	pthread_mutex_unlock(&k->mtx);
	if (d == NULL)
		return rc;
	rc = cfg_load_files(d->cm->files, d->cm->nfiles, source, lim, out, err);
	if (rc != 0 && err != NULL) {
		char path[2 * sizeof(err->source) + 2];

		/* Name the key the way a path would: configmap:ns/name/key. */
		snprintf(path, sizeof(path), "%.256s/%.256s", k->label,
		    err->source);
		cut_copy(err->source, sizeof(err->source), path);
	}
	data_release(d);
	return rc;
}

int
k8s_identity(struct k8s *k, uint64_t *fp)
{
	int rc = 0;

	pthread_mutex_lock(&k->mtx);
	*fp = k->version;
	if (k->cur == NULL)
		rc = -ENOENT;
	pthread_mutex_unlock(&k->mtx);
	return rc;
}

uint64_t
k8s_state(struct k8s *k, char *state, size_t statelen, char *detail,
    size_t detaillen)
{
	uint64_t rv = 0;
	char *end;

	pthread_mutex_lock(&k->mtx);
	if (state != NULL && statelen > 0)
		snprintf(state, statelen, "%s", st_names[k->state]);
	if (detail != NULL && detaillen > 0)
		snprintf(detail, detaillen, "%s", k->detail);
	if (k->cur != NULL && k->cur->cm->rv[0] != '\0') {
		errno = 0;
		rv = strtoull(k->cur->cm->rv, &end, 10);
		if (*end != '\0' || errno != 0)
			rv = 0;
	}
	pthread_mutex_unlock(&k->mtx);
	return rv;
}

void
k8s_get_stats(struct k8s *k, struct k8s_stats *st)
{
	pthread_mutex_lock(&k->mtx);
	*st = k->stats;
	pthread_mutex_unlock(&k->mtx);
}

/* ------------------------------------------------------------------ */
/* One answer, for the one-shot modes.                                  */
/* ------------------------------------------------------------------ */

struct once {
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	unsigned long notes;
};

static void
once_notify(void *arg, unsigned what)
{
	struct once *w = arg;

	(void)what;
	pthread_mutex_lock(&w->mtx);
	w->notes++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mtx);
}

int
k8s_load_once(const struct k8s_opts *o, unsigned source,
    const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err)
{
	struct once w;
	struct k8s *k = NULL;
	pthread_condattr_t ca;
	struct timespec until;
	int64_t deadline;
	int rc;

	*out = NULL;
	pthread_mutex_init(&w.mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cond, &ca);
	pthread_condattr_destroy(&ca);
	w.notes = 0;
	if ((rc = k8s_start(&k, o, once_notify, &w, err)) != 0)
		goto out;
	deadline = hc_mono_ns() + k->o.request_ns;
	until.tv_sec = (time_t)(deadline / NS_PER_S);
	until.tv_nsec = (long)(deadline % NS_PER_S);
	for (;;) {
		unsigned long seen;

		pthread_mutex_lock(&w.mtx);
		seen = w.notes;
		pthread_mutex_unlock(&w.mtx);
		rc = k8s_load(k, source, lim, out, err);
		if (rc != -EAGAIN || hc_mono_ns() >= deadline)
			break;
		pthread_mutex_lock(&w.mtx);
		while (w.notes == seen && pthread_cond_timedwait(&w.cond,
		    &w.mtx, &until) == 0)
			;
		pthread_mutex_unlock(&w.mtx);
	}
	if (rc == -EAGAIN && err != NULL) {
		char st[64], detail[256], line[400];

		k8s_state(k, st, sizeof(st), detail, sizeof(detail));
		snprintf(line, sizeof(line), "no answer from the API server "
		    "in time (%s: %s)", st, detail);
		cut_copy(err->msg, sizeof(err->msg), line);
	}
	k8s_stop(k);
out:
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.mtx);
	return rc;
}
