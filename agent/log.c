/*
 * log.c - hotcfgd's key=value event log (see log.h for the format).
 *
 * The destination is one file descriptor, stderr or a file opened with
 * O_APPEND.  It is shared by the main loop and the watcher thread, so it is
 * read and swapped under a mutex; the line itself is built without the lock
 * and written with one write(2), which keeps lines whole even when another
 * process appends to the same file.  SIGUSR1 does not call in here: the
 * agent has no signal handlers; its main loop reads the signal from a
 * signalfd and calls log_reopen().
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hotcfg.h"
#include "log.h"

static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = STDERR_FILENO;
static char *log_path;                  /* NULL: stderr */
static int log_lvl = LOGL_INFO;

static const char *const level_names[] = {
	"error", "warning", "info", "debug"
};

static int
open_file(const char *path)
{
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
	    0640);
	return fd < 0 ? -errno : fd;
}

int
log_open(const char *path, int level)
{
	char *copy = NULL;
	int fd = STDERR_FILENO, old;

	if (path != NULL) {
		if ((copy = strdup(path)) == NULL)
			return -ENOMEM;
		if ((fd = open_file(path)) < 0) {
			free(copy);
			return fd;
		}
	}
	pthread_mutex_lock(&log_mtx);
	old = log_fd;
	log_fd = fd;
	free(log_path);
	log_path = copy;
	if (level >= LOGL_ERROR && level <= LOGL_DEBUG)
		log_lvl = level;
	pthread_mutex_unlock(&log_mtx);
	if (old != STDERR_FILENO)
		close(old);
	return 0;
}

int
log_reopen(void)
{
	char *path = NULL;
	int fd, old = -1, rc = 0;

	pthread_mutex_lock(&log_mtx);
	if (log_path != NULL && (path = strdup(log_path)) == NULL)
		rc = -ENOMEM;
	pthread_mutex_unlock(&log_mtx);
	if (path == NULL)
		return rc;
	/* Open outside the lock: a slow filesystem must not stall the
	 * watcher thread's logging. */
	if ((fd = open_file(path)) < 0) {
		rc = fd;
		goto out;
	}
	pthread_mutex_lock(&log_mtx);
	if (log_path != NULL && strcmp(log_path, path) == 0) {
		old = log_fd;
		log_fd = fd;
	} else {
		old = fd;       /* switched meanwhile: drop ours */
	}
	pthread_mutex_unlock(&log_mtx);
	if (old != STDERR_FILENO)
		close(old);
out:
	free(path);
	return rc;
}

void
log_close(void)
{
	int old;

	pthread_mutex_lock(&log_mtx);
	old = log_fd;
	log_fd = STDERR_FILENO;
	free(log_path);
	log_path = NULL;
	pthread_mutex_unlock(&log_mtx);
	if (old != STDERR_FILENO)
		close(old);
}

void
log_set_level(int level)
{
	if (level < LOGL_ERROR || level > LOGL_DEBUG)
		return;
	pthread_mutex_lock(&log_mtx);
	log_lvl = level;
	pthread_mutex_unlock(&log_mtx);
}

bool
log_enabled(int level)
{
	bool on;

	pthread_mutex_lock(&log_mtx);
	on = level <= log_lvl;
	pthread_mutex_unlock(&log_mtx);
	return on;
}

int
log_level_parse(const char *name)
{
	int i;

	for (i = LOGL_ERROR; i <= LOGL_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	if (strcmp(name, "warn") == 0)
		return LOGL_WARNING;
	return -EINVAL;
}

const char *
log_level_name(int level)
{
	if (level < LOGL_ERROR || level > LOGL_DEBUG)
		return "unknown";
	return level_names[level];
}

/*
 * A value is written bare when it is a non-empty run of printable ASCII
 * without space, '"', '=' or '\'; anything else is quoted.  Inside quotes,
 * '"' and '\' are backslash-escaped, \n \r \t keep their C names, and every
 * other control byte becomes \xHH.  Bytes >= 0x80 (UTF-8) pass through,
 * except the C1 controls U+0080..U+009F, which some terminals obey.
 */
static bool
needs_quotes(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	if (*p == '\0')
		return true;
	for (; *p != '\0'; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' ||
		    *p >= 0x7f)
			return true;
	return false;
}

size_t
log_escape(char *buf, size_t size, const char *val)
{
	const unsigned char *p = (const unsigned char *)val;
	size_t n = 0;
	bool quote;

	if (size == 0)
		return 0;
	quote = needs_quotes(val);
#define PUT(c) do { if (n + 1 < size) buf[n++] = (char)(c); } while (0)
	if (quote)
		PUT('"');
	for (; *p != '\0'; p++) {
		char esc[5];
		const char *e = NULL;

		if (*p == '"')
			e = "\\\"";
		else if (*p == '\\')
			e = "\\\\";
		else if (*p == '\n')
			e = "\\n";
		else if (*p == '\r')
			e = "\\r";
		else if (*p == '\t')
			e = "\\t";
		else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			e = esc;
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			/* C1 control: escape both bytes of it. */
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			for (const char *q = esc; *q != '\0'; q++)
				PUT(*q);
			p++;
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			e = esc;
		}
		if (e != NULL) {
			/* Never cut an escape in half. */
			if (n + strlen(e) + 2 > size)
				break;
			for (; *e != '\0'; e++)
				PUT(*e);
		} else {
			if (n + 2 > size)
				break;
			PUT(*p);
		}
	}
	if (quote) {
		if (n + 2 > size && n > 0)
			n--;
		PUT('"');
	}
#undef PUT
	buf[n] = '\0';
	return n;
}

static void
append(struct logline *l, const char *s, size_t n)
{
	/* Keep room for " truncated=true\n". */
	const size_t reserve = 17;

	if (l->cut)
		return;
	if (l->len + n + reserve > sizeof(l->buf)) {
		l->cut = true;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

void
log_begin(struct logline *l, int level, const char *event)
{
	struct timespec ts;
	struct tm tm;
	char t[64];
	size_t n;

	l->len = 0;
	l->cut = false;
	l->on = log_enabled(level);
	if (!l->on)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(t, sizeof(t), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(t + n, sizeof(t) - n, ".%03ldZ level=",
	    ts.tv_nsec / 1000000);
	append(l, t, n);
	append(l, log_level_name(level), strlen(log_level_name(level)));
	log_str(l, "event", event);
}

void
log_str(struct logline *l, const char *key, const char *val)
{
	char esc[1024];
	size_t n;

	if (!l->on)
		return;
	if (val == NULL)
		val = "";
	append(l, " ", 1);
	append(l, key, strlen(key));
	append(l, "=", 1);
	n = log_escape(esc, sizeof(esc), val);
	append(l, esc, n);
}

void
log_int(struct logline *l, const char *key, int64_t v)
{
	char num[32];

	snprintf(num, sizeof(num), "%" PRId64, v);
	log_str(l, key, num);
}

void
log_uint(struct logline *l, const char *key, uint64_t v)
{
	char num[32];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	log_str(l, key, num);
}

void
log_bool(struct logline *l, const char *key, bool v)
{
	log_str(l, key, v ? "true" : "false");
}

void
log_ms(struct logline *l, const char *key, int64_t ns)
{
	char num[48];

	if (ns < 0)
		ns = 0;
	snprintf(num, sizeof(num), "%" PRId64 ".%03" PRId64, ns / 1000000,
	    (ns / 1000) % 1000);
	log_str(l, key, num);
}

void
log_errno(struct logline *l, const char *key, int err)
{
	log_str(l, key, hotcfg_strerror(err < 0 ? err : -err));
}

void
log_end(struct logline *l)
{
	const char *p;
	size_t left;
	int fd;

	if (!l->on)
		return;
	if (l->cut) {
		memcpy(l->buf + l->len, " truncated=true", 15);
		l->len += 15;
	}
	l->buf[l->len++] = '\n';
	pthread_mutex_lock(&log_mtx);
	fd = log_fd;
	p = l->buf;
	left = l->len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;  /* nowhere to report a failing log */
		p += w;
		left -= (size_t)w;
	}
	pthread_mutex_unlock(&log_mtx);
}
