/*
 * oomrun - allocation-failure injection over a whole build and publish.
 *
 *   oomrun DIR [-v]
 *
 * The mechanism.  This program defines malloc, calloc, realloc and free
 * itself.  An executable's definition takes precedence over the C
 * library's for every caller in the process (glibc documents this as
 * "Replacing malloc"), so the agent's code, libyaml, jansson and the C
 * library's own strdup, asprintf and stdio all allocate through here.  The
 * replacement hands each call to the real allocator - the C library's
 * (__libc_malloc...) in a plain build, the sanitizer's (__interceptor_...)
 * when built with ASan or TSan, whose own malloc is a weak alias meant to
 * be replaced this way - unless the failure plan says that this call is
 * to fail: then it returns NULL with errno ENOMEM, as a real allocator
 * does.  Nothing in lib/ or agent/ knows about it; no build flag is needed.
 *
 * The workload is what one reload of hotcfgd does, through the agent's
 * own functions: parse hotcfgd.yaml, set up the sources, read them (a YAML
 * file with anchors, merge keys, tags, several documents, and a directory
 * with YAML, JSON and plain files), merge, flatten, build the snapshot,
 * open the publisher, publish, close; then a reader opens the directory,
 * takes the snapshot and reads every key.
 *
 * A warm-up run without failures counts A, the allocations of one run.
 * Then, for every N in 1..A, a run fails the Nth allocation only ("once")
 * and another fails the Nth and every later one ("from"), and after each:
 *  - no crash (the process would die);
 *  - a run that reported an error published nothing: the generation in the
 *    control file is unchanged and no temporary file is left;
 *  - a run that reported success published exactly one new generation,
 *    and it holds exactly the expected entries (a reader checks them);
 *  - no leak: the count of live allocations is back where it was (and
 *    under `make san` LeakSanitizer checks the whole process at exit).
 *
 * Prints one line of figures; exit 0 when every run kept the rules, 1 with
 * the failing N and why on stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "hotcfg.h"
#include "internal.h"
#include "log.h"
#include "node.h"
#include "reload.h"

/* ------------------------------------------------------------------ */
/* The allocator.                                                       */
/* ------------------------------------------------------------------ */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define REAL(f) __interceptor_##f
#else
#define REAL(f) __libc_##f
#endif
void *REAL(malloc)(size_t);
void *REAL(calloc)(size_t, size_t);
void *REAL(realloc)(void *, size_t);
void REAL(free)(void *);

/* The sanitizer calls malloc while it starts, before it could track a
 * function of ours; so these are never instrumented themselves. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NOSAN __attribute__((no_sanitize("address", "thread", "undefined")))
#else
#define NOSAN
#endif

void *malloc(size_t n) NOSAN;
void *calloc(size_t n, size_t m) NOSAN;
void *realloc(void *p, size_t n) NOSAN;
void free(void *p) NOSAN;

/*
 * The plan: while `armed`, count calls in `calls`; fail call number
 * `fail_at` (1-based), and every later one too when `sticky`.  `live`
 * counts allocations minus frees, for the leak check.  One thread runs the
 * workload, but the C library may allocate from others: atomics.
 */
static _Atomic long calls, live, failed;
static _Atomic long fail_at;
static atomic_bool armed, sticky;

static bool should_fail(void) NOSAN;

static bool
should_fail(void)
{
	long c, f;

	if (!atomic_load_explicit(&armed, memory_order_relaxed))
		return false;
	c = atomic_fetch_add(&calls, 1) + 1;
	f = atomic_load(&fail_at);
	if (f > 0 && (c == f || (c > f && atomic_load(&sticky)))) {
		atomic_fetch_add(&failed, 1);
		return true;
	}
	return false;
}

void *
malloc(size_t n)
{
	void *p;

	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	if ((p = REAL(malloc)(n)) != NULL)
		atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
	return p;
}

void *
calloc(size_t n, size_t m)
{
	void *p;

	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	if ((p = REAL(calloc)(n, m)) != NULL)
		atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
	return p;
}

void *
realloc(void *old, size_t n)
{
	void *p;

	if (should_fail()) {
		errno = ENOMEM;
		return NULL;    /* the old block stays the caller's */
	}
	p = REAL(realloc)(old, n);
	if (old == NULL && p != NULL)
		atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
	else if (old != NULL && n == 0 && p == NULL)
		atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
	return p;
}

/*
 * The sanitizers intercept strdup and strndup themselves, with their own
 * allocator, which would bypass the plan above; so these two are replaced
 * as well (the C library's own versions call malloc, which is ours).
 */
char *strdup(const char *s) NOSAN;
char *strndup(const char *s, size_t n) NOSAN;

char *
strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

char *
strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = malloc(len + 1);

	if (p != NULL) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

void
free(void *p)
{
	if (p != NULL)
		atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
	REAL(free)(p);
}

/* ------------------------------------------------------------------ */
/* The workload.                                                        */
/* ------------------------------------------------------------------ */

static char base[1024], pubdir[1100], cfgpath[1100], srcdir[1100];
static bool verbose;

static void
put(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0) {
		fprintf(stderr, "oomrun: %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

static void
putf(const char *path, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		fprintf(stderr, "oomrun: %s: text too long\n", path);
		exit(2);
	}
	put(path, buf);
}

static const char app_yaml[] =
    "defaults: &d\n"
    "  retries: 3\n"
    "  timeout: 2.5\n"
    "  labels: {team: core, tier: \"1\"}\n"
    "eu:\n"
    "  <<: *d\n"
    "  region: eu-west-1\n"
    "servers:\n"
    "  - {host: a.example, port: 80}\n"
    "  - {host: b.example, port: 443, tls: true}\n"
    "blob: !!binary aGVsbG8=\n"
    "empty: {}\n"
    "none: ~\n"
    "'dotted.key': x\n"
    "---\n"
    "eu: {region: eu-central-1}\n"
    "extra: [1, 2.5, \"three\", null]\n";

/* What the reader must find, and how many entries there are. */
static const struct {
	const char *key, *text;
} expect[] = {
	{ "app.eu.region", "eu-central-1" },
	{ "app.eu.retries", "3" },
	{ "app.eu.labels.tier", "1" },
	{ "app.servers[1].port", "443" },
	{ "app.dotted\\.key", "x" },
	{ "app.extra[2]", "three" },
	{ "d.b.nested", "true" },
	{ "d.motd\\.txt", "hello\n" },
	{ "n.svc.b.y", "2" },
	{ "n.top", "t" },
};

/* read_back()'s verdict on a wrong value (no errno is this large). */
#define WRONG (-100000)

/* Counters reported at the end. */
static long runs, ok_runs, refused_runs;

static int
count_tmp(void)
{
	DIR *d = opendir(pubdir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".tmp.") != NULL)
			n++;
	closedir(d);
	return n;
}

/* The generation in the control file, read without the library (so
 * without allocating): 0 when there is none. */
static uint64_t
published(void)
{
	hotcfg *h;
	uint64_t g = 0;
	bool was = atomic_exchange(&armed, false);

	if (hotcfg_open(&h, pubdir) == 0) {
		g = hotcfg_generation(h);
		hotcfg_close(h);
	}
	atomic_store(&armed, was);
	return g;
}

/* Build and publish once.  0, or the first error. */
static int
build_and_publish(unsigned iter, size_t *entries)
{
	struct agent_conf c;
	struct agent a;
	struct cfg_error err;
	struct hc_pub *p = NULL;
	void *blob = NULL;
	size_t size;
	uint64_t gen;
	FILE *fp;
	char *text = NULL;
	int rc;

	(void)iter;
	conf_init(&c);
	memset(&a, 0, sizeof(a));
	memset(&err, 0, sizeof(err));
	if ((rc = conf_load(&c, cfgpath, &err)) != 0)
		goto out;
	if ((rc = agent_init(&a, &c, &err)) != 0)
		goto out;
	if ((rc = agent_read_all(&a, &err)) != 0)
		goto out;
	if ((rc = agent_build(&a, &blob, &size, entries, &err)) != 0)
		goto out;
	if ((rc = hc_pub_open(&p, pubdir, NULL)) != 0)
		goto out;
	rc = hc_pub_publish(p, blob, size, &gen);
	if (rc == 1)
		rc = -EALREADY;         /* would be a test bug: content changes */
	if (rc != 0)
		goto out;
	/* A status record goes with it, as in agent_reload(). */
	hc_pub_outcome(p, HOTCFG_OUTCOME_OK, NULL, 0, 0, NULL);
	/* The dump path of hotcfgd --print, too: under failures it may
	 * refuse, but the publish has happened and stays. */
	{
		hotcfg_snap *s;
		size_t tlen;
		if (hc_snap_wrap(blob, size, &s) == 0) {
			if ((fp = open_memstream(&text, &tlen)) != NULL) {
				(void)hc_dump(s, fp, HC_DUMP_YAML, NULL, false);
				fclose(fp);
			}
			hc_snap_unwrap(s);
		}
	}
out:
	free(text);
	hc_pub_close(p);
	free(blob);
	agent_fini(&a);
	conf_free(&c);
	if (rc != 0 && verbose)
		fprintf(stderr, "oomrun: refused: %s: %s (%s)\n", err.source,
		    err.msg, hotcfg_strerror(rc));
	return rc;
}

/* A reader on the published directory: every expected key.  0, -ENOMEM
 * and such when the reader could not allocate, WRONG on a wrong value. */
static int
read_back(uint64_t want_gen, size_t entries, char *why, size_t len)
{
	const hotcfg_snap *s;
	hotcfg *h;
	hotcfg_entry e;
	int rc;

	if ((rc = hotcfg_open(&h, pubdir)) != 0)
		return rc;
	if ((rc = hotcfg_snapshot(h, &s)) != 0)
		goto out;
	rc = WRONG;
	if (hotcfg_snap_generation(s) != want_gen) {
		snprintf(why, len, "generation %llu, want %llu",
		    (unsigned long long)hotcfg_snap_generation(s),
		    (unsigned long long)want_gen);
		goto out;
	}
	if (hotcfg_snap_count(s) != entries) {
		snprintf(why, len, "%zu entries, want %zu",
		    hotcfg_snap_count(s), entries);
		goto out;
	}
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		if (hotcfg_get(s, expect[i].key, &e) != 0 ||
		    strcmp(e.text, expect[i].text) != 0) {
			snprintf(why, len, "key %s wrong", expect[i].key);
			goto out;
		}
	}
	if (hotcfg_get_int(s, "d.iteration", &e.i) != 0 ||
	    (uint64_t)e.i != want_gen) {
		snprintf(why, len, "d.iteration is not %llu",
		    (unsigned long long)want_gen);
		goto out;
	}
	rc = 0;
out:
	hotcfg_close(h);
	return rc;
}

static void
setup(const char *dir)
{
	char path[1200];

	snprintf(base, sizeof(base), "%s", dir);
	snprintf(pubdir, sizeof(pubdir), "%s/pub", base);
	snprintf(cfgpath, sizeof(cfgpath), "%s/hotcfgd.yaml", base);
	snprintf(srcdir, sizeof(srcdir), "%s/d", base);
	mkdir(base, 0700);
	mkdir(srcdir, 0700);
	snprintf(path, sizeof(path), "%s/app.yaml", base);
	put(path, app_yaml);
	/* Cut into groups of one child each (main() sets the cut sizes):
	 * the section cache's cut and join under failures too. */
	snprintf(path, sizeof(path), "%s/nested.yaml", base);
	put(path, "top: t\nsvc:\n  a:\n    x: 1\n  b:\n    y: 2\n"
	    "    z: [1, 2]\n  c: 3\n");
	snprintf(path, sizeof(path), "%s/b.yaml", srcdir);
	put(path, "b: {nested: true}\n");
	snprintf(path, sizeof(path), "%s/c.json", srcdir);
	put(path, "{\"c\": [1, {\"x\": null}]}\n");
	snprintf(path, sizeof(path), "%s/motd.txt", srcdir);
	put(path, "hello\n");
	putf(cfgpath,
	    "history: 1\n"
	    "limits: {max_nodes: 10000}\n"
	    "sources:\n"
	    "  - {file: %s/app.yaml, prefix: app}\n"
	    "  - {dir: %s, prefix: d}\n"
	    "  - {file: %s/missing.yaml, optional: true}\n"
	    "  - {file: %s/nested.yaml, prefix: n}\n",
	    base, srcdir, base, base);
}

/* Make the next build's content differ from the last: d.iteration. */
static void
next_content(uint64_t next_gen)
{
	char path[1200];

	snprintf(path, sizeof(path), "%s/iteration.yaml", srcdir);
	putf(path, "iteration: %llu\n", (unsigned long long)next_gen);
}

static int
one_run(long n, bool from, long *allocs, bool leaks)
{
	uint64_t before, after;
	size_t entries = 0;
	long live0, fails;
	char why[256] = "";
	int rc, rrc;

	before = published();
	next_content(before + 1);
	live0 = atomic_load(&live);
	atomic_store(&calls, 0);
	atomic_store(&failed, 0);
	atomic_store(&fail_at, n);
	atomic_store(&sticky, from);
	atomic_store(&armed, true);
	rc = build_and_publish((unsigned)n, &entries);
	atomic_store(&armed, false);
	fails = atomic_load(&failed);
	if (allocs)
		*allocs = atomic_load(&calls);
	runs++;

	after = published();
	if (count_tmp() != 0) {
		fprintf(stderr, "oomrun: N=%ld %s: a temporary file was left "
		    "in %s\n", n, from ? "from" : "once", pubdir);
		return -1;
	}
	if (rc != 0) {
		refused_runs++;
		if (fails == 0) {
			fprintf(stderr, "oomrun: N=%ld: failed without an "
			    "injected failure: %s\n", n, hotcfg_strerror(rc));
			return -1;
		}
		if (after != before) {
			fprintf(stderr, "oomrun: N=%ld %s: the build failed "
			    "(%s) but generation %llu -> %llu was published\n",
			    n, from ? "from" : "once", hotcfg_strerror(rc),
			    (unsigned long long)before,
			    (unsigned long long)after);
			return -1;
		}
	} else {
		ok_runs++;
		if (after != before + 1) {
			fprintf(stderr, "oomrun: N=%ld %s: success but "
			    "generation %llu -> %llu\n", n, from ? "from" :
			    "once", (unsigned long long)before,
			    (unsigned long long)after);
			return -1;
		}
		/* The reader runs without failures: what was published
		 * must be all there. */
		if ((rrc = read_back(after, entries, why, sizeof(why))) != 0) {
			fprintf(stderr, "oomrun: N=%ld %s: published "
			    "generation %llu is wrong: %s (%d)\n", n, from ?
			    "from" : "once", (unsigned long long)after, why,
			    rrc);
			return -1;
		}
	}
	if (leaks && atomic_load(&live) != live0) {
		fprintf(stderr, "oomrun: N=%ld %s: %ld allocations leaked "
		    "(rc %s)\n", n, from ? "from" : "once",
		    atomic_load(&live) - live0, hotcfg_strerror(rc));
		return -1;
	}
	if (verbose)
		fprintf(stderr, "oomrun: N=%ld %s: %s\n", n, from ? "from" :
		    "once", rc ? hotcfg_strerror(rc) : "published");
	return 0;
}

/* The reader under failures: open, snapshot, read; never crash or leak,
 * and either fail cleanly or read the right values. */
static int
reader_runs(long *allocs)
{
	uint64_t gen = published();
	size_t entries;
	long total = 0, live0;
	hotcfg *h;
	const hotcfg_snap *s;

	if (hotcfg_open(&h, pubdir) != 0 || hotcfg_snapshot(h, &s) != 0)
		return -1;
	entries = hotcfg_snap_count(s);
	hotcfg_close(h);
	/* Warm-up, counting. */
	atomic_store(&calls, 0);
	atomic_store(&fail_at, 0);
	atomic_store(&armed, true);
	{
		char why[256];
		int rc = read_back(gen, entries, why, sizeof(why));
		atomic_store(&armed, false);
		if (rc != 0)
			return -1;
	}
	total = atomic_load(&calls);
	for (long n = 1; n <= total + 1; n++) {
		char why[256] = "";
		int rc;

		live0 = atomic_load(&live);
		atomic_store(&calls, 0);
		atomic_store(&fail_at, n);
		atomic_store(&sticky, true);
		atomic_store(&armed, true);
		rc = read_back(gen, entries, why, sizeof(why));
		atomic_store(&armed, false);
		runs++;
		if (rc == WRONG) {
			fprintf(stderr, "oomrun: reader N=%ld: %s\n", n, why);
			return -1;
		}
		if (atomic_load(&live) != live0) {
			fprintf(stderr, "oomrun: reader N=%ld: %ld allocations "
			    "leaked\n", n, atomic_load(&live) - live0);
			return -1;
		}
		if (rc == 0)
			ok_runs++;
		else
			refused_runs++;
	}
	*allocs = total;
	return 0;
}

int
main(int argc, char **argv)
{
	long allocs = 0, rallocs = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: oomrun DIR [-v]\n");
		return 2;
	}
	verbose = argc > 2 && strcmp(argv[2], "-v") == 0;
	/* The agent logs every refused build; keep only what -v asks. */
	if (!verbose)
		log_open("/dev/null", LOGL_ERROR);
	cfg_pcache_tune(0, 0, 0, 0);
	setup(argv[1]);
	/* Two warm-ups: the first one also pays for what the C library
	 * and the agent set up once per process (locale, stdio). */
	if (one_run(0, false, &allocs, false) != 0 ||
	    one_run(0, false, &allocs, true) != 0)
		return 1;
	for (long n = 1; n <= allocs + 1; n++) {
		if (one_run(n, false, NULL, true) != 0 ||
		    one_run(n, true, NULL, true) != 0)
			return 1;
	}
	if (reader_runs(&rallocs) != 0)
		return 1;
	printf("allocations=%ld reader_allocations=%ld runs=%ld published=%ld "
	    "refused=%ld leaks=0 violations=0\n", allocs, rallocs, runs,
	    ok_runs, refused_runs);
	return 0;
}
