/*
 * reader.c - the smallest useful libhotcfg program: open a configuration,
 * print a few typed values, then wait for each change and print them again.
 *
 *	reader [NAME | DIR] [CHANGES]
 *
 * NAME is a configuration name under $HOTCFG_ROOT (default /dev/shm/hotcfg),
 * DIR a directory path (anything with a '/'); without either, $HOTCFG_NAME
 * or "default".  With CHANGES, the program exits 0 after printing that many
 * new generations, which is how the tests drive it.
 *
 * Try it with the agent on the example configuration:
 *
 *	make run &
 *	build/examples/reader demo
 *	(edit examples/app.yaml and save)
 *
 * The pattern to copy: one handle for the program; hotcfg_snapshot() where
 * the program may move to new settings; values read in place, valid until
 * this thread's next hotcfg_snapshot(); hotcfg_wait() to sleep until the
 * agent publishes something newer than what we hold.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hotcfg.h>

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Print one setting, whatever happens: a missing key or a key of another
 * type is worth saying, not worth dying for. */
static void
show_str(const hotcfg_snap *s, const char *key)
{
	const char *v;
	int rc = hotcfg_get_str(s, key, &v);

	if (rc == 0)
		printf("%s = %s\n", key, v);
	else
		printf("%s: %s\n", key, hotcfg_strerror(rc));
}

static void
show_int(const hotcfg_snap *s, const char *key)
{
	int64_t v;
	int rc = hotcfg_get_int(s, key, &v);

	if (rc == 0)
		printf("%s = %" PRId64 "\n", key, v);
	else
		printf("%s: %s\n", key, hotcfg_strerror(rc));
}

static void
show_float(const hotcfg_snap *s, const char *key)
{
	double v;
	int rc = hotcfg_get_float(s, key, &v);   /* an int converts */

	if (rc == 0)
		printf("%s = %g\n", key, v);
	else
		printf("%s: %s\n", key, hotcfg_strerror(rc));
}

static void
show_bool(const hotcfg_snap *s, const char *key)
{
	bool v;
	int rc = hotcfg_get_bool(s, key, &v);

	if (rc == 0)
		printf("%s = %s\n", key, v ? "true" : "false");
	else
		printf("%s: %s\n", key, hotcfg_strerror(rc));
}

/* A list: its length, then each item, whatever their type. */
static void
show_list(const hotcfg_snap *s, const char *key)
{
	char item[256];
	hotcfg_entry e;
	size_t n;
	int rc = hotcfg_get_count(s, key, &n);

	if (rc != 0) {
		printf("%s: %s\n", key, hotcfg_strerror(rc));
		return;
	}
	printf("%s: %zu items\n", key, n);
	for (size_t i = 0; i < n; i++) {
		snprintf(item, sizeof(item), "%s[%zu]", key, i);
		if (hotcfg_get(s, item, &e) == 0)
			printf("%s = %.*s\n", item, (int)e.text_len, e.text);
	}
}

static void
show(const hotcfg_snap *s)
{
	printf("generation %" PRIu64 " (%zu entries)\n",
	    hotcfg_snap_generation(s), hotcfg_snap_count(s));
	show_str(s, "server.host");
	show_int(s, "server.port");
	show_float(s, "server.read_timeout");
	show_bool(s, "features.new_checkout");
	show_str(s, "logging.level");
	show_list(s, "allowed_origins");
	/* A key segment holding dots is escaped with a backslash. */
	show_str(s, "labels.app\\.kubernetes\\.io/name");
	printf("--\n");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	const char *where = argc > 1 ? argv[1] : NULL;
	long changes = argc > 2 ? strtol(argv[2], NULL, 10) : -1;
	struct sigaction sa;
	const hotcfg_snap *s;
	uint64_t seen = 0;
	hotcfg *h;
	int rc, status = 1;

	if (argc > 3 || (argc > 2 && changes < 0)) {
		fprintf(stderr, "usage: reader [NAME | DIR] [CHANGES]\n");
		return 2;
	}
	/* No SA_RESTART: a signal interrupts hotcfg_wait() with -EINTR, and
	 * the loop below ends cleanly. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if ((rc = hotcfg_open(&h, where)) != 0) {
		fprintf(stderr, "reader: cannot open %s: %s%s\n",
		    where ? where : "the default configuration",
		    hotcfg_strerror(rc), rc == -ENOENT ?
		    " (is hotcfgd running with that name?)" : "");
		return 1;
	}
	printf("reading %s\n", hotcfg_dir(h));

	while (!stop) {
		rc = hotcfg_snapshot(h, &s);
		if (rc == 0 && hotcfg_snap_generation(s) != seen) {
			show(s);
			/* The first one is the configuration as we found it;
			 * the ones after it are changes. */
			if (seen != 0 && changes > 0 && --changes == 0) {
				status = 0;
				break;
			}
			seen = hotcfg_snap_generation(s);
		} else if (rc == HOTCFG_ENOTPUB) {
			printf("nothing published yet; waiting\n");
			fflush(stdout);
		} else if (rc != 0) {
			fprintf(stderr, "reader: %s: %s\n", hotcfg_dir(h),
			    hotcfg_strerror(rc));
			break;
		}
		/*
		 * Sleep until the agent publishes a generation newer than the
		 * one we printed.  Passing `seen` (not "now") means a publish
		 * between hotcfg_snapshot() and here is never missed.
		 *
		 * A signal interrupts the sleep (-EINTR), but one that arrives
		 * just before the sleep begins, after the loop looked at
		 * `stop`, cannot: a futex has no signal mask to swap as
		 * ppoll(2) has.  So sleep a second at most, then look again.
		 * (A program that must react to signals at once uses
		 * hotcfg_fd() with a signalfd, as epoll.c does.)
		 */
		rc = hotcfg_wait(h, seen, 1000);
		if (rc != 0 && rc != -EINTR && rc != -ETIMEDOUT) {
			fprintf(stderr, "reader: wait: %s\n",
			    hotcfg_strerror(rc));
			break;
		}
	}
	if (stop)
		status = 0;
	hotcfg_close(h);
	return status;
}
