/*
 * hard.h - what the hardening tests (test_faults, test_hostile,
 * test_perms, the torture driver) share: scratch directories, files
 * written the way editors and the kubelet write them, the real agent
 * started and stopped, and waits for an event with a generous timeout
 * (never a timing assertion: a slow machine only makes a test slower).
 *
 * Plain C with no test framework in it, so that helper processes can use
 * it too: functions report failure by their return value.
 */
#ifndef HOTCFG_HARD_H
#define HOTCFG_HARD_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
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

/*
 * Criterion's runner leaks 48 bytes now and then (an allocation inside
 * libcriterion.so, seen with long tests that carry a .timeout), which
 * LeakSanitizer turns into a failed run under `make san`.  A Criterion
 * test file puts TH_LSAN_SKIP_CRITERION at file scope to tell LSan that
 * this one is not ours; leaks of our own code are still reported.
 */
#define TH_LSAN_SKIP_CRITERION \
	const char *__lsan_default_suppressions(void); \
	const char *__lsan_default_suppressions(void) \
	{ \
		return "leak:libcriterion.so\n"; \
	}

/* Where the binaries are: $HOTCFG_BUILD, else ./build. */
static inline const char *
th_build(void)
{
	const char *b = getenv("HOTCFG_BUILD");
	return b && *b ? b : "build";
}

static inline const char *
th_src(void)
{
	const char *s = getenv("HOTCFG_SRC");
	return s && *s ? s : ".";
}

/* A new scratch directory /tmp/hotcfg-hard-XXXXXX into buf. */
static inline int
th_mkdtemp(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/hotcfg-hard-XXXXXX");
	return mkdtemp(buf) ? 0 : -errno;
}

static inline int
th_rmrf_at(int at, const char *name)
{
	struct stat st;
	int fd;

	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(at, name, 0) == 0 ? 0 : -errno;
	/* Let the owner clean up what a test made read-only. */
	fchmodat(at, name, 0700, 0);
	if ((fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)) >= 0) {
		DIR *d = fdopendir(fd);
		struct dirent *de;
		if (d != NULL) {
			while ((de = readdir(d)) != NULL) {
				if (strcmp(de->d_name, ".") == 0 ||
				    strcmp(de->d_name, "..") == 0)
					continue;
				th_rmrf_at(dirfd(d), de->d_name);
			}
			closedir(d);
		} else {
			close(fd);
		}
	}
	return unlinkat(at, name, AT_REMOVEDIR) == 0 ? 0 : -errno;
}

static inline void
th_rmrf(const char *path)
{
	th_rmrf_at(AT_FDCWD, path);
}

static inline int64_t
th_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void
th_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static inline int
th_write_fd(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Truncate and write in place, as `echo > file` does. */
static inline int
th_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc;

	if (fd < 0)
		return -errno;
	rc = th_write_fd(fd, text, strlen(text));
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

static inline int
th_writef(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline int
th_writef(const char *path, const char *fmt, ...)
{
	va_list ap;
	char *text;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -ENOMEM;
	rc = th_write(path, text);
	free(text);
	return rc;
}

/*
 * Write a temporary file beside path and rename it over path, as most
 * editors and configuration tools do.  The temporary name is hidden
 * (".NAME.tmp-PID"), as a careful writer makes it: a directory source
 * publishes every visible file it finds, so a visible temporary file that
 * is there when the agent starts or rescans is, rightly, published until
 * the rename (hotcfgd(8)).
 */
static inline int
th_write_rename(const char *path, const char *text)
{
	char tmp[4096];
	const char *base = strrchr(path, '/');
	int rc;

	base = base ? base + 1 : path;
	snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp-%ld", (int)(base - path), path,
	    base, (long)getpid());
	if ((rc = th_write(tmp, text)) != 0)
		return rc;
	if (rename(tmp, path) != 0) {
		rc = -errno;
		unlink(tmp);
	}
	return rc;
}

/* The whole content of a file (malloc'd, NUL-terminated), or NULL. */
static inline char *
th_read(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (fp == NULL)
		return NULL;
	do {
		if (cap - len < 4096) {
			char *p = realloc(buf, cap = cap ? cap * 2 : 8192);
			if (p == NULL) {
				free(buf);
				fclose(fp);
				return NULL;
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len - 1, fp);
		len += n;
	} while (n > 0);
	buf[len] = '\0';
	fclose(fp);
	return buf;
}

/*
 * The agents a test started, so that its teardown can stop those that a
 * failed assertion left running (th_agent_reap_all()).
 */
static pid_t th_agents[32];

static inline void
th_agent_register(pid_t pid)
{
	for (size_t i = 0; i < sizeof(th_agents) / sizeof(th_agents[0]); i++) {
		if (th_agents[i] == 0) {
			th_agents[i] = pid;
			return;
		}
	}
}

static inline void
th_agent_forget(pid_t pid)
{
	for (size_t i = 0; i < sizeof(th_agents) / sizeof(th_agents[0]); i++)
		if (th_agents[i] == pid)
			th_agents[i] = 0;
}

static inline void
th_agent_reap_all(void)
{
	for (size_t i = 0; i < sizeof(th_agents) / sizeof(th_agents[0]); i++) {
		if (th_agents[i] > 0) {
			kill(th_agents[i], SIGKILL);
			waitpid(th_agents[i], NULL, 0);
			th_agents[i] = 0;
		}
	}
}

/*
 * Start build/hotcfgd with the arguments given (NULL-terminated), its
 * stdout and stderr appended to `log`.  The pid, or -errno.
 */
static inline pid_t
th_agent_start(const char *log, const char *const *args)
{
	posix_spawn_file_actions_t fa;
	char path[4096];
	char *argv[64];
	pid_t pid;
	int n = 0, rc;

	snprintf(path, sizeof(path), "%s/hotcfgd", th_build());
	argv[n++] = path;
	for (; args && *args && n < 63; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log,
	    O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	rc = posix_spawn(&pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -rc;
	th_agent_register(pid);
	return pid;
}

/* SIGTERM, then wait; the exit status as a shell shows it. */
static inline int
th_agent_stop(pid_t pid)
{
	int st;

	if (pid <= 0)
		return -1;
	th_agent_forget(pid);
	kill(pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) :
			    128 + WTERMSIG(st);
		th_sleep_ms(100);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return 128 + SIGKILL;
}

/* Has the process exited?  Its status then in *status. */
static inline bool
th_exited(pid_t pid, int *status)
{
	int st;

	if (waitpid(pid, &st, WNOHANG) != pid)
		return false;
	if (status)
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return true;
}

/* Wait until `needle` occurs in the file `log` (from byte `from` on). */
static inline bool
th_wait_log(const char *log, const char *needle, int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms;

	do {
		char *text = th_read(log);
		bool hit = text && strstr(text, needle) != NULL;
		free(text);
		if (hit)
			return true;
		th_sleep_ms(20);
	} while (th_now_ms() < end);
	return false;
}

/* Wait until the directory's published generation is >= `gen`. */
static inline bool
th_wait_gen(const char *dir, uint64_t gen, int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms;

	do {
		hotcfg *h;
		if (hotcfg_open(&h, dir) == 0) {
			bool ok = hotcfg_generation(h) >= gen;
			hotcfg_close(h);
			if (ok)
				return true;
		}
		th_sleep_ms(20);
	} while (th_now_ms() < end);
	return false;
}

/* The published generation, 0 when there is none (or no control file). */
static inline uint64_t
th_gen(const char *dir)
{
	hotcfg *h;
	uint64_t g = 0;

	if (hotcfg_open(&h, dir) == 0) {
		g = hotcfg_generation(h);
		hotcfg_close(h);
	}
	return g;
}

/* Wait until the status record's outcome is `outcome`; *st gets it. */
static inline bool
th_wait_outcome(const char *dir, int outcome, hotcfg_status *st,
    int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms;

	do {
		hotcfg *h;
		if (hotcfg_open(&h, dir) == 0) {
			bool ok = hotcfg_status_read(h, st) == 0 &&
			    st->outcome == outcome;
			hotcfg_close(h);
			if (ok)
				return true;
		}
		th_sleep_ms(20);
	} while (th_now_ms() < end);
	return false;
}

/* Wait until the published string at `key` is `want` (NULL: absent). */
static inline bool
th_wait_str(const char *dir, const char *key, const char *want,
    int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms;

	do {
		hotcfg *h;
		const hotcfg_snap *s;
		if (hotcfg_open(&h, dir) == 0) {
			bool ok = false;
			if (hotcfg_snapshot(h, &s) == 0) {
				hotcfg_entry e;
				int rc = hotcfg_get(s, key, &e);
				ok = want ? rc == 0 && strcmp(e.text, want) == 0 :
				    rc == -ENOENT;
			}
			hotcfg_close(h);
			if (ok)
				return true;
		}
		th_sleep_ms(20);
	} while (th_now_ms() < end);
	return false;
}

/* Names in dir starting with `prefix`. */
static inline unsigned
th_count(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

/* Whether some line of `log` holds every one of the NULL-terminated
 * needles. */
static inline bool
th_log_line_has(const char *log, const char *const *needles)
{
	char *text = th_read(log), *line, *save = NULL;
	bool hit = false;

	if (text == NULL)
		return false;
	for (line = strtok_r(text, "\n", &save); line && !hit;
	    line = strtok_r(NULL, "\n", &save)) {
		bool all = true;
		for (const char *const *n = needles; *n; n++)
			all = all && strstr(line, *n) != NULL;
		hit = all;
	}
	free(text);
	return hit;
}

/* Wait until some line of `log` holds every one of the needles. */
static inline bool
th_wait_log_line(const char *log, const char *const *needles, int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms;

	do {
		if (th_log_line_has(log, needles))
			return true;
		th_sleep_ms(20);
	} while (th_now_ms() < end);
	return false;
}

#endif
