/*
 * open.c - finding and opening a configuration, and saying clearly what is
 * wrong when that fails.
 *
 * Every error names the directory the command looked in and, where there is
 * one, what to do about it: the usual mistake is asking for a name the
 * agent does not publish under, or asking before the agent has published.
 *
 * `watch` and `wait` may start before the agent: they wait for the control
 * file to appear.  That wait is event driven (inotify on the nearest
 * directory that exists, so a directory created later is noticed too),
 * never a sleep loop.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cli.h"

void
cli_hint_agent(const struct cli *c, char *buf, size_t len)
{
	const char *name;

	if (c->by_dir) {
		snprintf(buf, len, "is hotcfgd running with --dir %s?",
		    c->where);
		return;
	}
	if (c->where != NULL) {
		snprintf(buf, len, "is hotcfgd running with --name %s?",
		    c->where);
		return;
	}
	name = getenv("HOTCFG_NAME");
	if (name != NULL && *name != '\0')
		snprintf(buf, len, "is hotcfgd running with --name %s "
		    "(from $HOTCFG_NAME)?", name);
	else
		snprintf(buf, len, "is hotcfgd running with --name default? "
		    "(choose another with --name, --dir or $HOTCFG_NAME)");
}

static const char *
dir_of(struct cli *c)
{
	if (c->dir == NULL && hc_resolve_dir(c->where, &c->dir) != 0)
		return c->where ? c->where : "(unknown directory)";
	return c->dir;
}

int
cli_fail(struct cli *c, int err, const char *what)
{
	const char *dir = dir_of(c);
	char hint[512];

	cli_hint_agent(c, hint, sizeof(hint));
	switch (err) {
	case -ENOENT:
		cli_err("no configuration in %s (no control file there); %s",
		    dir, hint);
		return EXIT_NOTFOUND;
	case HOTCFG_ENOTPUB:
		cli_err("nothing published in %s yet; %s (hotcfg status "
		    "shows what the agent reports)", dir, hint);
		return EXIT_NOTFOUND;
	case -ENOTDIR:
		cli_err("%s is not a directory; give the configuration's "
		    "directory with --dir or its name with --name", dir);
		return EXIT_TROUBLE;
	case -EACCES:
	case -EPERM:
		cli_err("%s %s: %s; run as a user allowed to read the "
		    "agent's files (hotcfgd's group)", what, dir,
		    hotcfg_strerror(err));
		return EXIT_TROUBLE;
	case HOTCFG_ECORRUPT:
		cli_err("%s %s: %s; restarting hotcfgd rewrites it", what,
		    dir, hotcfg_strerror(err));
		return EXIT_TROUBLE;
	case HOTCFG_EVERSION:
		cli_err("%s %s: %s; use the hotcfg that comes with the "
		    "running hotcfgd", what, dir, hotcfg_strerror(err));
		return EXIT_TROUBLE;
	case -EINVAL:
		if (c->where != NULL && !c->by_dir) {
			cli_err("'%s' is not a configuration name", c->where);
			return EXIT_TROUBLE;
		}
		break;
	}
	cli_err("%s %s: %s", what, dir, hotcfg_strerror(err));
	return EXIT_TROUBLE;
}

/*
 * An inotify descriptor watching the nearest existing directory on the way
 * to dir/control, or a negative errno.  Anything created, renamed in or
 * removed there may be what we wait for; the caller just tries again.
 *
 * A directory may appear between finding that it is missing and watching
 * its parent; that creation would go unseen.  So once the parent is
 * watched, the missing one is looked for again, and if it is there now
 * the watch moves down to it.
 */
static int
watch_nearest(const char *dir)
{
	const uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF |
	    IN_MOVE_SELF | IN_ONLYDIR;
	char *p = NULL, *missing = NULL;
	int fd, wd, rc = -ENOMEM;

	if ((fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0)
		return -errno;
	for (int tries = 0; tries < 100; tries++) {
		size_t missing_len = 0;

		free(p);
		if ((p = strdup(dir)) == NULL)
			goto out;
		for (;;) {
			char *slash;

			wd = inotify_add_watch(fd, *p ? p : "/", mask);
			if (wd >= 0)
				break;
			if (errno != ENOENT && errno != ENOTDIR) {
				rc = -errno;
				goto out;
			}
			/* p is missing (a prefix of dir): one level up,
			 * "a/b/c" -> "a/b", "/a" -> "" (the root),
			 * "name" -> "." */
			missing_len = strlen(p);
			slash = strrchr(p, '/');
			if (slash != NULL) {
				*slash = '\0';
			} else if (strcmp(p, ".") != 0) {
				strcpy(p, ".");
			} else {
				rc = -ENOENT;
				goto out;
			}
		}
		if (missing_len == 0)
			break;          /* watching dir itself */
		free(missing);
		if ((missing = strndup(dir, missing_len)) == NULL)
			goto out;
		/* Still missing: its creation will wake us. */
		if (access(missing, F_OK) != 0 || tries == 99)
			break;
		inotify_rm_watch(fd, wd);
	}
	rc = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	free(p);
	free(missing);
	return rc;
}

/* Wait for an event on fd until the deadline.  0, or -ETIMEDOUT. */
static int
wait_event(int fd, int64_t deadline_ns)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[4096];

	for (;;) {
		int ms = -1, n;

		if (deadline_ns >= 0) {
			int64_t left = deadline_ns - hc_mono_ns();
			if (left <= 0)
				return -ETIMEDOUT;
			left = (left + 999999) / 1000000;
			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		n = poll(&pfd, 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			continue;       /* the deadline check above ends it */
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		return 0;
	}
}

int
cli_open(struct cli *c, hotcfg **h, bool wait, int64_t deadline_ns)
{
	const char *dir;
	int rc, fd;

	if ((rc = hc_resolve_dir(c->where, &c->dir)) != 0)
		return cli_fail(c, rc, "cannot open");
	dir = c->dir;
	for (;;) {
		rc = hotcfg_open(h, dir);
		/* A control file that is still being made reads as corrupt
		 * for an instant; while waiting, give it the same chance. */
		if (rc == 0 || !wait || (rc != -ENOENT &&
		    rc != HOTCFG_ECORRUPT))
			break;
		if ((fd = watch_nearest(dir)) < 0) {
			rc = fd;
			break;
		}
		/* It may have appeared before the watch was in place. */
		rc = hotcfg_open(h, dir);
		if (rc != -ENOENT && rc != HOTCFG_ECORRUPT) {
			close(fd);
			break;
		}
		rc = wait_event(fd, deadline_ns);
		close(fd);
		if (rc == -ETIMEDOUT) {
			char hint[512];
			cli_hint_agent(c, hint, sizeof(hint));
			cli_err("timed out: no configuration appeared in %s; "
			    "%s", dir, hint);
			return EXIT_NOTFOUND;
		}
		if (rc != 0)
			break;
	}
	if (rc != 0)
		return cli_fail(c, rc, "cannot open");
	return EXIT_OK;
}

int
cli_snapshot(struct cli *c, hotcfg *h, const hotcfg_snap **s)
{
	hotcfg_status st;
	int rc = hotcfg_snapshot(h, s);

	if (rc == 0)
		return EXIT_OK;
	if (rc == HOTCFG_ENOTPUB && hotcfg_status_read(h, &st) == 0 &&
	    st.outcome == HOTCFG_OUTCOME_ERROR) {
		/* The agent runs but cannot build: say why, that is what
		 * the user needs next. */
		cli_err("nothing published in %s yet: the agent's last build "
		    "failed: %s%s%.0u%s%.0u: %s", dir_of(c), st.source,
		    st.line ? ":" : "", st.line, st.column ? ":" : "",
		    st.column, st.message);
		return EXIT_NOTFOUND;
	}
	return cli_fail(c, rc, "cannot read");
}
