/*
 * test_agent.c - hotcfgd end to end: the real agent, the real reader.
 *
 * Every test makes its own directory under /tmp (sources in src/, the
 * published configuration in pub/), starts build/hotcfgd on it and reads
 * what it publishes through the public API, as a service would.  Each way
 * of changing a file that people and programs use is driven for real:
 * writing in place, truncating and writing in pieces, a temporary file
 * renamed over (sed -i), vim's backup-and-rewrite, delete and re-create,
 * files that appear later, symlink swaps and the kubelet's atomic writer.
 * For each, the test checks the new content, exactly one new generation
 * (it waits a further 300 ms for a stray one), and that a well-behaved
 * writer's intermediate states never produced an error.
 *
 * Tests wait for events with generous timeouts and never assert on how
 * long anything took.  HOTCFG_BUILD names the build directory; HOTCFGD,
 * if set, the agent binary to drive instead of $HOTCFG_BUILD/hotcfgd.
 * When the agent's log shows a sanitizer report, the test fails.
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

#include "config.h"
#include "hotcfg.h"
#include "log.h"
#include "pending.h"
#include "helpers/proc.h"

#define WAIT_MS 10000           /* for anything we expect to happen */
#define QUIET_US 300000         /* for anything we expect not to */

static char root[64];           /* /tmp/hotcfgd-test.XXXXXX */
static char srcdir[128];        /* root/src: the sources */
static char pubdir[128];        /* root/pub: where the agent publishes */
static char logpath[128];       /* root/agent.log: its stderr */
static pid_t agent = -1;
static hotcfg *reader;

/* ------------------------------------------------------------------ */
/* Files and processes.                                                 */
/* ------------------------------------------------------------------ */

static const char *
fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

/* A path or string that lives until a few calls later (a ring). */
static const char *
fmt(const char *f, ...)
{
	static char ring[64][1024];
	static unsigned at;
	char *s = ring[at++ % 64];
	va_list ap;

	va_start(ap, f);
	vsnprintf(s, sizeof(ring[0]), f, ap);
	va_end(ap);
	return s;
}

static const char *
in_src(const char *name)
{
	return fmt("%s/%s", srcdir, name);
}

static void
write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, data, len);

		cr_assert(w > 0, "write: %s", strerror(errno));
		data += w;
		len -= (size_t)w;
	}
}

/* The ordinary way: open with O_TRUNC, one write, close. */
static void
put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	write_all(fd, text, strlen(text));
	cr_assert(close(fd) == 0);
}

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	size_t n;

	if (fp == NULL)
		return strdup("");
	buf = calloc(1, 1 << 20);
	n = fread(buf, 1, (1 << 20) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* The agent's log so far; valid until the next call. */
static const char *
logtext(void)
{
	static char *last;

	free(last);
	last = slurp(logpath);
	return last;
}

/* Occurrences of needle in hay. */
static int
count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

#include "helpers/agentread.h"

static void
rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* $HOTCFGD, else $HOTCFG_BUILD/hotcfgd: a ThreadSanitizer build of the
 * agent can be driven by a plain build of this test (Criterion itself
 * does not start under ThreadSanitizer). */
static const char *
hotcfgd_path(void)
{
	const char *b = getenv("HOTCFG_BUILD");

	if (getenv("HOTCFGD") != NULL)
		return getenv("HOTCFGD");

	return fmt("%s/hotcfgd", b ? b : "build");
}

/* Start hotcfgd with args; its output goes to `out` (NULL: the agent
 * log).  The child dies with us. */
static pid_t
spawn(const char *out, const char *const *args)
{
	pid_t pid = proc_spawn(hotcfgd_path(), out ? out : logpath, args);

	cr_assert(pid >= 0);
	return pid;
}

static int
reap(pid_t pid, int timeout_ms)
{
	return proc_reap(pid, timeout_ms);
}

/* Run hotcfgd to completion; its exit status, its output in *out. */
static int
run_once(char **out, const char *const *args)
{
	const char *path = fmt("%s/run.out", root);
	pid_t pid;
	int st;

	unlink(path);
	pid = spawn(path, args);
	st = reap(pid, 30000);
	if (out != NULL)
		*out = slurp(path);
	return st;
}

static void
setup(void)
{
	snprintf(root, sizeof(root), "/tmp/hotcfgd-test.XXXXXX");
	cr_assert(mkdtemp(root) != NULL);
	snprintf(srcdir, sizeof(srcdir), "%s/src", root);
	snprintf(pubdir, sizeof(pubdir), "%s/pub", root);
	snprintf(logpath, sizeof(logpath), "%s/agent.log", root);
	cr_assert(mkdir(srcdir, 0755) == 0);
	agent = -1;
	reader = NULL;
}

static void
teardown(void)
{
	char *log;
	int st = 0;

	hotcfg_close(reader);
	reader = NULL;
	if (agent > 0) {
		kill(agent, SIGTERM);
		st = reap(agent, 2 * WAIT_MS);
		agent = -1;
	}
	/* A sanitizer build of the agent reports into its log. */
	log = slurp(logpath);
	if (strstr(log, "Sanitizer") != NULL || strstr(log, "runtime error")) {
		if (root[0] != '\0')
			fprintf(stderr, "agent log kept in %s\n", root);
		cr_assert_fail("the agent reported (exit %d):\n%s", st, log);
	}
	free(log);
	if (getenv("HOTCFG_KEEP") == NULL && root[0] != '\0')
		rm_rf(root);
}

TestSuite(agent, .init = setup, .fini = teardown, .timeout = 120);

/* ------------------------------------------------------------------ */
/* The agent and its reader.                                            */
/* ------------------------------------------------------------------ */

/* Start the daemon on pub/ with these extra arguments and open a
 * reader once the control file exists. */
static void
start(const char *const *args)
{
	const char *argv[32] = { "--dir", pubdir };
	size_t n = 2;
	int waited;

	while (*args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	agent = spawn(NULL, argv);
	for (waited = 0; waited < WAIT_MS; waited += 10) {
		if (hotcfg_open(&reader, pubdir) == 0)
			return;
		cr_assert(waitpid(agent, NULL, WNOHANG) == 0,
		    "hotcfgd exited early:\n%s", logtext());
		usleep(10000);
	}
	cr_assert_fail("no control file in %s:\n%s", pubdir, logtext());
}

static bool
has_key(const char *key)
{
	hotcfg_entry e;

	return hotcfg_get(snap(), key, &e) == 0;
}

/* No error was recorded by the last build. */
static void
assert_no_error(void)
{
	hotcfg_status st;

	status(&st);
	cr_assert_neq(st.outcome, HOTCFG_OUTCOME_ERROR,
	    "error recorded: %s:%u:%u: %s; log:\n%s", st.source, st.line,
	    st.column, st.message, logtext());
}

/* Wait until the status' outcome is `outcome` (recorded after `since`). */
static void
wait_outcome(int outcome, int64_t since, hotcfg_status *st)
{
	int waited;

	for (waited = 0; waited < WAIT_MS; waited += 10) {
		status(st);
		if (st->outcome == outcome && st->outcome_ns > since)
			return;
		usleep(10000);
	}
	cr_assert_fail("outcome %d never came (last %d); log:\n%s", outcome,
	    st->outcome, logtext());
}

/* Wait until source i's state is `state`. */
static void
wait_state(unsigned i, const char *state)
{
	hotcfg_status st;
	int waited;

	for (waited = 0; waited < WAIT_MS; waited += 10) {
		status(&st);
		if (i < st.nsources && strcmp(st.sources[i].state, state) == 0)
			return;
		usleep(10000);
	}
	cr_assert_fail("source %u never became %s (is %s); log:\n%s", i,
	    state, i < st.nsources ? st.sources[i].state : "-",
	    logtext());
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One file source, started and published once; returns the generation. */
static uint64_t
start_on_file(const char *name, const char *text)
{
	put(in_src(name), text);
	start((const char *const[]){ in_src(name), NULL });
	return wait_after(0);
}

/* ------------------------------------------------------------------ */
/* Running it: -n, --print, usage, exit codes.                          */
/* ------------------------------------------------------------------ */

Test(agent, check_says_configuration_ok_and_publishes_nothing)
{
	char *out;

	put(in_src("app.yaml"), "a: 1\n");
	cr_assert_eq(run_once(&out, (const char *const[]){ "-n", "--dir",
	    pubdir, in_src("app.yaml"), NULL }), 0, "%s", out);
	cr_assert(strstr(out, "configuration OK") != NULL, "%s", out);
	cr_assert(access(pubdir, F_OK) != 0, "-n created %s", pubdir);
	free(out);
}

Test(agent, check_names_file_line_column_of_a_yaml_error_and_exits_1)
{
	char *out;

	put(in_src("good.yaml"), "a: 1\n");
	put(in_src("bad.yaml"), "a: 1\nb: [1, 2\nc: 3\n");
	cr_assert_eq(run_once(&out, (const char *const[]){ "-n",
	    in_src("good.yaml"), in_src("bad.yaml"), NULL }), 1, "%s", out);
	cr_assert(strstr(out, fmt("%s:3:", in_src("bad.yaml"))) != NULL,
	    "no file:line:col in: %s", out);
	cr_assert(strstr(out, "configuration OK") == NULL);
	free(out);
}

Test(agent, check_refuses_a_missing_required_source_but_not_an_optional)
{
	char conf[256];
	char *out;

	snprintf(conf, sizeof(conf), "%s", in_src("hotcfgd.yaml"));
	cr_assert_eq(run_once(&out, (const char *const[]){ "-n",
	    in_src("nope.yaml"), NULL }), 1);
	cr_assert(strstr(out, "nope.yaml") != NULL, "%s", out);
	free(out);

	put(in_src("app.yaml"), "a: 1\n");
	put(conf, "sources:\n  - file: app.yaml\n  - file: later.yaml\n"
	    "    optional: true\n");
	cr_assert_eq(run_once(&out, (const char *const[]){ "-n", "-c", conf,
	    NULL }), 0, "%s", out);
	cr_assert(strstr(out, "configuration OK") != NULL, "%s", out);
	free(out);
}

Test(agent, check_names_line_and_column_of_a_bad_config_key)
{
	char conf[256];
	char *out;

	snprintf(conf, sizeof(conf), "%s", in_src("hotcfgd.yaml"));
	put(in_src("app.yaml"), "a: 1\n");
	put(conf, "name: demo\nsources:\n  - file: app.yaml\n"
	    "    prefixx: app\n");
	cr_assert_eq(run_once(&out, (const char *const[]){ "-n", "-c", conf,
	    NULL }), 1);
	cr_assert(strstr(out, fmt("%s:4:5:", conf)) != NULL, "%s", out);
	cr_assert(strstr(out, "prefixx") != NULL, "%s", out);
	free(out);

	put(conf, "name: demo\nrescan: soon\nsources: [app.yaml]\n");
	cr_assert_eq(run_once(&out, (const char *const[]){ "-n", "-c", conf,
	    NULL }), 1);
	cr_assert(strstr(out, fmt("%s:2:9:", conf)) != NULL, "%s", out);
	free(out);
}

Test(agent, config_file_sources_prefix_and_layering_in_print)
{
	char conf[256];
	char *out;

	snprintf(conf, sizeof(conf), "%s", in_src("hotcfgd.yaml"));
	put(in_src("base.yaml"), "db:\n  host: a\n  port: 5432\n");
	put(in_src("over.yaml"), "db:\n  host: b\n");
	put(conf, "sources:\n  - file: base.yaml\n    prefix: app\n"
	    "  - path: over.yaml\n    prefix: app\n");
	cr_assert_eq(run_once(&out, (const char *const[]){ "-c", conf,
	    "--print", "flat", NULL }), 0, "%s", out);
	cr_assert(strstr(out, "app.db.host = \"b\"") != NULL, "%s", out);
	cr_assert(strstr(out, "app.db.port = 5432") != NULL, "%s", out);
	free(out);
}

Test(agent, print_formats_the_snapshot_and_publishes_nothing)
{
	char *out;

	put(in_src("app.yaml"), "name: demo\nport: 8080\nlist: [1, 2]\n");
	cr_assert_eq(run_once(&out, (const char *const[]){ "--print", "flat",
	    "--dir", pubdir, in_src("app.yaml"), NULL }), 0, "%s", out);
	cr_assert(strstr(out, "port = 8080") != NULL, "%s", out);
	cr_assert(strstr(out, "list[1] = 2") != NULL, "%s", out);
	free(out);
	cr_assert_eq(run_once(&out, (const char *const[]){ "--print", "json",
	    in_src("app.yaml"), NULL }), 0, "%s", out);
	cr_assert(strstr(out, "\"port\"") != NULL, "%s", out);
	free(out);
	cr_assert_eq(run_once(&out, (const char *const[]){ "--print", "yaml",
	    in_src("app.yaml"), NULL }), 0, "%s", out);
	cr_assert(strstr(out, "port: 8080") != NULL, "%s", out);
	free(out);
	cr_assert(access(pubdir, F_OK) != 0, "--print created %s", pubdir);
}

Test(agent, usage_version_and_bad_options_exit_codes)
{
	char *out;

	cr_assert_eq(run_once(&out, (const char *const[]){ "-V", NULL }), 0);
	cr_assert(strstr(out, hotcfg_version()) != NULL, "%s", out);
	free(out);
	cr_assert_eq(run_once(&out, (const char *const[]){ "--help", NULL }),
	    0);
	cr_assert(strstr(out, "usage:") != NULL, "%s", out);
	free(out);
	cr_assert_eq(run_once(NULL, (const char *const[]){ "--bogus",
	    NULL }), 1);
	cr_assert_eq(run_once(NULL, (const char *const[]){ "--print", "xml",
	    in_src("a.yaml"), NULL }), 1);
	cr_assert_eq(run_once(NULL, (const char *const[]){ "--name", "a",
	    "--dir", pubdir, in_src("a.yaml"), NULL }), 1);
	cr_assert_eq(run_once(NULL, (const char *const[]){ "-n", NULL }), 1);
	/* --name is one path component, as the configuration's name: is. */
	static const char *const notnames[] = { "", ".", "..", "a/b" };
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(run_once(&out, (const char *const[]){ "--name",
		    notnames[i], "-n", in_src("a.yaml"), NULL }), 1, "%s",
		    notnames[i]);
		cr_assert(strstr(out, "not a name") != NULL, "%s", out);
		free(out);
	}
	/* No credentials anywhere, so no API server is ever contacted,
	 * whatever the machine running the test has configured. */
	setenv("HOME", "/nonexistent", 1);
	setenv("KUBECONFIG", "/nonexistent/kubeconfig", 1);
	unsetenv("KUBERNETES_SERVICE_HOST");
	cr_assert_eq(run_once(&out, (const char *const[]){ "-n",
	    "configmap:ns/name", NULL }), 1);
	cr_assert(strstr(out, "configmap") != NULL, "%s", out);
	free(out);
}

Test(agent, runtime_failure_exits_2)
{
	char *out;

	/* The publish directory cannot be created under a regular file. */
	put(in_src("app.yaml"), "a: 1\n");
	put(in_src("file"), "x");
	cr_assert_eq(run_once(&out, (const char *const[]){ "--dir",
	    in_src("file/pub"), in_src("app.yaml"), NULL }), 2, "%s", out);
	cr_assert(strstr(out, "event=error") != NULL, "%s", out);
	free(out);
}

Test(agent, second_agent_on_the_same_directory_exits_2)
{
	char *out;

	start_on_file("app.yaml", "a: 1\n");
	cr_assert_eq(run_once(&out, (const char *const[]){ "--dir", pubdir,
	    in_src("app.yaml"), NULL }), 2, "%s", out);
	free(out);
	cr_assert_eq(get_int("a"), 1);
}

/* ------------------------------------------------------------------ */
/* Signals.                                                             */
/* ------------------------------------------------------------------ */

Test(agent, sigterm_exits_0_and_the_last_snapshot_stays_readable)
{
	hotcfg *h2;
	const hotcfg_snap *s;
	int64_t v;

	start_on_file("app.yaml", "a: 7\n");
	cr_assert_eq(get_int("a"), 7);
	kill(agent, SIGTERM);
	cr_assert_eq(reap(agent, 2 * WAIT_MS), 0, "%s", logtext());
	agent = -1;
	cr_assert(strstr(logtext(), "event=exit") != NULL);
	/* A reader that starts while the agent is down still finds it. */
	cr_assert_eq(hotcfg_open(&h2, pubdir), 0);
	cr_assert_eq(hotcfg_snapshot(h2, &s), 0);
	cr_assert_eq(hotcfg_get_int(s, "a", &v), 0);
	cr_assert_eq(v, 7);
	hotcfg_close(h2);
}

Test(agent, sigint_exits_0)
{
	start_on_file("app.yaml", "a: 1\n");
	kill(agent, SIGINT);
	cr_assert_eq(reap(agent, 2 * WAIT_MS), 0);
	agent = -1;
}

Test(agent, sighup_rereads_every_source_and_publishes_nothing_new)
{
	hotcfg_status st;
	uint64_t gen = start_on_file("app.yaml", "a: 1\n");
	int64_t t = now_ns();

	kill(agent, SIGHUP);
	wait_outcome(HOTCFG_OUTCOME_UNCHANGED, t, &st);
	cr_assert_eq(st.generation, gen);
	assert_quiet(gen);
	cr_assert(strstr(logtext(), "signal=HUP") != NULL);
	cr_assert(strstr(logtext(), "event=unchanged") != NULL);
}

Test(agent, sigusr1_reopens_the_log_file)
{
	char conf[256];
	char log[256];
	char *text;
	int waited;

	snprintf(conf, sizeof(conf), "%s", in_src("hotcfgd.yaml"));
	snprintf(log, sizeof(log), "%s/file.log", root);
	put(in_src("app.yaml"), "a: 1\n");
	put(conf, fmt("log:\n  file: %s\nsources: [app.yaml]\n", log));
	start((const char *const[]){ "-c", conf, NULL });
	wait_after(0);
	cr_assert(rename(log, fmt("%s.1", log)) == 0);
	kill(agent, SIGUSR1);
	for (waited = 0; waited < WAIT_MS; waited += 10) {
		if (access(log, F_OK) == 0)
			break;
		usleep(10000);
	}
	usleep(50000);
	text = slurp(log);
	cr_assert(strstr(text, "event=reopen") != NULL, "new log: %s", text);
	free(text);
	text = slurp(fmt("%s.1", log));
	cr_assert(strstr(text, "event=start") != NULL, "old log: %s", text);
	free(text);
}

/* ------------------------------------------------------------------ */
/* Update styles: each one change, one generation, exact content.       */
/* ------------------------------------------------------------------ */

Test(agent, write_in_place_publishes_one_generation)
{
	uint64_t gen = start_on_file("app.yaml", "a: 1\nb: x\n");

	cr_assert_eq(get_int("a"), 1);
	put(in_src("app.yaml"), "a: 2\nb: y\n");
	cr_assert_eq(wait_after(gen), gen + 1);
	cr_assert_eq(get_int("a"), 2);
	cr_assert_str_eq(get_str("b"), "y");
	assert_quiet(gen + 1);
	assert_no_error();
}

Test(agent, truncate_then_several_writes_is_read_once_closed)
{
	uint64_t gen = start_on_file("app.yaml", "a: 1\nlist: [1]\n");
	const char *p1 = "a: 2\nlist:\n", *p2 = "  - 10\n  - 20\n",
	    *p3 = "  - 30\nend: true\n";
	int fd;

	fd = open(in_src("app.yaml"), O_WRONLY | O_TRUNC);
	cr_assert(fd >= 0);
	write_all(fd, p1, strlen(p1));
	usleep(50000);
	write_all(fd, p2, strlen(p2));
	usleep(50000);
	write_all(fd, p3, strlen(p3));
	/* Still open: nothing half-written was published. */
	cr_assert_eq(hotcfg_generation(reader), gen);
	cr_assert(close(fd) == 0);
	cr_assert_eq(wait_after(gen), gen + 1);
	cr_assert_eq(get_int("a"), 2);
	cr_assert_eq(get_int("list[2]"), 30);
	assert_quiet(gen + 1);
	assert_no_error();
}

Test(agent, temp_file_renamed_over_publishes_one_generation)
{
	uint64_t gen = start_on_file("app.yaml", "a: 1\n");

	/* What sed -i does: a temporary in the same directory, renamed. */
	put(in_src("sedAbC123"), "a: 2\n");
	cr_assert(rename(in_src("sedAbC123"), in_src("app.yaml")) == 0);
	cr_assert_eq(wait_after(gen), gen + 1);
	cr_assert_eq(get_int("a"), 2);
	assert_quiet(gen + 1);
	assert_no_error();
}

Test(agent, vim_backup_and_rewrite_publishes_one_generation)
{
	uint64_t gen = start_on_file("app.yaml", "a: 1\n");
	int fd;

	/* vim's default on Unix: a probe file, the original renamed to the
	 * backup, a new file written, its mode set, the backup removed. */
	put(in_src("4913"), "");
	unlink(in_src("4913"));
	cr_assert(rename(in_src("app.yaml"), in_src("app.yaml~")) == 0);
	fd = open(in_src("app.yaml"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0);
	write_all(fd, "a: 2\n", 5);
	cr_assert(fsync(fd) == 0);
	cr_assert(close(fd) == 0);
	cr_assert(chmod(in_src("app.yaml"), 0644) == 0);
	cr_assert(unlink(in_src("app.yaml~")) == 0);
	cr_assert_eq(wait_after(gen), gen + 1);
	cr_assert_eq(get_int("a"), 2);
	assert_quiet(gen + 1);
	assert_no_error();
}

Test(agent, delete_then_recreate_publishes_one_generation)
{
	uint64_t gen = start_on_file("app.yaml", "a: 1\n");

	cr_assert(unlink(in_src("app.yaml")) == 0);
	put(in_src("app.yaml"), "a: 2\n");
	cr_assert_eq(wait_after(gen), gen + 1);
	cr_assert_eq(get_int("a"), 2);
	assert_quiet(gen + 1);
	assert_no_error();
}

Test(agent, writer_that_holds_the_file_open_is_read_after_it_goes_quiet)
{
	uint64_t gen = start_on_file("app.yaml", "a: 1\n");
	hotcfg_status st;
	int fd;

	fd = open(in_src("app.yaml"), O_WRONLY | O_TRUNC);
	cr_assert(fd >= 0);
	write_all(fd, "a: 2\n", 5);
	/* No close: published after the write timeout (1 s). */
	cr_assert_eq(wait_after(gen), gen + 1);
	cr_assert_eq(get_int("a"), 2);
	cr_assert(close(fd) == 0);
	/* The close re-reads the same content: nothing new. */
	assert_quiet(gen + 1);
	status(&st);
	cr_assert_neq(st.outcome, HOTCFG_OUTCOME_ERROR);
}

Test(agent, bad_edit_keeps_the_last_good_snapshot_and_records_line_col)
{
	uint64_t gen = start_on_file("app.yaml", "a: 1\nb: 2\n");
	hotcfg_status st;
	int64_t t = now_ns();

	put(in_src("app.yaml"), "a: 1\nb: [2\nc: 3\n");
	wait_outcome(HOTCFG_OUTCOME_ERROR, t, &st);
	cr_assert(strstr(st.source, "app.yaml") != NULL, "%s", st.source);
	cr_assert_eq(st.line, 3, "line %u", st.line);
	cr_assert_gt(st.column, 0);
	cr_assert(st.message[0] != '\0');
	cr_assert_eq(st.generation, gen);
	cr_assert_eq(st.nsources, 1);
	cr_assert_str_eq(st.sources[0].state, "error");
	cr_assert_eq(hotcfg_generation(reader), gen);
	cr_assert_eq(get_int("b"), 2);
	cr_assert(strstr(logtext(), "level=error event=error") != NULL);

	/* A duplicate key is an error too. */
	t = now_ns();
	put(in_src("app.yaml"), "a: 1\na: 2\n");
	wait_outcome(HOTCFG_OUTCOME_ERROR, t, &st);
	cr_assert_eq(st.line, 2, "line %u: %s", st.line, st.message);

	/* The next good edit recovers. */
	t = now_ns();
	put(in_src("app.yaml"), "a: 5\n");
	cr_assert_eq(wait_after(gen), gen + 1);
	cr_assert_eq(get_int("a"), 5);
	cr_assert(!has_key("b"));
	wait_outcome(HOTCFG_OUTCOME_OK, t, &st);
	cr_assert_str_eq(st.sources[0].state, "ok");
	assert_quiet(gen + 1);
}

/* Two errors while b.yaml is broken: the first read b.yaml, the second
 * a.yaml.  Both error lines name b.yaml, the source in error, not the
 * one that was read. */
Test(agent, error_line_names_the_broken_source_not_the_one_read)
{
	hotcfg_status st;
	int64_t t;
	int i, n = 0;

	put(in_src("a.yaml"), "x: 1\n");
	put(in_src("b.yaml"), "y: 1\n");
	start((const char *const[]){ in_src("a.yaml"), in_src("b.yaml"),
	    NULL });
	wait_after(0);
	t = now_ns();
	put(in_src("b.yaml"), "y: [1\n");
	wait_outcome(HOTCFG_OUTCOME_ERROR, t, &st);
	t = now_ns();
	put(in_src("a.yaml"), "x: 2\n");
	wait_outcome(HOTCFG_OUTCOME_ERROR, t, &st);
	cr_assert(strstr(st.source, "b.yaml") != NULL, "%s", st.source);
	/* (The log line follows the status record.) */
	for (i = 0; i < 500 && (n = count(logtext(), "event=error ")) < 2;
	    i++)
		usleep(10000);
	cr_assert_eq(n, 2, "%s", logtext());
	cr_assert_eq(count(logtext(), fmt("event=error source=%s ",
	    in_src("b.yaml"))), 2, "%s", logtext());
	cr_assert_eq(get_int("x"), 1, "nothing published meanwhile");
}

Test(agent, limit_breach_is_not_published)
{
	char conf[256];
	hotcfg_status st;
	uint64_t gen;
	int64_t t;

	snprintf(conf, sizeof(conf), "%s", in_src("hotcfgd.yaml"));
	put(in_src("app.yaml"), "a: {b: {c: 1}}\n");
	put(conf, "limits:\n  max_depth: 4\nsources: [app.yaml]\n");
	start((const char *const[]){ "-c", conf, NULL });
	gen = wait_after(0);
	t = now_ns();
	put(in_src("app.yaml"), "a: {b: {c: {d: {e: {f: 1}}}}}\n");
	wait_outcome(HOTCFG_OUTCOME_ERROR, t, &st);
	cr_assert_eq(hotcfg_generation(reader), gen);
	cr_assert_eq(get_int("a.b.c"), 1);
}

Test(agent, required_file_deleted_for_good_is_reported_and_waited_for)
{
	uint64_t gen = start_on_file("app.yaml", "a: 1\n");
	hotcfg_status st;
	int64_t t = now_ns();

	cr_assert(unlink(in_src("app.yaml")) == 0);
	wait_outcome(HOTCFG_OUTCOME_ERROR, t, &st);
	cr_assert_str_eq(st.sources[0].state, "missing");
	cr_assert_eq(get_int("a"), 1);
	cr_assert_eq(hotcfg_generation(reader), gen);
	put(in_src("app.yaml"), "a: 3\n");
	cr_assert_eq(wait_after(gen), gen + 1);
	cr_assert_eq(get_int("a"), 3);
	assert_quiet(gen + 1);
}

Test(agent, required_source_missing_at_start_is_waited_for)
{
	hotcfg_status st;
	const hotcfg_snap *s;

	start((const char *const[]){ in_src("later.yaml"), NULL });
	wait_outcome(HOTCFG_OUTCOME_ERROR, 0, &st);
	cr_assert_str_eq(st.sources[0].state, "missing");
	cr_assert_eq(hotcfg_snapshot(reader, &s), HOTCFG_ENOTPUB);
	put(in_src("later.yaml"), "a: 1\n");
	cr_assert_eq(wait_after(0), 1);
	cr_assert_eq(get_int("a"), 1);
	assert_quiet(1);
}

Test(agent, optional_source_appears_later_even_in_a_new_directory)
{
	char conf[256];
	uint64_t gen;

	snprintf(conf, sizeof(conf), "%s", in_src("hotcfgd.yaml"));
	put(in_src("base.yaml"), "a: 1\nb: 1\n");
	put(conf, "sources:\n  - base.yaml\n  - file: sub/dir/over.yaml\n"
	    "    optional: true\n");
	start((const char *const[]){ "-c", conf, NULL });
	gen = wait_after(0);
	wait_state(1, "absent");
	cr_assert_eq(get_int("b"), 1);

	cr_assert(mkdir(in_src("sub"), 0755) == 0);
	cr_assert(mkdir(in_src("sub/dir"), 0755) == 0);
	/* The new directories alone change nothing. */
	assert_quiet(gen);
	put(in_src("sub/dir/over.yaml"), "b: 2\n");
	cr_assert_eq(wait_after(gen), gen + 1);
	cr_assert_eq(get_int("a"), 1);
	cr_assert_eq(get_int("b"), 2);
	assert_quiet(gen + 1);
	wait_state(1, "ok");
}

Test(agent, symlink_swapped_to_a_new_target_publishes_one_generation)
{
	uint64_t gen;

	cr_assert(mkdir(in_src("versions"), 0755) == 0);
	put(in_src("versions/v1.yaml"), "v: 1\n");
	put(in_src("versions/v2.yaml"), "v: 2\n");
	cr_assert(symlink("versions/v1.yaml", in_src("app.yaml")) == 0);
	start((const char *const[]){ in_src("app.yaml"), NULL });
	gen = wait_after(0);
	cr_assert_eq(get_int("v"), 1);

	/* An atomic swap: a new link renamed over the old one. */
	cr_assert(symlink("versions/v2.yaml", in_src("app.yaml.tmp")) == 0);
	cr_assert(rename(in_src("app.yaml.tmp"), in_src("app.yaml")) == 0);
	cr_assert_eq(wait_after(gen), gen + 1);
	cr_assert_eq(get_int("v"), 2);
	assert_quiet(gen + 1);

	/* The target edited in place, in its own directory. */
	put(in_src("versions/v2.yaml"), "v: 3\n");
	cr_assert_eq(wait_after(gen + 1), gen + 2);
	cr_assert_eq(get_int("v"), 3);
	assert_quiet(gen + 2);

	/* The old target changes: not ours any more. */
	put(in_src("versions/v1.yaml"), "v: 9\n");
	assert_quiet(gen + 2);
	assert_no_error();
}

Test(agent, directory_source_merges_files_and_ignores_temporaries)
{
	char dir[256];
	uint64_t gen;

	snprintf(dir, sizeof(dir), "%s", in_src("conf.d"));
	cr_assert(mkdir(dir, 0755) == 0);
	put(fmt("%s/10-base.yaml", dir), "a: 1\nb: 1\n");
	put(fmt("%s/20-over.yaml", dir), "b: 2\n");
	put(fmt("%s/motd", dir), "hello\n");
	start((const char *const[]){ dir, NULL });
	gen = wait_after(0);
	cr_assert_eq(get_int("a"), 1);
	cr_assert_eq(get_int("b"), 2);
	cr_assert_str_eq(get_str("motd"), "hello\n");

	/* sed -i on a file of the directory: its temporary is a visible
	 * name of the directory, but it must never be published. */
	put(fmt("%s/sedXy12Z", dir), "b: 3\n");
	cr_assert(rename(fmt("%s/sedXy12Z", dir),
	    fmt("%s/20-over.yaml", dir)) == 0);
	cr_assert_eq(wait_after(gen), gen + 1);
	cr_assert_eq(get_int("b"), 3);
	cr_assert(!has_key("sedXy12Z"));
	assert_quiet(gen + 1);

	/* An editor's swap file is hidden: nothing happens. */
	put(fmt("%s/.20-over.yaml.swp", dir), "garbage: [");
	assert_quiet(gen + 1);

	/* A new file: one generation. */
	put(fmt("%s/30-new.yaml", dir), "c: 1\n");
	cr_assert_eq(wait_after(gen + 1), gen + 2);
	cr_assert_eq(get_int("c"), 1);
	assert_quiet(gen + 2);
	assert_no_error();
}

Test(agent, vim_save_in_a_directory_source_publishes_one_generation)
{
	char dir[256];
	uint64_t gen;
	int fd;

	snprintf(dir, sizeof(dir), "%s", in_src("conf.d"));
	cr_assert(mkdir(dir, 0755) == 0);
	put(fmt("%s/app.yaml", dir), "a: 1\n");
	start((const char *const[]){ dir, NULL });
	gen = wait_after(0);

	/* The backup is a visible name of the directory for a moment. */
	cr_assert(rename(fmt("%s/app.yaml", dir),
	    fmt("%s/app.yaml~", dir)) == 0);
	fd = open(fmt("%s/app.yaml", dir), O_WRONLY | O_CREAT | O_TRUNC,
	    0600);
	cr_assert(fd >= 0);
	write_all(fd, "a: 2\n", 5);
	cr_assert(close(fd) == 0);
	cr_assert(chmod(fmt("%s/app.yaml", dir), 0644) == 0);
	cr_assert(unlink(fmt("%s/app.yaml~", dir)) == 0);
	cr_assert_eq(wait_after(gen), gen + 1);
	cr_assert_eq(get_int("a"), 2);
	cr_assert(!has_key("app.yaml~"));
	assert_quiet(gen + 1);
	assert_no_error();
}

Test(agent, periodic_rescan_of_unchanged_sources_reads_and_publishes_nothing)
{
	char conf[256];
	hotcfg_status st, st2;
	uint64_t gen;

	snprintf(conf, sizeof(conf), "%s", in_src("hotcfgd.yaml"));
	cr_assert(mkdir(in_src("conf.d"), 0755) == 0);
	put(in_src("conf.d/a.yaml"), "a: 1\n");
	put(in_src("app.yaml"), "b: 1\n");
	put(conf, "rescan: 20ms\nsources: [conf.d, app.yaml]\n");
	start((const char *const[]){ "-c", conf, NULL });
	gen = wait_after(0);
	wait_outcome(HOTCFG_OUTCOME_OK, 0, &st);
	/* Many rescans later: no generation, not even an "unchanged"
	 * rebuild (the rescan compares identities and reads nothing). */
	assert_quiet(gen);
	status(&st2);
	cr_assert_eq(st2.outcome, HOTCFG_OUTCOME_OK);
	cr_assert_eq(st2.outcome_ns, st.outcome_ns);
	cr_assert(strstr(logtext(), "event=unchanged") == NULL, "%s",
	    logtext());
}

Test(agent, watched_directory_removed_and_recreated_is_watched_again)
{
	char dir[256];
	uint64_t gen;

	snprintf(dir, sizeof(dir), "%s", in_src("conf.d"));
	cr_assert(mkdir(dir, 0755) == 0);
	put(fmt("%s/a.yaml", dir), "a: 1\n");
	start((const char *const[]){ dir, NULL });
	gen = wait_after(0);

	rm_rf(dir);
	cr_assert(mkdir(dir, 0755) == 0);
	put(fmt("%s/a.yaml", dir), "a: 2\n");
	for (;;) {
		gen = wait_after(gen);
		if (has_key("a") && get_int("a") == 2)
			break;
	}
	/* And the new directory is watched. */
	put(fmt("%s/a.yaml", dir), "a: 3\n");
	gen = wait_after(gen);
	cr_assert_eq(get_int("a"), 3);
	assert_quiet(gen);
}

/*
 * The kubelet's atomic writer, step by step as it updates a ConfigMap
 * volume: the new data in a fresh timestamped hidden directory, a
 * ..data_tmp symlink to it renamed over ..data, visible symlinks through
 * ..data for new keys, stale visible names removed, then the previous
 * timestamped directory removed.
 */
static char kube_ts[128];

static void
kubelet_write(const char *dir, const char *const *kv)
{
	char ts[128], old[128];
	const char *const *p;
	struct timespec now;
	struct tm tm;
	DIR *d;
	struct dirent *de;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "..%Y_%m_%d_%H_%M_%S", &tm);
	snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%09ld",
	    now.tv_nsec);
	cr_assert(mkdir(fmt("%s/%s", dir, ts), 0755) == 0);
	for (p = kv; *p != NULL; p += 2)
		put(fmt("%s/%s/%s", dir, ts, p[0]), p[1]);
	unlink(fmt("%s/..data_tmp", dir));
	cr_assert(symlink(ts, fmt("%s/..data_tmp", dir)) == 0);
	cr_assert(rename(fmt("%s/..data_tmp", dir),
	    fmt("%s/..data", dir)) == 0);
	for (p = kv; *p != NULL; p += 2) {
		const char *link = fmt("%s/%s", dir, p[0]);

		if (access(link, F_OK) != 0)
			cr_assert(symlink(fmt("..data/%s", p[0]), link) == 0);
	}
	/* Visible names whose key is gone. */
	cr_assert((d = opendir(dir)) != NULL);
	while ((de = readdir(d)) != NULL) {
		bool keep = de->d_name[0] == '.';

		for (p = kv; *p != NULL && !keep; p += 2)
			keep = strcmp(de->d_name, p[0]) == 0;
		if (!keep)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	snprintf(old, sizeof(old), "%s", kube_ts);
	if (old[0] != '\0')
		rm_rf(fmt("%s/%s", dir, old));
	snprintf(kube_ts, sizeof(kube_ts), "%s", ts);
}

Test(agent, kubelet_atomic_writer_publishes_one_generation_per_update)
{
	char dir[256];
	hotcfg_status st;
	uint64_t gen;

	snprintf(dir, sizeof(dir), "%s", in_src("configmap"));
	cr_assert(mkdir(dir, 0755) == 0);
	kubelet_write(dir, (const char *const[]){
	    "app.yaml", "a: 1\nb: 1\n", "motd", "v1", NULL });
	start((const char *const[]){ dir, NULL });
	gen = wait_after(0);
	cr_assert_eq(get_int("a"), 1);
	cr_assert_str_eq(get_str("motd"), "v1");

	/* Values change. */
	kubelet_write(dir, (const char *const[]){
	    "app.yaml", "a: 2\nb: 1\n", "motd", "v2", NULL });
	cr_assert_eq(wait_after(gen), gen + 1);
	cr_assert_eq(get_int("a"), 2);
	cr_assert_str_eq(get_str("motd"), "v2");
	assert_quiet(gen + 1);

	/* A key is added and another removed in one update. */
	kubelet_write(dir, (const char *const[]){
	    "app.yaml", "a: 3\n", "extra.json", "{\"e\": 1}", NULL });
	cr_assert_eq(wait_after(gen + 1), gen + 2);
	cr_assert_eq(get_int("a"), 3);
	cr_assert_eq(get_int("e"), 1);
	cr_assert(!has_key("motd"));
	cr_assert(!has_key("b"));
	assert_quiet(gen + 2);

	status(&st);
	cr_assert_neq(st.outcome, HOTCFG_OUTCOME_ERROR, "%s", st.message);
	cr_assert_str_eq(st.sources[0].state, "ok");
}

Test(agent, kubelet_file_source_through_the_volume_follows_updates)
{
	char dir[256];
	uint64_t gen;

	snprintf(dir, sizeof(dir), "%s", in_src("configmap"));
	cr_assert(mkdir(dir, 0755) == 0);
	kubelet_write(dir, (const char *const[]){ "app.yaml", "a: 1\n",
	    NULL });
	/* One key of the volume as a file source (the visible symlink). */
	start((const char *const[]){ fmt("%s/app.yaml", dir), NULL });
	gen = wait_after(0);
	cr_assert_eq(get_int("a"), 1);
	kubelet_write(dir, (const char *const[]){ "app.yaml", "a: 2\n",
	    NULL });
	cr_assert_eq(wait_after(gen), gen + 1);
	cr_assert_eq(get_int("a"), 2);
	assert_quiet(gen + 1);
	kubelet_write(dir, (const char *const[]){ "app.yaml", "a: 3\n",
	    NULL });
	cr_assert_eq(wait_after(gen + 1), gen + 2);
	cr_assert_eq(get_int("a"), 3);
	assert_quiet(gen + 2);
	assert_no_error();
}

Test(agent, only_the_changed_source_is_read_and_layers_stay_ordered)
{
	uint64_t gen;
	hotcfg_status st;

	put(in_src("a.yaml"), "x: 1\ny: 1\nz: 1\n");
	put(in_src("b.yaml"), "y: 2\nz: 2\n");
	put(in_src("c.yaml"), "z: 3\n");
	start((const char *const[]){ "-v", in_src("a.yaml"),
	    in_src("b.yaml"), in_src("c.yaml"), NULL });
	gen = wait_after(0);
	cr_assert_eq(get_int("x"), 1);
	cr_assert_eq(get_int("y"), 2);
	cr_assert_eq(get_int("z"), 3);
	cr_assert_eq(hotcfg_snap_nsources(snap()), 3);

	/* The middle layer changes: the others are kept as they were. */
	put(in_src("b.yaml"), "x: 20\ny: 20\nz: 20\n");
	gen = wait_after(gen);
	cr_assert_eq(get_int("x"), 20);
	cr_assert_eq(get_int("y"), 20);
	cr_assert_eq(get_int("z"), 3);
	assert_quiet(gen);
	status(&st);
	cr_assert_eq(st.nsources, 3);
	cr_assert_str_eq(st.sources[2].state, "ok");
	cr_assert(strstr(st.sources[1].name, "b.yaml") != NULL);
	/* a.yaml and c.yaml were read once, at start; b.yaml twice. */
	cr_assert_eq(count(logtext(), fmt("event=read source=%s ",
	    in_src("a.yaml"))), 1, "%s", logtext());
	cr_assert_eq(count(logtext(), fmt("event=read source=%s ",
	    in_src("b.yaml"))), 2, "%s", logtext());
	cr_assert_eq(count(logtext(), fmt("event=read source=%s ",
	    in_src("c.yaml"))), 1, "%s", logtext());
}

/* ------------------------------------------------------------------ */
/* The log.                                                             */
/* ------------------------------------------------------------------ */

Test(agent, log_lines_are_key_value_and_names_cannot_forge_lines)
{
	char evil[256];
	char *text, *line, *save = NULL;
	uint64_t gen;

	snprintf(evil, sizeof(evil), "%s",
	    in_src("x\nts=forged level=error event=pwned\n.yaml"));
	put(evil, "a: 1\n");
	start((const char *const[]){ evil, NULL });
	gen = wait_after(0);
	put(evil, "a: [\n");    /* an error line naming the file too */
	usleep(QUIET_US);
	put(evil, "a: 2\n");
	wait_after(gen);
	text = slurp(logpath);
	cr_assert(strstr(text, "event=start") != NULL, "%s", text);
	cr_assert(strstr(text, "event=reload") != NULL, "%s", text);
	cr_assert(strstr(text, "generation=") != NULL, "%s", text);
	cr_assert(strstr(text, "entries=") != NULL, "%s", text);
	cr_assert(strstr(text, "bytes=") != NULL, "%s", text);
	cr_assert(strstr(text, "duration_ms=") != NULL, "%s", text);
	cr_assert(strstr(text, "\\nts=forged") != NULL, "%s", text);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		cr_assert(strncmp(line, "ts=20", 5) == 0 &&
		    strstr(line, " level=") != NULL &&
		    strstr(line, " event=") != NULL,
		    "not a log line: %s", line);
	free(text);
}

/* ------------------------------------------------------------------ */
/* Pieces of the agent, without a process.                              */
/* ------------------------------------------------------------------ */

Test(agent_unit, log_values_are_escaped_and_quoted)
{
	char buf[256];

	log_escape(buf, sizeof(buf), "plain/path.yaml");
	cr_assert_str_eq(buf, "plain/path.yaml");
	log_escape(buf, sizeof(buf), "two words");
	cr_assert_str_eq(buf, "\"two words\"");
	log_escape(buf, sizeof(buf), "a\nts=x level=error");
	cr_assert_str_eq(buf, "\"a\\nts=x level=error\"");
	log_escape(buf, sizeof(buf), "q\"b\\\x1b[2J\r\t");
	cr_assert_str_eq(buf, "\"q\\\"b\\\\\\x1b[2J\\r\\t\"");
	log_escape(buf, sizeof(buf), "");
	cr_assert_str_eq(buf, "\"\"");
	log_escape(buf, sizeof(buf), "k=v");
	cr_assert_str_eq(buf, "\"k=v\"");
	/* UTF-8 passes, C1 controls do not. */
	log_escape(buf, sizeof(buf), "caf\xc3\xa9 \xc2\x9b");
	cr_assert_str_eq(buf, "\"caf\xc3\xa9 \\xc2\\x9b\"");
	/* Cut short, still quoted, never half an escape. */
	log_escape(buf, 8, "\n\n\n\n\n");
	cr_assert_str_eq(buf, "\"\\n\\n\"");
}

Test(agent_unit, durations_and_sizes_parse_with_units)
{
	int64_t ns;
	uint64_t b;

	cr_assert_eq(conf_parse_duration("50ms", &ns), 0);
	cr_assert_eq(ns, 50000000);
	cr_assert_eq(conf_parse_duration("1.5s", &ns), 0);
	cr_assert_eq(ns, 1500000000);
	cr_assert_eq(conf_parse_duration("2", &ns), 0);
	cr_assert_eq(ns, 2000000000);
	cr_assert_eq(conf_parse_duration("2m", &ns), 0);
	cr_assert_eq(ns, 120000000000);
	cr_assert_eq(conf_parse_duration("0", &ns), 0);
	cr_assert_eq(ns, 0);
	cr_assert_eq(conf_parse_duration("-1s", &ns), -EINVAL);
	cr_assert_eq(conf_parse_duration("1 s", &ns), -EINVAL);
	cr_assert_eq(conf_parse_duration("soon", &ns), -EINVAL);
	cr_assert_eq(conf_parse_duration("2d", &ns), -EINVAL);
	cr_assert_eq(conf_parse_size("4096", &b), 0);
	cr_assert_eq(b, 4096);
	cr_assert_eq(conf_parse_size("64MiB", &b), 0);
	cr_assert_eq(b, 64u << 20);
	cr_assert_eq(conf_parse_size("1k", &b), 0);
	cr_assert_eq(b, 1024);
	cr_assert_eq(conf_parse_size("1.5M", &b), -EINVAL);
	cr_assert_eq(conf_parse_size("-1", &b), -EINVAL);
	cr_assert_eq(conf_parse_size("99999999999999999999", &b), -EINVAL);
}

Test(agent_unit, config_file_keys_defaults_and_errors)
{
	struct agent_conf c;
	struct cfg_error err;
	const char *good =
	    "name: demo\nhistory: 4\ndebounce: 10ms\nwrite_timeout: 2s\n"
	    "delete_grace: 100ms\nrescan: 0\nheartbeat: 500ms\n"
	    "log: {level: debug, file: /tmp/x.log}\n"
	    "limits: {max_file: 1MiB, max_depth: 10, max_nodes: 100, "
	    "max_key: 256}\n"
	    "sources:\n  - a.yaml\n  - dir: conf.d\n    prefix: app.x\n"
	    "    optional: true\n  - configmap: ns/cm\n";

	conf_init(&c);
	cr_assert_eq(c.history, 2);
	cr_assert_eq(c.delete_grace_ns, 50000000);
	cr_assert_eq(c.write_timeout_ns, 1000000000);
	cr_assert_eq(c.rescan_ns, 60000000000);
	cr_assert_eq(c.debounce_ns, 0);
	cr_assert_eq(conf_parse(&c, "/etc/hotcfgd.yaml", good, strlen(good),
	    &err), 0, "%u:%u: %s", err.line, err.col, err.msg);
	cr_assert_str_eq(c.name, "demo");
	cr_assert_eq(c.history, 4);
	cr_assert_eq(c.debounce_ns, 10000000);
	cr_assert_eq(c.rescan_ns, 0);
	cr_assert_eq(c.log_level, LOGL_DEBUG);
	cr_assert_eq(c.limits.max_file, 1u << 20);
	cr_assert_eq(c.limits.max_depth, 10);
	cr_assert_eq(c.nsrc, 3);
	cr_assert_str_eq(c.src[0].path, "/etc/a.yaml");
	cr_assert_eq(c.src[0].kind, SRC_PATH);
	cr_assert_eq(c.src[1].kind, SRC_DIR);
	cr_assert_str_eq(c.src[1].path, "/etc/conf.d");
	cr_assert_str_eq(c.src[1].prefix, "app.x");
	cr_assert(c.src[1].optional);
	cr_assert_eq(c.src[2].kind, SRC_CONFIGMAP);
	cr_assert_str_eq(c.src[2].name, "configmap:ns/cm");
	conf_free(&c);

	static const struct { const char *text; unsigned line, col;
	    const char *what; } bad[] = {
		{ "nmae: x\n", 1, 1, "unknown key" },
		{ "name: a/b\n", 1, 7, "not a name" },
		{ "history: many\n", 1, 10, "whole number" },
		{ "sources:\n  - file: a\n    dir: b\n", 3, 5, "use one" },
		{ "sources:\n  - prefix: a\n", 2, 5, "give one of" },
		{ "sources:\n  - file: a\n    prefix: a..b\n", 3, 13,
		  "not a key path" },
		{ "sources:\n  - configmap: nope\n", 2, 5, "NAMESPACE" },
		{ "log:\n  level: loud\n", 2, 10, "log.level" },
		{ "limits:\n  max_key: 1\n", 2, 12, "out of range" },
		{ "name: a\nname: b\n", 2, 1, "duplicate" },
		{ "a: &x 1\nb: *x\n", 1, 4, "anchors" },
		{ "a: 1\nb: *x\n", 2, 4, "aliases" },
		{ "history: !!int 3\n", 1, 10, "tags" },
		{ "log: !!map {level: info}\n", 1, 6, "tags" },
		{ "name: [\n", 2, 1, "" },
		{ "name: a\ndir: /b\n", 1, 1, "not both" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		conf_init(&c);
		memset(&err, 0, sizeof(err));
		cr_assert_eq(conf_parse(&c, "h.yaml", bad[i].text,
		    strlen(bad[i].text), &err), -EINVAL, "%s", bad[i].text);
		cr_assert_str_eq(err.source, "h.yaml");
		cr_assert(err.line == bad[i].line && err.col == bad[i].col,
		    "%s: got %u:%u: %s", bad[i].text, err.line, err.col,
		    err.msg);
		cr_assert(strstr(err.msg, bad[i].what) != NULL, "%s: %s",
		    bad[i].text, err.msg);
		conf_free(&c);
	}
}

Test(agent_unit, pending_board_coalesces_and_respects_holds)
{
	struct pending *p;
	int how[3];
	int64_t next;

	cr_assert_eq(pending_new(&p, 3), 0);
	cr_assert_eq(pending_take(p, 100, how, &next), 0);
	cr_assert_eq(next, INT64_MAX);

	/* Several posts before a take: one read. */
	pending_post(p, 0, PEND_CHECK, 100, -1);
	pending_post(p, 0, PEND_READ, 100, -1);
	pending_post(p, 0, PEND_CHECK, 100, -1);
	cr_assert_eq(pending_take(p, 100, how, &next), 1);
	cr_assert_eq(how[0], PEND_READ);
	cr_assert_eq(how[1], PEND_NONE);
	cr_assert_eq(pending_take(p, 100, how, &next), 0);

	/* The latest due time decides; a writer hold delays it. */
	pending_post(p, 1, PEND_CHECK, 150, -1);
	pending_post(p, 1, PEND_READ, 120, 300);
	cr_assert_eq(pending_take(p, 200, how, &next), 0);
	cr_assert_eq(next, 300);
	pending_post(p, 1, PEND_READ, 210, 0);  /* the writer closed */
	cr_assert_eq(pending_take(p, 210, how, &next), 1);
	cr_assert_eq(how[1], PEND_READ);

	/* A rescan does not cut a grace window short. */
	pending_post(p, 2, PEND_CHECK, 500, -1);
	pending_post_all(p, PEND_CHECK, 400);
	cr_assert_eq(pending_take(p, 400, how, &next), 2);
	cr_assert_eq(how[2], PEND_NONE);
	cr_assert_eq(next, 500);
	pending_free(p);
}
