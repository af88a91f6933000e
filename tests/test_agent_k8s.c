/*
 * test_agent_k8s.c - hotcfgd with ConfigMap sources, end to end: the test
 * API server (tests/k8s/apiserver.py), the real agent, the real reader.
 *
 * Each test starts its own API server (tests/helpers/k8sserver.h) and
 * its own directory under /tmp, runs $HOTCFG_BUILD/hotcfgd against them
 * with a configmap source - from a configuration file or from the command
 * line with --kubeconfig - and checks what a service sees through the
 * public API (hotcfg_open, hotcfg_wait, hotcfg_snapshot, the getters and
 * hotcfg_status_read) while the ConfigMap is created, changed, broken,
 * deleted, forbidden, and its connections cut.  The client's own
 * behaviour is covered in test_k8s.c; here it is the wiring: the agent's
 * configuration, its one-shot modes, its status and its snapshots.
 *
 * Waits are generous and nothing asserts on how long anything took.  The
 * agent's log must show no sanitizer report and never the bearer token.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hotcfg.h"
#include "helpers/k8sserver.h"
#include "helpers/proc.h"

#define WAIT_MS 10000           /* for anything we expect to happen */
#define QUIET_US 300000         /* for anything we expect not to */

static struct k8ssrv S;         /* the API server of this test */
static char root[64];           /* /tmp/hotcfgd-k8s.XXXXXX */
static char pubdir[128];        /* root/pub: where the agent publishes */
static char logpath[128];       /* root/agent.log: its stderr */
static char kcpath[256];        /* the server's token kubeconfig */
static pid_t agent = -1;
static hotcfg *reader;

/* ------------------------------------------------------------------ */
/* Files and processes.                                                 */
/* ------------------------------------------------------------------ */

static const char *
fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

/* A string that lives until a few dozen calls later (a ring). */
static const char *
fmt(const char *f, ...)
{
	static char ring[48][1024];
	static unsigned at;
	char *s = ring[at++ % 48];
	va_list ap;

	va_start(ap, f);
	vsnprintf(s, sizeof(ring[0]), f, ap);
	va_end(ap);
	return s;
}

static void
put_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	cr_assert_eq(close(fd), 0);
}

static void
put_text(const char *path, const char *text)
{
	put_file(path, text, strlen(text));
}

/* A whole file, NUL-terminated (malloc'd; "" when it cannot be read). */
static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	size_t n = 0;
	char *buf = calloc(1, 1 << 20);

	cr_assert_not_null(buf);
	if (fp != NULL) {
		n = fread(buf, 1, (1 << 20) - 1, fp);
		fclose(fp);
	}
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

/* The agent's log so far; valid until the next call. */
static const char *
logtext(void)
{
	static char *last;

	free(last);
	last = slurp(logpath, NULL);
	return last;
}

#include "helpers/agentread.h"

static const char *
build_path(const char *prog)
{
	const char *b = getenv("HOTCFG_BUILD");

	return fmt("%s/%s", b ? b : "build", prog);
}

/* Start `prog` with args; its output goes to `out` (NULL: the agent
 * log).  The child dies with us. */
static pid_t
spawn(const char *prog, const char *out, const char *const *args)
{
	pid_t pid = proc_spawn(prog, out ? out : logpath, args);

	cr_assert(pid >= 0);
	return pid;
}

static int
reap(pid_t pid, int timeout_ms)
{
	return proc_reap(pid, timeout_ms);
}

/* Run a program of the build to completion (at most 40 s: -n asks the
 * API server for at most its request_timeout, 30 s by default); its exit
 * status, its output in *out (malloc'd). */
static int
run_prog(const char *prog, char **out, const char *const *args)
{
	const char *path = fmt("%s/run.out", root);
	int st;

	unlink(path);
	st = reap(spawn(build_path(prog), path, args), 40000);
	if (out != NULL)
		*out = slurp(path, NULL);
	return st;
}

static void
setup(void)
{
	/* A proxy in the environment must not reroute loopback, and the
	 * agent must use the credentials it is given, nothing else. */
	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(k8ssrv_start(&S, NULL), 0, "the test API server did not "
	    "start (HOTCFG_SRC=%s)", getenv("HOTCFG_SRC"));
	k8ssrv_path(&S, "kubeconfig", kcpath, sizeof(kcpath));
	snprintf(root, sizeof(root), "/tmp/hotcfgd-k8s.XXXXXX");
	cr_assert(mkdtemp(root) != NULL);
	snprintf(pubdir, sizeof(pubdir), "%s/pub", root);
	snprintf(logpath, sizeof(logpath), "%s/agent.log", root);
	agent = -1;
	reader = NULL;
}

static void
teardown(void)
{
	char token[256], *log;
	int st = 0;

	hotcfg_close(reader);
	reader = NULL;
	if (agent > 0) {
		kill(agent, SIGTERM);
		st = reap(agent, 2 * WAIT_MS);
		agent = -1;
	}
	log = slurp(logpath, NULL);
	if (strstr(log, "Sanitizer") != NULL || strstr(log, "runtime error")) {
		fprintf(stderr, "agent log kept in %s\n", root);
		cr_assert_fail("the agent reported (exit %d):\n%s", st, log);
	}
	/* The bearer token is a secret: never in a log line. */
	if (k8ssrv_readfile(fmt("%s/token", S.dir), token, sizeof(token)) ==
	    0 && token[0] != '\0')
		cr_assert_null(strstr(log, token), "the token is in the log");
	free(log);
	k8ssrv_stop(&S);
	if (getenv("HOTCFG_KEEP") == NULL && root[0] != '\0')
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(agent_k8s, .init = setup, .fini = teardown, .timeout = 60);

/* ------------------------------------------------------------------ */
/* ConfigMaps, the agent and its reader.                                */
/* ------------------------------------------------------------------ */

/* Create or replace default/NAME with these data keys ("key", "value",
 * ... NULL). */
static void
cm_put(const char *name, ...)
{
	json_t *data = json_object();
	const char *k, *v;
	va_list ap;

	va_start(ap, name);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		json_object_set_new(data, k, json_string(v));
	}
	va_end(ap);
	cr_assert_eq(k8ssrv_put(&S, "default", name, data, NULL, NULL, 0),
	    200, "put configmap %s", name);
	json_decref(data);
}

/* The agent's configuration file, root/hotcfgd.yaml. */
static const char *
conf(const char *text)
{
	const char *path = fmt("%s/hotcfgd.yaml", root);

	put_text(path, text);
	return path;
}

/* Start the daemon on pub/ with these arguments and open a reader once
 * the control file exists. */
static void
start(const char *const *args)
{
	const char *argv[32] = { "--dir", pubdir };
	size_t n = 2;
	int waited;

	while (*args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	agent = spawn(build_path("hotcfgd"), NULL, argv);
	for (waited = 0; waited < WAIT_MS; waited += 10) {
		if (hotcfg_open(&reader, pubdir) == 0)
			return;
		cr_assert(waitpid(agent, NULL, WNOHANG) == 0,
		    "hotcfgd exited early:\n%s", logtext());
		usleep(10000);
	}
	cr_assert_fail("no control file in %s:\n%s", pubdir, logtext());
}

/* The command-line way: --kubeconfig and configmap:default/app. */
static void
start_cmdline(void)
{
	start((const char *const[]){ "--kubeconfig", kcpath,
	    "configmap:default/app", NULL });
}

/* Wait until key is the integer v in the newest snapshot. */
static void
wait_int(const char *key, int64_t v)
{
	int64_t now = -1;
	int waited;

	for (waited = 0; waited < WAIT_MS; waited += 10) {
		const hotcfg_snap *s;

		if (hotcfg_snapshot(reader, &s) == 0 &&
		    hotcfg_get_int(s, key, &now) == 0 && now == v)
			return;
		usleep(10000);
	}
	cr_assert_fail("%s is %lld, expected %lld; log:\n%s", key,
	    (long long)now, (long long)v, logtext());
}

/* Wait until the status shows `state` for source `name`; the detail
 * into detail (when not NULL). */
static void
wait_state(const char *name, const char *state, char *detail, size_t len)
{
	hotcfg_status st;
	const char *now = "(no such source)";
	int waited;
	unsigned i;

	for (waited = 0; waited < WAIT_MS; waited += 10) {
		status(&st);
		for (i = 0; i < st.nsources; i++) {
			if (strcmp(st.sources[i].name, name) != 0)
				continue;
			if (strcmp(st.sources[i].state, state) == 0) {
				if (detail != NULL)
					snprintf(detail, len, "%s",
					    st.sources[i].detail);
				return;
			}
		}
		usleep(10000);
	}
	for (i = 0; i < st.nsources; i++)
		if (strcmp(st.sources[i].name, name) == 0)
			now = fmt("%s (%s)", st.sources[i].state,
			    st.sources[i].detail);
	cr_assert_fail("%s: state %s, expected \"%s\"; log:\n%s", name, now,
	    state, logtext());
}

/* Wait until the status' outcome is `outcome`. */
static void
wait_outcome(int outcome, hotcfg_status *st)
{
	int waited;

	for (waited = 0; waited < WAIT_MS; waited += 10) {
		status(st);
		if (st->outcome == outcome)
			return;
		usleep(10000);
	}
	cr_assert_fail("outcome %d never came (last %d: %s: %s); log:\n%s",
	    outcome, st->outcome, st->source, st->message, logtext());
}

/* Wait until the API server has `n` watches open. */
static void
wait_watches(long n)
{
	long now = -1;
	int waited;

	for (waited = 0; waited < WAIT_MS; waited += 5) {
		if ((now = k8ssrv_state(&S, "watches")) == n)
			return;
		usleep(5000);
	}
	cr_assert_fail("the API server has %ld watches, expected %ld; log:\n%s",
	    now, n, logtext());
}

/* ------------------------------------------------------------------ */
/* Publishing what the API server holds.                                */
/* ------------------------------------------------------------------ */

Test(agent_k8s, a_configmap_from_the_config_file_is_published_whole)
{
	json_t *data, *bin;
	const void *bytes;
	const char *name;
	size_t len;
	char *kc;

	/* A YAML key merged, a later one over it, a plain key as a string,
	 * binaryData as bytes. */
	data = json_pack("{s:s, s:s, s:s}",
	    "app.yaml", "server:\n  host: a.example\n  port: 8080\n",
	    "zz-override.yaml", "server:\n  port: 9090\n",
	    "motd", "hello\nworld\n");
	bin = json_pack("{s:s}", "blob", "/wABAg==");     /* ff 00 01 02 */
	cr_assert_eq(k8ssrv_put(&S, "default", "app", data, bin, NULL, 0), 200);
	json_decref(data);
	json_decref(bin);
	/* The top-level kubeconfig, relative to the configuration file. */
	kc = slurp(kcpath, &len);
	put_file(fmt("%s/kc.yaml", root), kc, len);
	free(kc);
	start((const char *const[]){ "-c", conf(
	    "kubeconfig: kc.yaml\n"
	    "sources:\n"
	    "  - configmap: default/app\n"), NULL });

	wait_after(0);
	cr_assert_eq(get_int("server.port"), 9090);
	cr_assert_str_eq(get_str("server.host"), "a.example");
	cr_assert_str_eq(get_str("motd"), "hello\nworld\n");
	cr_assert_eq(hotcfg_get_bytes(snap(), "blob", &bytes, &len), 0);
	cr_assert_eq(len, 4);
	cr_assert_eq(memcmp(bytes, "\xff\x00\x01\x02", 4), 0);
	name = hotcfg_snap_source(snap(), 0);
	cr_assert_str_eq(name, "configmap:default/app");
	wait_state("configmap:default/app", "synced", NULL, 0);
}

Test(agent_k8s, an_update_through_the_api_is_one_new_generation)
{
	hotcfg_status st;
	uint64_t g1, g2;
	char detail[256];

	cm_put("app", "app.yaml", "port: 1\n", NULL);
	start_cmdline();
	g1 = wait_after(0);
	cr_assert_eq(get_int("port"), 1);
	wait_state("configmap:default/app", "synced", detail, sizeof(detail));
	cr_assert(strstr(detail, "resourceVersion") != NULL, "%s", detail);

	cm_put("app", "app.yaml", "port: 2\n", NULL);
	g2 = wait_after(g1);
	cr_assert_eq(g2, g1 + 1);
	cr_assert_eq(get_int("port"), 2);
	assert_quiet(g2);

	/* SIGHUP reads the ConfigMap again: the same data, unchanged. */
	kill(agent, SIGHUP);
	wait_outcome(HOTCFG_OUTCOME_UNCHANGED, &st);
	cr_assert_eq(hotcfg_generation(reader), g2);
}

Test(agent_k8s, files_and_a_configmap_are_layers_and_the_later_wins)
{
	const char *base = fmt("%s/base.yaml", root);
	const char *over = fmt("%s/over.yaml", root);
	uint64_t g;

	put_text(base, "x: 1\ny: 1\nz: 1\ndeep: {a: 1, b: 1}\n");
	put_text(over, "z: 3\n");
	cm_put("app", "app.yaml", "y: 2\nz: 2\ndeep: {b: 2}\n", NULL);
	start((const char *const[]){ "--kubeconfig", kcpath, base,
	    "configmap:default/app", over, NULL });
	g = wait_after(0);
	cr_assert_eq(get_int("x"), 1);
	cr_assert_eq(get_int("y"), 2);
	cr_assert_eq(get_int("z"), 3);
	cr_assert_eq(get_int("deep.a"), 1);
	cr_assert_eq(get_int("deep.b"), 2);

	/* A change through the API and one in a file, each in its place. */
	cm_put("app", "app.yaml", "y: 5\nz: 5\ndeep: {b: 2}\n", NULL);
	g = wait_after(g);
	cr_assert_eq(get_int("y"), 5);
	cr_assert_eq(get_int("z"), 3);
	put_text(over, "z: 4\n");
	wait_after(g);
	cr_assert_eq(get_int("z"), 4);
	cr_assert_eq(get_int("y"), 5);
}

/* ------------------------------------------------------------------ */
/* Deletion and creation.                                               */
/* ------------------------------------------------------------------ */

Test(agent_k8s, a_deleted_configmap_keeps_its_last_data_and_says_so)
{
	json_t *out, *srcs;
	char *text;
	uint64_t g;
	int rc;

	cm_put("app", "app.yaml", "port: 7\n", NULL);
	start_cmdline();
	g = wait_after(0);
	cr_assert_eq(k8ssrv_delete(&S, "default", "app"), 200);
	wait_state("configmap:default/app", "deleted (keeping last data)",
	    NULL, 0);
	cr_assert_eq(hotcfg_generation(reader), g);
	cr_assert_eq(get_int("port"), 7);

	/* hotcfg status says so too, and the agent is healthy. */
	rc = run_prog("hotcfg", &text, (const char *const[]){ "--dir",
	    pubdir, "status", "--format", "json", NULL });
	cr_assert_eq(rc, 0, "hotcfg status: %d\n%s", rc, text);
	out = json_loads(text, 0, NULL);
	cr_assert_not_null(out, "not JSON: %s", text);
	srcs = json_object_get(out, "sources");
	cr_assert_eq(json_array_size(srcs), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(srcs,
	    0), "state")), "deleted (keeping last data)");
	json_decref(out);
	free(text);

	/* Created again: read and published. */
	cm_put("app", "app.yaml", "port: 8\n", NULL);
	wait_after(g);
	cr_assert_eq(get_int("port"), 8);
	wait_state("configmap:default/app", "synced", NULL, 0);
}

Test(agent_k8s, drop_on_delete_takes_an_optional_configmap_away)
{
	const char *base = fmt("%s/base.yaml", root);
	uint64_t g;

	put_text(base, "a: base\nb: base\n");
	cm_put("app", "app.yaml", "b: cm\n", NULL);
	start((const char *const[]){ "-c", conf(fmt(
	    "sources:\n"
	    "  - file: base.yaml\n"
	    "  - configmap: default/app\n"
	    "    kubeconfig: %s\n"
	    "    drop_on_delete: true\n"
	    "    optional: true\n"
	    "    watch_timeout: 30s\n"
	    "    request_timeout: 10s\n", kcpath)), NULL });
	g = wait_after(0);
	cr_assert_str_eq(get_str("b"), "cm");
	cr_assert_eq(k8ssrv_delete(&S, "default", "app"), 200);
	g = wait_after(g);
	cr_assert_str_eq(get_str("b"), "base");
	wait_state("configmap:default/app", "deleted", NULL, 0);
	cm_put("app", "app.yaml", "b: again\n", NULL);
	wait_after(g);
	cr_assert_str_eq(get_str("b"), "again");
}

Test(agent_k8s, a_required_configmap_created_later_is_waited_for)
{
	const hotcfg_snap *s;
	hotcfg_status st;
	char detail[256];

	start_cmdline();
	/* Missing and required: nothing published, reported, waited for. */
	wait_state("configmap:default/app", "not found", detail,
	    sizeof(detail));
	wait_outcome(HOTCFG_OUTCOME_ERROR, &st);
	cr_assert_str_eq(st.source, "configmap:default/app");
	cr_assert(strstr(st.message, "does not exist") != NULL, "%s",
	    st.message);
	cr_assert_eq(hotcfg_snapshot(reader, &s), HOTCFG_ENOTPUB);

	cm_put("app", "app.yaml", "late: true\n", NULL);
	wait_after(0);
	cr_assert_eq(hotcfg_get_bool(snap(), "late", &(bool){ false }), 0);
	wait_state("configmap:default/app", "synced", NULL, 0);
	wait_outcome(HOTCFG_OUTCOME_OK, &st);
}

/* ------------------------------------------------------------------ */
/* Failures.                                                            */
/* ------------------------------------------------------------------ */

Test(agent_k8s, a_broken_yaml_key_is_an_error_and_the_last_snapshot_stays)
{
	hotcfg_status st;
	uint64_t g;

	cm_put("app", "app.yaml", "a: 1\nb: 2\n", "motd", "hi", NULL);
	start_cmdline();
	g = wait_after(0);
	cm_put("app", "app.yaml", "a: 1\nb: 2\nb: 3\n", "motd", "hi", NULL);
	wait_outcome(HOTCFG_OUTCOME_ERROR, &st);
	cr_assert_str_eq(st.source, "configmap:default/app/app.yaml");
	cr_assert_eq(st.line, 3, "%s:%u:%u: %s", st.source, st.line,
	    st.column, st.message);
	cr_assert(strstr(st.message, "duplicate") != NULL, "%s", st.message);
	cr_assert_eq(hotcfg_generation(reader), g);
	cr_assert_eq(get_int("b"), 2);
	/* The status names the key and its line too. */
	wait_state("configmap:default/app", "error", NULL, 0);

	cm_put("app", "app.yaml", "a: 1\nb: 4\n", "motd", "hi", NULL);
	wait_after(g);
	cr_assert_eq(get_int("b"), 4);
	wait_outcome(HOTCFG_OUTCOME_OK, &st);
	wait_state("configmap:default/app", "synced", NULL, 0);
}

Test(agent_k8s, cut_connections_reconnect_and_later_updates_arrive)
{
	static const char *const cuts[] = {
		"{\"mid_chunk\": true}", "{\"mid_line\": true}",
		"{\"rst\": true}",
	};
	char v[32];
	uint64_t g;
	int i;

	cm_put("app", "app.yaml", "n: 0\n", NULL);
	/* The default backoff (0.8 s, doubling): three cuts in a row. */
	start_cmdline();
	g = wait_after(0);
	for (i = 0; i < 3; i++) {
		wait_watches(1);
		cr_assert_eq(k8ssrv_cut(&S, cuts[i]), 1, "cut %d", i);
		snprintf(v, sizeof(v), "n: %d\n", i + 1);
		cm_put("app", "app.yaml", v, NULL);
		g = wait_after(g);
		wait_int("n", i + 1);
	}
	wait_state("configmap:default/app", "synced", NULL, 0);
	cr_assert(strstr(logtext(), "state=reconnecting") != NULL, "%s",
	    logtext());
}

Test(agent_k8s, forbidden_shows_in_the_status_before_and_after_data)
{
	const char *cf;
	hotcfg_status st;
	char detail[256];
	uint64_t g;

	cr_assert_eq(k8ssrv_post(&S, "forbid", "{\"names\": [\"other\"]}"),
	    200);
	cm_put("app", "app.yaml", "k: 1\n", NULL);
	cf = conf(fmt("kubeconfig: %s\n"
	    "sources:\n"
	    "  - configmap: default/app\n"
	    "    backoff: 20ms\n"
	    "    backoff_max: 200ms\n", kcpath));
	start((const char *const[]){ "-c", cf, NULL });

	/* Before any data: an error, nothing published, "forbidden". */
	wait_state("configmap:default/app", "forbidden", detail,
	    sizeof(detail));
	cr_assert(strstr(detail, "HTTP 403") != NULL, "%s", detail);
	wait_outcome(HOTCFG_OUTCOME_ERROR, &st);
	cr_assert(strstr(st.message, "forbidden") != NULL, "%s", st.message);
	cr_assert_eq(hotcfg_generation(reader), 0);

	cr_assert_eq(k8ssrv_post(&S, "forbid", "{\"names\": null}"), 200);
	g = wait_after(0);
	cr_assert_eq(get_int("k"), 1);
	wait_state("configmap:default/app", "synced", NULL, 0);

	/* After data: the data stays, the state alone says "forbidden"
	 * (a status change with no rebuild) and goes back to synced. */
	cr_assert_eq(k8ssrv_post(&S, "forbid", "{\"names\": [\"other\"]}"),
	    200);
	wait_watches(1);
	cr_assert_eq(k8ssrv_cut(&S, NULL), 1);
	wait_state("configmap:default/app", "forbidden", NULL, 0);
	status(&st);
	cr_assert_neq(st.outcome, HOTCFG_OUTCOME_ERROR, "%s", st.message);
	cr_assert_eq(hotcfg_generation(reader), g);
	cr_assert_eq(get_int("k"), 1);
	cr_assert_eq(k8ssrv_post(&S, "forbid", "{\"names\": null}"), 200);
	wait_state("configmap:default/app", "synced", NULL, 0);
	cm_put("app", "app.yaml", "k: 2\n", NULL);
	wait_int("k", 2);
}

/* ------------------------------------------------------------------ */
/* The one-shot modes.                                                  */
/* ------------------------------------------------------------------ */

Test(agent_k8s, check_mode_asks_the_api_server_once)
{
	char *out, *kc, *at;
	size_t len;
	int rc;

	cm_put("app", "app.yaml", "k: 1\n", NULL);
	rc = run_prog("hotcfgd", &out, (const char *const[]){ "-n",
	    "--kubeconfig", kcpath, "configmap:default/app", NULL });
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_str_eq(out, "configuration OK\n");
	free(out);

	/* Required and missing: a configuration error that says so. */
	rc = run_prog("hotcfgd", &out, (const char *const[]){ "-n",
	    "--kubeconfig", kcpath, "configmap:default/nothere", NULL });
	cr_assert_eq(rc, 1, "%s", out);
	cr_assert(strstr(out, "configmap:default/nothere: required source "
	    "does not exist") != NULL, "%s", out);
	cr_assert(strstr(out, "\"nothere\" does not exist in namespace "
	    "\"default\"") != NULL, "%s", out);
	free(out);

	/* Optional and missing: fine. */
	put_text(fmt("%s/base.yaml", root), "a: 1\n");
	rc = run_prog("hotcfgd", &out, (const char *const[]){ "-n", "-c",
	    conf(fmt("kubeconfig: %s\n"
	    "sources:\n"
	    "  - base.yaml\n"
	    "  - configmap: default/nothere\n"
	    "    optional: true\n", kcpath)), NULL });
	cr_assert_eq(rc, 0, "%s", out);
	free(out);

	/* A configmap setting on a file source, with its line. */
	rc = run_prog("hotcfgd", &out, (const char *const[]){ "-n", "-c",
	    conf("sources:\n"
	    "  - file: base.yaml\n"
	    "    poll: 10s\n"), NULL });
	cr_assert_eq(rc, 1, "%s", out);
	cr_assert(strstr(out, "hotcfgd.yaml:3:5: poll: only a configmap "
	    "source has this setting") != NULL, "%s", out);
	free(out);

	/* Forbidden: an error naming the API server's answer. */
	cr_assert_eq(k8ssrv_post(&S, "forbid", "{\"names\": [\"other\"]}"),
	    200);
	rc = run_prog("hotcfgd", &out, (const char *const[]){ "-n",
	    "--kubeconfig", kcpath, "configmap:default/app", NULL });
	cr_assert_eq(rc, 1, "%s", out);
	cr_assert(strstr(out, "configmap:default/app: ") != NULL &&
	    strstr(out, "403") != NULL, "%s", out);
	free(out);

	/* No API server there: gives up after request_timeout. */
	kc = slurp(kcpath, &len);
	cr_assert_not_null(at = strstr(kc, S.url));
	memcpy(at, "https://127.0.0.1:1", strlen("https://127.0.0.1:1"));
	memmove(at + strlen("https://127.0.0.1:1"), at + strlen(S.url),
	    strlen(at + strlen(S.url)) + 1);
	put_text(fmt("%s/gone.yaml", root), kc);
	free(kc);
	rc = run_prog("hotcfgd", &out, (const char *const[]){ "-n", "-c",
	    conf("kubeconfig: gone.yaml\n"
	    "sources:\n"
	    "  - configmap: default/app\n"
	    "    request_timeout: 2s\n"), NULL });
	cr_assert_eq(rc, 1, "%s", out);
	cr_assert(strstr(out, "configmap:default/app: no answer from the API "
	    "server in time") != NULL, "%s", out);
	free(out);

	/* No credentials at all, even for an optional source. */
	rc = run_prog("hotcfgd", &out, (const char *const[]){ "-n", "-c",
	    conf("kubeconfig: nothere.yaml\n"
	    "sources:\n"
	    "  - configmap: default/app\n"
	    "    optional: true\n"), NULL });
	cr_assert_eq(rc, 1, "%s", out);
	cr_assert(strstr(out, "nothere.yaml does not exist") != NULL, "%s",
	    out);
	free(out);
}

/* Write the kubelet's layout of a ConfigMap volume: a timestamped
 * directory with the keys, ..data pointing at it, and the visible names
 * as links through ..data. */
static void
kubelet_volume(const char *dir, const char *const *keys, const char *const
    *values, const size_t *lens, size_t n)
{
	const char *ts = "..2026_11_22_10_00_00.000000001";
	size_t i;

	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(mkdir(fmt("%s/%s", dir, ts), 0755), 0);
	for (i = 0; i < n; i++) {
		put_file(fmt("%s/%s/%s", dir, ts, keys[i]), values[i], lens[i]);
		cr_assert_eq(symlink(fmt("..data/%s", keys[i]),
		    fmt("%s/%s", dir, keys[i])), 0);
	}
	cr_assert_eq(symlink(ts, fmt("%s/..data", dir)), 0);
}

Test(agent_k8s, the_api_and_a_mounted_volume_print_the_same)
{
	static const char *const keys[] = {
		"app.yaml", "b.json", "zz.yml", "motd", "dotted.key",
		"blob.bin",
	};
	static const char *const values[] = {
		"server:\n  port: 8080\n  tags: [a, b]\nempty: {}\n",
		"{\"server\": {\"host\": \"h\"}, \"ratio\": 1.5, \"n\": null}",
		"server:\n  port: 9090\n",
		"hello\nworld\n",
		"x",
		"\xff\xfe\x00\x01",
	};
	static const size_t lens[] = { 0, 0, 0, 0, 0, 4 };
	static const char *const formats[] = { "flat", "json", "yaml" };
	size_t l[6], i;
	const char *vol = fmt("%s/volume", root);
	json_t *data = json_object(), *bin = json_object();

	for (i = 0; i < 6; i++) {
		l[i] = lens[i] ? lens[i] : strlen(values[i]);
		if (i < 5)
			json_object_set_new(data, keys[i], json_string(values[i]));
	}
	json_object_set_new(bin, "blob.bin", json_string("//4AAQ=="));
	cr_assert_eq(k8ssrv_put(&S, "default", "app", data, bin, NULL, 0), 200);
	json_decref(data);
	json_decref(bin);
	kubelet_volume(vol, keys, values, l, 6);

	for (i = 0; i < 3; i++) {
		char *api, *dir;
		int rc;

		rc = run_prog("hotcfgd", &api, (const char *const[]){
		    "--print", formats[i], "--kubeconfig", kcpath,
		    "configmap:default/app", NULL });
		cr_assert_eq(rc, 0, "%s", api);
		rc = run_prog("hotcfgd", &dir, (const char *const[]){
		    "--print", formats[i], vol, NULL });
		cr_assert_eq(rc, 0, "%s", dir);
		cr_assert_str_eq(api, dir, "--print %s differs:\nAPI:\n%s\n"
		    "volume:\n%s", formats[i], api, dir);
		if (i == 0)
			cr_assert(strstr(api, "server.port = 9090") != NULL &&
			    strstr(api, "dotted\\.key = \"x\"") != NULL,
			    "%s", api);
		free(api);
		free(dir);
	}
}

/* ------------------------------------------------------------------ */
/* No leaks.                                                            */
/* ------------------------------------------------------------------ */

static int
count_of(const char *what)
{
	return k8s_count_dir(fmt("/proc/%d/%s", (int)agent, what));
}

Test(agent_k8s, a_hundred_cut_connections_leak_no_thread_and_no_fd)
{
	static const char *const cuts[] = {
		"{\"mid_chunk\": true}", "{\"rst\": true}",
		"{\"mid_line\": true}", NULL,
	};
	int t0, f0, i, waited;
	long accepted0;
	uint64_t g;

	cm_put("app", "app.yaml", "n: 0\n", NULL);
	start((const char *const[]){ "-c", conf(fmt(
	    "sources:\n"
	    "  - configmap: default/app\n"
	    "    kubeconfig: %s\n"
	    "    backoff: 1ms\n"
	    "    backoff_max: 10ms\n", kcpath)), NULL });
	g = wait_after(0);
	/* One round first: libcurl and OpenSSL set up once per process. */
	wait_watches(1);
	cr_assert_eq(k8ssrv_cut(&S, cuts[0]), 1);
	wait_watches(1);
	wait_state("configmap:default/app", "synced", NULL, 0);
	t0 = count_of("task");
	f0 = count_of("fd");
	/* Main, watcher and the ConfigMap's thread (and a sanitizer's own
	 * thread, in such a build). */
	cr_assert_geq(t0, 3, "threads: %d", t0);
	accepted0 = k8ssrv_state(&S, "accepted");

	for (i = 1; i <= 100; i++) {
		wait_watches(1);
		cr_assert_eq(k8ssrv_cut(&S, cuts[i % 4]), 1, "cut %d", i);
		if (i % 20 == 0) {
			char v[32];

			snprintf(v, sizeof(v), "n: %d\n", i);
			cm_put("app", "app.yaml", v, NULL);
			g = wait_after(g);
			wait_int("n", i);
		}
	}
	cr_assert_geq(k8ssrv_state(&S, "accepted") - accepted0, 100);
	wait_watches(1);
	wait_state("configmap:default/app", "synced", NULL, 0);
	for (waited = 0; waited < WAIT_MS; waited += 10) {
		if (count_of("task") == t0 && count_of("fd") == f0)
			break;
		usleep(10000);
	}
	cr_assert_eq(count_of("task"), t0, "threads: %d, were %d",
	    count_of("task"), t0);
	cr_assert_eq(count_of("fd"), f0, "fds: %d, were %d", count_of("fd"),
	    f0);
	cm_put("app", "app.yaml", "n: 1000\n", NULL);
	wait_int("n", 1000);
}
