/*
 * test_examples.c - the example programs do what their comments promise.
 *
 * build/examples/reader and build/examples/epoll run as real processes,
 * linked against the shared library as a user's program would be, and
 * read a configuration published in a temporary directory: by the
 * library's own publisher (lib/internal.h), which needs nothing else, and
 * by the real agent, build/hotcfgd, on a copy of examples/app.yaml.  Each
 * test publishes changes and waits - with a generous timeout, never a
 * fixed sleep - for the program's output to show the new values.
 *
 * The agent configuration that `make run` uses, examples/hotcfgd.yaml, is
 * checked with `hotcfgd -n` from the top of the source tree, as make runs
 * it.
 *
 * Environment: HOTCFG_BUILD (the build directory; default "build") and
 * HOTCFG_SRC (the source tree; default ".").
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hotcfg.h"
#include "internal.h"

extern char **environ;

/* How long to wait for a program to print what it should. */
#define TIMEOUT_MS 20000

static char tmp[256];
static char dir[300];

/* Children still running at the end of a test are killed by teardown. */
#define MAX_KIDS 8
static pid_t kids[MAX_KIDS];

static void
setup(void)
{
	char tmpl[] = "/tmp/hotcfg-examples-XXXXXX";

	cr_assert_not_null(mkdtemp(tmpl));
	snprintf(tmp, sizeof(tmp), "%s", tmpl);
	snprintf(dir, sizeof(dir), "%s/cfg", tmp);
	memset(kids, 0, sizeof(kids));
}

static void
teardown(void)
{
	char cmd[512];

	for (int i = 0; i < MAX_KIDS; i++) {
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	(void)system(cmd);
}

TestSuite(examples, .init = setup, .fini = teardown, .timeout = 120);

static const char *
build_path(const char *rel)
{
	static char path[4][512];
	static int n;
	const char *b = getenv("HOTCFG_BUILD");
	char *p = path[n++ % 4];

	snprintf(p, 512, "%s/%s", b && *b ? b : "build", rel);
	return p;
}

/*
 * The path of an example program, skipping the test when this build has
 * none (`make tsan` builds the programs the tests start, but not the
 * examples; `make tests` and `make check` always build them).
 */
static const char *
example(const char *name)
{
	char rel[64];
	const char *path;

	snprintf(rel, sizeof(rel), "examples/%s", name);
	path = build_path(rel);
	if (access(path, X_OK) != 0)
		cr_skip_test("%s is not built", path);
	return path;
}

static const char *
src_dir(void)
{
	const char *s = getenv("HOTCFG_SRC");

	return s && *s ? s : ".";
}

/* ------------------------------------------------------------------ */
/* A child process whose output (stdout and stderr) we read.            */
/* ------------------------------------------------------------------ */

struct child {
	pid_t pid;
	int fd;                 /* read end of its output */
	char out[65536];
	size_t len;
	size_t mark;            /* expect() searches from here */
	int status;             /* exit status once reaped, else -1 */
};

static void
child_start(struct child *c, char *const argv[], const char *cwd)
{
	posix_spawn_file_actions_t fa;
	int p[2];

	memset(c, 0, sizeof(*c));
	c->status = -1;
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	if (cwd != NULL)
		cr_assert_eq(posix_spawn_file_actions_addchdir_np(&fa, cwd), 0);
	cr_assert_eq(posix_spawn(&c->pid, argv[0], &fa, NULL, argv, environ),
	    0, "spawn %s", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	c->fd = p[0];
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < MAX_KIDS; i++) {
		if (kids[i] == 0) {
			kids[i] = c->pid;
			break;
		}
	}
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read what is there, waiting at most ms for something.  0 at EOF. */
static int
child_read(struct child *c, int ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	ssize_t n;

	if (c->fd < 0)
		return 0;
	if (poll(&pfd, 1, ms) <= 0)
		return 1;
	n = read(c->fd, c->out + c->len, sizeof(c->out) - 1 - c->len);
	if (n > 0) {
		c->len += (size_t)n;
		c->out[c->len] = '\0';
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 1;
	close(c->fd);
	c->fd = -1;
	return 0;
}

/* Wait until the output, from the mark on, holds needle; move the mark
 * past it.  Fails the test with the whole output on timeout or EOF. */
static void
child_expect(struct child *c, const char *needle)
{
	int64_t deadline = now_ms() + TIMEOUT_MS;
	char *hit;

	for (;;) {
		if ((hit = strstr(c->out + c->mark, needle)) != NULL) {
			c->mark = (size_t)(hit - c->out) + strlen(needle);
			return;
		}
		if (now_ms() > deadline || !child_read(c, 100))
			break;
	}
	cr_assert_fail("expected \"%s\" in the output of pid %d; it said:\n%s",
	    needle, (int)c->pid, c->out);
}

/* Wait for the child to exit; its exit status, or 128 + signal. */
static int
child_wait(struct child *c)
{
	int64_t deadline = now_ms() + TIMEOUT_MS;
	int st;

	while (child_read(c, 100))
		if (now_ms() > deadline)
			break;
	for (;;) {
		pid_t r = waitpid(c->pid, &st, WNOHANG);
		if (r == c->pid)
			break;
		cr_assert_leq(now_ms(), deadline, "pid %d did not exit; it said:"
		    "\n%s", (int)c->pid, c->out);
		usleep(10000);
	}
	for (int i = 0; i < MAX_KIDS; i++)
		if (kids[i] == c->pid)
			kids[i] = 0;
	c->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return c->status;
}

/* ------------------------------------------------------------------ */
/* Publishing with the library's own publisher.                         */
/* ------------------------------------------------------------------ */

struct app {
	int64_t port;
	int64_t interval_ms;
	const char *level;
	bool checkout;
};

static void
add(struct hc_builder *b, int type, const char *key, const char *text,
    int64_t i, double f, bool bv, size_t count)
{
	hotcfg_entry e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.key = key;
	e.key_len = strlen(key);
	e.text = text;
	e.text_len = text ? strlen(text) : 0;
	e.i = i;
	e.f = f;
	e.b = bv;
	e.count = count;
	cr_assert_eq(hc_builder_add(b, &e), 0, "add %s", key);
}

/* The part of examples/app.yaml that the examples read. */
static uint64_t
publish(struct hc_pub *p, const struct app *a)
{
	struct hc_builder *b;
	unsigned src;
	void *blob;
	size_t size;
	uint64_t gen;

	cr_assert_eq(hc_builder_new(&b), 0);
	cr_assert_eq(hc_builder_source(b, "app.yaml", &src), 0);
	add(b, HOTCFG_MAP, "", NULL, 0, 0, false, 6);
	add(b, HOTCFG_MAP, "server", NULL, 0, 0, false, 3);
	add(b, HOTCFG_STR, "server.host", "0.0.0.0", 0, 0, false, 0);
	add(b, HOTCFG_INT, "server.port", NULL, a->port, (double)a->port,
	    false, 0);
	add(b, HOTCFG_FLOAT, "server.read_timeout", NULL, 0, 2.5, false, 0);
	add(b, HOTCFG_MAP, "features", NULL, 0, 0, false, 1);
	add(b, HOTCFG_BOOL, "features.new_checkout", NULL, 0, 0, a->checkout,
	    0);
	add(b, HOTCFG_MAP, "health_check", NULL, 0, 0, false, 2);
	add(b, HOTCFG_INT, "health_check.interval_ms", NULL, a->interval_ms,
	    (double)a->interval_ms, false, 0);
	add(b, HOTCFG_STR, "health_check.path", "/healthz", 0, 0, false, 0);
	add(b, HOTCFG_MAP, "logging", NULL, 0, 0, false, 1);
	add(b, HOTCFG_STR, "logging.level", a->level, 0, 0, false, 0);
	add(b, HOTCFG_SEQ, "allowed_origins", NULL, 0, 0, false, 2);
	add(b, HOTCFG_STR, "allowed_origins[0]", "https://example.com", 0, 0,
	    false, 0);
	add(b, HOTCFG_STR, "allowed_origins[1]", "https://admin.example.com",
	    0, 0, false, 0);
	add(b, HOTCFG_MAP, "labels", NULL, 0, 0, false, 1);
	add(b, HOTCFG_STR, "labels.app\\.kubernetes\\.io/name", "demo", 0, 0,
	    false, 0);
	cr_assert_eq(hc_builder_finish(b, 0, &blob, &size, NULL), 0);
	hc_builder_free(b);
	cr_assert_eq(hc_pub_publish(p, blob, size, &gen), 0);
	free(blob);
	return gen;
}

/* ------------------------------------------------------------------ */
/* reader                                                               */
/* ------------------------------------------------------------------ */

Test(examples, reader_prints_typed_values_then_each_change)
{
	struct app a = { 8080, 1000, "info", true };
	struct hc_pub *p;
	struct child c;
	char *argv[] = { (char *)example("reader"), dir, "2",
	    NULL };

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	cr_assert_eq(publish(p, &a), 1);
	child_start(&c, argv, NULL);
	child_expect(&c, "generation 1 (17 entries)");
	child_expect(&c, "server.host = 0.0.0.0");
	child_expect(&c, "server.port = 8080");
	child_expect(&c, "server.read_timeout = 2.5");
	child_expect(&c, "features.new_checkout = true");
	child_expect(&c, "logging.level = info");
	child_expect(&c, "allowed_origins: 2 items");
	child_expect(&c, "allowed_origins[1] = https://admin.example.com");
	child_expect(&c, "labels.app\\.kubernetes\\.io/name = demo");
	child_expect(&c, "--\n");

	a.port = 9090;
	cr_assert_eq(publish(p, &a), 2);
	child_expect(&c, "generation 2");
	child_expect(&c, "server.port = 9090");

	a.checkout = false;
	a.level = "debug";
	cr_assert_eq(publish(p, &a), 3);
	child_expect(&c, "generation 3");
	child_expect(&c, "features.new_checkout = false");
	child_expect(&c, "logging.level = debug");
	/* Two changes asked for, two seen: it exits on its own. */
	cr_assert_eq(child_wait(&c), 0, "reader said:\n%s", c.out);
	hc_pub_close(p);
}

Test(examples, reader_waits_for_the_first_publish)
{
	struct app a = { 8080, 1000, "info", true };
	struct hc_pub *p;
	struct child c;
	char *argv[] = { (char *)example("reader"), dir, "1",
	    NULL };

	/* The directory and control file exist; nothing is published. */
	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	child_start(&c, argv, NULL);
	child_expect(&c, "nothing published yet; waiting");
	publish(p, &a);
	child_expect(&c, "generation 1");
	child_expect(&c, "server.port = 8080");
	a.port = 8081;
	publish(p, &a);
	child_expect(&c, "server.port = 8081");
	cr_assert_eq(child_wait(&c), 0, "reader said:\n%s", c.out);
	hc_pub_close(p);
}

Test(examples, reader_says_what_is_wrong_without_a_configuration)
{
	struct child c;
	char *argv[] = { (char *)example("reader"), dir, NULL };

	child_start(&c, argv, NULL);
	cr_assert_eq(child_wait(&c), 1, "reader said:\n%s", c.out);
	cr_assert_not_null(strstr(c.out, "is hotcfgd running"), "%s", c.out);
}

Test(examples, reader_leaves_cleanly_on_sigterm)
{
	struct app a = { 8080, 1000, "info", true };
	struct hc_pub *p;
	struct child c;
	char *argv[] = { (char *)example("reader"), dir, NULL };

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	publish(p, &a);
	child_start(&c, argv, NULL);
	child_expect(&c, "--\n");       /* now sleeping in hotcfg_wait() */
	kill(c.pid, SIGTERM);
	cr_assert_eq(child_wait(&c), 0, "reader said:\n%s", c.out);
	hc_pub_close(p);
}

/* ------------------------------------------------------------------ */
/* epoll                                                                */
/* ------------------------------------------------------------------ */

Test(examples, epoll_reloads_its_settings_on_each_publish)
{
	struct app a = { 8080, 1000, "info", true };
	struct hc_pub *p;
	struct child c;
	char *argv[] = { (char *)example("epoll"), dir, "2",
	    NULL };

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	publish(p, &a);
	child_start(&c, argv, NULL);
	child_expect(&c, "start: generation 1 interval_ms=1000 "
	    "path=/healthz level=info");

	a.interval_ms = 20;
	cr_assert_eq(publish(p, &a), 2);
	child_expect(&c, "reload 1: generation 2 interval_ms=20 "
	    "path=/healthz level=info");

	a.level = "warning";
	cr_assert_eq(publish(p, &a), 3);
	child_expect(&c, "reload 2: generation 3 interval_ms=20 "
	    "path=/healthz level=warning");
	cr_assert_eq(child_wait(&c), 0, "epoll said:\n%s", c.out);
	hc_pub_close(p);
}

Test(examples, epoll_catches_up_with_a_burst_and_stops_on_sigterm)
{
	struct app a = { 8080, 1000, "info", true };
	struct hc_pub *p;
	struct child c;
	char *argv[] = { (char *)example("epoll"), dir, NULL };

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	publish(p, &a);
	child_start(&c, argv, NULL);
	child_expect(&c, "start: generation 1");
	/* Several publishes may wake it once: it must end on the newest. */
	for (int i = 0; i < 5; i++) {
		a.interval_ms = 100 + i;
		publish(p, &a);
	}
	child_expect(&c, "generation 6 interval_ms=104");
	kill(c.pid, SIGTERM);
	child_expect(&c, "signal: stopping");
	cr_assert_eq(child_wait(&c), 0, "epoll said:\n%s", c.out);
	hc_pub_close(p);
}

Test(examples, epoll_starts_on_defaults_before_the_first_publish)
{
	struct app a = { 8080, 250, "info", true };
	struct hc_pub *p;
	struct child c;
	char *argv[] = { (char *)example("epoll"), dir, "1",
	    NULL };

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	child_start(&c, argv, NULL);
	child_expect(&c, "nothing published yet; running on defaults");
	child_expect(&c, "start: generation 0 interval_ms=1000");
	publish(p, &a);
	child_expect(&c, "reload 1: generation 1 interval_ms=250");
	cr_assert_eq(child_wait(&c), 0, "epoll said:\n%s", c.out);
	hc_pub_close(p);
}

/* ------------------------------------------------------------------ */
/* With the real agent.                                                 */
/* ------------------------------------------------------------------ */

static void
need_agent(void)
{
	if (access(build_path("hotcfgd"), X_OK) != 0)
		cr_skip_test("%s is not built", build_path("hotcfgd"));
}

/* Copy examples/app.yaml to path, replacing one line (if from != NULL)
 * the way an editor saves: a temporary file renamed over the old one. */
static void
write_app(const char *path, const char *from, const char *to)
{
	char src[512], tmpf[600], line[1024];
	FILE *in, *out;
	bool replaced = from == NULL;

	snprintf(src, sizeof(src), "%s/examples/app.yaml", src_dir());
	snprintf(tmpf, sizeof(tmpf), "%s.tmp", path);
	cr_assert_not_null(in = fopen(src, "r"), "%s", src);
	cr_assert_not_null(out = fopen(tmpf, "w"));
	while (fgets(line, sizeof(line), in) != NULL) {
		if (from != NULL && strstr(line, from) != NULL) {
			fprintf(out, "%s\n", to);
			replaced = true;
		} else {
			fputs(line, out);
		}
	}
	fclose(in);
	cr_assert_eq(fclose(out), 0);
	cr_assert(replaced, "no line with \"%s\" in %s", from, src);
	cr_assert_eq(rename(tmpf, path), 0);
}

Test(examples, reader_and_epoll_follow_the_real_agent)
{
	struct child agent, rd, ep;
	char app[300];
	char *aargv[] = { (char *)build_path("hotcfgd"), "--dir", dir, app,
	    NULL };
	char *rargv[] = { (char *)example("reader"), dir, "1",
	    NULL };
	char *eargv[] = { (char *)example("epoll"), dir, "1",
	    NULL };
	hotcfg *h;
	int rc;

	need_agent();
	snprintf(app, sizeof(app), "%s/app.yaml", tmp);
	write_app(app, NULL, NULL);
	child_start(&agent, aargv, NULL);
	/* Wait for the first publish: open when the agent has made the
	 * directory, then wait on the generation. */
	for (int64_t end = now_ms() + TIMEOUT_MS;
	    (rc = hotcfg_open(&h, dir)) == -ENOENT && now_ms() < end;)
		child_read(&agent, 20);
	cr_assert_eq(rc, 0, "%s; the agent said:\n%s", hotcfg_strerror(rc),
	    agent.out);
	cr_assert_eq(hotcfg_wait(h, 0, TIMEOUT_MS), 0, "agent said:\n%s",
	    agent.out);
	hotcfg_close(h);

	child_start(&rd, rargv, NULL);
	child_start(&ep, eargv, NULL);
	child_expect(&rd, "server.port = 8080");
	child_expect(&rd, "labels.app\\.kubernetes\\.io/name = demo");
	child_expect(&rd, "--\n");
	child_expect(&ep, "start: generation 1 interval_ms=1000 "
	    "path=/healthz level=info");

	/* One edit changes both what reader prints and epoll's timer. */
	write_app(app, "interval_ms:", "  interval_ms: 40");
	child_expect(&ep, "reload 1: generation 2 interval_ms=40");
	cr_assert_eq(child_wait(&ep), 0, "epoll said:\n%s", ep.out);
	child_expect(&rd, "generation 2");
	cr_assert_eq(child_wait(&rd), 0, "reader said:\n%s", rd.out);

	kill(agent.pid, SIGTERM);
	cr_assert_eq(child_wait(&agent), 0, "agent said:\n%s", agent.out);
}

Test(examples, reader_sees_a_bad_edit_kept_out_and_the_fix_published)
{
	struct child agent, rd;
	char app[300];
	char *aargv[] = { (char *)build_path("hotcfgd"), "--dir", dir, app,
	    NULL };
	char *rargv[] = { (char *)example("reader"), dir, "1",
	    NULL };
	hotcfg *h;
	int rc;

	need_agent();
	snprintf(app, sizeof(app), "%s/app.yaml", tmp);
	write_app(app, NULL, NULL);
	child_start(&agent, aargv, NULL);
	for (int64_t end = now_ms() + TIMEOUT_MS;
	    (rc = hotcfg_open(&h, dir)) == -ENOENT && now_ms() < end;)
		child_read(&agent, 20);
	cr_assert_eq(rc, 0, "%s", hotcfg_strerror(rc));
	cr_assert_eq(hotcfg_wait(h, 0, TIMEOUT_MS), 0);

	child_start(&rd, rargv, NULL);
	child_expect(&rd, "server.port = 8080");
	child_expect(&rd, "--\n");
	/* A duplicate key: refused, logged, readers keep generation 1. */
	write_app(app, "  workers: 4", "  port: 1");
	child_expect(&agent, "duplicate key");
	cr_assert_eq(hotcfg_generation(h), 1);
	write_app(app, "  port: 8080", "  port: 8443");
	child_expect(&rd, "generation 2");
	child_expect(&rd, "server.port = 8443");
	cr_assert_eq(child_wait(&rd), 0, "reader said:\n%s", rd.out);
	hotcfg_close(h);
	kill(agent.pid, SIGTERM);
	cr_assert_eq(child_wait(&agent), 0, "agent said:\n%s", agent.out);
}

/* `make run` is `hotcfgd -c examples/hotcfgd.yaml` from the top of the
 * tree: that configuration must check out and publish examples/app.yaml. */
Test(examples, make_run_configuration_checks_and_builds_app_yaml)
{
	struct child c;
	char *check[] = { (char *)build_path("hotcfgd"), "-n", "-c",
	    "examples/hotcfgd.yaml", NULL };
	char *print[] = { (char *)build_path("hotcfgd"), "--print", "flat",
	    "-c", "examples/hotcfgd.yaml", NULL };
	char abs[512];

	need_agent();
	/* The build directory may be relative to the source tree. */
	if (build_path("")[0] != '/') {
		char *cwd = getcwd(NULL, 0);
		snprintf(abs, sizeof(abs), "%s/%s", cwd, build_path("hotcfgd"));
		free(cwd);
		check[0] = print[0] = abs;
	}
	child_start(&c, check, src_dir());
	child_expect(&c, "configuration OK");
	cr_assert_eq(child_wait(&c), 0, "hotcfgd -n said:\n%s", c.out);

	child_start(&c, print, src_dir());
	child_expect(&c, "server.port = 8080");
	child_expect(&c, "server.read_timeout = 2.5");
	cr_assert_eq(child_wait(&c), 0, "hotcfgd --print said:\n%s", c.out);
	cr_assert_not_null(strstr(c.out, "labels.app\\.kubernetes\\.io/name "
	    "= \"demo\""), "%s", c.out);
	cr_assert_not_null(strstr(c.out, "features.beta_users = <seq 0>"),
	    "%s", c.out);
}
