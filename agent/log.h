/*
 * log.h - hotcfgd's event log: one line per event, key=value fields.
 *
 *	ts=2026-01-02T03:04:05.678Z level=info event=reload source=app.yaml
 *	    generation=7 entries=42 bytes=4096 duration_ms=0.412
 *
 * A line is assembled in a struct logline on the caller's stack and written
 * with a single write(2), so lines from the main loop and the watcher thread
 * never interleave.  Values that are not plain words are double-quoted with
 * backslash escapes, and every control character (newline included) is
 * escaped: a file name can never forge a second log line.  Nothing that
 * could be a secret (file contents, tokens) is ever passed to this log.
 */
#ifndef HOTCFGD_LOG_H
#define HOTCFGD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOGL_ERROR = 0,
	LOGL_WARNING = 1,
	LOGL_INFO = 2,
	LOGL_DEBUG = 3
};

/*
 * Log to `path` (appended, created 0640) or to stderr when path is NULL.
 * May be called again to switch.  0 or a negative errno (the previous
 * destination is kept on failure).
 */
int log_open(const char *path, int level);

/* Reopen the log file (after rotation; SIGUSR1).  A no-op for stderr.
 * 0 or a negative errno; the old file stays in use on failure. */
int log_reopen(void);

/* Close the log file and go back to stderr. */
void log_close(void);

void log_set_level(int level);
bool log_enabled(int level);

/* "error", "warning", "info", "debug" <-> enum log_level; -EINVAL. */
int log_level_parse(const char *name);
const char *log_level_name(int level);

/* A line under construction.  Too long a line is cut, marked with
 * truncated=true, and still ends in a newline. */
#define LOGLINE_MAX 4096
struct logline {
	char buf[LOGLINE_MAX];
	size_t len;
	bool on;                /* false: the level is filtered out */
	bool cut;
};

void log_begin(struct logline *l, int level, const char *event);
void log_str(struct logline *l, const char *key, const char *val);
void log_int(struct logline *l, const char *key, int64_t v);
void log_uint(struct logline *l, const char *key, uint64_t v);
void log_bool(struct logline *l, const char *key, bool v);
/* A duration in milliseconds with microsecond digits ("0.412"). */
void log_ms(struct logline *l, const char *key, int64_t ns);
/* An errno value as its text (error="No such file or directory"). */
void log_errno(struct logline *l, const char *key, int err);
void log_end(struct logline *l);

/* Escape `val` as log_str() would into buf (always NUL-terminated).
 * Exposed for the tests. */
size_t log_escape(char *buf, size_t size, const char *val);

#endif /* HOTCFGD_LOG_H */
