/*
 * k8sserver.h - the test API server (tests/k8s/apiserver.py) driven from
 * C: start it in a fresh directory, talk to its control API under /_test/
 * (create, change and delete ConfigMaps, cut connections, inject faults,
 * rotate the token), stop it.  Plus the reading side: what a k8s source
 * currently yields, as a snapshot view with typed getters.
 *
 * Shared by tests/test_k8s.c and tests/helpers/k8sdrive.c (the latter is
 * built with ThreadSanitizer by `make tsan`), so it uses no Criterion:
 * functions return 0 / -1 or NULL and leave the asserting to the caller.
 */
#ifndef K8SSERVER_H
#define K8SSERVER_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "internal.h"
#include "k8s.h"
#include "tree.h"

struct k8ssrv {
	char dir[200];
	char url[128];          /* https://127.0.0.1:PORT */
	pid_t pid;
	int port;
};

static inline void
k8ssrv_path(const struct k8ssrv *s, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", s->dir, name);
}

static inline int
k8ssrv_rm_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Remove a directory tree (the server's state directory). */
static inline void
k8ssrv_rmtree(const char *dir)
{
	nftw(dir, k8ssrv_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int
k8ssrv_readfile(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

/* Write a file whole, atomically (temporary name, then rename). */
static inline int
k8ssrv_writefile(const char *path, const void *data, size_t len)
{
	char tmp[1100];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	if (fwrite(data, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

struct k8ssrv_buf {
	char *p;
	size_t len;
};

static inline size_t
k8ssrv_collect(char *p, size_t size, size_t n, void *arg)
{
	struct k8ssrv_buf *b = arg;
	char *q = realloc(b->p, b->len + size * n + 1);

	if (q == NULL)
		return 0;
	memcpy(q + b->len, p, size * n);
	b->p = q;
	b->len += size * n;
	b->p[b->len] = '\0';
	return size * n;
}

/*
 * One request to the server on a fresh connection.  path starts with '/'.
 * body (not stolen) is sent as JSON when not NULL.  Returns the HTTP code
 * (0 when the request failed) and the decoded answer in *out (may be
 * NULL).  token: a bearer token, or NULL for none.
 */
static inline long
k8ssrv_request(const struct k8ssrv *s, const char *method, const char *path,
    const json_t *body, const char *token, json_t **out)
{
	struct k8ssrv_buf b = { NULL, 0 };
	struct curl_slist *h = NULL;
	char url[512], ca[256], auth[512];
	char *text = NULL;
	long code = 0;
	CURL *c;

	if (out != NULL)
		*out = NULL;
	if ((c = curl_easy_init()) == NULL)
		return 0;
	snprintf(url, sizeof(url), "%s%s", s->url, path);
	k8ssrv_path(s, "ca.crt", ca, sizeof(ca));
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, k8ssrv_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept: application/json");
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text ? text : "{}");
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (out != NULL && b.p != NULL)
		*out = json_loadb(b.p, b.len, 0, NULL);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(text);
	free(b.p);
	return code;
}

/* A control call: POST/PUT/GET/DELETE /_test/PATH.  The answer (or NULL)
 * in *out when out is not NULL; returns the HTTP code. */
static inline long
k8ssrv_ctl(const struct k8ssrv *s, const char *method, const char *path,
    const json_t *body, json_t **out)
{
	char p[512];

	snprintf(p, sizeof(p), "/_test/%s", path);
	return k8ssrv_request(s, method, p, body, NULL, out);
}

/* Start the server with extra arguments (NULL-terminated list, may be
 * NULL).  0 or -1 (the server log is in DIR/server.log). */
static inline int
k8ssrv_start(struct k8ssrv *s, const char *const *extra)
{
	const char *src = getenv("HOTCFG_SRC");
	const char *py = getenv("HOTCFG_PYTHON");
	char tmpl[] = "/tmp/hotcfg-k8s-XXXXXX", script[512], portf[256];
	char urlf[256], buf[128];
	const char *argv[40];
	int n = 0, i;
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	memset(s, 0, sizeof(*s));
	if (mkdtemp(tmpl) == NULL)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "%s", tmpl);
	snprintf(script, sizeof(script), "%s/tests/k8s/apiserver.py",
	    src ? src : ".");
	argv[n++] = py ? py : "/usr/bin/python3";
	argv[n++] = script;
	argv[n++] = "--dir";
	argv[n++] = s->dir;
	argv[n++] = "--quiet";
	for (i = 0; extra != NULL && extra[i] != NULL && n < 38; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if ((s->pid = fork()) < 0)
		return -1;
	if (s->pid == 0) {
		char log[256];
		int fd;

		/* The server goes with the test, even when the test dies. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(log, sizeof(log), "%s/server.log", tmpl);
		if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		/* Nothing of the test's (Criterion's pipes) goes along. */
		for (fd = 3; fd < 1024; fd++)
			close(fd);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	k8ssrv_path(s, "port", portf, sizeof(portf));
	k8ssrv_path(s, "url", urlf, sizeof(urlf));
	for (i = 0; i < 1500; i++) {            /* 30 s */
		int st;

		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			return -1;
		}
		if (k8ssrv_readfile(portf, buf, sizeof(buf)) == 0 &&
		    buf[0] != '\0' &&
		    k8ssrv_readfile(urlf, s->url, sizeof(s->url)) == 0) {
			s->port = atoi(buf);
			if (k8ssrv_request(s, "GET", "/healthz", NULL, NULL,
			    NULL) == 200)
				return 0;
		}
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* Stop the server and remove its directory (kept when $HOTCFG_KEEP is
 * set, for a look at server.log). */
static inline void
k8ssrv_stop(struct k8ssrv *s)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i, st;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		for (i = 0; i < 250; i++) {
			if (waitpid(s->pid, &st, WNOHANG) == s->pid)
				break;
			nanosleep(&ts, NULL);
		}
		if (i == 250) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
		}
		s->pid = 0;
	}
	if (s->dir[0] != '\0' && getenv("HOTCFG_KEEP") == NULL)
		k8ssrv_rmtree(s->dir);
}

/* Create or replace a ConfigMap (data and binaryData as JSON objects, or
 * NULL).  Returns the HTTP code; *rv gets the new resourceVersion. */
static inline long
k8ssrv_put(const struct k8ssrv *s, const char *ns, const char *name,
    const json_t *data, const json_t *binary, char *rv, size_t rvlen)
{
	json_t *body = json_object(), *out = NULL, *v;
	char path[256];
	long code;

	if (data != NULL)
		json_object_set(body, "data", (json_t *)data);
	if (binary != NULL)
		json_object_set(body, "binaryData", (json_t *)binary);
	snprintf(path, sizeof(path), "configmaps/%s/%s", ns, name);
	code = k8ssrv_ctl(s, "PUT", path, body, &out);
	if (rv != NULL && rvlen > 0) {
		rv[0] = '\0';
		v = json_object_get(json_object_get(out, "metadata"),
		    "resourceVersion");
		if (json_is_string(v))
			snprintf(rv, rvlen, "%s", json_string_value(v));
	}
	json_decref(out);
	json_decref(body);
	return code;
}

/* Put one data key: the common case. */
static inline long
k8ssrv_put1(const struct k8ssrv *s, const char *ns, const char *name,
    const char *key, const char *value)
{
	json_t *data = json_pack("{s:s}", key, value);
	long code = k8ssrv_put(s, ns, name, data, NULL, NULL, 0);

	json_decref(data);
	return code;
}

static inline long
k8ssrv_delete(const struct k8ssrv *s, const char *ns, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "configmaps/%s/%s", ns, name);
	return k8ssrv_ctl(s, "DELETE", path, NULL, NULL);
}

/* Cut every open watch (opts as the control API takes them, e.g.
 * "{\"mid_chunk\": true}").  Returns the number of watches cut, or -1. */
static inline int
k8ssrv_cut(const struct k8ssrv *s, const char *opts)
{
	json_t *body = json_loads(opts ? opts : "{}", 0, NULL), *out = NULL;
	long code;
	int n = -1;

	/* The server takes an empty option set for "no cut" (a falsy dict
	 * in Python), so a plain cut names one option explicitly. */
	if (json_object_size(body) == 0)
		json_object_set_new(body, "clean", json_false());
	code = k8ssrv_ctl(s, "POST", "cut", body, &out);

	if (code == 200)
		n = (int)json_integer_value(json_object_get(out, "watches"));
	json_decref(body);
	json_decref(out);
	return n;
}

/* POST /_test/PATH with a JSON text body; the HTTP code. */
static inline long
k8ssrv_post(const struct k8ssrv *s, const char *path, const char *json)
{
	json_t *body = json_loads(json, 0, NULL);
	long code = body ? k8ssrv_ctl(s, "POST", path, body, NULL) : 0;

	json_decref(body);
	return code;
}

/* A number from GET /_test/state ("watches", "resourceVersion"...). */
static inline long
k8ssrv_state(const struct k8ssrv *s, const char *key)
{
	json_t *out = NULL;
	long v = -1;

	if (k8ssrv_ctl(s, "GET", "state", NULL, &out) == 200)
		v = (long)json_integer_value(json_object_get(out, key));
	json_decref(out);
	return v;
}

/* Replace the token file (the server re-reads it on every request). */
static inline int
k8ssrv_rotate_token(const struct k8ssrv *s, const char *token)
{
	char path[256], text[256];

	k8ssrv_path(s, "token", path, sizeof(path));
	snprintf(text, sizeof(text), "%s\n", token);
	return k8ssrv_writefile(path, text, strlen(text));
}

/* ------------------------------------------------------------------ */
/* What a k8s source yields.                                            */
/* ------------------------------------------------------------------ */

struct k8sview {
	void *blob;
	size_t size;
	hotcfg_snap *snap;
};

static inline void
k8sview_free(struct k8sview *v)
{
	if (v->snap != NULL)
		hc_snap_unwrap(v->snap);
	free(v->blob);
	memset(v, 0, sizeof(*v));
}

/* Flatten a tree into a snapshot view (source name "cm"). */
static inline int
k8sview_of_tree(const struct cfg_node *t, struct k8sview *v)
{
	struct hc_builder *b = NULL;
	unsigned id;
	int rc;

	memset(v, 0, sizeof(*v));
	if ((rc = hc_builder_new(&b)) != 0)
		goto out;
	if ((rc = hc_builder_source(b, "cm", &id)) != 0 ||
	    (rc = cfg_emit(t, b, NULL, NULL)) != 0 ||
	    (rc = hc_builder_finish(b, 0, &v->blob, &v->size, NULL)) != 0 ||
	    (rc = hc_snap_wrap(v->blob, v->size, &v->snap)) != 0)
		goto out;
out:
	hc_builder_free(b);
	if (rc != 0)
		k8sview_free(v);
	return rc;
}

/* What k8s_load() gives now, as a view.  k8s_load()'s code. */
static inline int
k8sview_load(struct k8s *k, struct k8sview *v, struct cfg_error *err)
{
	struct cfg_node *t = NULL;
	struct cfg_error e;
	int rc;

	memset(v, 0, sizeof(*v));
	rc = k8s_load(k, 0, NULL, &t, err ? err : &e);
	if (rc != 0)
		return rc;
	rc = k8sview_of_tree(t, v);
	cfg_free(t);
	return rc;
}

/* The text of key in what k8s_load() gives now (malloc'd), or NULL. */
static inline char *
k8s_text(struct k8s *k, const char *key)
{
	struct k8sview v;
	hotcfg_entry e;
	char *out = NULL;

	if (k8sview_load(k, &v, NULL) != 0)
		return NULL;
	if (hotcfg_get(v.snap, key, &e) == 0)
		out = strdup(e.text);
	k8sview_free(&v);
	return out;
}

/* Whether key has the text value now. */
static inline bool
k8s_has(struct k8s *k, const char *key, const char *value)
{
	char *t = k8s_text(k, key);
	bool ok = t != NULL && strcmp(t, value) == 0;

	free(t);
	return ok;
}

static inline bool
k8s_in_state(struct k8s *k, const char *state)
{
	char st[64];

	k8s_state(k, st, sizeof(st), NULL, 0);
	return strcmp(st, state) == 0;
}

static inline int64_t
k8s_now_ms(void)
{
	return hc_mono_ns() / 1000000;
}

/* Wait (polling every 10 ms) until cond holds or ms pass; ok says which. */
#define K8S_WAIT(ok, cond, ms) do { \
	int64_t end_ = k8s_now_ms() + (ms); \
	struct timespec ts_ = { 0, 10 * 1000 * 1000 }; \
	while (!((ok) = (cond)) && k8s_now_ms() < end_) \
		nanosleep(&ts_, NULL); \
} while (0)

/* Whether the source has a watch stream open (the server has it too). */
static inline bool
k8s_watching(struct k8s *k)
{
	struct k8s_stats st;

	k8s_get_stats(k, &st);
	return st.watching;
}

/* Threads and open descriptors of this process. */
static inline int
k8s_count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static inline int
k8s_threads(void)
{
	return k8s_count_dir("/proc/self/task");
}

static inline int
k8s_fds(void)
{
	return k8s_count_dir("/proc/self/fd") - 1;     /* opendir's own */
}

/* The options every test starts from: the server's token kubeconfig,
 * namespace default, short timings so that failures heal fast. */
static inline void
k8s_test_opts(const struct k8ssrv *s, struct k8s_opts *o, char *kc,
    size_t kclen, const char *which)
{
	memset(o, 0, sizeof(*o));
	k8ssrv_path(s, which ? which : "kubeconfig", kc, kclen);
	o->kubeconfig = kc;
	o->ns = "default";
	o->name = "app";
	o->backoff_min_ns = 20 * 1000000LL;
	o->backoff_max_ns = 300 * 1000000LL;
	o->backoff_reset_ns = 2000 * 1000000LL;
	o->watch_min_ns = 20 * 1000000000LL;
	o->watch_max_ns = 30 * 1000000000LL;
	o->request_ns = 10 * 1000000000LL;
}

#endif /* K8SSERVER_H */
