/*
 * kubeconfig.c - Kubernetes credentials: in-cluster service account or
 * kubeconfig (see kubeconfig.h for the rules).
 *
 * A kubeconfig is YAML, so it is read with the agent's own YAML code: the
 * file is loaded into a tree (cfg_load_file), flattened into a snapshot
 * builder and wrapped as a snapshot, and the few keys needed are read with
 * the public getters ("clusters[0].cluster.server").  That gives anchors,
 * merge keys, the size and depth limits and the duplicate-key check for
 * free, and keeps a second YAML reader out of the agent.  The flattened
 * blob holds the secrets of the file (tokens, keys), so it is wiped before
 * it is freed, as are the copies kept in struct kube_creds.  Not wiped: the
 * transient copies on the way to the blob (the file's text, libyaml's
 * buffers, the tree and the builder's arena), which are freed as soon as
 * the blob is built; libyaml frees its buffers itself, without a hook.
 *
 * Nothing secret is ever put in an error message: messages name the file,
 * the context, cluster or user and the field, never a value.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "k8swatch.h"
#include "kubeconfig.h"
#include "tree.h"

#define TOKEN_MAX  (64 * 1024)          /* a service-account JWT is ~1 KiB */
#define PEM_MAX    (1024 * 1024)        /* a CA bundle can be large */

static void
errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void
wipe_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	explicit_bzero(p, n);
	free(p);
}

static void
wipe_str(char *s)
{
	if (s != NULL)
		wipe_free(s, strlen(s));
}

int
kube_read_file(const char *path, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0, cap;
	int fd, rc;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto fail;
	}
	if (st.st_size > 0 && (uint64_t)st.st_size > max) {
		rc = -EFBIG;
		goto fail;
	}
	cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	if ((buf = malloc(cap)) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *b;

			if (cap > max) {
				rc = -EFBIG;
				goto fail;
			}
			/* Grown by hand so a secret is never left behind
			 * in a block that realloc() released. */
			if ((b = malloc(cap * 2)) == NULL) {
				rc = -ENOMEM;
				goto fail;
			}
			memcpy(b, buf, n);
			wipe_free(buf, cap);
			buf = b;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		rc = -EFBIG;
		goto fail;
	}
	buf[n] = '\0';
	close(fd);
	*out = buf;
	if (len != NULL)
		*len = n;
	return 0;
fail:
	if (buf != NULL)
		wipe_free(buf, cap);
	close(fd);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Tokens.                                                              */
/* ------------------------------------------------------------------ */

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	    c == '\f';
}

/* A token goes into an HTTP header: no control characters in it. */
static bool
token_ok(const char *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			return false;
	return n > 0;
}

/* Read a token file, trimmed.  *out is malloc'd (secret). */
static int
read_token(const char *path, char **out, char *err, size_t errlen)
{
	char *buf = NULL, *tok;
	size_t len, a = 0, b;
	int rc;

	*out = NULL;
	if ((rc = kube_read_file(path, TOKEN_MAX, &buf, &len)) != 0) {
		errf(err, errlen, "cannot read token file %s: %s", path,
		    strerror(-rc));
		return rc;
	}
	b = len;
	while (a < b && is_space(buf[a]))
		a++;
	while (b > a && is_space(buf[b - 1]))
		b--;
	if (!token_ok(buf + a, b - a)) {
		wipe_free(buf, len);
		errf(err, errlen, "token file %s is empty or holds control "
		    "characters", path);
		return -EINVAL;
	}
	if ((tok = malloc(b - a + 1)) == NULL) {
		wipe_free(buf, len);
		return -ENOMEM;
	}
	memcpy(tok, buf + a, b - a);
	tok[b - a] = '\0';
	wipe_free(buf, len);
	*out = tok;
	return 0;
}

int
kube_token_refresh(struct kube_creds *c, bool force, int64_t now,
    int64_t every_ns, char *err, size_t errlen)
{
	char *tok = NULL;
	int rc, changed;

	if (c->token_file == NULL)
		return 0;
	if (!force && c->token != NULL && now - c->token_read_ns < every_ns)
		return 0;
	c->token_read_ns = now;
	if ((rc = read_token(c->token_file, &tok, err, errlen)) != 0)
		return rc;
	changed = c->token == NULL || strcmp(c->token, tok) != 0;
	wipe_str(c->token);
	c->token = tok;
	return changed;
}

/* ------------------------------------------------------------------ */
/* Reading a kubeconfig.                                                */
/* ------------------------------------------------------------------ */

struct kfile {
	char *path;
	char *dir;              /* for relative paths */
	void *blob;
	size_t size;
	hotcfg_snap *snap;
};

static void
kfile_free(struct kfile *f)
{
	if (f->snap != NULL)
		hc_snap_unwrap(f->snap);
	if (f->blob != NULL)
		wipe_free(f->blob, f->size);
	free(f->path);
	free(f->dir);
	memset(f, 0, sizeof(*f));
}

/* Load one kubeconfig file into a snapshot view.  -ENOENT if missing. */
static int
kfile_load(struct kfile *f, const char *path, char *err, size_t errlen)
{
	struct cfg_node *tree = NULL;
	struct cfg_error cerr;
	struct hc_builder *b = NULL;
	char *slash;
	unsigned id;
	int rc;

	memset(f, 0, sizeof(*f));
	memset(&cerr, 0, sizeof(cerr));
	if ((f->path = strdup(path)) == NULL || (f->dir = strdup(path)) ==
	    NULL) {
		rc = -ENOMEM;
		goto nomem;
	}
	if ((slash = strrchr(f->dir, '/')) != NULL)
		slash[slash == f->dir ? 1 : 0] = '\0';
	else
		strcpy(f->dir, ".");
	rc = cfg_load_file(path, 0, NULL, &tree, &cerr);
	if (rc == -ENOENT) {
		errf(err, errlen, "kubeconfig %s does not exist", path);
		goto out;
	}
	if (rc != 0) {
		/* The YAML code's messages name a position, a key or an
		 * anchor, never a value (agent/yaml.c). */
		if (cerr.line > 0)
			errf(err, errlen, "kubeconfig %s:%u:%u: %s", path,
			    cerr.line, cerr.col, cerr.msg);
		else
			errf(err, errlen, "kubeconfig %s: %s", path,
			    cerr.msg[0] ? cerr.msg : strerror(-rc));
		goto out;
	}
	if ((rc = hc_builder_new(&b)) != 0 ||
	    (rc = hc_builder_source(b, "kubeconfig", &id)) != 0)
		goto nomem;
	if ((rc = cfg_emit(tree, b, NULL, &cerr)) != 0) {
		errf(err, errlen, "kubeconfig %s: %s", path, cerr.msg);
		goto out;
	}
	if ((rc = hc_builder_finish(b, 0, &f->blob, &f->size, NULL)) != 0 ||
	    (rc = hc_snap_wrap(f->blob, f->size, &f->snap)) != 0) {
		errf(err, errlen, "kubeconfig %s: cannot index it: %s", path,
		    hotcfg_strerror(rc));
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	errf(err, errlen, "out of memory");
out:
	cfg_free(tree);
	hc_builder_free(b);
	if (rc != 0)
		kfile_free(f);
	return rc;
}

/*
 * The text of a scalar at key.  0 with *out pointing into the snapshot;
 * -ENOENT when missing or null; -EINVAL when it is a map, seq or bytes.
 */
static int
kget(const struct kfile *f, const char **out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
kget(const struct kfile *f, const char **out, const char *fmt, ...)
{
	hotcfg_entry e;
	char key[512];
	va_list ap;
	int n;

	*out = NULL;
	va_start(ap, fmt);
	n = vsnprintf(key, sizeof(key), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(key))
		return -ENOENT;
	if (hotcfg_get(f->snap, key, &e) != 0 || e.type == HOTCFG_NULL)
		return -ENOENT;
	if (e.type == HOTCFG_MAP || e.type == HOTCFG_SEQ ||
	    e.type == HOTCFG_BYTES)
		return -EINVAL;
	*out = e.text;
	return 0;
}

/* Whether key exists at all (any type). */
static bool
khas(const struct kfile *f, const char *key)
{
	int type;

	return hotcfg_get_type(f->snap, key, &type) == 0 &&
	    type != HOTCFG_NULL;
}

/*
 * Find list[i].name == name in the files, first file first.  0 with *fi
 * and *idx set, or -ENOENT.
 */
static int
find_named(const struct kfile *files, size_t nf, const char *list,
    const char *name, size_t *fi, size_t *idx)
{
	size_t f, i, n;

	for (f = 0; f < nf; f++) {
		if (hotcfg_get_count(files[f].snap, list, &n) != 0)
			continue;
		for (i = 0; i < n; i++) {
			const char *v;

			if (kget(&files[f], &v, "%s[%zu].name", list, i) == 0 &&
			    strcmp(v, name) == 0) {
				*fi = f;
				*idx = i;
				return 0;
			}
		}
	}
	return -ENOENT;
}

/* A path from file f, made absolute against the file's directory. */
static char *
resolve_path(const struct kfile *f, const char *p)
{
	char *out;

	if (p[0] == '/')
		return strdup(p);
	if (asprintf(&out, "%s/%s", f->dir, p) < 0)
		return NULL;
	return out;
}

/* Base64 text at key into a blob.  -ENOENT when absent. */
static int
kget_b64(const struct kfile *f, const char *list, size_t idx,
    const char *sect, const char *field, struct kube_blob *blob, char *err,
    size_t errlen)
{
	const char *v;
	int rc;

	if ((rc = kget(f, &v, "%s[%zu].%s.%s", list, idx, sect, field)) != 0)
		return rc;
	rc = k8s_b64_decode(v, strlen(v), &blob->data, &blob->len);
	if (rc == -EINVAL)
		errf(err, errlen, "kubeconfig %s: %s of %s[%zu] is not valid "
		    "base64", f->path, field, list, idx);
	return rc;
}

/* A string field of list[idx].sect into *out (strdup'd), optional. */
static int
kdup(const struct kfile *f, const char *list, size_t idx, const char *sect,
    const char *field, char **out, bool path, char *err, size_t errlen)
{
	const char *v;
	int rc;

	*out = NULL;
	rc = kget(f, &v, "%s[%zu].%s.%s", list, idx, sect, field);
	if (rc == -ENOENT)
		return 0;
	if (rc != 0) {
		errf(err, errlen, "kubeconfig %s: %s of %s[%zu] is not a "
		    "string", f->path, field, list, idx);
		return rc;
	}
	if (v[0] == '\0')
		return 0;
	*out = path ? resolve_path(f, v) : strdup(v);
	return *out == NULL ? -ENOMEM : 0;
}

static int
from_kubeconfig(struct kube_creds *c, struct kfile *files, size_t nf,
    const char *context, char *err, size_t errlen)
{
	const char *cur = context, *v;
	const char *cluster = NULL, *user = NULL;
	size_t cf = 0, ci = 0, kf, ki, uf, ui, f;
	bool b;
	int rc;

	if (cur == NULL || cur[0] == '\0') {
		for (f = 0; f < nf && cur == NULL; f++)
			if (kget(&files[f], &v, "current-context") == 0 &&
			    v[0] != '\0')
				cur = v;
		if (cur == NULL) {
			errf(err, errlen, "kubeconfig %s: no current-context "
			    "(name a context)", files[0].path);
			return -EINVAL;
		}
	}
	if (find_named(files, nf, "contexts", cur, &cf, &ci) != 0) {
		errf(err, errlen, "kubeconfig %s: context \"%s\" not found",
		    files[0].path, cur);
		return -EINVAL;
	}
	if (asprintf(&c->where, "kubeconfig %s (context %s)", files[cf].path,
	    cur) < 0) {
		c->where = NULL;
		return -ENOMEM;
	}
	kget(&files[cf], &cluster, "contexts[%zu].context.cluster", ci);
	kget(&files[cf], &user, "contexts[%zu].context.user", ci);
	if ((rc = kdup(&files[cf], "contexts", ci, "context", "namespace",
	    &c->namespace, false, err, errlen)) != 0)
		return rc;
	if (cluster == NULL || find_named(files, nf, "clusters", cluster, &kf,
	    &ki) != 0) {
		errf(err, errlen, "kubeconfig %s: context \"%s\" names no "
		    "known cluster", files[cf].path, cur);
		return -EINVAL;
	}

	/* The cluster. */
	if ((rc = kdup(&files[kf], "clusters", ki, "cluster", "server",
	    &c->server, false, err, errlen)) != 0)
		return rc;
	if (c->server == NULL) {
		errf(err, errlen, "kubeconfig %s: cluster \"%s\" has no server",
		    files[kf].path, cluster);
		return -EINVAL;
	}
	if (strncmp(c->server, "https://", 8) != 0 &&
	    strncmp(c->server, "http://", 7) != 0) {
		errf(err, errlen, "kubeconfig %s: server of cluster \"%s\" is "
		    "not an http(s) URL", files[kf].path, cluster);
		return -EINVAL;
	}
	{
		/* user:password@host: the URL would carry a secret into
		 * every log line and status that names the server, and
		 * credentials come from the user entry only.  (Not quoted:
		 * the message would carry it too.) */
		const char *auth = strstr(c->server, "://") + 3;

		if (memchr(auth, '@', strcspn(auth, "/?#")) != NULL) {
			errf(err, errlen, "kubeconfig %s: server of cluster "
			    "\"%s\" carries a user name or password; put "
			    "credentials in the user entry", files[kf].path,
			    cluster);
			return -EINVAL;
		}
	}
	rc = kget_b64(&files[kf], "clusters", ki, "cluster",
	    "certificate-authority-data", &c->ca, err, errlen);
	if (rc != 0 && rc != -ENOENT)
		return rc;
	if (c->ca.data == NULL && (rc = kdup(&files[kf], "clusters", ki,
	    "cluster", "certificate-authority", &c->ca_file, true, err,
	    errlen)) != 0)
		return rc;
	{
		char key[64];

		snprintf(key, sizeof(key), "clusters[%zu].cluster."
		    "insecure-skip-tls-verify", ki);
		if (khas(&files[kf], key)) {
			if (hotcfg_get_bool(files[kf].snap, key, &b) != 0) {
				errf(err, errlen, "kubeconfig %s: "
				    "insecure-skip-tls-verify of cluster "
				    "\"%s\" is not true or false",
				    files[kf].path, cluster);
				return -EINVAL;
			}
			c->insecure = b;
		}
	}
	if (c->insecure && (c->ca.data != NULL || c->ca_file != NULL)) {
		/* client-go refuses the same: the two contradict. */
		errf(err, errlen, "kubeconfig %s: cluster \"%s\" sets both a "
		    "certificate authority and insecure-skip-tls-verify",
		    files[kf].path, cluster);
		return -EINVAL;
	}

	/* The user; a context without one talks anonymously. */
	if (user == NULL || user[0] == '\0')
		return 0;
	if (find_named(files, nf, "users", user, &uf, &ui) != 0) {
		errf(err, errlen, "kubeconfig %s: user \"%s\" of context \"%s\" "
		    "not found", files[cf].path, user, cur);
		return -EINVAL;
	}
	{
		static const char *const unsupported[] = {
			"exec", "auth-provider", "username", "password",
		};
		char key[96];
		size_t i;

		for (i = 0; i < sizeof(unsupported) / sizeof(*unsupported);
		    i++) {
			snprintf(key, sizeof(key), "users[%zu].user.%s", ui,
			    unsupported[i]);
			if (khas(&files[uf], key)) {
				errf(err, errlen, "kubeconfig %s: user \"%s\" "
				    "uses %s, which hotcfgd does not support "
				    "(use a token, tokenFile or client "
				    "certificate)", files[uf].path, user,
				    unsupported[i]);
				return -EINVAL;
			}
		}
	}
	if ((rc = kdup(&files[uf], "users", ui, "user", "tokenFile",
	    &c->token_file, true, err, errlen)) != 0)
		return rc;
	if (c->token_file == NULL && (rc = kdup(&files[uf], "users", ui,
	    "user", "token", &c->token, false, err, errlen)) != 0)
		return rc;
	if (c->token != NULL && !token_ok(c->token, strlen(c->token))) {
		errf(err, errlen, "kubeconfig %s: token of user \"%s\" holds "
		    "control characters", files[uf].path, user);
		return -EINVAL;
	}
	rc = kget_b64(&files[uf], "users", ui, "user",
	    "client-certificate-data", &c->cert, err, errlen);
	if (rc != 0 && rc != -ENOENT)
		return rc;
	if (c->cert.data == NULL && (rc = kdup(&files[uf], "users", ui, "user",
	    "client-certificate", &c->cert_file, true, err, errlen)) != 0)
		return rc;
	rc = kget_b64(&files[uf], "users", ui, "user", "client-key-data",
	    &c->key, err, errlen);
	if (rc != 0 && rc != -ENOENT)
		return rc;
	if (c->key.data == NULL && (rc = kdup(&files[uf], "users", ui, "user",
	    "client-key", &c->key_file, true, err, errlen)) != 0)
		return rc;
	if ((c->cert.data || c->cert_file) != (c->key.data || c->key_file)) {
		errf(err, errlen, "kubeconfig %s: user \"%s\" has a client "
		    "certificate without a key, or a key without a "
		    "certificate", files[uf].path, user);
		return -EINVAL;
	}
	return 0;
}

/* Read the kubeconfig files of a list (':'-separated when `list`). */
static int
load_kubeconfigs(struct kube_creds *c, const char *paths, bool list,
    const char *context, char *err, size_t errlen)
{
	struct kfile *files = NULL;
	char *copy = NULL, *p, *save = NULL;
	size_t nf = 0, cap = 0, i;
	int rc = -ENOMEM;

	if ((copy = strdup(paths)) == NULL)
		goto out;
	for (p = list ? strtok_r(copy, ":", &save) : copy; p != NULL;
	    p = list ? strtok_r(NULL, ":", &save) : NULL) {
		if (nf == cap) {
			size_t nc = cap ? cap * 2 : 4;
			struct kfile *v = realloc(files, nc * sizeof(*v));

			if (v == NULL)
				goto out;
			files = v;
			cap = nc;
		}
		rc = kfile_load(&files[nf], p, err, errlen);
		if (rc == -ENOENT && list)
			continue;       /* kubectl skips them too */
		if (rc != 0)
			goto out;
		nf++;
	}
	if (nf == 0) {
		errf(err, errlen, "none of the kubeconfig files in $KUBECONFIG "
		    "exists");
		rc = -ENOENT;
		goto out;
	}
	rc = from_kubeconfig(c, files, nf, context, err, errlen);
out:
	for (i = 0; i < nf; i++)
		kfile_free(&files[i]);
	free(files);
	free(copy);
	return rc;
}

static int
in_cluster(struct kube_creds *c, const char *host, const char *port,
    const char *sa, char *err, size_t errlen)
{
	char *ns = NULL, *path = NULL;
	size_t len;
	bool v6 = strchr(host, ':') != NULL && host[0] != '[';
	int rc;

	if (asprintf(&c->server, "https://%s%s%s:%s", v6 ? "[" : "", host,
	    v6 ? "]" : "", port) < 0) {
		c->server = NULL;
		return -ENOMEM;
	}
	/* (asprintf() leaves its pointer undefined on failure.) */
	if ((c->where = strdup("in-cluster")) == NULL)
		return -ENOMEM;
	if (asprintf(&c->token_file, "%s/token", sa) < 0) {
		c->token_file = NULL;
		return -ENOMEM;
	}
	if (asprintf(&c->ca_file, "%s/ca.crt", sa) < 0) {
		c->ca_file = NULL;
		return -ENOMEM;
	}
	if (asprintf(&path, "%s/namespace", sa) < 0)
		return -ENOMEM;
	rc = kube_read_file(path, 4096, &ns, &len);
	free(path);
	if (rc == 0) {
		while (len > 0 && is_space(ns[len - 1]))
			ns[--len] = '\0';
		if (len > 0)
			c->namespace = ns;
		else
			free(ns);
	}
	/* client-go fails without a token; so do we, at start. */
	if (access(c->token_file, R_OK) != 0) {
		rc = -errno;
		errf(err, errlen, "in-cluster: cannot read the service account "
		    "token %s: %s", c->token_file, strerror(-rc));
		return rc;
	}
	return 0;
}

void
kube_free(struct kube_creds *c)
{
	if (c == NULL)
		return;
	free(c->server);
	free(c->namespace);
	free(c->where);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->token_file);
	free(c->ca.data);
	free(c->cert.data);
	if (c->key.data != NULL)
		wipe_free(c->key.data, c->key.len);
	wipe_str(c->token);
	memset(c, 0, sizeof(*c));
}

int
kube_load(struct kube_creds *c, const struct kube_opts *o, char *err,
    size_t errlen)
{
	struct kube_opts def;
	const char *env, *host, *port, *home;
	char *path = NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (o == NULL) {
		memset(&def, 0, sizeof(def));
		o = &def;
	}
	if (o->kubeconfig != NULL && o->kubeconfig[0] != '\0') {
		rc = load_kubeconfigs(c, o->kubeconfig, false, o->context, err,
		    errlen);
		goto out;
	}
	if ((env = getenv("KUBECONFIG")) != NULL && env[0] != '\0') {
		rc = load_kubeconfigs(c, env, true, o->context, err, errlen);
		goto out;
	}
	host = getenv("KUBERNETES_SERVICE_HOST");
	port = getenv("KUBERNETES_SERVICE_PORT");
	if (host != NULL && host[0] != '\0' && port != NULL &&
	    port[0] != '\0') {
		rc = in_cluster(c, host, port, o->sa_dir ? o->sa_dir :
		    KUBE_SA_DIR, err, errlen);
		goto out;
	}
	if ((home = getenv("HOME")) != NULL && home[0] != '\0' &&
	    asprintf(&path, "%s/.kube/config", home) >= 0) {
		if (access(path, F_OK) == 0) {
			rc = load_kubeconfigs(c, path, false, o->context, err,
			    errlen);
			free(path);
			goto out;
		}
		free(path);
	}
	errf(err, errlen, "no Kubernetes credentials: not in a cluster "
	    "(KUBERNETES_SERVICE_HOST unset) and no kubeconfig ($KUBECONFIG, "
	    "~/.kube/config or the kubeconfig setting)");
	rc = -ENOENT;
out:
	if (rc == -ENOMEM && err != NULL && errlen > 0 && err[0] == '\0')
		errf(err, errlen, "out of memory");
	if (rc == 0) {
		size_t n = strlen(c->server);

		while (n > 0 && c->server[n - 1] == '/')
			c->server[--n] = '\0';
	}
	if (rc != 0)
		kube_free(c);
	return rc;
}

int
kube_curl_tls(const struct kube_creds *c, CURL *h)
{
	CURLcode cc = CURLE_OK;
	struct curl_blob blob;

#define SET(opt, val) do { \
	if (cc == CURLE_OK) \
		cc = curl_easy_setopt(h, opt, val); \
} while (0)
	SET(CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
	if (c->ca.data != NULL) {
		/* The cluster's CA only, not the system's bundle too. */
		blob.data = c->ca.data;
		blob.len = c->ca.len;
		blob.flags = CURL_BLOB_NOCOPY;
		SET(CURLOPT_CAINFO_BLOB, &blob);
		SET(CURLOPT_CAPATH, (char *)NULL);
	} else if (c->ca_file != NULL) {
		SET(CURLOPT_CAINFO, c->ca_file);
		SET(CURLOPT_CAPATH, (char *)NULL);
	}
	if (c->cert.data != NULL) {
		blob.data = c->cert.data;
		blob.len = c->cert.len;
		blob.flags = CURL_BLOB_NOCOPY;
		SET(CURLOPT_SSLCERT_BLOB, &blob);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
	} else if (c->cert_file != NULL) {
		SET(CURLOPT_SSLCERT, c->cert_file);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (c->key.data != NULL) {
		/* NOCOPY: the only copy of the key is ours, wiped at the
		 * end; the handle is reset before the creds are freed. */
		blob.data = c->key.data;
		blob.len = c->key.len;
		blob.flags = CURL_BLOB_NOCOPY;
		SET(CURLOPT_SSLKEY_BLOB, &blob);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	} else if (c->key_file != NULL) {
		SET(CURLOPT_SSLKEY, c->key_file);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	}
#undef SET
	return cc == CURLE_OK ? 0 : -EINVAL;
}
