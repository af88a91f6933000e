/*
 * changes.c - `hotcfg watch`, `hotcfg wait` and `hotcfg diff`: everything
 * about generations changing.
 *
 * A change is printed as one line per key, keys in snapshot order:
 *     + key = value          added
 *     - key                  removed
 *     ~ key: old -> new      changed (type or value; a source-only change
 *                            is not a change of configuration)
 * Keys and values look exactly as in `hotcfg dump` (flat).  A key printed
 * as it is never holds a space, so the first ": " ends it.
 *
 * watch needs two snapshots alive at once, the one it printed last and the
 * newest, while the library keeps one snapshot per thread and handle: so it
 * opens the configuration twice and alternates between the two handles.
 * It sleeps in hotcfg_wait() and diffs whatever it held against the newest
 * generation, so a burst of publishes prints as one set of changes.
 *
 * diff reads generations from the directory's history (the snap.<16 hex
 * digits> files hotcfgd keeps), maps them itself and validates them with
 * hc_snap_wrap(), the library's own validator.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "dump.h"

/* ------------------------------------------------------------------ */
/* Printing the changes between two snapshots.                          */
/* ------------------------------------------------------------------ */

static int
keycmp(const hotcfg_entry *a, const hotcfg_entry *b)
{
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = memcmp(a->key, b->key, n);

	if (c != 0)
		return c;
	return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

static int
line(char mark, const hotcfg_entry *old, const hotcfg_entry *now)
{
	const hotcfg_entry *k = now ? now : old;
	int rc;

	printf("%c ", mark);
	if ((rc = hc_dump_key(stdout, k->key, k->key_len)) != 0)
		return rc;
	if (mark == '+') {
		fputs(" = ", stdout);
		rc = hc_dump_value(stdout, now);
	} else if (mark == '~') {
		fputs(": ", stdout);
		if ((rc = hc_dump_value(stdout, old)) != 0)
			return rc;
		fputs(" -> ", stdout);
		rc = hc_dump_value(stdout, now);
	}
	putchar('\n');
	return rc;
}

/*
 * Print what changed from a to b (NULL: an empty configuration) under
 * prefix, by walking both in key order side by side.  0 or an error.
 */
static int
print_changes(const hotcfg_snap *a, const hotcfg_snap *b, const char *prefix)
{
	size_t ca = 0, cb = 0;
	hotcfg_entry ea, eb;
	bool ha, hb;
	int rc = 0, ra, rb;

	ra = a ? hotcfg_next(a, prefix, &ca, &ea) : -ENOENT;
	rb = b ? hotcfg_next(b, prefix, &cb, &eb) : -ENOENT;
	for (;;) {
		int c;

		if ((ra != 0 && ra != -ENOENT) || (rb != 0 && rb != -ENOENT))
			return ra != 0 && ra != -ENOENT ? ra : rb;
		ha = ra == 0;
		hb = rb == 0;
		if (!ha && !hb)
			break;
		c = !ha ? 1 : !hb ? -1 : keycmp(&ea, &eb);
		if (c < 0) {
			rc = line('-', &ea, NULL);
			ra = hotcfg_next(a, prefix, &ca, &ea);
		} else if (c > 0) {
			rc = line('+', NULL, &eb);
			rb = hotcfg_next(b, prefix, &cb, &eb);
		} else {
			if (!hc_dump_same_value(&ea, &eb))
				rc = line('~', &ea, &eb);
			ra = hotcfg_next(a, prefix, &ca, &ea);
			rb = hotcfg_next(b, prefix, &cb, &eb);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* watch                                                                */
/* ------------------------------------------------------------------ */

int
cmd_watch(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "prefix", required_argument, NULL, 'p' },
		CLI_COMMON_OPTS
	};
	const hotcfg_snap *held = NULL, *newest;
	const char *prefix = NULL;
	hotcfg *h[2] = { NULL, NULL };
	uint64_t gen = 0, after;
	int opt, code = EXIT_TROUBLE, rc, cur = 0;

	while ((opt = cli_getopt(c, "watch", argc, argv, lo, &code)) != -1) {
		if (opt == -2)
			return code;
		prefix = optarg;
	}
	if (optind != argc)
		return cli_usage_error("watch", "unexpected argument '%s'",
		    argv[optind]);

	/* Waits for the agent to create the configuration, if need be. */
	if ((code = cli_open(c, &h[0], true, -1)) != 0)
		goto out;
	if ((code = cli_open(c, &h[1], false, -1)) != 0)
		goto out;
	rc = hotcfg_snapshot(h[0], &held);
	if (rc == HOTCFG_ENOTPUB) {
		held = NULL;    /* the first publish shows as all added */
	} else if (rc != 0) {
		code = cli_fail(c, rc, "cannot read");
		goto out;
	} else {
		gen = hotcfg_snap_generation(held);
	}
	after = gen;
	for (;;) {
		int next = held ? cur ^ 1 : cur;

		rc = hotcfg_wait(h[cur], after, -1);
		if (rc == -EINTR)
			continue;
		if (rc != 0) {
			code = cli_fail(c, rc, "cannot wait on");
			goto out;
		}
		/* The other handle gets the newest; `held` stays valid. */
		if ((rc = hotcfg_snapshot(h[next], &newest)) != 0) {
			code = cli_fail(c, rc, "cannot read");
			goto out;
		}
		if (hotcfg_snap_generation(newest) <= gen) {
			/* The library could not use the newest generation and
			 * kept an older one: skip it rather than spin on it. */
			after = hotcfg_generation(h[next]);
			cli_err("generation %llu in %s cannot be read; waiting "
			    "for the next one", (unsigned long long)after,
			    c->dir);
			continue;
		}
		if ((rc = print_changes(held, newest, prefix)) != 0 ||
		    (code = cli_flush()) != 0) {
			if (rc != 0)
				code = cli_fail(c, rc, "cannot print from");
			goto out;
		}
		held = newest;
		after = gen = hotcfg_snap_generation(newest);
		cur = next;
	}
out:
	hotcfg_close(h[0]);
	hotcfg_close(h[1]);
	return code;
}

/* ------------------------------------------------------------------ */
/* wait                                                                 */
/* ------------------------------------------------------------------ */

int
cmd_wait(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "after", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		CLI_COMMON_OPTS
	};
	hotcfg *h = NULL;
	uint64_t after = 0;
	bool have_after = false;
	double timeout = -1;
	int64_t deadline = -1;
	int opt, code = EXIT_TROUBLE, rc;

	while ((opt = cli_getopt(c, "wait", argc, argv, lo, &code)) != -1) {
		switch (opt) {
		case -2:
			return code;
		case 'a':
			if (cli_parse_u64(optarg, &after) != 0)
				return cli_usage_error("wait", "--after takes "
				    "a generation number, not '%s'", optarg);
			have_after = true;
			break;
		case 't':
			if (cli_parse_seconds(optarg, &timeout) != 0)
				return cli_usage_error("wait", "--timeout "
				    "takes seconds, not '%s'", optarg);
			break;
		}
	}
	if (optind != argc)
		return cli_usage_error("wait", "unexpected argument '%s'",
		    argv[optind]);
	if (timeout >= 0)
		deadline = hc_mono_ns() + (int64_t)(timeout * 1e9);

	/* With no configuration yet, wait for it: "the current one" is
	 * then generation 0, and any first publish ends the wait. */
	if ((code = cli_open(c, &h, true, deadline)) != 0)
		return code;
	if (!have_after)
		after = hotcfg_generation(h);
	for (;;) {
		int ms = -1;

		if (deadline >= 0) {
			int64_t left = deadline - hc_mono_ns();
			if (left < 0)
				left = 0;
			left = (left + 999999) / 1000000;
			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		rc = hotcfg_wait(h, after, ms);
		if (rc == -EINTR)
			continue;
		break;
	}
	if (rc == -ETIMEDOUT) {
		cli_err("timed out after %g s: nothing newer than generation "
		    "%llu was published in %s", timeout,
		    (unsigned long long)after, c->dir);
		code = EXIT_NOTFOUND;
	} else if (rc != 0) {
		code = cli_fail(c, rc, "cannot wait on");
	} else {
		printf("%llu\n", (unsigned long long)hotcfg_generation(h));
		code = cli_flush();
	}
	hotcfg_close(h);
	return code;
}

/* ------------------------------------------------------------------ */
/* diff                                                                 */
/* ------------------------------------------------------------------ */

/* The generations in the directory's history, ascending. */
static int
list_history(const char *dir, uint64_t **out, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t *v = NULL;
	size_t cap = 0;
	int rc = 0;

	*n = 0;
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		const char *hex = de->d_name + 5;
		uint64_t g = 0;
		size_t i;

		if (strncmp(de->d_name, "snap.", 5) != 0 || strlen(hex) != 16)
			continue;
		for (i = 0; i < 16; i++) {
			char ch = hex[i];
			int dgt = ch >= '0' && ch <= '9' ? ch - '0' :
			    ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
			if (dgt < 0)
				break;
			g = g << 4 | (uint64_t)dgt;
		}
		if (i != 16 || g == 0)
			continue;
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			uint64_t *p = realloc(v, ncap * sizeof(*p));
			if (p == NULL) {
				rc = -ENOMEM;
				break;
			}
			v = p;
			cap = ncap;
		}
		v[(*n)++] = g;
	}
	closedir(d);
	for (size_t i = 1; i < *n; i++) {       /* a handful: insertion */
		uint64_t x = v[i];
		size_t j = i;
		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	*out = v;
	return rc;
}

struct mapped {
	void *base;
	size_t size;
	hotcfg_snap *s;
};

static void
unmap_gen(struct mapped *m)
{
	hc_snap_unwrap(m->s);
	if (m->base != NULL)
		munmap(m->base, m->size);
	memset(m, 0, sizeof(*m));
}

/* Map and validate generation gen of the history.  -ENOENT when it is no
 * longer there. */
static int
map_gen(const char *dir, uint64_t gen, struct mapped *m)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, rc;

	memset(m, 0, sizeof(*m));
	if ((size_t)snprintf(path, sizeof(path), "%s/snap.%016" PRIx64, dir,
	    gen) >= sizeof(path))
		return -ENAMETOOLONG;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (st.st_size <= 0) {
		close(fd);
		return HOTCFG_ECORRUPT;
	}
	m->size = (size_t)st.st_size;
	m->base = mmap(NULL, m->size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m->base == MAP_FAILED) {
		m->base = NULL;
		return -errno;
	}
	if ((rc = hc_snap_wrap(m->base, m->size, &m->s)) != 0) {
		unmap_gen(m);
		return rc;
	}
	if (hotcfg_snap_generation(m->s) != gen) {
		unmap_gen(m);
		return HOTCFG_ECORRUPT;
	}
	return 0;
}

static void
say_history(struct cli *c, const char *why)
{
	uint64_t *v = NULL;
	size_t n = 0;
	char list[512] = "";
	size_t len = 0;

	if (list_history(c->dir, &v, &n) == 0) {
		for (size_t i = 0; i < n && len + 24 < sizeof(list); i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len,
			    "%s%llu", i ? " " : "", (unsigned long long)v[i]);
	}
	free(v);
	cli_err("%s; the history of %s holds %s%s", why, c->dir,
	    n ? "generations " : "no generation", list);
}

int
cmd_diff(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = { CLI_COMMON_OPTS };
	struct mapped ma = { 0 }, mb = { 0 };
	uint64_t ga = 0, gb = 0, *hist = NULL;
	size_t nhist;
	hotcfg *h = NULL;
	int opt, code = EXIT_TROUBLE, rc, nargs;
	char why[128];

	while ((opt = cli_getopt(c, "diff", argc, argv, lo, &code)) != -1)
		if (opt == -2)
			return code;
	nargs = argc - optind;
	if (nargs > 2)
		return cli_usage_error("diff", "at most two generations");
	if (nargs >= 1 && cli_parse_u64(argv[optind], &ga) != 0)
		return cli_usage_error("diff", "'%s' is not a generation "
		    "number", argv[optind]);
	if (nargs == 2 && cli_parse_u64(argv[optind + 1], &gb) != 0)
		return cli_usage_error("diff", "'%s' is not a generation "
		    "number", argv[optind + 1]);

	if ((code = cli_open(c, &h, false, -1)) != 0)
		return code;
	/* A publish between choosing the generations and mapping them can
	 * retire one that we chose ourselves: then choose again.  One the
	 * user named is either there or not. */
	for (int attempt = 0; attempt < 5 && mb.s == NULL; attempt++) {
		uint64_t cur = hotcfg_generation(h), a = ga, b = gb;

		if (cur == 0) {
			code = cli_fail(c, HOTCFG_ENOTPUB, "cannot read");
			goto out;
		}
		if (nargs < 2)
			b = cur;
		if (nargs < 1) {
			free(hist);
			hist = NULL;
			if ((rc = list_history(c->dir, &hist, &nhist)) != 0) {
				code = cli_fail(c, rc, "cannot list");
				goto out;
			}
			a = 0;
			for (size_t i = 0; i < nhist; i++)
				if (hist[i] < b)
					a = hist[i];
			if (a == 0) {
				snprintf(why, sizeof(why), "no generation "
				    "before %llu to compare with",
				    (unsigned long long)b);
				say_history(c, why);
				code = EXIT_NOTFOUND;
				goto out;
			}
		}
		for (int side = 0; side < 2; side++) {
			uint64_t g = side ? b : a;
			bool named = side ? nargs == 2 : nargs >= 1;

			rc = map_gen(c->dir, g, side ? &mb : &ma);
			if (rc == 0)
				continue;
			unmap_gen(&ma);
			if (rc != -ENOENT) {
				code = cli_fail(c, rc, "cannot read the "
				    "history of");
				goto out;
			}
			if (named) {
				snprintf(why, sizeof(why), "generation %llu "
				    "is not in the history",
				    (unsigned long long)g);
				say_history(c, why);
				code = EXIT_NOTFOUND;
				goto out;
			}
			break;          /* retired under us: choose again */
		}
	}
	if (mb.s == NULL) {
		cli_err("the history of %s changed too fast to read; try "
		    "again", c->dir);
		code = EXIT_TROUBLE;
		goto out;
	}
	if ((rc = print_changes(ma.s, mb.s, NULL)) != 0)
		code = cli_fail(c, rc, "cannot print from");
	else
		code = cli_flush();
out:
	unmap_gen(&ma);
	unmap_gen(&mb);
	free(hist);
	hotcfg_close(h);
	return code;
}
