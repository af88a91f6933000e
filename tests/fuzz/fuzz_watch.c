/*
 * fuzz_watch.c - libFuzzer target: Kubernetes watch-stream bytes -> line
 * splitter -> events -> ConfigMaps -> files -> tree -> snapshot.
 *
 * fuzz-requires: agent/k8swatch.c
 *
 * These are the bytes an API server (or whoever sits between it and us)
 * sends; hotcfgd must take any of them without crashing, leaking or
 * buffering past its line limit.  The input is:
 *
 *   byte 0   the line limit: 0 is the default (16 MiB), n is 16 * n bytes,
 *            so that the limit is reached with small inputs too;
 *   byte 1   the seed of the cuts: the stream is fed once whole and once
 *            in pieces of 1 to 64 bytes, as the network may cut it;
 *   the rest the response body.
 *
 * Oracles beyond "does not crash":
 *  - the cuts do not matter: both feeds give the same events (type,
 *    resourceVersion, object) and end with the same result;
 *  - a refusal says why (s->err), and the reason never quotes the input
 *    (k8swatch.h: a ConfigMap value may hold a secret) - checked for the
 *    values of data keys, which the input marks as "secret-..." strings;
 *  - a ConfigMap that is accepted has sorted, NUL-terminated files whose
 *    sizes add up, equals itself, and loads like a mounted directory into
 *    a snapshot that validates.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "k8swatch.h"
#include "tree.h"
#include "walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXEV 64

struct seen {
	int type;
	char rv[K8S_RV_MAX];
	json_t *object;
};

struct log {
	struct seen ev[MAXEV];
	size_t n, total;
	unsigned cms;   /* ConfigMaps checked (only in the whole feed) */
	bool check_cm;
};

/* Does `text` (a refusal) quote a "secret-..." value of the input? */
static void
check_no_secret(const char *text, const uint8_t *in, size_t len)
{
	const char *p = (const char *)in, *end = p + len;

	while ((p = memmem(p, (size_t)(end - p), "secret-", 7)) != NULL) {
		size_t n = 7;

		while (p + n < end && n < 16 && p[n] != '"' && p[n] != '\\' &&
		    (unsigned char)p[n] >= ' ')
			n++;
		if (n >= 12) {
			char word[17];
			memcpy(word, p, n);
			word[n] = '\0';
			CHECK(strstr(text, word) == NULL);
		}
		p += 7;
	}
}

static void
check_cm(const struct k8s_cm *cm)
{
	struct cfg_limits lim;
	struct cfg_error err;
	struct cfg_node *root = NULL;
	struct hc_builder *b;
	hotcfg_snap *s;
	void *blob;
	size_t size, bytes = 0;
	unsigned id;
	char *dup = NULL;

	CHECK(cm->name != NULL);
	for (size_t i = 0; i < cm->nfiles; i++) {
		const struct cfg_file *f = &cm->files[i];
		CHECK(f->name != NULL && k8s_key_ok(f->name));
		CHECK(f->data[f->len] == '\0');
		if (i > 0)
			CHECK(strcmp(cm->files[i - 1].name, f->name) < 0);
		bytes += f->len;
	}
	CHECK(bytes == cm->bytes);
	CHECK(k8s_cm_same_data(cm, cm));

	cfg_limits_default(&lim);
	lim.max_nodes = 20000;
	if (cfg_load_files(cm->files, cm->nfiles, 0, &lim, &root, &err) != 0) {
		CHECK(root == NULL && err.msg[0] != '\0');
		return;
	}
	CHECK(hc_builder_new(&b) == 0);
	CHECK(hc_builder_source(b, "configmap:fuzz/cm", &id) == 0);
	if (cfg_emit(root, b, &lim, &err) == 0) {
		int rc = hc_builder_finish(b, 0, &blob, &size, &dup);
		if (rc == -EEXIST) {
			fprintf(stderr, "fuzz_watch: two nodes flatten to the "
			    "key \"%s\"\n", dup ? dup : "?");
			abort();
		}
		if (rc == 0) {
			CHECK(hc_snap_wrap(blob, size, &s) == 0);
			walk(s, true);
			hc_snap_unwrap(s);
			free(blob);
		}
	}
	hc_builder_free(b);
	cfg_free(root);
}

static int
on_event(void *arg, const struct k8s_event *ev)
{
	struct log *lg = arg;

	CHECK(ev->type >= K8S_EV_ADDED && ev->type <= K8S_EV_OTHER);
	CHECK(json_is_object(ev->object));
	CHECK(memchr(ev->rv, '\0', sizeof(ev->rv)) != NULL);
	CHECK(strcmp(k8s_ev_name(ev->type), "") != 0);
	if (ev->type == K8S_EV_ERROR) {
		CHECK(ev->status.code >= 0 && ev->status.code < 1000);
		CHECK(memchr(ev->status.reason, '\0',
		    sizeof(ev->status.reason)) != NULL);
		CHECK(memchr(ev->status.message, '\0',
		    sizeof(ev->status.message)) != NULL);
	}
	if (lg->check_cm && lg->cms < 8 && (ev->type == K8S_EV_ADDED ||
	    ev->type == K8S_EV_MODIFIED)) {
		struct k8s_cm *cm = NULL;
		char err[160] = "";
		int rc = k8s_cm_from_json(ev->object, &cm, err, sizeof(err));

		lg->cms++;
		if (rc == 0) {
			check_cm(cm);
			k8s_cm_free(cm);
		} else {
			CHECK(rc == -EBADMSG || rc == -ENOMEM);
			CHECK(cm == NULL && err[0] != '\0');
		}
	}
	if (lg->n < MAXEV) {
		struct seen *s = &lg->ev[lg->n++];
		s->type = ev->type;
		memcpy(s->rv, ev->rv, sizeof(s->rv));
		s->object = json_incref(ev->object);
	}
	lg->total++;
	return 0;
}

static void
log_free(struct log *lg)
{
	for (size_t i = 0; i < lg->n; i++)
		json_decref(lg->ev[i].object);
}

/* Feed the body in pieces of `cut` sizes (0: whole); the final result. */
static int
feed(const uint8_t *body, size_t len, size_t max, unsigned seed,
    struct log *lg, const uint8_t *all, size_t alllen)
{
	struct k8s_stream s;
	size_t off = 0;
	int rc = 0;

	k8s_stream_init(&s, max, on_event, lg);
	while (off < len && rc == 0) {
		size_t n = len - off;
		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			size_t c = 1 + (seed >> 16) % 64;
			if (c < n)
				n = c;
		}
		rc = k8s_stream_feed(&s, body + off, n);
		off += n;
	}
	if (rc == 0)
		rc = k8s_stream_finish(&s);
	if (rc != 0) {
		CHECK(rc == -EMSGSIZE || rc == -EBADMSG || rc == -ENOMEM);
		CHECK(s.err[0] != '\0');
		check_no_secret(s.err, all, alllen);
	}
	CHECK(k8s_lines_pending(&s.lines) <= (max ? max :
	    K8S_MAX_LINE_DEFAULT));
	k8s_stream_fini(&s);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct log a, b;
	struct k8s_status st;
	size_t max;
	unsigned seed;
	int ra, rb;

	if (size < 2)
		return 0;
	max = data[0] ? (size_t)data[0] * 16 : 0;
	seed = data[1] | 0x100u;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.check_cm = true;
	ra = feed(data + 2, size - 2, max, 0, &a, data, size);
	rb = feed(data + 2, size - 2, max, seed, &b, data, size);
	if (ra != rb || a.total != b.total) {
		fprintf(stderr, "fuzz_watch: whole feed %d with %zu events, cut "
		    "feed %d with %zu events\n", ra, a.total, rb, b.total);
		abort();
	}
	for (size_t i = 0; i < a.n; i++) {
		CHECK(a.ev[i].type == b.ev[i].type);
		CHECK(strcmp(a.ev[i].rv, b.ev[i].rv) == 0);
		CHECK(json_equal(a.ev[i].object, b.ev[i].object));
	}
	log_free(&a);
	log_free(&b);

	/* The same bytes as an error body, and as base64. */
	if (k8s_status_parse((const char *)data + 2, size - 2, &st) == 0) {
		CHECK(st.code >= 0 && st.code < 1000);
		CHECK(st.retry_after >= 0);
	}
	{
		unsigned char *out = NULL;
		size_t outlen = 0;
		if (k8s_b64_decode((const char *)data + 2, size - 2, &out,
		    &outlen) == 0) {
			CHECK(out != NULL && out[outlen] == '\0');
			CHECK(outlen <= (size - 2) / 4 * 3);
			free(out);
		}
	}
	return 0;
}
