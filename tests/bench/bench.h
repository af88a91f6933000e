/*
 * bench.h - what the benchmark programs in tests/bench/ share.
 *
 * Each program measures one part of issue 6 and reports it the same way:
 *  - rows of the one table that tests/bench/run.sh prints, on stdout, already
 *    aligned (run.sh only concatenates them under its header);
 *  - lines "TARGET <met|MISSED|n/a>\t<text>" on stdout, one per target of
 *    the issue that the program can judge; run.sh gathers them at the end;
 *  - with -j FILE, one JSON object with the same figures (jansson), which
 *    run.sh merges into build/bench.json.
 * Progress and diagnostics go to stderr.  Every program takes -s, the
 * smoke mode of tests/bench_smoke.sh: tiny sizes, so that the code runs
 * under `make check` in a second or two and cannot rot.
 *
 * Also here: the clocks, order statistics, the key set shared by every
 * design in the read benchmark, the YAML generator used by the reload and
 * build benchmarks, scratch directories, and starting the real hotcfgd.
 */
#ifndef HOTCFG_BENCH_H
#define HOTCFG_BENCH_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "hotcfg.h"
#include "internal.h"

extern char **environ;

/* ------------------------------------------------------------ options */

/* "-k 1000,100000": up to max sizes into ks; their number. */
static inline size_t
bench_sizes(const char *arg, size_t *ks, size_t max)
{
	char *p = (char *)arg;
	size_t n = 0;

	while (*p && n < max) {
		ks[n++] = strtoul(p, &p, 10);
		if (*p == ',')
			p++;
		else if (*p != '\0')
			break;
	}
	return n;
}

/* ------------------------------------------------------------ clocks */

static inline int64_t
bench_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t
bench_thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void
bench_sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------ statistics */

static inline int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) by nearest rank; sorts v in place. */
static inline double
bench_pct(double *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), bench_cmp_double);
	k = (size_t)((p / 100.0) * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

/* The median, the mean of the middle two for an even count. */
static inline double
bench_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ------------------------------------------------------------ output */

static inline void
bench_target(json_t *targets, int met, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	printf("TARGET %s\t%s\n", met < 0 ? "n/a" : met ? "met" : "MISSED",
	    text);
	if (targets)
		json_array_append_new(targets, json_pack("{s:s, s:o}", "target",
		    text, "met", met < 0 ? json_null() : json_boolean(met)));
}

static inline int
bench_write_json(const char *path, json_t *obj)
{
	int rc = 0;

	if (path && json_dump_file(obj, path, JSON_INDENT(1) |
	    JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) != 0) {
		fprintf(stderr, "bench: cannot write %s\n", path);
		rc = -1;
	}
	json_decref(obj);
	return rc;
}

/* A JSON number rounded to three decimals, so bench.json stays readable. */
static inline json_t *
bench_num(double v)
{
	return json_real((double)(int64_t)(v * 1000 + (v < 0 ? -0.5 : 0.5)) /
	    1000);
}

/* ------------------------------------------------------------ keys */

/*
 * The i-th key of the read benchmark: config-shaped, 17 to 40 bytes, so
 * that XXH3 takes the same code path as it would for real keys.  Every
 * design looks up exactly these strings.
 */
static inline size_t
bench_key(char *buf, size_t len, uint32_t i)
{
	int n;

	switch (i % 4) {
	case 0:
		n = snprintf(buf, len, "server.pool[%u].timeout_ms", i);
		break;
	case 1:
		n = snprintf(buf, len, "features.flag_%u.enabled", i);
		break;
	case 2:
		n = snprintf(buf, len, "routes.r%u.upstreams[%u].weight", i / 7,
		    i % 7);
		break;
	default:
		n = snprintf(buf, len, "limits.tenant-%u.rps", i);
		break;
	}
	return (size_t)n;
}

/* The value of key i in the snapshot or map of generation parity `flip`. */
static inline int64_t
bench_value(uint32_t i, unsigned flip)
{
	return (int64_t)i * 7 + (int64_t)flip;
}

/* A small, fast, seedable generator (xorshift64*), the same for every
 * design so that every design sees the same access sequence. */
static inline uint64_t
bench_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* ------------------------------------------------------------ YAML */

/*
 * A config-shaped YAML file of `nleaves` scalar leaves (rounded up to a
 * multiple of 10): one `bench.edit` int that the reload benchmark changes,
 * then mappings of ten fields each (strings, ints, bools, floats and a
 * three-item list), as a service's configuration looks.  The edit counter
 * is padded with spaces to a fixed width, so an edit rewrites the same
 * bytes and every version of the file has the same size.  Returns a
 * malloc'd buffer and its length; *edit_at is the counter's offset.
 */
#define BENCH_EDIT_WIDTH 12

static inline char *
bench_yaml(size_t nleaves, size_t *lenp, size_t *edit_at)
{
	size_t cap = 4096 + nleaves * 48, len = 0, groups = (nleaves + 9) / 10;
	char *buf = malloc(cap);

	if (buf == NULL)
		return NULL;
#define PUT(...) do { \
		int n_ = snprintf(buf + len, cap - len, __VA_ARGS__); \
		if (n_ < 0 || (size_t)n_ >= cap - len) { free(buf); return NULL; } \
		len += (size_t)n_; \
	} while (0)
	PUT("# generated by tests/bench: %zu leaves\nbench:\n  edit: ", nleaves);
	*edit_at = len;
	PUT("%-*u\n", BENCH_EDIT_WIDTH, 0u);
	PUT("services:\n");
	for (size_t g = 0; g < groups; g++) {
		PUT("  svc-%06zu:\n", g);
		PUT("    host: \"svc-%zu.internal.example.com\"\n", g);
		PUT("    port: %zu\n", 1024 + g % 60000);
		PUT("    timeout_ms: %zu\n", 100 + g % 900);
		PUT("    enabled: %s\n", g % 3 ? "true" : "false");
		PUT("    weight: %zu.%zu\n", g % 10, g % 7);
		PUT("    owner: team-%zu\n", g % 97);
		PUT("    tags: [blue, \"zone-%zu\", canary]\n", g % 5);
	}
#undef PUT
	*lenp = len;
	return buf;
}

/* Rewrite the edit counter in place. */
static inline void
bench_yaml_edit(char *buf, size_t edit_at, unsigned v)
{
	char tmp[BENCH_EDIT_WIDTH + 2];

	snprintf(tmp, sizeof(tmp), "%-*u", BENCH_EDIT_WIDTH, v);
	memcpy(buf + edit_at, tmp, BENCH_EDIT_WIDTH);
}

/* libyaml's bare parse of buf: every event of the stream, nothing kept
 * (the floor the agent's parse is measured against).  0 or -1. */
static inline int
bench_libyaml_parse(const char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int rc = 0, done = 0;

	if (!yaml_parser_initialize(&p))
		return -1;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = -1;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return rc;
}

static inline int
bench_write_file(const char *path, const void *buf, size_t len)
{
	const char *p = buf;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return close(fd) == 0 ? 0 : -errno;
}

static inline char *
bench_read_file(const char *path, size_t *lenp)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 &&
	    fseek(fp, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*lenp = (size_t)n;
		}
	}
	fclose(fp);
	return buf;
}

/* ------------------------------------------------------------ scratch */

static inline void bench_rmtree(const char *path);

/*
 * The pid in a scratch directory's name, hotcfg-bench-TAG-PID-XXXXXX (the
 * last part is mkdtemp's, letters and digits), or 0 if it has none.
 */
static inline long
bench_scratch_owner(const char *name)
{
	const char *x = strrchr(name, '-'), *p;
	long pid = 0;

	if (strncmp(name, "hotcfg-bench-", 13) != 0 || x == NULL)
		return 0;
	for (p = x; p > name + 13 && p[-1] >= '0' && p[-1] <= '9'; p--)
		;
	if (p == x || p[-1] != '-' || x - p > 9)
		return 0;
	for (; p < x; p++)
		pid = pid * 10 + (*p - '0');
	return pid;
}

/*
 * What a benchmark killed before its cleanup left in base: scratch
 * directories whose owner is gone, and the agents it started there,
 * which outlive it (any process whose command line names such a
 * directory).  The agents are stopped, then the directories removed.
 * Called before each new scratch directory is made.
 */
static inline void
bench_sweep(const char *base)
{
	DIR *d = opendir(base), *pd;
	struct dirent *e, *pe;
	char dir[512], path[600], cmd[4096];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		long owner = bench_scratch_owner(e->d_name);
		size_t dl;

		if (owner <= 0 || kill((pid_t)owner, 0) == 0 || errno != ESRCH)
			continue;
		dl = (size_t)snprintf(dir, sizeof(dir), "%s/%s", base,
		    e->d_name);
		if (dl >= sizeof(dir) || (pd = opendir("/proc")) == NULL)
			continue;
		while ((pe = readdir(pd)) != NULL) {
			long pid = strtol(pe->d_name, NULL, 10);
			size_t al;
			ssize_t n;
			int fd;

			if (pid <= 0 || pid == (long)getpid())
				continue;
			snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
			if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
				continue;
			n = read(fd, cmd, sizeof(cmd) - 1);
			close(fd);
			if (n <= 0)
				continue;
			cmd[n] = '\0';
			/* argv[0] is an agent; the rest names the directory. */
			al = strlen(cmd);
			if (al < 7 || strcmp(cmd + al - 7, "hotcfgd") != 0)
				continue;
			for (ssize_t i = 0; i < n; i++)
				if (cmd[i] == '\0')
					cmd[i] = ' ';
			if (strstr(cmd, dir) != NULL) {
				fprintf(stderr, "bench: stopping pid %ld, left "
				    "running in %s\n", pid, dir);
				kill((pid_t)pid, SIGTERM);
				/* Gone before its directory is (2 s at most):
				 * an agent still publishing would write into
				 * it while it is removed. */
				for (int i = 0; i < 200 &&
				    kill((pid_t)pid, 0) == 0; i++)
					bench_sleep_ns(10000000);
			}
		}
		closedir(pd);
		fprintf(stderr, "bench: removing %s (its run, pid %ld, is "
		    "gone)\n", dir, owner);
		bench_rmtree(dir);
	}
	closedir(d);
}

/*
 * A scratch directory on tmpfs when there is one (/dev/shm, where hotcfg
 * publishes in production), else under $TMPDIR, named after tag and this
 * process.  The caller removes it with bench_rmtree(); what a killed run
 * left is swept first (bench_sweep()).
 */
static inline char *
bench_tmpdir(const char *tag)
{
	char path[256];
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" :
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	bench_sweep(base);
	snprintf(path, sizeof(path), "%s/hotcfg-bench-%s-%ld-XXXXXX", base,
	    tag, (long)getpid());
	if (mkdtemp(path) == NULL)
		return NULL;
	return strdup(path);
}

static inline void
bench_rmtree(const char *path)
{
	pid_t pid;
	char *argv[] = { "rm", "-rf", (char *)path, NULL };
	int st;

	if (path == NULL || strncmp(path, "/", 1) != 0 ||
	    strstr(path, "hotcfg-bench-") == NULL)
		return;
	if (posix_spawnp(&pid, "rm", NULL, NULL, argv, environ) == 0)
		waitpid(pid, &st, 0);
}

/* ------------------------------------------------------------ the agent */

/* $HOTCFG_BUILD/hotcfgd, or NULL (and a note) when it is not built. */
static inline char *
bench_agent_path(void)
{
	const char *b = getenv("HOTCFG_BUILD");
	char path[1024];

	snprintf(path, sizeof(path), "%s/hotcfgd", b && *b ? b : "build");
	if (access(path, X_OK) != 0)
		return NULL;
	return strdup(path);
}

/*
 * Start hotcfgd with argv (argv[0] is the binary), its stderr (the log)
 * appended to `log`, stdout to /dev/null.  The pid, or -1.
 */
static inline pid_t
bench_agent_start(char *const argv[], const char *log)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, log,
	    O_WRONLY | O_CREAT | O_APPEND, 0644);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return rc == 0 ? pid : -1;
}

static inline int
bench_agent_stop(pid_t pid)
{
	int st = 0;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		bench_sleep_ns(10 * 1000000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/*
 * Open the reader handle on dir once the agent has created it and wait for
 * a first generation.  0 or a negative error after timeout_ms (the agent
 * died or published nothing).
 */
static inline int
bench_open_published(const char *dir, pid_t agent, int timeout_ms,
    hotcfg **out)
{
	int64_t deadline = bench_ns() + (int64_t)timeout_ms * 1000000;
	hotcfg *h = NULL;
	int rc, st;

	*out = NULL;
	for (;;) {
		if (agent > 0 && waitpid(agent, &st, WNOHANG) == agent)
			return -ECHILD;
		if (h == NULL && (rc = hotcfg_open(&h, dir)) != 0)
			h = NULL;
		if (h && hotcfg_generation(h) > 0) {
			*out = h;
			return 0;
		}
		if (bench_ns() > deadline) {
			hotcfg_close(h);
			return -ETIMEDOUT;
		}
		bench_sleep_ns(2 * 1000000);
	}
}

/* The kB value of a "Name:   123 kB" line of /proc/PID/status, or -1. */
static inline long
bench_proc_status_kb(pid_t pid, const char *name)
{
	char path[64], line[256];
	size_t nl = strlen(name);
	long v = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (strncmp(line, name, nl) == 0 && line[nl] == ':') {
			v = strtol(line + nl + 1, NULL, 10);
			break;
		}
	fclose(fp);
	return v;
}

#endif /* HOTCFG_BENCH_H */
