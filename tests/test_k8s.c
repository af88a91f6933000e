/*
 * test_k8s.c - the Kubernetes ConfigMap source (agent/k8s.c), its watch
 * stream parser (agent/k8swatch.c) and its credentials
 * (agent/kubeconfig.c).
 *
 * The parser and kubeconfig tests are pure.  The integration tests start
 * the real test API server (tests/k8s/apiserver.py, HTTPS on loopback with
 * its own CA) in a fresh directory, drive the module directly through
 * k8s_start / k8s_load / k8s_state / k8s_stop, and change the world through
 * the server's control API: ConfigMaps, cut connections, injected faults,
 * RBAC denial, token rotation.  Every wait is for an event, with a
 * generous limit; no test depends on how fast the machine is.
 *
 *   HOTCFG_SRC    the repository (for tests/k8s/apiserver.py)
 *   HOTCFG_BUILD  the build directory (for tests/helpers/k8sdrive)
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/k8sserver.h"
#include "k8s.h"
#include "k8swatch.h"
#include "kubeconfig.h"
#include "log.h"
#include "pending.h"
#include "source.h"
#include "tree.h"

extern char **environ;

#define WAIT_MS 20000

static struct k8ssrv S;
static char logpath[256];
static atomic_uint notified_data, notified_state;

static void
on_notify(void *arg, unsigned what)
{
	(void)arg;
	if (what & K8S_NOTIFY_DATA)
		atomic_fetch_add(&notified_data, 1);
	if (what & K8S_NOTIFY_STATE)
		atomic_fetch_add(&notified_state, 1);
}

static void
quiet_env(void)
{
	/* A proxy in the environment must not reroute loopback. */
	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	signal(SIGPIPE, SIG_IGN);       /* as hotcfgd does */
}

static void
server_up_with(const char *const *args)
{
	quiet_env();
	cr_assert_eq(k8ssrv_start(&S, args), 0, "test API server did not "
	    "start (HOTCFG_SRC=%s)", getenv("HOTCFG_SRC"));
	snprintf(logpath, sizeof(logpath), "%s/agent.log", S.dir);
	cr_assert_eq(log_open(logpath, LOGL_DEBUG), 0);
}

static void
server_up(void)
{
	server_up_with(NULL);
}

static void
server_down(void)
{
	log_close();
	k8ssrv_stop(&S);
}

static struct k8s *
start_with(struct k8s_opts *o)
{
	struct k8s *k = NULL;
	struct cfg_error err;
	int rc = k8s_start(&k, o, on_notify, NULL, &err);

	cr_assert_eq(rc, 0, "k8s_start: %d %s: %s", rc, err.source, err.msg);
	return k;
}

static void
wait_state(struct k8s *k, const char *state)
{
	char st[64], detail[256];
	bool ok;

	K8S_WAIT(ok, k8s_in_state(k, state), WAIT_MS);
	k8s_state(k, st, sizeof(st), detail, sizeof(detail));
	cr_assert(ok, "state is \"%s\" (%s), expected \"%s\"", st, detail,
	    state);
}

static void
wait_value(struct k8s *k, const char *key, const char *value)
{
	char st[64], detail[256], *now;
	bool ok;

	K8S_WAIT(ok, k8s_has(k, key, value), WAIT_MS);
	if (!ok) {
		now = k8s_text(k, key);
		k8s_state(k, st, sizeof(st), detail, sizeof(detail));
		cr_assert(ok, "%s is \"%s\", expected \"%s\" (state %s: %s)",
		    key, now ? now : "(none)", value, st, detail);
	}
}

/* Wait until the source has a watch stream open. */
static void
wait_watching(struct k8s *k)
{
	bool ok;

	K8S_WAIT(ok, k8s_watching(k), WAIT_MS);
	cr_assert(ok, "no watch open");
}

/* Cut the source's watch once it has one open. */
static void
cut_watch(struct k8s *k, const char *how)
{
	wait_watching(k);
	cr_assert_geq(k8ssrv_cut(&S, how), 1, "cut %s", how);
}

/* Cut the watch and wait until the source has a new one open. */
static void
cut_and_rewatch(struct k8s *k, const char *how)
{
	struct k8s_stats st0, st;
	bool ok;

	wait_watching(k);
	k8s_get_stats(k, &st0);
	cr_assert_geq(k8ssrv_cut(&S, how), 1, "cut %s", how);
	K8S_WAIT(ok, (k8s_get_stats(k, &st), st.watches > st0.watches &&
	    st.watching), WAIT_MS);
	cr_assert(ok, "no new watch after the cut");
}

/* The detail of the state now. */
static void
detail_of(struct k8s *k, char *buf, size_t size)
{
	k8s_state(k, NULL, 0, buf, size);
}

/* The file's contents (for the agent log). */
static char *
slurp(const char *path)
{
	char *buf = NULL;
	size_t len;

	if (kube_read_file(path, 64 << 20, &buf, &len) != 0)
		return strdup("");
	return buf;
}

/* The request log entries since seq (a JSON array). */
static json_t *
request_log(void)
{
	json_t *out = NULL;

	cr_assert_eq(k8ssrv_ctl(&S, "GET", "log", NULL, &out), 200);
	return out;
}

/* ------------------------------------------------------------------ */
/* The watch stream parser.                                             */
/* ------------------------------------------------------------------ */

struct seen {
	char log[8192];
	size_t len;
	unsigned long n;
};

static int
record_event(void *arg, const struct k8s_event *ev)
{
	struct seen *s = arg;
	struct k8s_cm *cm = NULL;
	char err[128];
	unsigned long h = 5381;
	size_t i, j;

	if ((ev->type == K8S_EV_ADDED || ev->type == K8S_EV_MODIFIED) &&
	    k8s_cm_from_json(ev->object, &cm, err, sizeof(err)) == 0) {
		for (i = 0; i < cm->nfiles; i++)
			for (j = 0; j < cm->files[i].len; j++)
				h = h * 33 + (unsigned char)cm->files[i].data[j];
	}
	s->len += (size_t)snprintf(s->log + s->len, sizeof(s->log) - s->len,
	    "%s rv=%s code=%d files=%zu h=%lu\n", k8s_ev_name(ev->type),
	    ev->rv, ev->status.code, cm ? cm->nfiles : 0, h);
	s->n++;
	k8s_cm_free(cm);
	return 0;
}

/* A stream with events of every kind, one with a 200 KB value. */
static char *
sample_stream(size_t *len)
{
	char *big = malloc(200001), *out = NULL;
	json_t *events = json_array(), *ev;
	size_t i, n;

	for (i = 0; i < 200000; i++)
		big[i] = (char)('a' + i % 26);
	big[200000] = '\0';
	json_array_append_new(events, json_pack("{s:s, s:{s:s, s:s, s:{s:s, "
	    "s:s, s:s}, s:{s:s, s:s}, s:{s:s}}}", "type", "ADDED", "object",
	    "kind", "ConfigMap", "apiVersion", "v1", "metadata", "name", "app",
	    "namespace", "default", "resourceVersion", "1001", "data",
	    "a.yaml", "x: 1\n", "note.txt", "h\xc3\xa9llo \"q\" \\ \n\t",
	    "binaryData", "blob", "AAEC/w=="));
	json_array_append_new(events, json_pack("{s:s, s:{s:{s:s, s:s}, "
	    "s:{s:s}}}", "type", "MODIFIED", "object", "metadata", "name",
	    "app", "resourceVersion", "1002", "data", "big.txt", big));
	json_array_append_new(events, json_pack("{s:s, s:{s:s, s:{s:s}}}",
	    "type", "BOOKMARK", "object", "kind", "ConfigMap", "metadata",
	    "resourceVersion", "1050"));
	json_array_append_new(events, json_pack("{s:s, s:{s:{s:s, s:s}}}",
	    "type", "DELETED", "object", "metadata", "name", "app",
	    "resourceVersion", "1051"));
	json_array_append_new(events, json_pack("{s:s, s:{s:s, s:s, s:s, "
	    "s:s, s:i}}", "type", "ERROR", "object", "kind", "Status",
	    "status", "Failure", "message", "too old resource version: 1 (2)",
	    "reason", "Expired", "code", 410));
	n = json_array_size(events);
	*len = 0;
	for (i = 0; i < n; i++) {
		char *line;

		ev = json_array_get(events, i);
		line = json_dumps(ev, JSON_COMPACT);
		out = realloc(out, *len + strlen(line) + 3);
		memcpy(out + *len, line, strlen(line));
		*len += strlen(line);
		/* One CRLF line and one blank line, as proxies may add. */
		if (i == 1)
			out[(*len)++] = '\r';
		out[(*len)++] = '\n';
		if (i == 2)
			out[(*len)++] = '\n';
		free(line);
	}
	json_decref(events);
	free(big);
	return out;
}

static void
feed_split(const char *buf, size_t len, const size_t *cuts, size_t ncuts,
    struct seen *s)
{
	struct k8s_stream st;
	size_t at = 0, i;

	memset(s, 0, sizeof(*s));
	k8s_stream_init(&st, 0, record_event, s);
	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		cr_assert_eq(k8s_stream_feed(&st, buf + at, end - at), 0,
		    "feed: %s", st.err);
		at = end;
	}
	cr_assert_eq(k8s_stream_finish(&st), 0);
	k8s_stream_fini(&st);
}

Test(k8s_parser, events_are_the_same_however_the_stream_is_cut)
{
	struct seen whole, piece;
	struct k8s_stream st;
	size_t len, i, *cuts;
	char *buf = sample_stream(&len);
	unsigned seed = 12345;
	int round;

	feed_split(buf, len, NULL, 0, &whole);
	cr_assert_eq(whole.n, 5, "events: %lu\n%s", whole.n, whole.log);
	cr_assert(strstr(whole.log, "ADDED rv=1001 code=0 files=3") != NULL,
	    "%s", whole.log);
	cr_assert(strstr(whole.log, "MODIFIED rv=1002 code=0 files=1") != NULL);
	cr_assert(strstr(whole.log, "BOOKMARK rv=1050") != NULL);
	cr_assert(strstr(whole.log, "DELETED rv=1051") != NULL);
	cr_assert(strstr(whole.log, "ERROR rv= code=410") != NULL);

	/* Byte by byte: every line spans hundreds of thousands of pieces. */
	memset(&piece, 0, sizeof(piece));
	k8s_stream_init(&st, 0, record_event, &piece);
	for (i = 0; i < len; i++)
		cr_assert_eq(k8s_stream_feed(&st, buf + i, 1), 0);
	cr_assert_eq(k8s_stream_finish(&st), 0);
	k8s_stream_fini(&st);
	cr_assert_str_eq(piece.log, whole.log);

	/* Random cuts, a few hundred ways. */
	cuts = calloc(64, sizeof(*cuts));
	for (round = 0; round < 300; round++) {
		size_t n = (size_t)(rand_r(&seed) % 64), k;

		for (k = 0; k < n; k++)
			cuts[k] = (size_t)rand_r(&seed) % (len + 1);
		/* sorted, so pieces are contiguous */
		for (k = 1; k < n; k++) {
			size_t v = cuts[k], j = k;

			while (j > 0 && cuts[j - 1] > v) {
				cuts[j] = cuts[j - 1];
				j--;
			}
			cuts[j] = v;
		}
		feed_split(buf, len, cuts, n, &piece);
		cr_assert_str_eq(piece.log, whole.log, "round %d", round);
	}
	/* Several events in one piece, and the last without its newline. */
	feed_split(buf, len - 1, NULL, 0, &piece);
	cr_assert_str_eq(piece.log, whole.log);
	free(cuts);
	free(buf);
}

Test(k8s_parser, a_line_over_the_limit_or_malformed_is_refused)
{
	struct seen s;
	struct k8s_stream st;
	char line[600];

	memset(&s, 0, sizeof(s));
	k8s_stream_init(&st, 512, record_event, &s);
	memset(line, 'x', sizeof(line));
	/* 600 bytes without a newline, in two pieces: refused at once. */
	cr_assert_eq(k8s_stream_feed(&st, line, 300), 0);
	cr_assert_eq(k8s_stream_feed(&st, line, 300), -EMSGSIZE);
	cr_assert(strstr(st.err, "longer than 512") != NULL, "%s", st.err);
	k8s_stream_reset(&st);
	cr_assert_eq(k8s_stream_feed(&st, "{\"type\":\"ADDED\"}\n", 17),
	    -EBADMSG);
	cr_assert(strstr(st.err, "no object") != NULL, "%s", st.err);
	k8s_stream_reset(&st);
	cr_assert_eq(k8s_stream_feed(&st, "not json\n", 9), -EBADMSG);
	k8s_stream_reset(&st);
	cr_assert_eq(k8s_stream_feed(&st, "[1,2]\n", 6), -EBADMSG);
	k8s_stream_reset(&st);
	cr_assert_eq(k8s_stream_feed(&st, "{\"type\":\"ADDED\",\"object\":"
	    "{\"metadata\":{\"resourceVersion\":5}}}\n", 61), -EBADMSG);
	/* A half line at the end of a clean stream is an error too. */
	k8s_stream_reset(&st);
	cr_assert_eq(k8s_stream_feed(&st, "{\"type\":", 8), 0);
	cr_assert_eq(k8s_stream_finish(&st), -EBADMSG);
	/* Unknown event types pass as OTHER. */
	k8s_stream_reset(&st);
	cr_assert_eq(k8s_stream_feed(&st, "{\"type\":\"NEW\",\"object\":{}}\n",
	    27), 0);
	cr_assert(strstr(s.log, "OTHER") != NULL, "%s", s.log);
	k8s_stream_fini(&st);
}

Test(k8s_parser, configmap_objects_become_files_like_a_directory)
{
	struct k8s_cm *cm = NULL;
	json_t *o;
	char err[160];
	unsigned char *b;
	size_t n;

	o = json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:s}, s:{s:s}}",
	    "metadata", "name", "app", "namespace", "ns", "resourceVersion",
	    "77", "data", "z.txt", "zz", "a.yaml", "k: v\n", "binaryData",
	    "m.bin", "3q2+7w==");
	cr_assert_eq(k8s_cm_from_json(o, &cm, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cm->nfiles, 3);
	cr_assert_str_eq(cm->files[0].name, "a.yaml");
	cr_assert_str_eq(cm->files[1].name, "m.bin");
	cr_assert(cm->files[1].binary);
	cr_assert_eq(cm->files[1].len, 4);
	cr_assert_eq(memcmp(cm->files[1].data, "\xde\xad\xbe\xef", 4), 0);
	cr_assert_str_eq(cm->files[2].data, "zz");
	cr_assert_str_eq(cm->rv, "77");
	k8s_cm_free(cm);
	json_decref(o);

	/* What the API server would refuse, the client refuses too. */
	o = json_pack("{s:{s:s}, s:{s:s}}", "metadata", "name", "app", "data",
	    "../etc", "x");
	cr_assert_eq(k8s_cm_from_json(o, &cm, err, sizeof(err)), -EBADMSG);
	cr_assert_null(cm);
	json_decref(o);
	o = json_pack("{s:{s:s}, s:{s:s}, s:{s:s}}", "metadata", "name", "app",
	    "data", "k", "x", "binaryData", "k", "eA==");
	cr_assert_eq(k8s_cm_from_json(o, &cm, err, sizeof(err)), -EBADMSG);
	cr_assert(strstr(err, "both") != NULL, "%s", err);
	json_decref(o);
	o = json_pack("{s:{s:s}, s:{s:s}}", "metadata", "name", "app",
	    "binaryData", "k", "secret-value!");
	cr_assert_eq(k8s_cm_from_json(o, &cm, err, sizeof(err)), -EBADMSG);
	cr_assert(strstr(err, "secret-value") == NULL, "values are never "
	    "quoted: %s", err);
	json_decref(o);
	o = json_pack("{s:{s:s}, s:{s:i}}", "metadata", "name", "app", "data",
	    "k", 1);
	cr_assert_eq(k8s_cm_from_json(o, &cm, err, sizeof(err)), -EBADMSG);
	json_decref(o);

	/* base64 as Go writes it. */
	cr_assert_eq(k8s_b64_decode("", 0, &b, &n), 0);
	cr_assert_eq(n, 0);
	free(b);
	cr_assert_eq(k8s_b64_decode("Zm9vYmFy", 8, &b, &n), 0);
	cr_assert_eq(n, 6);
	cr_assert_str_eq((char *)b, "foobar");
	free(b);
	cr_assert_eq(k8s_b64_decode("Zm9vYg==", 8, &b, &n), 0);
	cr_assert_str_eq((char *)b, "foob");
	free(b);
	cr_assert_eq(k8s_b64_decode("Zm9v\nYmE=", 9, &b, &n), 0);
	cr_assert_str_eq((char *)b, "fooba");
	free(b);
	cr_assert_eq(k8s_b64_decode("Zm9vY", 5, &b, &n), -EINVAL);
	cr_assert_eq(k8s_b64_decode("Zm9vYg=", 7, &b, &n), -EINVAL);
	cr_assert_eq(k8s_b64_decode("Zg==Zg==", 8, &b, &n), -EINVAL);
	cr_assert_eq(k8s_b64_decode("Zm9v!mFy", 8, &b, &n), -EINVAL);
	cr_assert_eq(k8s_b64_decode("=Zm9", 4, &b, &n), -EINVAL);
	/* Go always pads; spaces are no line breaks (YAML's !!binary
	 * accepts both: tests/test_flatten.c). */
	cr_assert_eq(k8s_b64_decode("Zm9vYmE", 7, &b, &n), -EINVAL);
	cr_assert_eq(k8s_b64_decode("Zm9v YmE=", 9, &b, &n), -EINVAL);
	cr_assert(k8s_key_ok("app.kubernetes.io_x-1"));
	cr_assert(!k8s_key_ok("a/b"));
	cr_assert(!k8s_key_ok(".."));
	cr_assert(!k8s_key_ok(""));
}

Test(k8s_parser, status_objects_are_read)
{
	struct k8s_status st;
	const char *body = "{\"kind\":\"Status\",\"apiVersion\":\"v1\","
	    "\"status\":\"Failure\",\"message\":\"slow down\",\"reason\":"
	    "\"TooManyRequests\",\"details\":{\"retryAfterSeconds\":3},"
	    "\"code\":429}";

	cr_assert_eq(k8s_status_parse(body, strlen(body), &st), 0);
	cr_assert_eq(st.code, 429);
	cr_assert_eq(st.retry_after, 3);
	cr_assert_str_eq(st.reason, "TooManyRequests");
	cr_assert_str_eq(st.message, "slow down");
	cr_assert_eq(k8s_status_parse("<html>", 6, &st), -EINVAL);
	cr_assert_eq(k8s_status_parse("{}", 2, &st), -EINVAL);
}

/* ------------------------------------------------------------------ */
/* Credentials.                                                         */
/* ------------------------------------------------------------------ */

static char kdir[128];

static void
kdir_make(void)
{
	char tmpl[] = "/tmp/hotcfg-kc-XXXXXX";

	quiet_env();
	cr_assert_not_null(mkdtemp(tmpl));
	snprintf(kdir, sizeof(kdir), "%s", tmpl);
}

static void
kdir_rm(void)
{
	k8ssrv_rmtree(kdir);
}

static void
kwrite(const char *name, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", kdir, name);
	cr_assert_eq(k8ssrv_writefile(path, text, strlen(text)), 0);
}

/* A kubeconfig of one cluster at `server` and one context, current; with
 * `user` (the lines of a user: entry, indented four) the context names a
 * user u whose entry they are. */
static void
kwrite_one(const char *name, const char *server, const char *user)
{
	char text[1024];

	snprintf(text, sizeof(text), "clusters:\n- name: x\n  cluster: "
	    "{server: '%s'}\ncontexts:\n- name: x\n  context: {cluster: x%s}\n"
	    "current-context: x\n%s%s", server, user ? ", user: u" : "",
	    user ? "users:\n- name: u\n  user:\n" : "", user ? user : "");
	kwrite(name, text);
}

static int
kload(const char *name, const char *context, struct kube_creds *c,
    char *err, size_t errlen)
{
	struct kube_opts o;
	char path[256];

	memset(&o, 0, sizeof(o));
	snprintf(path, sizeof(path), "%s/%s", kdir, name);
	o.kubeconfig = name ? path : NULL;
	o.context = context;
	return kube_load(c, &o, err, errlen);
}

#define KC_HEAD \
	"apiVersion: v1\nkind: Config\n" \
	"clusters:\n" \
	"- name: prod\n" \
	"  cluster:\n" \
	"    server: https://10.0.0.1:6443/\n" \
	"    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n" \
	"- name: dev\n" \
	"  cluster:\n" \
	"    server: https://dev.example:443\n" \
	"    certificate-authority: certs/ca.pem\n" \
	"- name: lab\n" \
	"  cluster:\n" \
	"    server: http://[fd00::5]:8080\n" \
	"    insecure-skip-tls-verify: true\n" \
	"contexts:\n" \
	"- name: p\n" \
	"  context: {cluster: prod, user: tok, namespace: team-a}\n" \
	"- name: d\n" \
	"  context: {cluster: dev, user: tokfile}\n" \
	"- name: c\n" \
	"  context: {cluster: lab, user: certdata}\n" \
	"- name: f\n" \
	"  context: {cluster: dev, user: certfile}\n" \
	"- name: anon\n" \
	"  context: {cluster: lab}\n" \
	"- name: plugin\n" \
	"  context: {cluster: prod, user: execuser}\n"

#define KC_USERS \
	"users:\n" \
	"- name: tok\n" \
	"  user: {token: s3cr3t-t0ken}\n" \
	"- name: tokfile\n" \
	"  user: {token: ignored, tokenFile: tok.txt}\n" \
	"- name: certdata\n" \
	"  user:\n" \
	"    client-certificate-data: Y2VydA==\n" \
	"    client-key-data: a2V5\n" \
	"- name: certfile\n" \
	"  user: {client-certificate: /abs/c.crt, client-key: rel/c.key}\n" \
	"- name: execuser\n" \
	"  user:\n" \
	"    exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}\n"

Test(k8s_kubeconfig, every_field_variant_is_read, .init = kdir_make,
    .fini = kdir_rm)
{
	struct kube_creds c;
	char err[512], want[300];

	kwrite("config", KC_HEAD "current-context: p\n" KC_USERS);
	kwrite("tok.txt", "\n  file-token \t\n\n");

	/* current-context: a token, CA data, the context's namespace. */
	cr_assert_eq(kload("config", NULL, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.server, "https://10.0.0.1:6443");
	cr_assert_str_eq(c.namespace, "team-a");
	cr_assert_str_eq(c.token, "s3cr3t-t0ken");
	cr_assert_null(c.token_file);
	cr_assert_eq(c.ca.len, strlen("-----BEGIN CERTIFICATE-----\n"));
	cr_assert_null(c.ca_file);
	cr_assert(!c.insecure);
	cr_assert(strstr(c.where, "context p") != NULL, "%s", c.where);
	kube_free(&c);

	/* tokenFile (wins over token) and a CA file, both relative to the
	 * kubeconfig; the token is trimmed. */
	cr_assert_eq(kload("config", "d", &c, err, sizeof(err)), 0, "%s", err);
	snprintf(want, sizeof(want), "%s/tok.txt", kdir);
	cr_assert_str_eq(c.token_file, want);
	snprintf(want, sizeof(want), "%s/certs/ca.pem", kdir);
	cr_assert_str_eq(c.ca_file, want);
	cr_assert_null(c.namespace);
	cr_assert_null(c.token);
	cr_assert_eq(kube_token_refresh(&c, true, 0, 0, err, sizeof(err)), 1);
	cr_assert_str_eq(c.token, "file-token");
	kube_free(&c);

	/* Client certificate and key as data; insecure, IPv6, plain http. */
	cr_assert_eq(kload("config", "c", &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.server, "http://[fd00::5]:8080");
	cr_assert(c.insecure);
	cr_assert_eq(c.cert.len, 4);
	cr_assert_eq(memcmp(c.cert.data, "cert", 4), 0);
	cr_assert_eq(c.key.len, 3);
	cr_assert_eq(memcmp(c.key.data, "key", 3), 0);
	kube_free(&c);

	/* Client certificate and key as files. */
	cr_assert_eq(kload("config", "f", &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.cert_file, "/abs/c.crt");
	snprintf(want, sizeof(want), "%s/rel/c.key", kdir);
	cr_assert_str_eq(c.key_file, want);
	kube_free(&c);

	/* A context without a user talks anonymously. */
	cr_assert_eq(kload("config", "anon", &c, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_null(c.token);
	cr_assert_null(c.token_file);
	kube_free(&c);
}

Test(k8s_kubeconfig, what_cannot_be_used_is_refused_clearly,
    .init = kdir_make, .fini = kdir_rm)
{
	struct kube_creds c;
	char err[512];

	kwrite("config", KC_HEAD KC_USERS);
	cr_assert_eq(kload("config", NULL, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "no current-context") != NULL, "%s", err);
	cr_assert_eq(kload("config", "nope", &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "context \"nope\" not found") != NULL, "%s",
	    err);
	cr_assert_eq(kload("config", "plugin", &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "exec") != NULL, "%s", err);
	cr_assert(strstr(err, "s3cr3t") == NULL);
	cr_assert_eq(kload("missing", NULL, &c, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "does not exist") != NULL, "%s", err);

	kwrite("both", "clusters:\n- name: x\n  cluster:\n"
	    "    server: https://a\n    insecure-skip-tls-verify: true\n"
	    "    certificate-authority: /ca\n"
	    "contexts:\n- name: x\n  context: {cluster: x}\n"
	    "current-context: x\n");
	cr_assert_eq(kload("both", NULL, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "insecure-skip-tls-verify") != NULL, "%s", err);

	kwrite_one("halfcert", "https://a",
	    "    client-certificate-data: Y2VydA==\n");
	cr_assert_eq(kload("halfcert", NULL, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "without a key") != NULL, "%s", err);

	kwrite_one("badkey", "https://a",
	    "    client-certificate-data: Y2VydA==\n"
	    "    client-key-data: 'PRIVATE-KEY-MATERIAL!'\n");
	cr_assert_eq(kload("badkey", NULL, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "client-key-data") != NULL, "%s", err);
	cr_assert(strstr(err, "PRIVATE") == NULL, "%s", err);

	kwrite("noserver", "clusters:\n- name: x\n  cluster: {}\ncontexts:\n"
	    "- name: x\n  context: {cluster: x}\ncurrent-context: x\n");
	cr_assert_eq(kload("noserver", NULL, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "no server") != NULL, "%s", err);

	kwrite("broken", "clusters: [\n");
	cr_assert_eq(kload("broken", NULL, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "broken") != NULL, "%s", err);

	/* A password in the server URL would reach every line naming the
	 * server: refused, and not quoted.  An '@' after the host is no
	 * user part. */
	kwrite_one("userinfo", "https://admin:PASSWORD123@10.0.0.1:6443",
	    NULL);
	cr_assert_eq(kload("userinfo", NULL, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "user name or password") != NULL, "%s", err);
	cr_assert(strstr(err, "PASSWORD123") == NULL, "%s", err);
	kwrite_one("atpath", "http://10.0.0.1:8080/k8s@edge", NULL);
	cr_assert_eq(kload("atpath", NULL, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.server, "http://10.0.0.1:8080/k8s@edge");
	kube_free(&c);

	/* A value under the wrong explicit tag: the error names the tag
	 * and the place, never the value. */
	kwrite_one("tagged", "https://a",
	    "    token: !!int eyJTOKENVALUE\n");
	cr_assert_eq(kload("tagged", NULL, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "!!int") != NULL, "%s", err);
	cr_assert(strstr(err, "TOKENVALUE") == NULL, "%s", err);
}

Test(k8s_kubeconfig, the_kubeconfig_list_merges_like_kubectl,
    .init = kdir_make, .fini = kdir_rm)
{
	struct kube_creds c;
	char err[512], list[600];

	/* The first file to set current-context wins; entries are found in
	 * whichever file defines them first; missing files are skipped. */
	kwrite("a", "current-context: second\n"
	    "contexts:\n- name: first\n  context: {cluster: one}\n");
	kwrite("b", "current-context: first\n"
	    "contexts:\n- name: second\n  context: {cluster: two, user: u, "
	    "namespace: from-b}\n"
	    "clusters:\n- name: two\n  cluster: {server: 'https://two:1'}\n"
	    "- name: one\n  cluster: {server: 'https://one:1'}\n"
	    "users:\n- name: u\n  user: {token: abc}\n");
	snprintf(list, sizeof(list), "%s/nothere:%s/a:%s/b", kdir, kdir, kdir);
	setenv("KUBECONFIG", list, 1);
	cr_assert_eq(kube_load(&c, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.server, "https://two:1");
	cr_assert_str_eq(c.namespace, "from-b");
	cr_assert_str_eq(c.token, "abc");
	kube_free(&c);
	unsetenv("KUBECONFIG");
}

Test(k8s_kubeconfig, in_cluster_credentials_with_an_ipv6_host,
    .init = kdir_make, .fini = kdir_rm)
{
	struct kube_opts o;
	struct kube_creds c;
	char err[512], want[256];

	kwrite("token", " eyJhbGciOi.token \n");
	kwrite("ca.crt", "-----BEGIN CERTIFICATE-----\n");
	kwrite("namespace", "kube-apps\n");
	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	memset(&o, 0, sizeof(o));
	o.sa_dir = kdir;
	cr_assert_eq(kube_load(&c, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.server, "https://[fd00:10:96::1]:443");
	cr_assert_str_eq(c.namespace, "kube-apps");
	cr_assert_str_eq(c.where, "in-cluster");
	snprintf(want, sizeof(want), "%s/ca.crt", kdir);
	cr_assert_str_eq(c.ca_file, want);
	cr_assert(!c.insecure);

	/* Read at once, trimmed; re-read only when due or forced. */
	cr_assert_eq(kube_token_refresh(&c, false, 1000, 60, err,
	    sizeof(err)), 1);
	cr_assert_str_eq(c.token, "eyJhbGciOi.token");
	kwrite("token", "rotated\n");
	cr_assert_eq(kube_token_refresh(&c, false, 1030, 60, err,
	    sizeof(err)), 0, "not due yet");
	cr_assert_str_eq(c.token, "eyJhbGciOi.token");
	cr_assert_eq(kube_token_refresh(&c, false, 1061, 60, err,
	    sizeof(err)), 1, "due after the interval");
	cr_assert_str_eq(c.token, "rotated");
	cr_assert_eq(kube_token_refresh(&c, true, 1062, 60, err,
	    sizeof(err)), 0, "forced, unchanged");
	/* An empty token file keeps the token we have. */
	kwrite("token", "  \n");
	cr_assert_eq(kube_token_refresh(&c, true, 1063, 60, err,
	    sizeof(err)), -EINVAL);
	cr_assert_str_eq(c.token, "rotated");
	cr_assert(strstr(err, "empty") != NULL, "%s", err);
	/* Nor does one that would smuggle a header in. */
	kwrite("token", "abc\r\nX-Evil: 1\n");
	cr_assert_eq(kube_token_refresh(&c, true, 1064, 60, err,
	    sizeof(err)), -EINVAL);
	cr_assert_str_eq(c.token, "rotated");
	kube_free(&c);

	/* An IPv4 host stays as it is; a missing token fails at once. */
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	cr_assert_eq(kube_load(&c, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.server, "https://10.96.0.1:443");
	kube_free(&c);
	o.sa_dir = "/nonexistent";
	cr_assert_eq(kube_load(&c, &o, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "service account token") != NULL, "%s", err);

	/* Nowhere to find credentials at all. */
	unsetenv("KUBERNETES_SERVICE_HOST");
	setenv("HOME", kdir, 1);
	cr_assert_eq(kube_load(&c, &o, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "no Kubernetes credentials") != NULL, "%s", err);
}

/* ------------------------------------------------------------------ */
/* Against the test API server.                                         */
/* ------------------------------------------------------------------ */

/* One timeout for the whole suite: Criterion 2.4.1's runner leaks a little
 * (and LeakSanitizer fails `make san`) when tests running side by side
 * have different timeouts. */
TestSuite(k8s, .init = server_up, .fini = server_down, .timeout = 120);

Test(k8s, initial_sync_then_updates_are_seen)
{
	struct k8s_opts o;
	struct k8s_stats st;
	struct k8s *k;
	json_t *data, *bin;
	char kc[256], rv[64], detail[256], want[300];
	unsigned before;

	data = json_pack("{s:s, s:s, s:s}", "app.yaml",
	    "server:\n  port: 8080\n  tls: true\n", "z.json", "{\"debug\": 1}",
	    "motd.txt", "hello\n");
	bin = json_pack("{s:s}", "logo.bin", "/9j/4AAQ");
	cr_assert_eq(k8ssrv_put(&S, "default", "app", data, bin, rv,
	    sizeof(rv)), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	k = start_with(&o);
	wait_state(k, "synced");
	detail_of(k, detail, sizeof(detail));
	snprintf(want, sizeof(want), "resourceVersion %s", rv);
	cr_assert_str_eq(detail, want);
	cr_assert(k8s_has(k, "server.port", "8080"));
	cr_assert(k8s_has(k, "server.tls", "true"));
	cr_assert(k8s_has(k, "debug", "1"));
	cr_assert(k8s_has(k, "motd\\.txt", "hello\n"));
	{
		struct k8sview v;
		const void *p;
		size_t n;

		cr_assert_eq(k8sview_load(k, &v, NULL), 0);
		cr_assert_eq(hotcfg_get_bytes(v.snap, "logo\\.bin", &p, &n), 0);
		cr_assert_eq(n, 6);
		cr_assert_eq(memcmp(p, "\xff\xd8\xff\xe0\x00\x10", 6), 0);
		k8sview_free(&v);
	}
	cr_assert_gt(atomic_load(&notified_data), 0);
	cr_assert_eq(k8s_state(k, NULL, 0, NULL, 0), strtoull(rv, NULL, 10));

	/* Updates arrive through the watch, not by listing again. */
	before = atomic_load(&notified_data);
	json_object_set_new(data, "app.yaml", json_string("server:\n  port: "
	    "9090\n"));
	cr_assert_eq(k8ssrv_put(&S, "default", "app", data, bin, NULL, 0), 200);
	wait_value(k, "server.port", "9090");
	cr_assert_eq(k8s_text(k, "server.tls"), NULL);
	cr_assert_gt(atomic_load(&notified_data), before);
	for (int i = 0; i < 20; i++) {
		char v[16];

		snprintf(v, sizeof(v), "%d", i);
		cr_assert_eq(k8ssrv_put1(&S, "default", "app", "n.txt", v),
		    200);
	}
	wait_value(k, "n\\.txt", "19");
	k8s_get_stats(k, &st);
	cr_assert_eq(st.lists, 1, "lists: %lu", st.lists);
	cr_assert_geq(st.events, 2);

	/* A change elsewhere (another ConfigMap) is not ours. */
	cr_assert_eq(k8ssrv_put1(&S, "default", "other", "n.txt", "x"), 200);
	cr_assert_eq(k8ssrv_put1(&S, "other-ns", "app", "n.txt", "x"), 200);
	usleep(300 * 1000);
	cr_assert(k8s_has(k, "n\\.txt", "19"));
	k8s_stop(k);
	json_decref(data);
	json_decref(bin);
}

Test(k8s, a_configmap_created_later_is_waited_for)
{
	struct k8s_opts o;
	struct k8s *k;
	struct cfg_node *t = NULL;
	struct cfg_error err;
	char kc[256], detail[256];

	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	k = start_with(&o);
	wait_state(k, "not found");
	detail_of(k, detail, sizeof(detail));
	cr_assert(strstr(detail, "waiting for it to be created") != NULL, "%s",
	    detail);
	cr_assert_eq(k8s_load(k, 0, NULL, &t, &err), -ENOENT);
	cr_assert(strstr(err.msg, "does not exist") != NULL, "%s", err.msg);
	cr_assert_str_eq(err.source, "configmap:default/app");
	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	wait_value(k, "k", "1");
	wait_state(k, "synced");
	k8s_stop(k);
}

Test(k8s, deletion_keeps_the_last_data_by_default)
{
	struct k8s_opts o;
	struct k8s *k;
	char kc[256], detail[256];

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	k = start_with(&o);
	wait_value(k, "k", "1");
	cr_assert_eq(k8ssrv_delete(&S, "default", "app"), 200);
	wait_state(k, "deleted (keeping last data)");
	detail_of(k, detail, sizeof(detail));
	cr_assert(strstr(detail, "keeping the data of resourceVersion") !=
	    NULL, "%s", detail);
	cr_assert(k8s_has(k, "k", "1"), "the last data is still served");

	/* Re-created: the new data, synced again. */
	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 2"), 200);
	wait_value(k, "k", "2");
	wait_state(k, "synced");
	k8s_stop(k);
}

Test(k8s, deletion_drops_the_data_when_asked)
{
	struct k8s_opts o;
	struct k8s *k;
	struct cfg_node *t = NULL;
	struct cfg_error err;
	char kc[256];
	bool ok;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	o.drop_on_delete = true;
	k = start_with(&o);
	wait_value(k, "k", "1");
	cr_assert_eq(k8ssrv_delete(&S, "default", "app"), 200);
	wait_state(k, "deleted");
	K8S_WAIT(ok, k8s_load(k, 0, NULL, &t, &err) == -ENOENT, WAIT_MS);
	cr_assert(ok);
	cr_assert(strstr(err.msg, "was deleted") != NULL, "%s", err.msg);
	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 3"), 200);
	wait_value(k, "k", "3");
	k8s_stop(k);
}

Test(k8s, an_expired_resource_version_relists)
{
	struct k8s_opts o;
	struct k8s_stats st;
	struct k8s *k;
	char kc[256];
	bool ok;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	k = start_with(&o);
	wait_value(k, "k", "1");
	K8S_WAIT(ok, k8s_watching(k), WAIT_MS);
	cr_assert(ok);

	/* Others move the resourceVersion on; the history is compacted past
	 * the client's position; the watch is cut.  The client comes back
	 * from its old resourceVersion, gets ERROR 410 and must relist. */
	cr_assert_eq(k8ssrv_put1(&S, "default", "other", "x", "1"), 200);
	cr_assert_eq(k8ssrv_put1(&S, "default", "other", "x", "2"), 200);
	cr_assert_eq(k8ssrv_post(&S, "compact", "{}"), 200);
	cut_watch(k, "{}");
	K8S_WAIT(ok, (k8s_get_stats(k, &st), st.relists >= 1), WAIT_MS);
	cr_assert(ok, "no relist after 410");
	K8S_WAIT(ok, (k8s_get_stats(k, &st), st.lists >= 2), WAIT_MS);
	cr_assert(ok);
	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 2"), 200);
	wait_value(k, "k", "2");
	wait_state(k, "synced");
	k8s_stop(k);
}

/* Tests that start the server with options of their own. */
TestSuite(k8s_opts, .fini = server_down, .timeout = 120);

Test(k8s_opts, bookmarks_move_the_resource_version)
{
	static const char *const args[] = { "--bookmark-interval", "0.3",
	    NULL };
	struct k8s_opts o;
	struct k8s *k;
	char kc[256], detail[256], want[64];
	long rv;
	bool ok;

	server_up_with(args);
	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	k = start_with(&o);
	wait_value(k, "k", "1");
	cr_assert_eq(k8ssrv_put1(&S, "default", "other", "x", "1"), 200);
	rv = k8ssrv_state(&S, "resourceVersion");
	snprintf(want, sizeof(want), "resourceVersion %ld", rv);
	K8S_WAIT(ok, (detail_of(k, detail, sizeof(detail)),
	    strcmp(detail, want) == 0), WAIT_MS);
	cr_assert(ok, "detail \"%s\", expected \"%s\"", detail, want);
	k8s_stop(k);
}

Test(k8s, dropped_connections_are_recovered)
{
	static const char *const cuts[] = {
		"{\"mid_chunk\": true}", "{\"mid_line\": true}",
		"{\"rst\": true}", "{}", "{\"clean\": true}",
		"{\"all\": true, \"mid_chunk\": true}",
	};
	struct k8s_opts o;
	struct k8s_stats st;
	struct k8s *k;
	char kc[256], v[32];
	size_t i;
	bool ok;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 0"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	k = start_with(&o);
	wait_value(k, "k", "0");
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		K8S_WAIT(ok, k8s_watching(k), WAIT_MS);
		cr_assert(ok, "no watch open before cut %zu", i);
		cut_watch(k, cuts[i]);
		snprintf(v, sizeof(v), "k: %zu", i + 1);
		cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", v),
		    200);
		snprintf(v, sizeof(v), "%zu", i + 1);
		wait_value(k, "k", v);
	}
	/* Connections reset before any answer. */
	cr_assert_eq(k8ssrv_post(&S, "faults", "{\"action\": \"reset\", "
	    "\"count\": 3}"), 200);
	cut_watch(k, "{}");
	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: end"),
	    200);
	wait_value(k, "k", "end");
	wait_state(k, "synced");
	k8s_get_stats(k, &st);
	cr_assert_geq(st.watches, 8);
	cr_assert_geq(st.failures, 3);
	cr_assert_eq(st.relists, 0);
	k8s_stop(k);
}

Test(k8s, a_rotated_token_is_picked_up_after_a_401)
{
	struct k8s_opts o;
	struct k8s_stats st;
	struct k8s *k;
	json_t *log;
	char kc[256];
	size_t i, n401 = 0, ok_after = 0;
	bool ok;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), "kubeconfig-tokenfile");
	k = start_with(&o);
	wait_value(k, "k", "1");
	K8S_WAIT(ok, k8s_watching(k), WAIT_MS);
	cr_assert(ok);
	cr_assert_eq(k8ssrv_ctl(&S, "DELETE", "log", NULL, NULL), 200);

	/* The token changes under the open watch; the next connection is
	 * refused with the old token, the client re-reads the file and
	 * is back at once. */
	cr_assert_eq(k8ssrv_rotate_token(&S, "brand-new-token-42"), 0);
	cut_watch(k, "{}");
	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 2"), 200);
	wait_value(k, "k", "2");
	wait_state(k, "synced");
	log = request_log();
	for (i = 0; i < json_array_size(log); i++) {
		json_t *e = json_array_get(log, i);
		long code = (long)json_integer_value(json_object_get(e,
		    "status"));

		if (code == 401)
			n401++;
		else if (n401 > 0 && code == 200)
			ok_after++;
	}
	json_decref(log);
	cr_assert_eq(n401, 1, "one 401, then the new token: %zu", n401);
	cr_assert_gt(ok_after, 0);
	k8s_get_stats(k, &st);
	cr_assert_geq(st.token_reads, 1);
	k8s_stop(k);
}

Test(k8s, the_token_file_is_reread_periodically)
{
	struct k8s_opts o;
	struct k8s *k;
	json_t *log;
	char kc[256];
	size_t i;
	bool ok;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), "kubeconfig-tokenfile");
	o.token_reread_ns = 200 * 1000000LL;
	k = start_with(&o);
	wait_value(k, "k", "1");
	K8S_WAIT(ok, k8s_watching(k), WAIT_MS);
	cr_assert(ok);
	cr_assert_eq(k8ssrv_rotate_token(&S, "periodic-token-7"), 0);
	usleep(400 * 1000);
	cr_assert_eq(k8ssrv_ctl(&S, "DELETE", "log", NULL, NULL), 200);
	cut_watch(k, "{}");
	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 2"), 200);
	wait_value(k, "k", "2");
	log = request_log();
	for (i = 0; i < json_array_size(log); i++) {
		json_t *e = json_array_get(log, i);

		cr_assert_neq(json_integer_value(json_object_get(e, "status")),
		    401, "the new token was read before it was needed");
	}
	json_decref(log);
	k8s_stop(k);
}

Test(k8s, a_revoked_static_token_is_reported_and_data_kept)
{
	struct k8s_opts o;
	struct k8s *k;
	char kc[256], detail[256];

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);   /* token: in it */
	k = start_with(&o);
	wait_value(k, "k", "1");
	wait_watching(k);
	cr_assert_eq(k8ssrv_rotate_token(&S, "someone-else"), 0);
	cut_watch(k, "{}");
	wait_state(k, "unauthorized");
	detail_of(k, detail, sizeof(detail));
	cr_assert(strstr(detail, "HTTP 401") != NULL, "%s", detail);
	cr_assert(k8s_has(k, "k", "1"), "the last good data is kept");
	k8s_stop(k);
}

Test(k8s, forbidden_is_reported_clearly)
{
	struct k8s_opts o;
	struct k8s *k;
	struct cfg_node *t = NULL;
	struct cfg_error err;
	char kc[256], detail[256];
	bool ok;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	k = start_with(&o);
	wait_value(k, "k", "1");

	/* RBAC now grants another ConfigMap only. */
	wait_watching(k);
	cr_assert_eq(k8ssrv_post(&S, "forbid", "{\"names\": [\"other\"]}"),
	    200);
	cut_watch(k, "{}");
	wait_state(k, "forbidden");
	detail_of(k, detail, sizeof(detail));
	cr_assert(strstr(detail, "HTTP 403 Forbidden") != NULL, "%s", detail);
	cr_assert(strstr(detail, "cannot") != NULL &&
	    strstr(detail, "configmaps") != NULL, "the server's reason: %s",
	    detail);
	cr_assert(k8s_has(k, "k", "1"), "the last good data is kept");

	/* Granted again: back by itself. */
	cr_assert_eq(k8ssrv_post(&S, "forbid", "{\"names\": null}"), 200);
	wait_state(k, "synced");
	k8s_stop(k);

	/* Forbidden from the start: k8s_load() says why. */
	cr_assert_eq(k8ssrv_post(&S, "forbid", "{\"names\": [\"other\"]}"),
	    200);
	k = start_with(&o);
	wait_state(k, "forbidden");
	K8S_WAIT(ok, k8s_load(k, 0, NULL, &t, &err) == -EACCES, WAIT_MS);
	cr_assert(ok);
	cr_assert(strstr(err.msg, "403") != NULL, "%s", err.msg);
	k8s_stop(k);
}

Test(k8s, too_many_requests_waits_for_retry_after)
{
	struct k8s_opts o;
	struct k8s *k;
	json_t *log;
	char kc[256];
	double t429 = 0, tnext = 0;
	size_t i;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	cr_assert_eq(k8ssrv_post(&S, "faults", "{\"code\": 429, "
	    "\"retry_after\": 2, \"verb\": \"list\"}"), 200);
	cr_assert_eq(k8ssrv_ctl(&S, "DELETE", "log", NULL, NULL), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);   /* backoff 20 ms */
	k = start_with(&o);
	{
		char st[64], detail[256];
		bool ok;

		/* Wait for the failure's own words, "HTTP 429": a bare "429"
		 * also matches the first detail, "connecting to
		 * https://127.0.0.1:PORT", whenever the server's random port
		 * holds those digits (42917, 34290, ...), and the state is
		 * still "waiting" then.  State and detail are read together,
		 * under the client's lock. */
		K8S_WAIT(ok, (k8s_state(k, st, sizeof(st), detail,
		    sizeof(detail)), strstr(detail, "HTTP 429") != NULL),
		    WAIT_MS);
		cr_assert(ok, "state %s: %s", st, detail);
		cr_assert_str_eq(st, "reconnecting", "detail: %s", detail);
		cr_assert(strstr(detail, "retrying in 2.0s") != NULL, "%s",
		    detail);
	}
	wait_value(k, "k", "1");
	log = request_log();
	for (i = 0; i < json_array_size(log); i++) {
		json_t *e = json_array_get(log, i);
		long code = (long)json_integer_value(json_object_get(e,
		    "status"));
		double t = json_real_value(json_object_get(e, "t"));

		if (code == 429 && t429 == 0)
			t429 = t;
		else if (t429 > 0 && tnext == 0)
			tnext = t;
	}
	json_decref(log);
	cr_assert_gt(t429, 0);
	cr_assert_gt(tnext, 0);
	cr_assert_geq(tnext - t429, 1.9, "retried after %.3f s, not after "
	    "Retry-After: 2", tnext - t429);
	k8s_stop(k);
}

Test(k8s, server_errors_back_off_exponentially)
{
	struct k8s_opts o;
	struct k8s *k;
	json_t *log;
	char kc[256];
	double t[8];
	size_t i, n = 0;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	cr_assert_eq(k8ssrv_post(&S, "faults", "{\"code\": 503, \"count\": 3, "
	    "\"verb\": \"list\"}"), 200);
	cr_assert_eq(k8ssrv_ctl(&S, "DELETE", "log", NULL, NULL), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	o.backoff_min_ns = 200 * 1000000LL;
	o.backoff_max_ns = 5000 * 1000000LL;
	k = start_with(&o);
	wait_value(k, "k", "1");
	log = request_log();
	for (i = 0; i < json_array_size(log) && n < 8; i++) {
		json_t *e = json_array_get(log, i);
		const char *verb = json_string_value(json_object_get(e, "verb"));

		if (verb != NULL && strcmp(verb, "list") == 0)
			t[n++] = json_real_value(json_object_get(e, "t"));
	}
	json_decref(log);
	cr_assert_eq(n, 4, "3 failed lists and a good one: %zu", n);
	/* The waits are at least 0.2, 0.4 and 0.8 s (plus jitter). */
	cr_assert_geq(t[1] - t[0], 0.19, "%.3f", t[1] - t[0]);
	cr_assert_geq(t[2] - t[1], 0.39, "%.3f", t[2] - t[1]);
	cr_assert_geq(t[3] - t[2], 0.79, "%.3f", t[3] - t[2]);
	k8s_stop(k);
}

Test(k8s, an_oversized_configmap_is_refused_and_the_last_data_kept)
{
	struct k8s_opts o;
	struct k8s *k;
	json_t *out = NULL, *body;
	char kc[256], detail[256], *big;
	size_t n = 1100 * 1024;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	o.max_object = 700 * 1024;
	k = start_with(&o);
	wait_value(k, "k", "1");

	/* The API server refuses more than 1 MiB of data (422 Invalid). */
	big = malloc(n + 1);
	memset(big, 'x', n);
	big[n] = '\0';
	body = json_pack("{s:{s:s}}", "data", "big.txt", big);
	cr_assert_eq(k8ssrv_ctl(&S, "PUT", "configmaps/default/app", body,
	    &out), 422);
	cr_assert(strstr(json_string_value(json_object_get(out, "message")),
	    "Too long") != NULL);
	json_decref(out);
	json_decref(body);
	usleep(300 * 1000);
	cr_assert(k8s_has(k, "k", "1"));
	wait_state(k, "synced");

	/* One the server takes but over this client's own limit: refused by
	 * the client, which keeps the last data and says why. */
	big[800 * 1024] = '\0';
	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "big.txt", big), 200);
	wait_state(k, "error");
	detail_of(k, detail, sizeof(detail));
	cr_assert(strstr(detail, "longer than 716800 bytes") != NULL ||
	    strstr(detail, "larger than 716800 bytes") != NULL, "%s", detail);
	cr_assert(k8s_has(k, "k", "1"));
	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 2"), 200);
	wait_value(k, "k", "2");
	wait_state(k, "synced");
	free(big);
	k8s_stop(k);
}

Test(k8s, poll_mode_gets_instead_of_watching)
{
	struct k8s_opts o;
	struct k8s *k;
	json_t *log;
	char kc[256], detail[256];
	size_t i, gets = 0;

	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	o.poll_ns = 200 * 1000000LL;
	k = start_with(&o);
	wait_state(k, "not found");
	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	wait_value(k, "k", "1");
	detail_of(k, detail, sizeof(detail));
	cr_assert(strstr(detail, "polling every 200ms") != NULL, "%s", detail);
	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 2"), 200);
	wait_value(k, "k", "2");
	cr_assert_eq(k8ssrv_delete(&S, "default", "app"), 200);
	wait_state(k, "deleted (keeping last data)");
	k8s_stop(k);
	log = request_log();
	for (i = 0; i < json_array_size(log); i++) {
		json_t *e = json_array_get(log, i);
		const char *verb = json_string_value(json_object_get(e, "verb"));

		cr_assert_str_neq(verb ? verb : "", "watch");
		gets += verb != NULL && strcmp(verb, "get") == 0;
	}
	json_decref(log);
	cr_assert_geq(gets, 3);
}

Test(k8s, a_silent_connection_is_noticed)
{
	struct k8s_opts o;
	struct k8s_stats st, st0;
	struct k8s *k;
	char kc[256];
	bool ok;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	o.idle_ns = 1000 * 1000000LL;
	k = start_with(&o);
	wait_value(k, "k", "1");
	k8s_get_stats(k, &st0);
	/* The server keeps the watch open and says nothing: no event, no
	 * bookmark, no end.  The client gives up on it and reconnects. */
	cr_assert_eq(k8ssrv_post(&S, "config", "{\"stall\": true}"), 200);
	K8S_WAIT(ok, (k8s_get_stats(k, &st), st.watches >= st0.watches + 2),
	    WAIT_MS);
	cr_assert(ok, "watches %lu -> %lu", st0.watches, st.watches);
	cr_assert_gt(st.failures, st0.failures);
	cr_assert_eq(k8ssrv_post(&S, "config", "{\"stall\": false}"), 200);
	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 2"), 200);
	wait_value(k, "k", "2");
	k8s_stop(k);
}

Test(k8s, stop_is_prompt_during_a_long_watch)
{
	struct k8s_opts o;
	struct k8s *k;
	char kc[256];
	int64_t t0, took;
	bool ok;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	o.watch_min_ns = o.watch_max_ns = 600 * 1000000000LL;
	k = start_with(&o);
	wait_value(k, "k", "1");
	K8S_WAIT(ok, k8s_watching(k), WAIT_MS);
	cr_assert(ok);
	t0 = k8s_now_ms();
	k8s_stop(k);
	took = k8s_now_ms() - t0;
	fprintf(stderr, "k8s_stop during a watch took %lld ms\n", (long long)took);
	/* A wake-up, not a timeout: far below any libcurl timeout here. */
	cr_assert_lt(took, 5000, "k8s_stop took %lld ms", (long long)took);

	/* And during a backoff wait of 30 s. */
	cr_assert_eq(k8ssrv_post(&S, "faults", "{\"code\": 500, \"count\": "
	    "100}"), 200);
	o.backoff_min_ns = o.backoff_max_ns = 30 * 1000000000LL;
	k = start_with(&o);
	wait_state(k, "reconnecting");
	t0 = k8s_now_ms();
	k8s_stop(k);
	took = k8s_now_ms() - t0;
	fprintf(stderr, "k8s_stop during a backoff took %lld ms\n", (long long)took);
	cr_assert_lt(took, 5000);
}

Test(k8s, client_certificates_and_in_cluster_credentials_work)
{
	struct k8s_opts o;
	struct k8s *k;
	char kc[256], envf[256], env[256], sa[256], *p, *host, *port;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), "kubeconfig-cert");
	k = start_with(&o);
	wait_value(k, "k", "1");
	k8s_stop(k);

	/* The same with files named relative to the kubeconfig. */
	{
		char text[1024];

		snprintf(text, sizeof(text), "apiVersion: v1\nkind: Config\n"
		    "clusters:\n- name: c\n  cluster:\n    server: %s\n"
		    "    certificate-authority: ca.crt\n"
		    "users:\n- name: u\n  user:\n"
		    "    client-certificate: client.crt\n"
		    "    client-key: ./client.key\n"
		    "contexts:\n- name: x\n  context: {cluster: c, user: u, "
		    "namespace: default}\ncurrent-context: x\n", S.url);
		k8ssrv_path(&S, "kubeconfig-certfiles", kc, sizeof(kc));
		cr_assert_eq(k8ssrv_writefile(kc, text, strlen(text)), 0);
		k = start_with(&o);
		wait_value(k, "k", "1");
		k8s_stop(k);
	}

	/* In-cluster: the environment and service-account files. */
	k8ssrv_path(&S, "env", envf, sizeof(envf));
	cr_assert_eq(k8ssrv_readfile(envf, env, sizeof(env)), 0);
	host = strstr(env, "KUBERNETES_SERVICE_HOST=") + 24;
	p = strchr(host, '\n');
	*p = '\0';
	port = strstr(p + 1, "KUBERNETES_SERVICE_PORT=") + 24;
	setenv("KUBERNETES_SERVICE_HOST", host, 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	k8ssrv_path(&S, "serviceaccount", sa, sizeof(sa));
	o.kubeconfig = NULL;
	o.sa_dir = sa;
	o.ns = NULL;                    /* from the namespace file */
	k = start_with(&o);
	wait_value(k, "k", "1");
	k8s_stop(k);
}

Test(k8s_opts, in_cluster_over_ipv6_loopback)
{
	static const char *const args[] = { "--listen", "::1", NULL };
	struct k8s_opts o;
	struct k8s *k;
	char port[32], sa[256], pf[256];

	server_up_with(args);
	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 6"), 200);
	k8ssrv_path(&S, "port", pf, sizeof(pf));
	cr_assert_eq(k8ssrv_readfile(pf, port, sizeof(port)), 0);
	setenv("KUBERNETES_SERVICE_HOST", "::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	k8ssrv_path(&S, "serviceaccount", sa, sizeof(sa));
	memset(&o, 0, sizeof(o));
	o.sa_dir = sa;
	o.name = "app";
	o.backoff_min_ns = 20 * 1000000LL;
	k = start_with(&o);
	wait_value(k, "k", "6");
	k8s_stop(k);
}

Test(k8s, tls_verification_is_on_by_default)
{
	struct k8s_opts o;
	struct k8s *k;
	char kc[256], path[256], *text, *p, detail[256];
	bool ok;

	/* The server's kubeconfig without its CA: the system's CAs do not
	 * know the test CA, so nothing may be read. */
	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8ssrv_path(&S, "kubeconfig", path, sizeof(path));
	text = slurp(path);
	p = strstr(text, "    certificate-authority-data:");
	cr_assert_not_null(p);
	memmove(p, strchr(p, '\n') + 1, strlen(strchr(p, '\n') + 1) + 1);
	k8ssrv_path(&S, "kubeconfig-noca", kc, sizeof(kc));
	cr_assert_eq(k8ssrv_writefile(kc, text, strlen(text)), 0);
	free(text);
	memset(&o, 0, sizeof(o));
	o.kubeconfig = kc;
	o.name = "app";
	o.backoff_min_ns = 50 * 1000000LL;
	k = start_with(&o);
	wait_state(k, "reconnecting");
	K8S_WAIT(ok, (detail_of(k, detail, sizeof(detail)),
	    strstr(detail, "certificate") != NULL ||
	    strstr(detail, "SSL") != NULL), WAIT_MS);
	cr_assert(ok, "%s", detail);
	cr_assert_eq(k8s_text(k, "k"), NULL);
	k8s_stop(k);
}

Test(k8s, no_secret_reaches_the_log_or_the_state)
{
	struct k8s_opts o;
	struct k8s *k;
	char kc[256], detail[256], tokf[256], tok[128], *log;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), "kubeconfig-tokenfile");
	k8ssrv_path(&S, "token", tokf, sizeof(tokf));
	cr_assert_eq(k8ssrv_readfile(tokf, tok, sizeof(tok)), 0);
	k = start_with(&o);
	wait_value(k, "k", "1");
	/* Rotation, a 401 for the old token, a 403, faults. */
	wait_watching(k);
	cr_assert_eq(k8ssrv_rotate_token(&S, "SECRET-rotated-token-value"), 0);
	cut_and_rewatch(k, "{}");
	cr_assert_eq(k8ssrv_post(&S, "forbid", "{\"names\": [\"x\"]}"), 200);
	k8ssrv_cut(&S, "{}");
	wait_state(k, "forbidden");
	detail_of(k, detail, sizeof(detail));
	k8s_stop(k);
	log_close();
	log = slurp(logpath);
	cr_assert(strstr(log, "k8s_start") != NULL, "the log is written");
	cr_assert(strstr(log, "tls=verify") != NULL, "https, verified");
	cr_assert(strstr(log, "k8s_plaintext") == NULL);
	cr_assert(strstr(log, "k8s_token") != NULL);
	cr_assert(strstr(log, tok) == NULL, "the first token is not logged");
	cr_assert(strstr(log, "SECRET-rotated") == NULL);
	cr_assert(strstr(log, "Bearer") == NULL);
	cr_assert(strstr(detail, "SECRET") == NULL);
	free(log);
}

/* An http:// server: the start line says there is no TLS, and a warning
 * says the token would travel unencrypted, without the token.  (Nothing
 * listens there: only the start is looked at.) */
Test(k8s, a_token_over_plain_http_is_warned_about)
{
	struct k8s_opts o;
	struct k8s *k;
	char kc[300], *log;
	static const char text[] =
	    "clusters:\n- name: x\n  cluster: {server: 'http://127.0.0.1:1'}\n"
	    "contexts:\n- name: x\n  context: {cluster: x, user: u}\n"
	    "current-context: x\n"
	    "users:\n- name: u\n  user: {token: PLAIN-SECRET-TOKEN}\n";

	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	snprintf(kc, sizeof(kc), "%s/kubeconfig-http", S.dir);
	cr_assert_eq(k8ssrv_writefile(kc, text, strlen(text)), 0);
	k = start_with(&o);
	k8s_stop(k);
	log_close();
	log = slurp(logpath);
	cr_assert(strstr(log, "tls=none") != NULL, "%s", log);
	cr_assert(strstr(log, "event=k8s_plaintext") != NULL, "%s", log);
	cr_assert(strstr(log, "PLAIN-SECRET") == NULL, "%s", log);
	free(log);
}

Test(k8s, the_api_and_a_mounted_directory_give_identical_entries)
{
	struct k8s_opts o;
	struct k8s *k;
	struct k8sview api, dir;
	struct cfg_node *t = NULL;
	struct cfg_error err;
	hotcfg_entry a, b;
	json_t *data, *bin;
	const char *key;
	json_t *val;
	char kc[256], mnt[256], ts[300], path[600];
	size_t ca = 0, cb = 0, n = 0;
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G', 0xff, 0x00,
	    0xfe };

	data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
	    "10-base.yaml", "db:\n  host: a\n  port: 5432\nlist: [1, 2]\n",
	    "9-over.yml", "db:\n  host: b\n  pool: {min: 1}\n",
	    "z.json", "{\"feature\": {\"on\": true, \"ratio\": 0.5}}",
	    "README", "plain text\nline 2\n",
	    "Upper.yaml", "anchors: &a {x: 1}\nuse: *a\n",
	    "empty.yaml", "");
	bin = json_pack("{s:s}", "icon.png", "iVBOR/8A/g==");  /* png[] */
	cr_assert_eq(k8ssrv_put(&S, "default", "app", data, bin, NULL, 0),
	    200);

	/* The same ConfigMap as the kubelet mounts it: files behind a
	 * ..data link to a timestamped directory. */
	snprintf(mnt, sizeof(mnt), "%s/mnt", S.dir);
	snprintf(ts, sizeof(ts), "%s/..2024_01_01_00_00_00.1", mnt);
	cr_assert_eq(mkdir(mnt, 0755), 0);
	cr_assert_eq(mkdir(ts, 0755), 0);
	snprintf(path, sizeof(path), "%s/..data", mnt);
	cr_assert_eq(symlink("..2024_01_01_00_00_00.1", path), 0);
	json_object_foreach(data, key, val) {
		char link[300];

		snprintf(path, sizeof(path), "%s/%s", ts, key);
		cr_assert_eq(k8ssrv_writefile(path, json_string_value(val),
		    json_string_length(val)), 0);
		snprintf(path, sizeof(path), "%s/%s", mnt, key);
		snprintf(link, sizeof(link), "..data/%s", key);
		cr_assert_eq(symlink(link, path), 0);
	}
	snprintf(path, sizeof(path), "%s/icon.png", ts);
	cr_assert_eq(k8ssrv_writefile(path, png, sizeof(png)), 0);
	snprintf(path, sizeof(path), "%s/icon.png", mnt);
	cr_assert_eq(symlink("..data/icon.png", path), 0);

	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	k = start_with(&o);
	wait_state(k, "synced");
	cr_assert_eq(k8sview_load(k, &api, &err), 0, "%s", err.msg);
	cr_assert_eq(cfg_load_dir(mnt, 0, NULL, &t, &err), 0, "%s", err.msg);
	cr_assert_eq(k8sview_of_tree(t, &dir), 0);
	cfg_free(t);
	for (;;) {
		int ra = hotcfg_next(api.snap, NULL, &ca, &a);
		int rb = hotcfg_next(dir.snap, NULL, &cb, &b);

		cr_assert_eq(ra, rb);
		if (ra != 0)
			break;
		cr_assert_str_eq(a.key, b.key);
		cr_assert_eq(a.type, b.type, "%s: %s vs %s", a.key,
		    hotcfg_type_name(a.type), hotcfg_type_name(b.type));
		cr_assert_eq(a.text_len, b.text_len, "%s", a.key);
		cr_assert_eq(memcmp(a.text, b.text, a.text_len), 0, "%s", a.key);
		cr_assert_eq(a.count, b.count, "%s", a.key);
		n++;
	}
	cr_assert_gt(n, 12, "entries compared: %zu", n);
	cr_assert_eq(hc_blob_content_hash(api.blob),
	    hc_blob_content_hash(dir.blob), "byte for byte the same content");
	/* A spot check that the interesting bits are there at all. */
	cr_assert(k8s_has(k, "db.host", "b"), "\"10-\" sorts before \"9-\", "
	    "the later file wins");
	cr_assert(k8s_has(k, "db.port", "5432"), "maps merge deeply");
	cr_assert(k8s_has(k, "db.pool.min", "1"));
	cr_assert(k8s_has(k, "use.x", "1"));
	k8sview_free(&api);
	k8sview_free(&dir);
	k8s_stop(k);
	json_decref(data);
	json_decref(bin);
}

Test(k8s, the_configmap_kind_drives_the_source_interface)
{
	struct src_conf conf;
	struct source s, once;
	struct pending *p = NULL;
	struct cfg_error err;
	struct pollfd pfd;
	char kc[256], detail[256];
	const char *st;
	int how[1];
	int64_t next;
	bool ok;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8ssrv_path(&S, "kubeconfig", kc, sizeof(kc));
	setenv("KUBECONFIG", kc, 1);   /* what the kind finds by itself */
	memset(&conf, 0, sizeof(conf));
	conf.kind = SRC_CONFIGMAP;
	conf.path = (char *)"default/app";
	conf.name = (char *)"configmap:default/app";
	memset(&s, 0, sizeof(s));
	s.conf = &conf;
	s.ops = &k8s_source_ops;
	cr_assert_eq(pending_new(&p, 1), 0);
	cr_assert_eq(source_start(&s, p, &err), 0, "%s", err.msg);

	/* The feed posts; the main loop takes the post and reads. */
	for (int want = 1; want <= 2; want++) {
		char v[8];

		snprintf(v, sizeof(v), "%d", want);
		ok = false;
		for (int tries = 0; tries < 100 && !ok; tries++) {
			pfd.fd = pending_fd(p);
			pfd.events = POLLIN;
			cr_assert_geq(poll(&pfd, 1, WAIT_MS), 0);
			pending_drain(p);
			if (pending_take(p, hc_mono_ns(), how, &next) == 0 ||
			    how[0] != PEND_READ)
				continue;
			source_read(&s, NULL);
			if (s.state == SRCST_OK) {
				struct k8sview view;
				hotcfg_entry e;

				cr_assert_eq(k8sview_of_tree(s.tree, &view), 0);
				ok = hotcfg_get(view.snap, "k", &e) == 0 &&
				    strcmp(e.text, v) == 0;
				k8sview_free(&view);
			}
		}
		cr_assert(ok, "source state %s", source_state_name(s.state));
		st = s.ops->state(&s, detail, sizeof(detail));
		cr_assert_str_eq(st, "synced");
		cr_assert(strstr(detail, "resourceVersion") != NULL, "%s",
		    detail);
		if (want == 1)
			cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml",
			    "k: 2"), 200);
	}
	source_fini(&s);
	pending_free(p);

	/* Not started (hotcfgd -n, --print): one answer, then nothing. */
	memset(&once, 0, sizeof(once));
	once.conf = &conf;
	once.ops = &k8s_source_ops;
	cr_assert_eq(source_read(&once, NULL), SRCST_OK, "%s",
	    once.err.msg);
	cr_assert_null(once.ops->state(&once, detail, sizeof(detail)));
	source_fini(&once);
	conf.path = (char *)"default/nothere";
	memset(&once, 0, sizeof(once));
	once.conf = &conf;
	once.ops = &k8s_source_ops;
	cr_assert_eq(source_read(&once, NULL), SRCST_MISSING);
	source_fini(&once);
}

/* ------------------------------------------------------------------ */
/* No leaks, however often it reconnects or restarts.                   */
/* ------------------------------------------------------------------ */

Test(k8s, hundreds_of_reconnects_leak_no_thread_and_no_fd)
{
	struct k8s_opts o;
	struct k8s_stats st;
	struct k8s *k;
	char kc[256], v[32];
	int t0, f0, t1, f1, i;
	bool ok;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 0"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	o.backoff_min_ns = 1000000LL;
	o.backoff_max_ns = 10 * 1000000LL;
	/* One cycle first: libcurl and OpenSSL initialise once per process
	 * and keep what they load; that is not a leak per reconnect. */
	k = start_with(&o);
	wait_value(k, "k", "0");
	k8s_stop(k);
	t0 = k8s_threads();
	f0 = k8s_fds();

	k = start_with(&o);
	wait_value(k, "k", "0");
	K8S_WAIT(ok, k8s_watching(k), WAIT_MS);
	cr_assert(ok);
	t1 = k8s_threads();
	f1 = k8s_fds();
	cr_assert_eq(t1, t0 + 1, "one thread per ConfigMap: %d -> %d", t0, t1);

	/* 300 connections reset by the server before it answers... */
	cr_assert_eq(k8ssrv_post(&S, "faults", "{\"action\": \"reset\", "
	    "\"count\": 300}"), 200);
	cut_watch(k, "{\"mid_chunk\": true}");
	K8S_WAIT(ok, (k8s_get_stats(k, &st), st.failures >= 300), 60000);
	cr_assert(ok, "failures: %lu", st.failures);
	/* ...and 40 watches cut mid-stream, each with an update after it. */
	for (i = 1; i <= 40; i++) {
		K8S_WAIT(ok, k8s_watching(k), WAIT_MS);
		cr_assert(ok, "round %d: no watch", i);
		cut_watch(k, i % 2 ? "{\"mid_line\": true}" : "{\"rst\": true}");
		snprintf(v, sizeof(v), "k: %d", i);
		cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", v),
		    200);
		snprintf(v, sizeof(v), "%d", i);
		wait_value(k, "k", v);
	}
	k8s_get_stats(k, &st);
	fprintf(stderr, "reconnects: watches=%lu lists=%lu failures=%lu\n",
	    st.watches, st.lists, st.failures);
	cr_assert_geq(st.failures, 340);
	K8S_WAIT(ok, k8s_watching(k), WAIT_MS);
	K8S_WAIT(ok, k8s_threads() == t1 && k8s_fds() == f1, WAIT_MS);
	cr_assert(ok, "while running: threads %d (was %d), fds %d (was %d)",
	    k8s_threads(), t1, k8s_fds(), f1);
	k8s_stop(k);
	cr_assert_eq(k8s_threads(), t0, "threads after stop");
	cr_assert_eq(k8s_fds(), f0, "fds after stop");
}

Test(k8s, repeated_start_and_stop_leak_nothing)
{
	struct k8s_opts o;
	struct k8s *k;
	char kc[256];
	int t0, f0, i;

	cr_assert_eq(k8ssrv_put1(&S, "default", "app", "a.yaml", "k: 1"), 200);
	k8s_test_opts(&S, &o, kc, sizeof(kc), NULL);
	k = start_with(&o);
	wait_value(k, "k", "1");
	k8s_stop(k);
	t0 = k8s_threads();
	f0 = k8s_fds();
	/* Synced and watching, then stopped... */
	for (i = 0; i < 60; i++) {
		k = start_with(&o);
		wait_value(k, "k", "1");
		k8s_stop(k);
	}
	/* ...and stopped at once, mid-connect or mid-list. */
	for (i = 0; i < 150; i++) {
		k = start_with(&o);
		if (i % 3 == 1)
			usleep(2000);
		k8s_stop(k);
	}
	cr_assert_eq(k8s_threads(), t0, "threads");
	cr_assert_eq(k8s_fds(), f0, "fds");
}

/* The same, in a separate process that `make tsan` builds with
 * ThreadSanitizer (a race there exits 66). */
Test(k8s, the_driver_helper_runs_clean)
{
	char kc[256], helper[512], out[512];
	const char *b = getenv("HOTCFG_BUILD");
	char *argv[4];
	pid_t pid;
	int st, fd;

	snprintf(helper, sizeof(helper), "%s/tests/helpers/k8sdrive",
	    b ? b : "build");
	if (access(helper, X_OK) != 0)
		cr_skip_test("no %s", helper);
	k8ssrv_path(&S, "kubeconfig", kc, sizeof(kc));
	k8ssrv_path(&S, "drive.out", out, sizeof(out));
	argv[0] = helper;
	argv[1] = S.dir;
	argv[2] = kc;
	argv[3] = NULL;
	{
		posix_spawn_file_actions_t fa;

		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		cr_assert_geq(fd, 0);
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, fd, 1);
		posix_spawn_file_actions_adddup2(&fa, fd, 2);
		cr_assert_eq(posix_spawn(&pid, helper, &fa, NULL, argv,
		    environ), 0);
		posix_spawn_file_actions_destroy(&fa);
		close(fd);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char *text = slurp(out);

		cr_assert_fail("k8sdrive exited %d:\n%s", WIFEXITED(st) ?
		    WEXITSTATUS(st) : 128 + WTERMSIG(st), text);
	}
}
