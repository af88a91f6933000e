/*
 * test_cli.c - the hotcfg command against a real hotcfgd.
 *
 * Each test gets a temporary directory holding two source files (copies of
 * tests/golden/cli-app.yaml and cli-override.yaml, named app.yaml and
 * override.yaml so that the source names in the output do not depend on
 * where the test runs) and starts the real agent (HOTCFG_BUILD/hotcfgd)
 * there, publishing into <tmp>/pub.  The hotcfg binary then runs as a real
 * process and its exit code, stdout and stderr are checked.
 *
 * Output that matters is compared with golden files in tests/golden/; run
 * with HOTCFG_UPDATE_GOLDEN=1 to rewrite them after an intended change, and
 * read the diff before committing it.
 *
 * Where a test must know that a background `hotcfg watch` or `hotcfg wait`
 * is already asleep before it changes anything, it reads
 * /proc/PID/syscall until the process sits in futex(2) (or in poll(2) for
 * the inotify wait for a configuration that does not exist yet): an event,
 * not a guess about timing.
 *
 * A last group checks the dump code in-process, on snapshots built with the
 * builder, for shapes no YAML file produces.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "hotcfg.h"
#include "internal.h"

#define TIMEOUT_MS 20000        /* generous: a loaded CI machine */

static char tmp[256];           /* this test's directory */
static char pub[300];           /* where the agent publishes */
static char hotcfg_bin[PATH_MAX + 64];
static char hotcfgd_bin[PATH_MAX + 64];
static char golden_dir[PATH_MAX + 64];
static pid_t agent = -1;
static pid_t strays[8];         /* background commands, killed at the end */
static size_t nstrays;

/* ------------------------------------------------------------------ */
/* Files                                                                */
/* ------------------------------------------------------------------ */

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap + 1);
			cr_assert_not_null(buf);
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Write a file the way editors do: a temporary file renamed over it. */
static void
put_file(const char *name, const char *text)
{
	char path[512], tmpf[520];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	snprintf(tmpf, sizeof(tmpf), "%s.new", path);
	cr_assert_not_null(f = fopen(tmpf, "w"), "%s: %s", tmpf,
	    strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rename(tmpf, path), 0);
}

static void
copy_golden_source(const char *from, const char *to)
{
	char path[sizeof(golden_dir) + 256];
	char *text;

	snprintf(path, sizeof(path), "%s/%s", golden_dir, from);
	cr_assert_not_null(text = slurp(path, NULL), "%s missing", path);
	put_file(to, text);
	free(text);
}

/* Compare with tests/golden/NAME, or rewrite it under
 * HOTCFG_UPDATE_GOLDEN=1. */
static void
golden(const char *name, const char *got)
{
	char path[sizeof(golden_dir) + 256];
	char *want;

	snprintf(path, sizeof(path), "%s/%s", golden_dir, name);
	if (getenv("HOTCFG_UPDATE_GOLDEN") != NULL) {
		FILE *f = fopen(path, "w");
		cr_assert_not_null(f);
		fputs(got, f);
		fclose(f);
		return;
	}
	want = slurp(path, NULL);
	cr_assert_not_null(want, "golden file %s is missing", path);
	cr_assert_str_eq(got, want, "output differs from %s; got:\n%s", path,
	    got);
	free(want);
}

/* ------------------------------------------------------------------ */
/* Processes                                                            */
/* ------------------------------------------------------------------ */

struct run {
	int code;               /* exit code, or 128 + signal */
	char *out;
	char *err;
};

static void
run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

static int
exit_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

/* Run argv to completion in tmp, capturing stdout and stderr. */
static int
run_argv(struct run *r, char *const argv[])
{
	static unsigned seq;
	char outp[400], errp[400];
	pid_t pid;
	int st;

	memset(r, 0, sizeof(*r));
	snprintf(outp, sizeof(outp), "%s/.out.%u", tmp, seq);
	snprintf(errp, sizeof(errp), "%s/.err.%u", tmp, seq++);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (o < 0 || e < 0 || chdir(tmp) != 0)
			_exit(126);
		dup2(o, 1);
		dup2(e, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	r->code = exit_code(st);
	r->out = slurp(outp, NULL);
	r->err = slurp(errp, NULL);
	cr_assert_not_null(r->out);
	cr_assert_not_null(r->err);
	unlink(outp);
	unlink(errp);
	return r->code;
}

/* hotcfg --dir <pub> ARGS... (NULL-terminated). */
static int
cli(struct run *r, ...)
{
	char *argv[32];
	int n = 0;
	va_list ap;

	argv[n++] = hotcfg_bin;
	argv[n++] = "--dir";
	argv[n++] = pub;
	va_start(ap, r);
	while ((argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	return run_argv(r, argv);
}

/* hotcfg ARGS... with no --dir. */
static int
cli_bare(struct run *r, ...)
{
	char *argv[32];
	int n = 0;
	va_list ap;

	argv[n++] = hotcfg_bin;
	va_start(ap, r);
	while ((argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	return run_argv(r, argv);
}

/* A process in the background whose stdout we read as it comes. */
struct bg {
	pid_t pid;
	int fd;
	char buf[1 << 16];
	size_t len;
	size_t seen;            /* bytes already matched */
};

static void
bg_start(struct bg *b, char *const argv[])
{
	int p[2];

	memset(b, 0, sizeof(*b));
	cr_assert_eq(pipe(p), 0);
	b->pid = fork();
	cr_assert_neq(b->pid, -1);
	if (b->pid == 0) {
		if (chdir(tmp) != 0)
			_exit(126);
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	b->fd = p[0];
	fcntl(b->fd, F_SETFL, O_NONBLOCK);
	if (nstrays < sizeof(strays) / sizeof(strays[0]))
		strays[nstrays++] = b->pid;
}

/* Read until `needle` shows up past what was matched before. */
static bool
bg_expect(struct bg *b, const char *needle)
{
	int64_t deadline = hc_mono_ns() + (int64_t)TIMEOUT_MS * 1000000;

	for (;;) {
		char *hit;
		struct pollfd pfd = { .fd = b->fd, .events = POLLIN };
		int64_t left;
		ssize_t n;

		b->buf[b->len] = '\0';
		if ((hit = strstr(b->buf + b->seen, needle)) != NULL) {
			b->seen = (size_t)(hit - b->buf) + strlen(needle);
			return true;
		}
		left = (deadline - hc_mono_ns()) / 1000000;
		if (left <= 0 || b->len + 1 >= sizeof(b->buf))
			return false;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = read(b->fd, b->buf + b->len, sizeof(b->buf) - 1 - b->len);
		if (n == 0)
			return false;   /* it exited */
		if (n > 0)
			b->len += (size_t)n;
	}
}

/* Wait for a background process to exit; its exit code. */
static int
bg_finish(struct bg *b)
{
	int st;

	cr_assert_eq(waitpid(b->pid, &st, 0), b->pid);
	for (size_t i = 0; i < nstrays; i++)
		if (strays[i] == b->pid)
			strays[i] = 0;
	/* Keep what it wrote last. */
	for (;;) {
		ssize_t n = read(b->fd, b->buf + b->len,
		    sizeof(b->buf) - 1 - b->len);
		if (n <= 0)
			break;
		b->len += (size_t)n;
	}
	b->buf[b->len] = '\0';
	close(b->fd);
	return exit_code(st);
}

static void
bg_kill(struct bg *b)
{
	kill(b->pid, SIGTERM);
	bg_finish(b);
}

/*
 * Block until process pid sleeps in one of the given system calls, as
 * /proc/PID/syscall tells.  That is how a test knows that a watcher has
 * taken its first snapshot and is waiting for the next.
 */
static bool
sleeps_in(pid_t pid, const long *calls, size_t n)
{
	int64_t deadline = hc_mono_ns() + (int64_t)TIMEOUT_MS * 1000000;
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	while (hc_mono_ns() < deadline) {
		FILE *f = fopen(path, "r");
		long nr = -1;
		if (f == NULL)
			return false;
		if (fgets(buf, sizeof(buf), f) != NULL)
			nr = strtol(buf, NULL, 10);
		fclose(f);
		for (size_t i = 0; i < n; i++)
			if (nr == calls[i])
				return true;
		usleep(2000);
	}
	return false;
}

static bool
sleeps_in_futex(pid_t pid)
{
	static const long calls[] = { SYS_futex };
	return sleeps_in(pid, calls, 1);
}

static bool
sleeps_in_poll(pid_t pid)
{
	static const long calls[] = {
#ifdef SYS_poll
		SYS_poll,
#endif
		SYS_ppoll
	};
	return sleeps_in(pid, calls, sizeof(calls) / sizeof(calls[0]));
}

/* ------------------------------------------------------------------ */
/* The agent                                                            */
/* ------------------------------------------------------------------ */

static uint64_t
generation(void)
{
	hotcfg *h;
	uint64_t g;

	if (hotcfg_open(&h, pub) != 0)
		return 0;
	g = hotcfg_generation(h);
	hotcfg_close(h);
	return g;
}

/* Wait (with hotcfg wait itself) for a generation newer than `after`. */
static uint64_t
wait_newer(uint64_t after)
{
	struct run r;
	char a[32];

	snprintf(a, sizeof(a), "%llu", (unsigned long long)after);
	cr_assert_eq(cli(&r, "wait", "--after", a, "--timeout", "20", NULL),
	    0, "no generation after %s: %s", a, r.err);
	run_free(&r);
	return generation();
}

/* Start hotcfgd on the given sources (relative to tmp); with `settle`,
 * wait for its first publish. */
static void
agent_start_with(bool settle, const char *s1, const char *s2)
{
	char logp[400];

	snprintf(logp, sizeof(logp), "%s/agent.log", tmp);
	agent = fork();
	cr_assert_neq(agent, -1);
	if (agent == 0) {
		int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd < 0 || chdir(tmp) != 0)
			_exit(126);
		dup2(fd, 2);
		dup2(fd, 1);
		execl(hotcfgd_bin, hotcfgd_bin, "--dir", pub, s1, s2,
		    (char *)NULL);
		_exit(127);
	}
	if (settle)
		wait_newer(0);
}

static void
agent_start(void)
{
	agent_start_with(true, "app.yaml", "override.yaml");
}

static void
agent_stop(void)
{
	int st;

	if (agent <= 0)
		return;
	kill(agent, SIGTERM);
	waitpid(agent, &st, 0);
	agent = -1;
}

/* ------------------------------------------------------------------ */
/* Set-up                                                               */
/* ------------------------------------------------------------------ */

static void
setup(void)
{
	const char *b = getenv("HOTCFG_BUILD");
	const char *s = getenv("HOTCFG_SRC");
	char tmpl[] = "/tmp/hotcfg-cli-XXXXXX";
	char rb[PATH_MAX], rs[PATH_MAX];

	cr_assert_not_null(realpath(b ? b : "build", rb),
	    "set HOTCFG_BUILD to the build directory");
	cr_assert_not_null(realpath(s ? s : ".", rs),
	    "set HOTCFG_SRC to the source tree");
	snprintf(hotcfg_bin, sizeof(hotcfg_bin), "%s/hotcfg", rb);
	snprintf(hotcfgd_bin, sizeof(hotcfgd_bin), "%s/hotcfgd", rb);
	snprintf(golden_dir, sizeof(golden_dir), "%s/tests/golden", rs);
	cr_assert_eq(access(hotcfg_bin, X_OK), 0, "%s missing", hotcfg_bin);
	cr_assert_eq(access(hotcfgd_bin, X_OK), 0, "%s missing", hotcfgd_bin);
	cr_assert_not_null(mkdtemp(tmpl));
	snprintf(tmp, sizeof(tmp), "%s", tmpl);
	snprintf(pub, sizeof(pub), "%s/pub", tmp);
	copy_golden_source("cli-app.yaml", "app.yaml");
	copy_golden_source("cli-override.yaml", "override.yaml");
	/* Keep $HOTCFG_NAME and $HOTCFG_ROOT of the caller out of it. */
	unsetenv("HOTCFG_NAME");
	unsetenv("HOTCFG_ROOT");
}

static void
teardown(void)
{
	char cmd[400];

	/* A failed assertion leaves no watcher behind. */
	for (size_t i = 0; i < nstrays; i++) {
		if (strays[i] > 0) {
			kill(strays[i], SIGKILL);
			waitpid(strays[i], NULL, 0);
		}
	}
	agent_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	(void)system(cmd);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 120);
TestSuite(dumpcode, .timeout = 60);

/* ------------------------------------------------------------------ */
/* get                                                                  */
/* ------------------------------------------------------------------ */

static void
expect_get(const char *key, const char *want)
{
	struct run r;

	cr_assert_eq(cli(&r, "get", key, NULL), 0, "get %s: %s", key, r.err);
	cr_assert_str_eq(r.out, want, "get %s", key);
	cr_assert_str_eq(r.err, "");
	run_free(&r);
}

Test(cli, get_prints_each_type_in_its_documented_form)
{
	agent_start();
	expect_get("name", "demo\n");                   /* strings raw */
	expect_get("strings.number_like", "123\n");
	expect_get("strings.multiline", "first line\nsecond line\n");
	expect_get("strings.no_final_newline", "a\nb\n");
	expect_get("strings.empty", "\n");
	expect_get("port", "9090\n");                   /* the override */
	expect_get("negative", "-42\n");
	expect_get("ratio", "0.25\n");
	expect_get("huge", "1e+300\n");
	expect_get("up", ".inf\n");
	expect_get("nan", ".nan\n");
	expect_get("enabled", "true\n");
	expect_get("nothing", "null\n");
	expect_get("blob", "aGVsbG8sIHdvcmxk\n");       /* base64 */
	expect_get("empty_blob", "\n");
	expect_get("keys.dotted\\.key", "1\n");         /* escaped keys */
	expect_get("keys.brackets\\[0\\]", "2\n");
	expect_get("keys.back\\\\slash", "3\n");
	expect_get("list[10]", "10\n");
}

Test(cli, get_map_or_seq_prints_the_subtree_as_yaml)
{
	agent_start();
	expect_get("servers", "- host: omega\n  port: 99\n");
	expect_get("db", "pool: 8\nurl: postgres://db:5432/app\n");
	expect_get("empty_map", "{}\n");
	expect_get("empty_list", "[]\n");
}

Test(cli, get_type_prints_the_type_name_on_its_own_line_first)
{
	struct run r;

	agent_start();
	cr_assert_eq(cli(&r, "get", "--type", "port", NULL), 0);
	cr_assert_str_eq(r.out, "int\n9090\n");
	run_free(&r);
	cr_assert_eq(cli(&r, "get", "strings.number_like", "--type", NULL), 0);
	cr_assert_str_eq(r.out, "str\n123\n");
	run_free(&r);
	cr_assert_eq(cli(&r, "get", "--type", "db", NULL), 0);
	cr_assert_str_eq(r.out, "map\npool: 8\nurl: postgres://db:5432/app\n");
	run_free(&r);
	cr_assert_eq(cli(&r, "get", "--type", "blob", NULL), 0);
	cr_assert_str_eq(r.out, "bytes\naGVsbG8sIHdvcmxk\n");
	run_free(&r);
	cr_assert_eq(cli(&r, "get", "--type", "tiny", NULL), 0);
	cr_assert_str_eq(r.out, "float\n-0.0\n");
	run_free(&r);
}

Test(cli, get_missing_key_exits_1_and_names_the_directory)
{
	struct run r;

	agent_start();
	cr_assert_eq(cli(&r, "get", "no.such.key", NULL), 1);
	cr_assert_str_eq(r.out, "");
	cr_assert_not_null(strstr(r.err, "no key 'no.such.key'"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, pub), "%s", r.err);
	run_free(&r);
	/* A prefix of a key is not a key. */
	cr_assert_eq(cli(&r, "get", "serv", NULL), 1);
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* dump: every format, golden files                                     */
/* ------------------------------------------------------------------ */

static void
expect_dump_golden(const char *golden_name, ...)
{
	char *argv[32];
	int n = 0;
	va_list ap;
	struct run r;

	argv[n++] = hotcfg_bin;
	argv[n++] = "--dir";
	argv[n++] = pub;
	argv[n++] = "dump";
	va_start(ap, golden_name);
	while ((argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	cr_assert_eq(run_argv(&r, argv), 0, "%s: %s", golden_name, r.err);
	cr_assert_str_eq(r.err, "");
	golden(golden_name, r.out);
	run_free(&r);
}

Test(cli, dump_flat_is_the_golden_flat_listing)
{
	agent_start();
	expect_dump_golden("cli-dump.flat", NULL);
	expect_dump_golden("cli-dump.flat", "--format", "flat", NULL);
}

Test(cli, dump_json_is_the_golden_tree)
{
	agent_start();
	expect_dump_golden("cli-dump.json", "--format", "json", NULL);
}

Test(cli, dump_yaml_is_the_golden_tree)
{
	agent_start();
	expect_dump_golden("cli-dump.yaml", "--format", "yaml", NULL);
}

Test(cli, dump_sources_says_which_source_set_each_key_in_every_format)
{
	agent_start();
	expect_dump_golden("cli-dump-sources.flat", "--sources", NULL);
	expect_dump_golden("cli-dump-sources.json", "--sources", "--format",
	    "json", NULL);
	expect_dump_golden("cli-dump-sources.yaml", "--sources", "--format",
	    "yaml", NULL);
}

Test(cli, dump_prefix_dumps_the_subtree_in_every_format)
{
	agent_start();
	expect_dump_golden("cli-dump-prefix.flat", "--prefix", "strings",
	    NULL);
	expect_dump_golden("cli-dump-prefix.json", "--prefix", "strings",
	    "--format", "json", NULL);
	expect_dump_golden("cli-dump-prefix.yaml", "--prefix", "strings",
	    "--format", "yaml", NULL);
}

Test(cli, dump_prefix_of_a_scalar_is_that_value)
{
	struct run r;

	agent_start();
	cr_assert_eq(cli(&r, "dump", "--prefix", "port", "--format", "json",
	    NULL), 0);
	cr_assert_str_eq(r.out, "9090\n");
	run_free(&r);
	cr_assert_eq(cli(&r, "dump", "--prefix", "list[10]", NULL), 0);
	cr_assert_str_eq(r.out, "list[10] = 10\n");
	run_free(&r);
	cr_assert_eq(cli(&r, "dump", "--prefix", "servers[0]", "--format",
	    "yaml", NULL), 0);
	cr_assert_str_eq(r.out, "host: omega\nport: 99\n");
	run_free(&r);
}

Test(cli, dump_json_output_parses_as_json)
{
	struct run r;
	json_error_t je;
	json_t *j;

	agent_start();
	cr_assert_eq(cli(&r, "dump", "--format", "json", NULL), 0);
	j = json_loads(r.out, 0, &je);
	cr_assert_not_null(j, "not JSON: %s at line %d", je.text, je.line);
	cr_assert_eq(json_integer_value(json_object_get(j, "port")), 9090);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(j,
	    "keys"), "dotted.key")), 1);
	cr_assert_eq(json_array_size(json_object_get(j, "list")), 12);
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(j,
	    "list"), 10)), 10);
	json_decref(j);
	run_free(&r);
}

Test(cli, dump_missing_prefix_exits_1)
{
	struct run r;

	agent_start();
	cr_assert_eq(cli(&r, "dump", "--prefix", "nope", NULL), 1);
	cr_assert_str_eq(r.out, "");
	cr_assert_not_null(strstr(r.err, "no key 'nope'"), "%s", r.err);
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* The round trip                                                       */
/* ------------------------------------------------------------------ */

/* hotcfgd --print FORMAT FILE (FILE relative to tmp). */
static void
agent_print(struct run *r, const char *format, const char *file)
{
	char *argv[] = { hotcfgd_bin, "--print", (char *)format,
	    (char *)file, NULL };
	run_argv(r, argv);
	cr_assert_eq(r->code, 0, "hotcfgd --print %s %s: %s", format, file,
	    r->err);
}

Test(cli, yaml_dump_fed_back_to_hotcfgd_gives_the_same_entries)
{
	struct run dump, flat, back;

	agent_start();
	cr_assert_eq(cli(&dump, "dump", "--format", "yaml", NULL), 0);
	put_file("back.yaml", dump.out);
	cr_assert_eq(cli(&flat, "dump", "--format", "flat", NULL), 0);
	agent_print(&back, "flat", "back.yaml");
	cr_assert_str_eq(back.out, flat.out,
	    "the yaml dump does not read back the same:\n%s", dump.out);
	run_free(&dump);
	run_free(&flat);
	run_free(&back);
}

/*
 * JSON has no bytes and no infinities or NaN: those come back as the
 * strings the dump wrote, as documented.  Everything else is identical.
 */
Test(cli, json_dump_fed_back_gives_the_same_but_bytes_and_nonfinite_floats)
{
	static const char *const lossy[][2] = {
		{ "blob = !!binary aGVsbG8sIHdvcmxk",
		  "blob = \"aGVsbG8sIHdvcmxk\"" },
		{ "empty_blob = !!binary", "empty_blob = \"\"" },
		{ "up = .inf", "up = \".inf\"" },
		{ "down = -.inf", "down = \"-.inf\"" },
		{ "nan = .nan", "nan = \".nan\"" },
	};
	struct run dump, flat, back;
	char *want;

	agent_start();
	cr_assert_eq(cli(&dump, "dump", "--format", "json", NULL), 0);
	put_file("back.json", dump.out);
	cr_assert_eq(cli(&flat, "dump", "--format", "flat", NULL), 0);
	agent_print(&back, "flat", "back.json");
	/* The expected read-back: the flat dump with the lossy lines
	 * replaced by what JSON turns them into. */
	want = strdup(flat.out);
	for (size_t i = 0; i < sizeof(lossy) / sizeof(lossy[0]); i++) {
		char line[128], *p, *w;
		snprintf(line, sizeof(line), "\n%s\n", lossy[i][0]);
		p = strstr(want, line);
		cr_assert_not_null(p, "no line '%s' in the flat dump",
		    lossy[i][0]);
		w = malloc(strlen(want) + 64);
		memcpy(w, want, (size_t)(p - want));
		sprintf(w + (p - want), "\n%s\n%s", lossy[i][1],
		    p + strlen(line));
		free(want);
		want = w;
	}
	cr_assert_str_eq(back.out, want,
	    "the json dump does not read back as documented:\n%s", dump.out);
	free(want);
	run_free(&dump);
	run_free(&flat);
	run_free(&back);
}

/* Strings that a careless emitter would get wrong, through a real
 * publish, a yaml dump and hotcfgd --print. */
Test(cli, yaml_round_trip_keeps_awkward_strings_and_keys)
{
	static const char src[] =
	    "s1: \"\"\n"
	    "s2: \" lead\"\n"
	    "s3: \"trail \"\n"
	    "s4: \"\\n\"\n"
	    "s5: \"\\n\\n\"\n"
	    "s6: \" a\\nb\"\n"
	    "s7: \"a \\nb\"\n"
	    "s8: \"trailing\\n \"\n"
	    "s9: \"x\\ty\\n\\tz\\n\"\n"
	    "s10: \"a\\r\\nb\"\n"
	    "s11: \"\\x01\\u0085\\u2028\\ufeff\"\n"
	    "s12: \"~\"\n"
	    "s13: \"0x1F\"\n"
	    "s14: \"0o17\"\n"
	    "s15: \"+1\"\n"
	    "s16: \".5\"\n"
	    "s17: \"1e3\"\n"
	    "s18: \"NULL\"\n"
	    "s19: \"False\"\n"
	    "s20: \"<<\"\n"
	    "s21: \"---\"\n"
	    "s22: \"...\"\n"
	    "s23: \"!tag\"\n"
	    "s24: \"&anchor\"\n"
	    "s25: \"*alias\"\n"
	    "s26: \"@at\"\n"
	    "s27: \"{a: 1}\"\n"
	    "s28: \"[1, 2]\"\n"
	    "s29: \"%percent\"\n"
	    "s30: \"| pipe\"\n"
	    "s31: \"99999999999999999999\"\n"
	    "s32: \"-.inf\"\n"
	    "f1: 5e-324\n"
	    "f2: 1.7976931348623157e308\n"
	    "f3: 0.1\n"
	    "f4: 100.0\n"
	    "i1: -9223372036854775808\n"
	    "i2: 0x1F\n"
	    "i3: 0o17\n"
	    "keys:\n"
	    "  \"<<\": merge-looking key\n"
	    "  \"null\": null-looking key\n"
	    "  \"123\": number-looking key\n"
	    "  \"multi\\nline\": 1\n"
	    "  \"a.b[0]\\\\c\": 2\n"
	    "  \"\": 3\n"
	    "  \"? q\": 4\n"
	    "  \"- d\": 5\n";
	struct run dump, flat, back;

	put_file("app.yaml", src);
	put_file("override.yaml", "");
	agent_start();
	cr_assert_eq(cli(&dump, "dump", "--format", "yaml", NULL), 0, "%s",
	    dump.err);
	put_file("back.yaml", dump.out);
	cr_assert_eq(cli(&flat, "dump", NULL), 0);
	agent_print(&back, "flat", "back.yaml");
	cr_assert_str_eq(back.out, flat.out, "yaml dump:\n%s", dump.out);
	run_free(&dump);
	run_free(&back);

	/* JSON too: nothing lossy in this one. */
	cr_assert_eq(cli(&dump, "dump", "--format", "json", NULL), 0);
	put_file("back.json", dump.out);
	agent_print(&back, "flat", "back.json");
	cr_assert_str_eq(back.out, flat.out, "json dump:\n%s", dump.out);
	run_free(&dump);
	run_free(&back);
	run_free(&flat);

	/* DEL: JSON may hold it raw (jansson writes it so) but libyaml
	 * refuses it raw, so only the YAML dump, which escapes it, is
	 * checked with it. */
	put_file("override.yaml", "del: \"a\\x7fb\"\n");
	wait_newer(1);
	cr_assert_eq(cli(&dump, "dump", "--format", "yaml", NULL), 0);
	put_file("back.yaml", dump.out);
	cr_assert_eq(cli(&flat, "dump", NULL), 0);
	cr_assert_not_null(strstr(flat.out, "del = \"a\x7f" "b\"\n"), "%s",
	    flat.out);
	agent_print(&back, "flat", "back.yaml");
	cr_assert_str_eq(back.out, flat.out, "yaml dump:\n%s", dump.out);
	run_free(&dump);
	run_free(&back);
	run_free(&flat);
}

/* hotcfgd --print and hotcfg dump share one implementation: the same
 * sources print the same, in every format. */
Test(cli, hotcfgd_print_matches_hotcfg_dump_in_every_format)
{
	static const char *const formats[] = { "flat", "json", "yaml" };

	agent_start();
	for (size_t i = 0; i < 3; i++) {
		struct run d, p;
		char *argv[] = { hotcfgd_bin, "--print", (char *)formats[i],
		    "app.yaml", "override.yaml", NULL };
		cr_assert_eq(cli(&d, "dump", "--format", formats[i], NULL), 0);
		cr_assert_eq(run_argv(&p, argv), 0, "%s", p.err);
		cr_assert_str_eq(p.out, d.out, "format %s", formats[i]);
		run_free(&d);
		run_free(&p);
	}
}

/* ------------------------------------------------------------------ */
/* status                                                               */
/* ------------------------------------------------------------------ */

static json_t *
status_json(int want_code)
{
	struct run r;
	json_error_t je;
	json_t *j;

	cr_assert_eq(cli(&r, "status", "--format", "json", NULL), want_code,
	    "status: %s%s", r.out, r.err);
	j = json_loads(r.out, 0, &je);
	cr_assert_not_null(j, "status is not JSON (%s): %s", je.text, r.out);
	run_free(&r);
	return j;
}

Test(cli, status_of_a_healthy_agent_exits_0_in_text_and_json)
{
	struct run r;
	json_t *j, *a, *srcs;
	char want[64];

	agent_start();
	cr_assert_eq(cli(&r, "status", NULL), 0, "%s%s", r.out, r.err);
	snprintf(want, sizeof(want), "agent:       pid %d (running), alive",
	    (int)agent);
	cr_assert_not_null(strstr(r.out, want), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "generation:  1\n"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "last reload: ok at "), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "source:      app.yaml: ok"), "%s",
	    r.out);
	cr_assert_not_null(strstr(r.out, "source:      override.yaml: ok"),
	    "%s", r.out);
	cr_assert_not_null(strstr(r.out, "health:      ok\n"), "%s", r.out);
	run_free(&r);

	j = status_json(0);
	cr_assert(json_is_true(json_object_get(j, "healthy")));
	cr_assert_eq(json_integer_value(json_object_get(j, "generation")), 1);
	cr_assert_gt(json_integer_value(json_object_get(j, "entries")), 50);
	cr_assert_gt(json_integer_value(json_object_get(j, "bytes")), 0);
	cr_assert(json_is_string(json_object_get(j, "published")));
	a = json_object_get(j, "agent");
	cr_assert_eq(json_integer_value(json_object_get(a, "pid")), agent);
	cr_assert(json_is_true(json_object_get(a, "alive")));
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j,
	    "last"), "outcome")), "ok");
	srcs = json_object_get(j, "sources");
	cr_assert_eq(json_array_size(srcs), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(srcs,
	    0), "name")), "app.yaml");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(srcs,
	    1), "state")), "ok");
	json_decref(j);
}

/* Run `hotcfg status` until its text holds `what`. */
static void
wait_for_status(const char *what)
{
	int64_t deadline = hc_mono_ns() + (int64_t)TIMEOUT_MS * 1000000;
	struct run r;

	for (;;) {
		bool seen;

		cli(&r, "status", NULL);
		seen = strstr(r.out, what) != NULL;
		run_free(&r);
		if (seen)
			return;
		cr_assert_lt(hc_mono_ns(), deadline, "status never said '%s'",
		    what);
		usleep(20000);
	}
}

Test(cli, status_after_a_bad_edit_exits_1_with_source_line_and_column)
{
	struct run r;
	json_t *j, *last;

	agent_start();
	put_file("override.yaml", "port: 1\nbroken: [\n");
	/* An error publishes nothing: wait for the agent to record it. */
	wait_for_status("last reload: error");
	cr_assert_eq(cli(&r, "status", NULL), 1);
	cr_assert_not_null(strstr(r.out, ": override.yaml:3:1: "), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "health:      unhealthy (the last "
	    "reload failed)"), "%s", r.out);
	run_free(&r);

	j = status_json(1);
	cr_assert(json_is_false(json_object_get(j, "healthy")));
	last = json_object_get(j, "last");
	cr_assert_str_eq(json_string_value(json_object_get(last, "outcome")),
	    "error");
	cr_assert_str_eq(json_string_value(json_object_get(last, "source")),
	    "override.yaml");
	cr_assert_eq(json_integer_value(json_object_get(last, "line")), 3);
	cr_assert_eq(json_integer_value(json_object_get(last, "column")), 1);
	cr_assert(json_string_length(json_object_get(last, "message")) > 0);
	/* The last good snapshot is still there. */
	cr_assert_eq(json_integer_value(json_object_get(j, "generation")), 1);
	json_decref(j);
	expect_get("port", "9090\n");

	/* The next good edit recovers. */
	put_file("override.yaml", "port: 7070\n");
	wait_newer(1);
	cr_assert_eq(cli(&r, "status", NULL), 0, "%s", r.out);
	run_free(&r);
	expect_get("port", "7070\n");
}

Test(cli, status_of_a_dead_agent_exits_1)
{
	struct run r;
	int st;
	int64_t deadline;

	agent_start();
	cr_assert_eq(cli(&r, "status", NULL), 0);
	run_free(&r);
	/* SIGKILL: no chance to say goodbye, only the heartbeat stops. */
	kill(agent, SIGKILL);
	waitpid(agent, &st, 0);
	agent = -1;
	deadline = hc_mono_ns() + (int64_t)TIMEOUT_MS * 1000000;
	for (;;) {
		int code = cli(&r, "status", "--stale", "1.5", NULL);
		if (code == 1)
			break;
		cr_assert_eq(code, 0, "%s", r.err);
		run_free(&r);
		cr_assert_lt(hc_mono_ns(), deadline, "still alive");
		usleep(100000);
	}
	cr_assert_not_null(strstr(r.out, "not alive"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "(no such process here)"), "%s",
	    r.out);
	cr_assert_not_null(strstr(r.out, "health:      unhealthy (the agent "
	    "is not alive)"), "%s", r.out);
	run_free(&r);
	/* The configuration is still there for readers. */
	expect_get("port", "9090\n");
}

Test(cli, status_where_no_agent_ever_ran_exits_1_and_says_where)
{
	struct run r;

	cr_assert_eq(cli(&r, "status", NULL), 1);
	cr_assert_not_null(strstr(r.err, pub), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "is hotcfgd running with --dir"),
	    "%s", r.err);
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* watch                                                                */
/* ------------------------------------------------------------------ */

static void
watch_start(struct bg *w, const char *prefix)
{
	char *argv[] = { hotcfg_bin, "--dir", pub, "watch",
	    prefix ? "--prefix" : NULL, (char *)prefix, NULL };
	bg_start(w, argv);
}

Test(cli, watch_prints_added_removed_and_changed_keys_per_generation)
{
	struct bg w;

	agent_start();
	watch_start(&w, NULL);
	cr_assert(sleeps_in_futex(w.pid), "watch never went to sleep");
	put_file("override.yaml", "port: 9191\nextra: [1]\n"
	    "servers: [{host: omega, port: 99}]\n");
	cr_assert(bg_expect(&w, "- db\n- db.pool\n- db.url\n"
	    "+ extra = <seq 1>\n+ extra[0] = 1\n~ port: 9090 -> 9191\n"),
	    "got:\n%s", w.buf);
	put_file("override.yaml", "port: \"9191\"\n"
	    "servers: [{host: omega, port: 99}]\n");
	cr_assert(bg_expect(&w, "- extra\n- extra[0]\n"
	    "~ port: 9191 -> \"9191\"\n"), "got:\n%s", w.buf);
	bg_kill(&w);
}

Test(cli, watch_after_a_burst_of_publishes_ends_on_the_newest)
{
	struct bg w;
	char text[128], want[64];
	char *line, *save, last_new[32] = "9090";

	agent_start();
	watch_start(&w, "port");
	cr_assert(sleeps_in_futex(w.pid));
	for (int i = 1; i <= 20; i++) {
		snprintf(text, sizeof(text), "port: %d\n"
		    "servers: [{host: omega, port: 99}]\n", 10000 + i);
		put_file("override.yaml", text);
	}
	cr_assert(bg_expect(&w, "-> 10020\n"), "got:\n%s", w.buf);
	/* However the publishes were coalesced, each line goes on from the
	 * value the line before it ended on. */
	for (line = strtok_r(w.buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		snprintf(want, sizeof(want), "~ port: %s -> ", last_new);
		cr_assert_eq(strncmp(line, want, strlen(want)), 0,
		    "'%s' does not follow from %s", line, last_new);
		snprintf(last_new, sizeof(last_new), "%s",
		    line + strlen(want));
	}
	cr_assert_str_eq(last_new, "10020");
	bg_kill(&w);
}

Test(cli, watch_prefix_shows_only_that_subtree)
{
	struct bg w;

	agent_start();
	watch_start(&w, "db");
	cr_assert(sleeps_in_futex(w.pid));
	put_file("override.yaml", "port: 1\ndb: {url: x, pool: 8}\n");
	cr_assert(bg_expect(&w, "~ db.url: \"postgres://db:5432/app\" -> "
	    "\"x\"\n"), "got:\n%s", w.buf);
	put_file("override.yaml", "port: 2\ndb: {url: x, pool: 9}\n");
	cr_assert(bg_expect(&w, "~ db.pool: 8 -> 9\n"), "got:\n%s", w.buf);
	bg_kill(&w);
	cr_assert_null(strstr(w.buf, "port"), "got:\n%s", w.buf);
	cr_assert_null(strstr(w.buf, "servers"), "got:\n%s", w.buf);
}

Test(cli, watch_started_before_the_agent_waits_and_shows_the_first_publish)
{
	struct bg w;

	/* Nothing exists yet: watch waits for the directory (inotify). */
	watch_start(&w, NULL);
	cr_assert(sleeps_in_poll(w.pid), "watch did not wait for the agent");
	/* The agent starts without its source: a control file, no
	 * snapshot.  watch takes "nothing" as its starting point... */
	{
		char p[400];
		snprintf(p, sizeof(p), "%s/app.yaml", tmp);
		unlink(p);
	}
	agent_start_with(false, "app.yaml", "override.yaml");
	cr_assert(sleeps_in_futex(w.pid), "watch did not open the control");
	/* ...so the first publish shows every key as added. */
	copy_golden_source("cli-app.yaml", "app.yaml");
	cr_assert(bg_expect(&w, "+ \"\" = <map 23>\n+ big = "
	    "9223372036854775807\n"), "got:\n%s", w.buf);
	cr_assert(bg_expect(&w, "+ port = 9090\n"), "got:\n%s", w.buf);
	bg_kill(&w);
}

/* ------------------------------------------------------------------ */
/* wait                                                                 */
/* ------------------------------------------------------------------ */

Test(cli, wait_returns_the_next_generation_after_a_real_edit)
{
	struct bg w;
	char *argv[] = { hotcfg_bin, "--dir", pub, "wait", "--timeout", "20",
	    NULL };

	agent_start();
	bg_start(&w, argv);
	cr_assert(sleeps_in_futex(w.pid));
	put_file("override.yaml", "port: 1\n");
	cr_assert_eq(bg_finish(&w), 0);
	cr_assert_str_eq(w.buf, "2\n");
	expect_get("port", "1\n");
}

Test(cli, wait_times_out_with_exit_1)
{
	struct run r;

	agent_start();
	cr_assert_eq(cli(&r, "wait", "--timeout", "0.2", NULL), 1);
	cr_assert_str_eq(r.out, "");
	cr_assert_not_null(strstr(r.err, "timed out after 0.2 s"), "%s",
	    r.err);
	cr_assert_not_null(strstr(r.err, "generation 1"), "%s", r.err);
	run_free(&r);
}

Test(cli, wait_after_an_older_generation_returns_at_once)
{
	struct run r;

	agent_start();
	cr_assert_eq(cli(&r, "wait", "--after", "0", "--timeout", "0", NULL),
	    0, "%s", r.err);
	cr_assert_str_eq(r.out, "1\n");
	run_free(&r);
}

Test(cli, wait_for_an_agent_not_started_yet)
{
	struct bg w;
	char *argv[] = { hotcfg_bin, "--dir", pub, "wait", "--after", "0",
	    "--timeout", "20", NULL };
	struct run r;

	cr_assert_eq(cli(&r, "wait", "--timeout", "0.1", NULL), 1);
	cr_assert_not_null(strstr(r.err, "timed out: no configuration "
	    "appeared in"), "%s", r.err);
	run_free(&r);

	bg_start(&w, argv);
	cr_assert(sleeps_in_poll(w.pid));
	agent_start_with(false, "app.yaml", "override.yaml");
	cr_assert_eq(bg_finish(&w), 0);
	cr_assert_str_eq(w.buf, "1\n");
}

/* ------------------------------------------------------------------ */
/* diff                                                                 */
/* ------------------------------------------------------------------ */

Test(cli, diff_shows_previous_to_current_and_named_generations)
{
	struct run r;

	agent_start();
	put_file("override.yaml", "port: 1\nservers: [{host: omega}]\n");
	wait_newer(1);
	put_file("override.yaml", "port: 2\nservers: [{host: omega}]\n");
	wait_newer(2);

	cr_assert_eq(cli(&r, "diff", NULL), 0, "%s", r.err);
	cr_assert_str_eq(r.out, "~ port: 1 -> 2\n");
	run_free(&r);
	cr_assert_eq(cli(&r, "diff", "1", NULL), 0, "%s", r.err);
	cr_assert_str_eq(r.out, "~ \"\": <map 23> -> <map 22>\n"
	    "- db\n- db.pool\n- db.url\n"
	    "~ port: 9090 -> 2\n~ servers[0]: <map 2> -> <map 1>\n"
	    "- servers[0].port\n");
	run_free(&r);
	cr_assert_eq(cli(&r, "diff", "3", "1", NULL), 0, "%s", r.err);
	cr_assert_str_eq(r.out, "~ \"\": <map 22> -> <map 23>\n"
	    "+ db = <map 2>\n+ db.pool = 8\n"
	    "+ db.url = \"postgres://db:5432/app\"\n~ port: 2 -> 9090\n"
	    "~ servers[0]: <map 1> -> <map 2>\n+ servers[0].port = 99\n");
	run_free(&r);
	cr_assert_eq(cli(&r, "diff", "2", "2", NULL), 0);
	cr_assert_str_eq(r.out, "");
	run_free(&r);
}

Test(cli, diff_of_a_generation_not_in_the_history_exits_1)
{
	struct run r;

	agent_start();
	cr_assert_eq(cli(&r, "diff", NULL), 1);
	cr_assert_not_null(strstr(r.err, "no generation before 1"), "%s",
	    r.err);
	cr_assert_not_null(strstr(r.err, "holds generations 1"), "%s", r.err);
	run_free(&r);
	cr_assert_eq(cli(&r, "diff", "7", NULL), 1);
	cr_assert_not_null(strstr(r.err, "generation 7 is not in the "
	    "history"), "%s", r.err);
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* Errors, usage, exit codes                                            */
/* ------------------------------------------------------------------ */

Test(cli, unknown_name_exits_1_naming_the_directory_and_the_fix)
{
	struct run r;
	char root[300];

	snprintf(root, sizeof(root), "%s/root", tmp);
	setenv("HOTCFG_ROOT", root, 1);
	cr_assert_eq(cli_bare(&r, "--name", "demo", "get", "x", NULL), 1);
	cr_assert_not_null(strstr(r.err, root), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "is hotcfgd running with --name "
	    "demo?"), "%s", r.err);
	run_free(&r);
	/* --name after the command works as well. */
	cr_assert_eq(cli_bare(&r, "dump", "--name", "demo", NULL), 1);
	cr_assert_not_null(strstr(r.err, "--name demo"), "%s", r.err);
	run_free(&r);
	/* With no name, $HOTCFG_NAME, else "default". */
	cr_assert_eq(cli_bare(&r, "dump", NULL), 1);
	cr_assert_not_null(strstr(r.err, "/root/default"), "%s", r.err);
	run_free(&r);
	setenv("HOTCFG_NAME", "fromenv", 1);
	cr_assert_eq(cli_bare(&r, "dump", NULL), 1);
	cr_assert_not_null(strstr(r.err, "/root/fromenv"), "%s", r.err);
	run_free(&r);
}

Test(cli, nothing_published_yet_exits_1_and_says_why)
{
	struct run r;
	char p[400];

	snprintf(p, sizeof(p), "%s/app.yaml", tmp);
	unlink(p);
	agent_start_with(false, "app.yaml", "override.yaml");
	/* The agent records why it cannot publish. */
	wait_for_status("last reload: error");
	cr_assert_eq(cli(&r, "get", "port", NULL), 1);
	cr_assert_not_null(strstr(r.err, "nothing published in"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "app.yaml"), "%s", r.err);
	run_free(&r);
}

Test(cli, usage_errors_exit_2)
{
	static const char *const cases[][5] = {
		{ "frobnicate" },
		{ "--bogus", "dump" },
		{ "dump", "--bogus" },
		{ "dump", "--format", "xml" },
		{ "dump", "--format" },
		{ "dump", "extra" },
		{ "get" },
		{ "get", "a", "b" },
		{ "status", "--format", "yaml" },
		{ "status", "--stale", "soon" },
		{ "wait", "--timeout", "-1" },
		{ "wait", "--after", "x" },
		{ "diff", "one" },
		{ "diff", "1", "2", "3" },
		{ "watch", "extra" },
		{ "--name", "a/b", "dump" },
		{ "--name", "a", "--dir", "/b", "dump" },
	};
	struct run r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cli_bare(&r, cases[i][0], cases[i][1], cases[i][2],
		    cases[i][3], cases[i][4], NULL);
		cr_assert_eq(r.code, 2, "case %zu (%s %s): exit %d", i,
		    cases[i][0], cases[i][1] ? cases[i][1] : "", r.code);
		cr_assert_str_eq(r.out, "");
		cr_assert_not_null(strstr(r.err, "hotcfg"), "case %zu", i);
		run_free(&r);
	}
	/* No command at all: the usage, on stderr. */
	cr_assert_eq(cli_bare(&r, NULL), 2);
	cr_assert_not_null(strstr(r.err, "usage: hotcfg"));
	run_free(&r);
}

Test(cli, help_and_version_exit_0)
{
	struct run r;

	cr_assert_eq(cli_bare(&r, "--help", NULL), 0);
	cr_assert_not_null(strstr(r.out, "usage: hotcfg"));
	cr_assert_not_null(strstr(r.out, "Exit status"));
	run_free(&r);
	cr_assert_eq(cli_bare(&r, "-h", NULL), 0);
	run_free(&r);
	cr_assert_eq(cli_bare(&r, "dump", "--help", NULL), 0);
	cr_assert_not_null(strstr(r.out, "usage: hotcfg"));
	run_free(&r);
	cr_assert_eq(cli_bare(&r, "-V", NULL), 0);
	cr_assert_str_eq(r.out, "hotcfg " HOTCFG_VERSION_STRING
	    " (libhotcfg " HOTCFG_VERSION_STRING ")\n");
	run_free(&r);
	cr_assert_eq(cli_bare(&r, "--version", NULL), 0);
	run_free(&r);
}

Test(cli, a_closed_stdout_is_an_error_not_a_success)
{
	struct run r;
	char *argv[] = { "/bin/sh", "-c", NULL, NULL };
	char cmd[sizeof(hotcfg_bin) + 400];

	agent_start();
	snprintf(cmd, sizeof(cmd), "'%s' --dir '%s' dump >/dev/full",
	    hotcfg_bin, pub);
	argv[2] = cmd;
	cr_assert_eq(run_argv(&r, argv), 2, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "cannot write"), "%s", r.err);
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* The dump code in-process, on snapshots no YAML file produces         */
/* ------------------------------------------------------------------ */

struct mini {
	struct hc_builder *b;
	void *blob;
	size_t size;
	hotcfg_snap *s;
};

static void
mini_add(struct mini *m, const char *key, int type, const char *text,
    size_t len, int64_t i, size_t count)
{
	hotcfg_entry e = { 0 };

	if (m->b == NULL) {
		unsigned id;
		cr_assert_eq(hc_builder_new(&m->b), 0);
		cr_assert_eq(hc_builder_source(m->b, "mini", &id), 0);
	}
	e.key = key;
	e.key_len = strlen(key);
	e.type = type;
	e.text = text;
	e.text_len = len;
	e.i = i;
	e.f = (double)i;
	e.count = count;
	cr_assert_eq(hc_builder_add(m->b, &e), 0, "add %s", key);
}

static void
mini_finish(struct mini *m)
{
	char *dup = NULL;

	if (m->b == NULL) {
		unsigned id;
		cr_assert_eq(hc_builder_new(&m->b), 0);
		cr_assert_eq(hc_builder_source(m->b, "mini", &id), 0);
	}
	cr_assert_eq(hc_builder_finish(m->b, 1, &m->blob, &m->size, &dup), 0);
	cr_assert_eq(hc_snap_wrap(m->blob, m->size, &m->s), 0);
}

static void
mini_free(struct mini *m)
{
	hc_snap_unwrap(m->s);
	free(m->blob);
	hc_builder_free(m->b);
}

static int
dump_to(struct mini *m, int format, const char *prefix, char **out)
{
	size_t len;
	FILE *f = open_memstream(out, &len);
	int rc;

	cr_assert_not_null(f);
	rc = hc_dump(m->s, f, format, prefix, false);
	fclose(f);
	return rc;
}

Test(dumpcode, an_empty_snapshot_dumps_as_nothing)
{
	struct mini m = { 0 };
	char *out;

	mini_finish(&m);
	for (int f = HC_DUMP_FLAT; f <= HC_DUMP_YAML; f++) {
		cr_assert_eq(dump_to(&m, f, NULL, &out), 0);
		cr_assert_str_eq(out, "");
		free(out);
	}
	cr_assert_eq(dump_to(&m, HC_DUMP_JSON, "x", &out), -ENOENT);
	free(out);
	mini_free(&m);
}

Test(dumpcode, missing_containers_are_implied_from_their_children)
{
	struct mini m = { 0 };
	char *out;

	mini_add(&m, "a.b[1]", HOTCFG_INT, NULL, 0, 2, 0);
	mini_add(&m, "a.b[0]", HOTCFG_INT, NULL, 0, 1, 0);
	mini_add(&m, "c", HOTCFG_STR, "x", 1, 0, 0);
	mini_finish(&m);
	cr_assert_eq(dump_to(&m, HC_DUMP_JSON, NULL, &out), 0);
	cr_assert_str_eq(out, "{\n  \"a\": {\n    \"b\": [\n      1,\n"
	    "      2\n    ]\n  },\n  \"c\": \"x\"\n}\n");
	free(out);
	mini_free(&m);
}

Test(dumpcode, keys_that_do_not_form_a_tree_are_refused_not_guessed)
{
	struct mini m = { 0 };
	char *out;

	/* A scalar with a child. */
	mini_add(&m, "a", HOTCFG_INT, NULL, 0, 1, 0);
	mini_add(&m, "a.b", HOTCFG_INT, NULL, 0, 2, 0);
	mini_finish(&m);
	cr_assert_eq(dump_to(&m, HC_DUMP_YAML, NULL, &out), HOTCFG_ECORRUPT);
	free(out);
	/* flat needs no tree. */
	cr_assert_eq(dump_to(&m, HC_DUMP_FLAT, NULL, &out), 0);
	cr_assert_str_eq(out, "a = 1\na.b = 2\n");
	free(out);
	mini_free(&m);
}

Test(dumpcode, non_utf8_string_is_base64_in_flat_and_refused_in_json_yaml)
{
	struct mini m = { 0 };
	char *out;

	mini_add(&m, "", HOTCFG_MAP, NULL, 0, 0, 1);
	mini_add(&m, "raw", HOTCFG_STR, "\xff\xfe", 2, 0, 0);
	mini_finish(&m);
	cr_assert_eq(dump_to(&m, HC_DUMP_FLAT, NULL, &out), 0);
	cr_assert_str_eq(out, "\"\" = <map 1>\nraw = !!str-base64 //4=\n");
	free(out);
	cr_assert_eq(dump_to(&m, HC_DUMP_JSON, NULL, &out), -EILSEQ);
	free(out);
	cr_assert_eq(dump_to(&m, HC_DUMP_YAML, NULL, &out), -EILSEQ);
	free(out);
	mini_free(&m);
}

Test(dumpcode, json_floats_use_the_digits_they_need_and_no_more)
{
	struct mini m = { 0 };
	hotcfg_entry e = { .type = HOTCFG_FLOAT };
	char *out, *dup = NULL;
	unsigned id;

	cr_assert_eq(hc_builder_new(&m.b), 0);
	cr_assert_eq(hc_builder_source(m.b, "mini", &id), 0);
	e.key = "";
	e.key_len = 0;
	e.f = 0.1;
	cr_assert_eq(hc_builder_add(m.b, &e), 0);
	cr_assert_eq(hc_builder_finish(m.b, 1, &m.blob, &m.size, &dup), 0);
	cr_assert_eq(hc_snap_wrap(m.blob, m.size, &m.s), 0);
	cr_assert_eq(dump_to(&m, HC_DUMP_JSON, NULL, &out), 0);
	cr_assert_str_eq(out, "0.1\n");
	free(out);
	cr_assert_eq(dump_to(&m, HC_DUMP_YAML, NULL, &out), 0);
	cr_assert_str_eq(out, "0.1\n");
	free(out);
	mini_free(&m);
}
