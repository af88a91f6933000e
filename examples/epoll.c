/*
 * epoll.c - libhotcfg in an event loop: the configuration's descriptor
 * next to a timer, in one epoll(7) set, and the settings reloaded whenever
 * the agent publishes.
 *
 *	epoll [NAME | DIR] [RELOADS]
 *
 * The "service" here is a health checker that ticks every
 * health_check.interval_ms milliseconds; when that setting changes, the
 * timer is re-armed at once, without a restart.  With RELOADS, the program
 * exits 0 after that many reloads (the tests drive it that way).
 *
 *	make run &
 *	build/examples/epoll demo
 *	(change health_check.interval_ms in examples/app.yaml)
 *
 * The order that matters, when hotcfg_fd() is readable:
 *	1. hotcfg_fd_clear()  - so a publish after this point wakes us again;
 *	2. hotcfg_snapshot()  - the newest generation, at least the one that
 *	                        woke us (the agent stores the generation before
 *	                        it signals the descriptor).
 * Several publishes may come as one wake-up, and a wake-up may bring no new
 * generation: compare generations, do not count wake-ups.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <hotcfg.h>

/* The settings this service runs with, copied out of the snapshot so that
 * they outlive it.  Defaults apply to keys that are missing or mistyped. */
struct settings {
	uint64_t generation;
	int64_t interval_ms;
	char path[128];
	char level[16];
};

static void
load(const hotcfg_snap *s, struct settings *st)
{
	const char *str;
	int64_t ms;

	st->generation = hotcfg_snap_generation(s);
	if (hotcfg_get_int(s, "health_check.interval_ms", &ms) == 0 &&
	    ms >= 10 && ms <= 3600 * 1000)
		st->interval_ms = ms;
	else
		st->interval_ms = 1000;
	if (hotcfg_get_str(s, "health_check.path", &str) != 0)
		str = "/healthz";
	snprintf(st->path, sizeof(st->path), "%s", str);
	if (hotcfg_get_str(s, "logging.level", &str) != 0)
		str = "info";
	snprintf(st->level, sizeof(st->level), "%s", str);
}

static int
arm(int tfd, int64_t ms)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	its.it_interval.tv_sec = ms / 1000;
	its.it_interval.tv_nsec = (ms % 1000) * 1000000;
	its.it_value = its.it_interval;
	return timerfd_settime(tfd, 0, &its, NULL);
}

static int
watch(int ep, int fd)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = fd;
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int
main(int argc, char **argv)
{
	const char *where = argc > 1 ? argv[1] : NULL;
	long reloads = argc > 2 ? strtol(argv[2], NULL, 10) : -1;
	struct settings cur = { 0, 1000, "/healthz", "info" };
	const hotcfg_snap *s;
	uint64_t ticks = 0, nreload = 0;
	hotcfg *h = NULL;
	sigset_t sigs;
	int ep = -1, tfd = -1, sfd = -1, cfd, rc, status = 1;

	if (argc > 3 || (argc > 2 && reloads < 0)) {
		fprintf(stderr, "usage: epoll [NAME | DIR] [RELOADS]\n");
		return 2;
	}
	if ((rc = hotcfg_open(&h, where)) != 0) {
		fprintf(stderr, "epoll: cannot open %s: %s\n",
		    where ? where : "the default configuration",
		    hotcfg_strerror(rc));
		return 1;
	}

	/* SIGINT and SIGTERM arrive as events too, so the loop ends cleanly. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	/*
	 * Ask for the descriptor before the first snapshot: a publish that
	 * happens between the two then makes the descriptor readable, and
	 * is not lost.
	 */
	if ((cfd = hotcfg_fd(h)) < 0) {
		fprintf(stderr, "epoll: hotcfg_fd: %s\n", hotcfg_strerror(cfd));
		goto out;
	}
	rc = hotcfg_snapshot(h, &s);
	if (rc == 0)
		load(s, &cur);
	else if (rc == HOTCFG_ENOTPUB)
		printf("nothing published yet; running on defaults\n");
	else {
		fprintf(stderr, "epoll: %s: %s\n", hotcfg_dir(h),
		    hotcfg_strerror(rc));
		goto out;
	}
	printf("start: generation %" PRIu64 " interval_ms=%" PRId64
	    " path=%s level=%s\n", cur.generation, cur.interval_ms, cur.path,
	    cur.level);
	fflush(stdout);

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (tfd = timerfd_create(CLOCK_MONOTONIC,
	    TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
	    (sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    arm(tfd, cur.interval_ms) != 0 ||
	    watch(ep, cfd) != 0 || watch(ep, tfd) != 0 || watch(ep, sfd) != 0) {
		perror("epoll: setting up the loop");
		goto out;
	}

	for (;;) {
		struct epoll_event evs[4];
		int n = epoll_wait(ep, evs, 4, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("epoll: epoll_wait");
			goto out;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == sfd) {
				printf("signal: stopping after %" PRIu64
				    " reloads\n", nreload);
				status = 0;
				goto out;
			}
			if (fd == tfd) {
				uint64_t exp;

				/* The health check would run here. */
				if (read(tfd, &exp, sizeof(exp)) ==
				    (ssize_t)sizeof(exp))
					ticks += exp;
				continue;
			}
			/* fd == cfd: the agent published (or touched the file). */
			if ((rc = hotcfg_fd_clear(h)) != 0) {
				fprintf(stderr, "epoll: hotcfg_fd_clear: %s\n",
				    hotcfg_strerror(rc));
				goto out;
			}
			if ((rc = hotcfg_snapshot(h, &s)) != 0) {
				/* Keep running on the settings we have. */
				fprintf(stderr, "epoll: %s\n",
				    hotcfg_strerror(rc));
				continue;
			}
			if (hotcfg_snap_generation(s) == cur.generation)
				continue;       /* nothing new */
			int64_t old = cur.interval_ms;
			load(s, &cur);
			if (cur.interval_ms != old &&
			    arm(tfd, cur.interval_ms) != 0) {
				perror("epoll: timerfd_settime");
				goto out;
			}
			nreload++;
			printf("reload %" PRIu64 ": generation %" PRIu64
			    " interval_ms=%" PRId64 " path=%s level=%s"
			    " ticks=%" PRIu64 "\n", nreload, cur.generation,
			    cur.interval_ms, cur.path, cur.level, ticks);
			fflush(stdout);
			if (reloads > 0 && nreload >= (uint64_t)reloads) {
				status = 0;
				goto out;
			}
		}
	}
out:
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	if (ep >= 0)
		close(ep);
	/* The descriptor of hotcfg_fd() belongs to the handle. */
	hotcfg_close(h);
	return status;
}
