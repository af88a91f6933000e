/*
 * main.c - hotcfgd: options, signals and the main loop.
 *
 *	hotcfgd [-nhVv] [-c config] [--name name | --dir dir]
 *	    [--kubeconfig file] [--print format] [source ...]
 *
 * Three ways to run:
 *  -n          read the configuration and every source, build the
 *              snapshot, say "configuration OK" or exactly what is wrong;
 *  --print     the same, then print the snapshot as `hotcfg dump` would;
 *  otherwise   the daemon: stays in the foreground, logs to stderr (or
 *              its log file), publishes a snapshot on every change.
 *
 * The daemon has two threads, and one more per ConfigMap source.  The
 * watcher thread (watch.c) turns inotify events into posts on the pending
 * board (pending.c); a ConfigMap's thread (k8s.c) posts there when its
 * data or its state changed.  This thread, the main loop, sleeps in
 * poll(2) on the board's eventfd and a signalfd, with a timeout for the
 * nearest of: a source falling due, the heartbeat, the periodic rescan, a
 * publish retry.  When it wakes it takes the due sources and rebuilds
 * (reload.c).
 *
 * Signals.  SIGHUP, SIGTERM, SIGINT and SIGUSR1 are blocked first thing,
 * before any thread exists, so every thread - ours, libcurl's, the
 * runtime's - inherits the block and none can take one of them; they stay
 * pending for the process until the loop reads them from the signalfd.
 * There is no handler: nothing runs asynchronously, nothing is deferred
 * inside whichever thread the kernel picked (as ThreadSanitizer's runtime
 * does with handlers), and a signal that comes while the loop is busy or
 * still starting is read on its next turn.  What a signal means is
 * decided here.
 *
 * Exit status: 0 after SIGTERM or SIGINT, or a successful -n / --print;
 * 1 for a bad configuration, a bad source under -n / --print, or bad usage;
 * 2 for a failure at run time (the publish directory, inotify, memory).
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "config.h"
#include "hotcfg.h"
#include "internal.h"
#include "log.h"
#include "pending.h"
#include "reload.h"
#include "watch.h"

#define EXIT_OK         0
#define EXIT_CONFIG     1
#define EXIT_RUNTIME    2

/* While a source cannot be watched (inotify limits), rescan this often. */
#define DEGRADED_RESCAN_NS  (2 * 1000000000LL)
/* A publish that failed (a full disk) is tried again after RETRY_NS, then
 * after twice as long each time up to RETRY_MAX_NS, so that a disk that
 * stays full costs a build and a log line every half minute, not every
 * second.  An edit meanwhile is built (and tried) at once as usual. */
#define RETRY_NS            (1 * 1000000000LL)
#define RETRY_MAX_NS        (30 * 1000000000LL)

/* The signals the daemon acts on, read from sig_fd by the main loop. */
static const int daemon_sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGUSR1 };
static int sig_fd = -1;

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: hotcfgd [-nhVv] [-c config] [--name name | --dir dir]\n"
	    "               [--kubeconfig file] [--print json|yaml|flat] "
	    "[source ...]\n"
	    "\n"
	    "  -c, --config FILE   read hotcfgd.yaml(5) settings from FILE\n"
	    "  -n, --check         check the configuration and every source,\n"
	    "                      print \"configuration OK\", publish "
	    "nothing\n"
	    "      --name NAME     publish to $HOTCFG_ROOT/NAME "
	    "(default: /dev/shm/hotcfg)\n"
	    "      --dir DIR       publish to DIR\n"
	    "      --kubeconfig FILE  credentials for configmap sources\n"
	    "      --print FORMAT  build once and print it (json, yaml, flat)\n"
	    "  -v, --verbose       log at debug level\n"
	    "  -h, --help          this help\n"
	    "  -V, --version       print the version\n"
	    "\n"
	    "A source is a YAML or JSON file, a directory, or a Kubernetes\n"
	    "ConfigMap as configmap:NAMESPACE/NAME; later sources override\n"
	    "earlier ones.  Sources on the command line replace those of the\n"
	    "configuration file.\n");
}

/* "file:line:col: why" or "file: why" on stderr. */
static void
report(const struct cfg_error *e)
{
	if (e->line > 0)
		fprintf(stderr, "hotcfgd: %s:%u:%u: %s\n", e->source, e->line,
		    e->col, e->msg);
	else if (e->source[0] != '\0')
		fprintf(stderr, "hotcfgd: %s: %s\n", e->source, e->msg);
	else
		fprintf(stderr, "hotcfgd: %s\n", e->msg);
}

struct opts {
	const char *config;
	const char *name;
	const char *dir;
	const char *print;
	const char *kubeconfig;
	bool check;
	bool verbose;
};

enum { OPT_NAME = 256, OPT_DIR, OPT_PRINT, OPT_KUBECONFIG };

/* Parse argv.  Returns -1 to go on, else an exit status. */
static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "print", required_argument, NULL, OPT_PRINT },
		{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "c:nvhV", longs, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'n':
			o->check = true;
			break;
		case OPT_NAME:
			o->name = optarg;
			break;
		case OPT_DIR:
			o->dir = optarg;
			break;
		case OPT_PRINT:
			o->print = optarg;
			break;
		case OPT_KUBECONFIG:
			o->kubeconfig = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("hotcfgd %s\n", hotcfg_version());
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_CONFIG;
		}
	}
	if (o->name != NULL && o->dir != NULL) {
		fprintf(stderr, "hotcfgd: give --name or --dir, not both\n");
		return EXIT_CONFIG;
	}
	if (o->name != NULL && !conf_is_name(o->name)) {
		fprintf(stderr, "hotcfgd: --name %s: not a name (use --dir "
		    "for a path)\n", o->name);
		return EXIT_CONFIG;
	}
	if (o->check && o->print != NULL) {
		fprintf(stderr, "hotcfgd: give -n or --print, not both\n");
		return EXIT_CONFIG;
	}
	if (o->kubeconfig != NULL && o->kubeconfig[0] == '\0') {
		fprintf(stderr, "hotcfgd: --kubeconfig: empty path\n");
		return EXIT_CONFIG;
	}
	if (o->print != NULL && hc_dump_parse_format(o->print) < 0) {
		fprintf(stderr, "hotcfgd: --print %s: use json, yaml or "
		    "flat\n", o->print);
		return EXIT_CONFIG;
	}
	return -1;
}

/* The configuration: defaults, then the file, then the command line. */
static int
configure(struct agent_conf *c, const struct opts *o, int argc,
    char **argv)
{
	struct cfg_error err;
	int i, rc;

	memset(&err, 0, sizeof(err));
	if (o->config != NULL && (rc = conf_load(c, o->config, &err)) != 0) {
		report(&err);
		return EXIT_CONFIG;
	}
	if (o->name != NULL || o->dir != NULL) {
		free(c->name);
		free(c->dir);
		c->name = o->name ? strdup(o->name) : NULL;
		c->dir = o->dir ? strdup(o->dir) : NULL;
		if ((o->name && !c->name) || (o->dir && !c->dir))
			goto nomem;
	}
	if (o->kubeconfig != NULL) {
		free(c->kubeconfig);
		if ((c->kubeconfig = strdup(o->kubeconfig)) == NULL)
			goto nomem;
	}
	if (o->verbose)
		c->log_level = LOGL_DEBUG;
	if (optind < argc)
		conf_clear_sources(c);
	for (i = optind; i < argc; i++) {
		rc = conf_add_arg(c, argv[i], (unsigned)(i - optind + 1), &err);
		if (rc == -ENOMEM)
			goto nomem;
		if (rc != 0) {
			report(&err);
			return EXIT_CONFIG;
		}
	}
	if (c->nsrc == 0) {
		fprintf(stderr, "hotcfgd: no sources: name files, "
		    "directories or configmap:NAMESPACE/NAME on the command "
		    "line or under sources: in the configuration\n");
		return EXIT_CONFIG;
	}
	if (conf_finish(c) != 0)
		goto nomem;
	return -1;
nomem:
	fprintf(stderr, "hotcfgd: out of memory\n");
	return EXIT_RUNTIME;
}

/* -n and --print: read everything once, build, report or print. */
static int
one_shot(struct agent *a, const struct opts *o)
{
	struct cfg_error err;
	hotcfg_snap *snap = NULL;
	void *blob = NULL;
	size_t size, entries;
	int rc, status = EXIT_CONFIG;

	memset(&err, 0, sizeof(err));
	/* A ConfigMap is asked for once, for at most its request_timeout;
	 * one that does not exist is missing like a file. */
	rc = agent_read_all(a, &err);
	if (rc != 0) {
		report(&err);
		goto out;
	}
	if ((rc = agent_build(a, &blob, &size, &entries, &err)) != 0) {
		report(&err);
		goto out;
	}
	if (o->check) {
		printf("configuration OK\n");
		status = EXIT_OK;
		goto out;
	}
	status = EXIT_RUNTIME;
	if ((rc = hc_snap_wrap(blob, size, &snap)) != 0) {
		fprintf(stderr, "hotcfgd: built an invalid snapshot: %s\n",
		    hotcfg_strerror(rc));
		goto out;
	}
	rc = hc_dump(snap, stdout, hc_dump_parse_format(o->print), NULL,
	    false);
	if (rc != 0 || fflush(stdout) != 0) {
		fprintf(stderr, "hotcfgd: --print: %s\n", rc ?
		    hotcfg_strerror(rc) : strerror(errno));
		goto out;
	}
	status = EXIT_OK;
out:
	hc_snap_unwrap(snap);
	free(blob);
	return status;
}

/*
 * Block the daemon's signals in this thread - and so in every thread
 * started after it - and open the signalfd the main loop reads them from.
 * Must run before any thread is created.  0 or -errno.
 */
static int
setup_signals(void)
{
	sigset_t set;
	size_t i;
	int rc;

	sigemptyset(&set);
	for (i = 0; i < sizeof(daemon_sigs) / sizeof(daemon_sigs[0]); i++)
		sigaddset(&set, daemon_sigs[i]);
	if ((rc = pthread_sigmask(SIG_BLOCK, &set, NULL)) != 0)
		return -rc;
	if ((sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return -errno;
	return 0;
}

static const char *
sig_name(int sig)
{
	switch (sig) {
	case SIGHUP:
		return "HUP";
	case SIGTERM:
		return "TERM";
	case SIGINT:
		return "INT";
	case SIGUSR1:
		return "USR1";
	}
	return "?";
}

static int
min_timeout(int64_t now, int64_t deadline, int cur)
{
	int64_t ms;

	if (deadline == INT64_MAX)
		return cur;
	if (deadline <= now)
		return 0;
	/* Round up, so that we never wake just before the deadline. */
	ms = (deadline - now + 999999) / 1000000;
	if (ms > INT_MAX)
		ms = INT_MAX;
	return cur < 0 || ms < cur ? (int)ms : cur;
}

/* The daemon's loop.  Returns the exit status. */
static int
run(struct agent *a, const struct agent_conf *c)
{
	int *how = NULL;
	int64_t now, next_due = 0, next_hb, next_rescan = INT64_MAX;
	int64_t next_retry = INT64_MAX, retry_ns = RETRY_NS;
	const char *reason = "start";
	uint64_t events, overflows;
	bool quit = false;
	struct logline l;

	if ((how = calloc(a->nsrc, sizeof(*how))) == NULL)
		return EXIT_RUNTIME;
	now = hc_mono_ns();
	next_hb = now + c->heartbeat_ns;
	pending_post_all(a->pend, PEND_READ, now);
	while (!quit) {
		struct pollfd pfd[2];
		int64_t rescan;
		int timeout = -1;

		now = hc_mono_ns();
		a->retry_due = a->retry && now >= next_retry;
		if (pending_take(a->pend, now, how, &next_due) > 0 ||
		    a->retry_due) {
			/* < 0: a publish was tried and failed. */
			if (agent_reload(a, how, reason) < 0) {
				next_retry = hc_mono_ns() + retry_ns;
				retry_ns = retry_ns * 2 > RETRY_MAX_NS ?
				    RETRY_MAX_NS : retry_ns * 2;
			} else if (!a->retry) {
				next_retry = INT64_MAX;
				retry_ns = RETRY_NS;
			}
			reason = "change";
			continue;       /* whatever came meanwhile is next */
		}
		rescan = c->rescan_ns;
		if (watch_degraded(a->watch) && (rescan == 0 ||
		    rescan > DEGRADED_RESCAN_NS))
			rescan = DEGRADED_RESCAN_NS;
		if (rescan == 0)
			next_rescan = INT64_MAX;
		else if (next_rescan > now + rescan)
			next_rescan = now + rescan;
		if (now >= next_hb) {
			hc_pub_heartbeat(a->pub);
			next_hb = now + c->heartbeat_ns;
		}
		if (now >= next_rescan) {
			reason = "rescan";
			next_rescan = now + rescan;
			pending_post_all(a->pend, PEND_CHECK, now);
			continue;
		}
		timeout = min_timeout(now, next_due, timeout);
		timeout = min_timeout(now, next_hb, timeout);
		timeout = min_timeout(now, next_rescan, timeout);
		if (a->retry)
			timeout = min_timeout(now, next_retry, timeout);
		pfd[0].fd = sig_fd;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = pending_fd(a->pend);
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		if (poll(pfd, 2, timeout) < 0) {
			if (errno == EINTR)
				continue;       /* revents are not set */
			log_begin(&l, LOGL_ERROR, "error");
			log_str(&l, "source", "poll");
			log_errno(&l, "error", errno);
			log_end(&l);
			free(how);
			return EXIT_RUNTIME;
		}
		if (pfd[1].revents & POLLIN) {
			pending_drain(a->pend);
			if (strcmp(reason, "rescan") != 0)
				reason = "change";
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si[8];
			ssize_t n, k;

			/* Non-blocking: EAGAIN once none is pending.  Like
			 * a handler, a signal that comes again before it
			 * was read counts once. */
			while ((n = read(sig_fd, si, sizeof(si))) > 0 ||
			    (n < 0 && errno == EINTR)) {
				for (k = 0; k < n / (ssize_t)sizeof(si[0]);
				    k++) {
					int sig = (int)si[k].ssi_signo;

					log_begin(&l, LOGL_INFO, "signal");
					log_str(&l, "signal", sig_name(sig));
					log_end(&l);
					if (sig == SIGTERM || sig == SIGINT)
						quit = true;
					else if (sig == SIGHUP) {
						reason = "signal";
						pending_post_all(a->pend,
						    PEND_READ, hc_mono_ns());
					} else if (sig == SIGUSR1) {
						int rc = log_reopen();

						log_begin(&l, rc ? LOGL_ERROR :
						    LOGL_INFO, "reopen");
						if (rc != 0)
							log_errno(&l, "error",
							    rc);
						log_end(&l);
					}
				}
			}
		}
	}
	watch_counters(a->watch, &events, &overflows);
	log_begin(&l, LOGL_INFO, "exit");
	log_uint(&l, "generation", hc_pub_generation(a->pub));
	log_uint(&l, "events", events);
	log_uint(&l, "overflows", overflows);
	log_end(&l);
	free(how);
	return EXIT_OK;
}

static int
daemon_main(struct agent *a, const struct agent_conf *c)
{
	struct hc_pub_opts po = { .history = c->history, .gid = (gid_t)-1,
	    .group_read = true };
	struct watch_opts wo = { .debounce_ns = c->debounce_ns,
	    .write_timeout_ns = c->write_timeout_ns,
	    .delete_grace_ns = c->delete_grace_ns };
	struct logline l;
	char *dir = NULL;
	int rc, status = EXIT_RUNTIME;

	if ((rc = log_open(c->log_file, c->log_level)) != 0) {
		fprintf(stderr, "hotcfgd: log file %s: %s\n", c->log_file,
		    strerror(-rc));
		return EXIT_CONFIG;
	}
	/* Before anything can start a thread: see "Signals" above. */
	if ((rc = setup_signals()) != 0) {
		log_begin(&l, LOGL_ERROR, "error");
		log_str(&l, "source", "signals");
		log_errno(&l, "error", rc);
		log_end(&l);
		return EXIT_RUNTIME;
	}
	if (c->group != NULL) {
		struct group *g = getgrnam(c->group);
		char *end;
		unsigned long n = strtoul(c->group, &end, 10);

		if (g != NULL)
			po.gid = g->gr_gid;
		else if (*end == '\0' && end != c->group)
			po.gid = (gid_t)n;
		else {
			fprintf(stderr, "hotcfgd: group %s: no such group\n",
			    c->group);
			return EXIT_CONFIG;
		}
	}
	if (c->dir != NULL)
		dir = strdup(c->dir);
	else if ((rc = hc_resolve_dir(c->name, &dir)) != 0)
		dir = NULL;
	if (dir == NULL) {
		fprintf(stderr, "hotcfgd: cannot tell the publish "
		    "directory\n");
		goto out;
	}
	if ((rc = pending_new(&a->pend, a->nsrc)) != 0 ||
	    (rc = watch_new(&a->watch, a->pend, a->nsrc, &wo)) != 0) {
		log_begin(&l, LOGL_ERROR, "error");
		log_str(&l, "source", "startup");
		log_errno(&l, "error", rc);
		log_end(&l);
		goto out;
	}
	for (size_t i = 0; i < a->nsrc; i++) {
		struct cfg_error err;

		memset(&err, 0, sizeof(err));
		if ((rc = source_start(&a->src[i], a->pend, &err)) != 0) {
			report(&err);
			status = EXIT_CONFIG;
			goto out;
		}
	}
	if ((rc = hc_pub_open(&a->pub, dir, &po)) != 0) {
		log_begin(&l, LOGL_ERROR, "error");
		log_str(&l, "source", "publish");
		log_str(&l, "dir", dir);
		log_errno(&l, "error", rc);
		if (rc == -EBUSY)
			log_str(&l, "hint", "another hotcfgd publishes there");
		log_end(&l);
		goto out;
	}
	log_begin(&l, LOGL_INFO, "start");
	log_str(&l, "version", hotcfg_version());
	log_int(&l, "pid", (int64_t)getpid());
	log_str(&l, "dir", dir);
	log_uint(&l, "sources", a->nsrc);
	log_uint(&l, "generation", hc_pub_generation(a->pub));
	if (c->file != NULL)
		log_str(&l, "config", c->file);
	log_end(&l);
	for (size_t i = 0; i < a->nsrc; i++) {
		log_begin(&l, LOGL_DEBUG, "source");
		log_str(&l, "source", a->src[i].conf->name);
		log_str(&l, "kind", src_kind_name(a->src[i].conf->kind));
		if (a->src[i].conf->prefix != NULL)
			log_str(&l, "prefix", a->src[i].conf->prefix);
		log_bool(&l, "optional", a->src[i].conf->optional);
		log_end(&l);
	}
	if ((rc = watch_start(a->watch)) != 0) {
		log_begin(&l, LOGL_ERROR, "error");
		log_str(&l, "source", "watcher");
		log_errno(&l, "error", rc);
		log_end(&l);
		goto out;
	}
	status = run(a, c);
out:
	/* Stop the threads before anything they use goes away: the
	 * kinds' own feeds post to the pending board. */
	for (size_t i = 0; i < a->nsrc; i++)
		source_stop(&a->src[i]);
	watch_free(a->watch);
	a->watch = NULL;
	hc_pub_close(a->pub);
	a->pub = NULL;
	pending_free(a->pend);
	a->pend = NULL;
	if (sig_fd >= 0)
		close(sig_fd);
	sig_fd = -1;
	free(dir);
	return status;
}

int
main(int argc, char **argv)
{
	struct agent_conf conf;
	struct agent a;
	struct opts o;
	struct cfg_error err;
	int status;

	/* A peer that closes a connection (the API server) must not kill
	 * us while we write to it: libcurl and OpenSSL see EPIPE instead.
	 * Every mode, -n too. */
	signal(SIGPIPE, SIG_IGN);
	memset(&a, 0, sizeof(a));
	conf_init(&conf);
	if ((status = parse_args(argc, argv, &o)) >= 0)
		goto out;
	if ((status = configure(&conf, &o, argc, argv)) >= 0)
		goto out;
	memset(&err, 0, sizeof(err));
	if (agent_init(&a, &conf, &err) != 0) {
		report(&err);
		status = EXIT_CONFIG;
		goto out;
	}
	if (o.check || o.print != NULL) {
		/* Only problems on stderr: stdout is the answer. */
		log_set_level(LOGL_ERROR);
		status = one_shot(&a, &o);
	} else {
		status = daemon_main(&a, &conf);
	}
out:
	agent_fini(&a);
	conf_free(&conf);
	log_close();
	return status;
}
