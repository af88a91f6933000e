/*
 * torture - the agent, its sources and its readers, all at once, for a
 * while, with everything going wrong that may go wrong.
 *
 *   torture [-s SECONDS] [-r PROCS] [-t THREADS] [-S SEED] [-d DIR] [-kK]
 *   torture reader DIR SECONDS THREADS OUT      (a reader process)
 *
 * A writer edits the agent's sources at random in every style the hotcfgd
 * issue names (in place, truncate and write, rename over, delete and
 * recreate, the kubelet's atomic writer), and sometimes breaks them (bad
 * YAML, a bomb the limits refuse, a required file gone); the agent
 * (build/hotcfgd) is killed with SIGKILL at random moments and started
 * again.  Meanwhile PROCS reader processes of THREADS threads each check
 * every snapshot they read, until the driver is done (a file "stop").
 *
 * Every good version of every source is self-describing: a block
 *
 *	B: {v: V, items: [f(B,V,0) ... f(B,V,n-1)], sum: g(B,V)}
 *
 * where n, the items and the sum follow from B and V alone.  A reader
 * finds each block of the snapshot, recomputes it from its V, and counts
 * the entries, so a torn snapshot, a half-written file that got published,
 * two versions mixed in one block, or a stray entry cannot go unnoticed;
 * the two files of the kubelet-style source must carry the same V (its
 * updates are atomic).  Readers also check that the generation never goes
 * back, and write "generation digest" for each generation they saw, so
 * that the driver can check that one generation had one content for all.
 *
 * At the end the writer puts a final good version everywhere, waits for
 * the agent to publish exactly that, stops the agent and checks the
 * publish directory: the control file, the lock and the history's
 * snapshots, nothing else.  One line of figures; exit 0 when there was no
 * violation, 1 otherwise (each violation is printed), 2 on a setup error.
 * -k keeps the scratch directory; -K never kills the agent (to tell what
 * the kills cause from what the edits alone do).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dump.h"
#include "hard.h"
#include "tree.h"

#define HISTORY 2
#define MAX_NODES 10000   /* the agent's limit: the alias bomb exceeds it */
#define MAXGEN_LOG 200000

/* ------------------------------------------------------------------ */
/* The self-describing blocks.                                          */
/* ------------------------------------------------------------------ */

static uint64_t
mix(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

static uint64_t
name_hash(const char *b)
{
	uint64_t h = UINT64_C(1469598103934665603);
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * UINT64_C(1099511628211);
	return h;
}

static unsigned
block_n(const char *b, uint64_t v)
{
	return 1 + (unsigned)(mix(name_hash(b) ^ v) % 7);
}

static int64_t
block_item(const char *b, uint64_t v, unsigned i)
{
	return (int64_t)(mix(name_hash(b) + v * 1000003 + i) % 1000000007);
}

static int64_t
block_sum(const char *b, uint64_t v)
{
	uint64_t s = v;
	for (unsigned i = 0; i < block_n(b, v); i++)
		s = mix(s ^ (uint64_t)block_item(b, v, i));
	return (int64_t)(s % 1000000007);
}

/* The YAML body of block b, version v: "{v: .., items: [..], sum: ..}". */
static void
block_text(char *buf, size_t len, const char *b, uint64_t v)
{
	size_t o = (size_t)snprintf(buf, len, "{v: %" PRIu64 ", items: [", v);
	for (unsigned i = 0; i < block_n(b, v); i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%" PRId64, i ? ", " : "",
		    block_item(b, v, i));
	snprintf(buf + o, len - o, "], sum: %" PRId64 "}", block_sum(b, v));
}

/* Is p a proper prefix of some "c <v> <sum>\n"? */
static bool
plain_prefix(const char *p)
{
	int field = 0;          /* 0 "c", 1 v, 2 sum */

	if (*p == '\0')
		return true;
	if (*p++ != 'c')
		return false;
	for (; *p; p++) {
		if (*p == ' ' && field < 2 && (p[-1] == 'c' ||
		    (p[-1] >= '0' && p[-1] <= '9')))
			field++;
		else if (!(*p >= '0' && *p <= '9') || field == 0)
			return false;
	}
	return true;
}

/* The plain file of the directory source: "c <v> <sum>". */
static void
plain_text(char *buf, size_t len, uint64_t v)
{
	snprintf(buf, len, "c %" PRIu64 " %" PRId64 "\n", v, block_sum("c", v));
}

/* ------------------------------------------------------------------ */
/* Checking a snapshot (the readers).                                   */
/* ------------------------------------------------------------------ */

/*
 * Check block `b` under key `at` ("app", "dir.a"...).  Its version in *v;
 * the number of entries it has in *n.  0, -ENOENT when absent, -1 with
 * why filled when it is not a complete version.
 */
static int
check_block(const hotcfg_snap *s, const char *at, const char *b,
    uint64_t *v, size_t *n, char *why, size_t len)
{
	char key[256];
	int64_t iv, want;
	size_t count, items;
	hotcfg_entry e;

	if (hotcfg_get(s, at, &e) != 0)
		return -ENOENT;
	if (e.type != HOTCFG_MAP || e.count != 3) {
		snprintf(why, len, "%s: not a map of 3", at);
		return -1;
	}
	snprintf(key, sizeof(key), "%s.v", at);
	if (hotcfg_get_int(s, key, &iv) != 0 || iv < 0) {
		snprintf(why, len, "%s: no version", at);
		return -1;
	}
	*v = (uint64_t)iv;
	snprintf(key, sizeof(key), "%s.items", at);
	if (hotcfg_get_count(s, key, &items) != 0 ||
	    items != block_n(b, *v)) {
		snprintf(why, len, "%s: %zu items in version %" PRIu64, at,
		    items, *v);
		return -1;
	}
	for (unsigned i = 0; i < items; i++) {
		snprintf(key, sizeof(key), "%s.items[%u]", at, i);
		want = block_item(b, *v, i);
		if (hotcfg_get_int(s, key, &iv) != 0 || iv != want) {
			snprintf(why, len, "%s: item %u is %" PRId64 ", not %"
			    PRId64 " (version %" PRIu64 ")", at, i, iv, want, *v);
			return -1;
		}
	}
	snprintf(key, sizeof(key), "%s.sum", at);
	if (hotcfg_get_int(s, key, &iv) != 0 || iv != block_sum(b, *v)) {
		snprintf(why, len, "%s: sum wrong for version %" PRIu64, at, *v);
		return -1;
	}
	/* The subtree holds exactly these entries. */
	count = 0;
	for (size_t cur = 0; hotcfg_next(s, at, &cur, &e) == 0;)
		count++;
	*n = 4 + items;
	if (count != *n) {
		snprintf(why, len, "%s: %zu entries, not %zu", at, count, *n);
		return -1;
	}
	return 0;
}

/*
 * The whole snapshot.  Blocks may be absent - a file can be empty or gone
 * for a moment, and a directory empty, which are legitimate states of the
 * sources - but a block that is there must be one complete version; the
 * two files of the kubelet-style source must be there and of one version
 * (its updates are atomic); nothing else may be in the snapshot.  Fills
 * digest with the versions seen, *partial with whether something was
 * absent.  0, or -1 with why.
 */
static int
check_snapshot(const hotcfg_snap *s, char *digest, size_t dlen,
    bool *partial, bool *torn, char *why, size_t len)
{
	uint64_t app = 0, a = 0, b = 0, cv = 0, x, y;
	size_t n, total = 0, cnt, top = 0;
	const char *c;
	hotcfg_entry e;
	bool has_app, has_dir, has_a = false, has_b = false, has_c = false;
	int rc;

	*partial = *torn = false;
	if (hotcfg_snap_count(s) == 0) {
		snprintf(why, len, "empty snapshot (cm must be there)");
		return -1;
	}
	if (hotcfg_get(s, "", &e) != 0 || e.type != HOTCFG_MAP) {
		snprintf(why, len, "root is not a map");
		return -1;
	}
	total = 1;
	rc = check_block(s, "app", "app", &app, &n, why, len);
	if (rc == -1)
		return -1;
	has_app = rc == 0;
	total += has_app ? n : 0;
	has_dir = hotcfg_get_count(s, "dir", &cnt) == 0;
	if (has_dir) {
		total++;
		rc = check_block(s, "dir.a", "a", &a, &n, why, len);
		if (rc == -1)
			return -1;
		has_a = rc == 0;
		total += has_a ? n : 0;
		rc = check_block(s, "dir.b", "b", &b, &n, why, len);
		if (rc == -1)
			return -1;
		has_b = rc == 0;
		total += has_b ? n : 0;
		has_c = hotcfg_get_str(s, "dir.c\\.txt", &c) == 0;
		if (has_c) {
			char want[64];
			total++;
			if (sscanf(c, "c %" SCNu64, &cv) == 1) {
				plain_text(want, sizeof(want), cv);
				if (strcmp(c, want) == 0)
					goto c_ok;
			}
			/* Not a whole version.  The prefix of one is a read
			 * that met a writer half-way (a plain file holds any
			 * bytes, so a half-written one is still a file);
			 * anything else is damage. */
			if (!plain_prefix(c)) {
				snprintf(why, len, "dir.c.txt damaged: \"%.40s\"",
				    c);
				return -1;
			}
			*torn = true;
			cv = 0;
		}
c_ok:
		if (cnt != (size_t)has_a + (size_t)has_b + (size_t)has_c) {
			snprintf(why, len, "dir has %zu children", cnt);
			return -1;
		}
	}
	if (hotcfg_get_count(s, "cm", &cnt) != 0 || cnt != 2) {
		snprintf(why, len, "cm is not a map of x and y");
		return -1;
	}
	total++;
	if (check_block(s, "cm.x", "x", &x, &n, why, len) != 0) {
		snprintf(why, len, "cm.x missing or incomplete");
		return -1;
	}
	total += n;
	if (check_block(s, "cm.y", "y", &y, &n, why, len) != 0) {
		snprintf(why, len, "cm.y missing or incomplete");
		return -1;
	}
	total += n;
	if (x != y) {
		snprintf(why, len, "kubelet update seen half: x %" PRIu64
		    ", y %" PRIu64, x, y);
		return -1;
	}
	top = 1 + (size_t)has_app + (size_t)has_dir;
	if (hotcfg_get_count(s, "", &cnt) != 0 || cnt != top) {
		snprintf(why, len, "%zu top-level keys, not %zu", cnt, top);
		return -1;
	}
	if (hotcfg_snap_count(s) != total) {
		snprintf(why, len, "%zu entries, not %zu", hotcfg_snap_count(s),
		    total);
		return -1;
	}
	*partial = !has_app || !has_a;
	{
		char ap[24] = "-", aa[24] = "-", bb[24] = "-", cc[24] = "-";
		if (has_app)
			snprintf(ap, sizeof(ap), "%" PRIu64, app);
		if (has_a)
			snprintf(aa, sizeof(aa), "%" PRIu64, a);
		if (has_b)
			snprintf(bb, sizeof(bb), "%" PRIu64, b);
		if (has_c && *torn)
			snprintf(cc, sizeof(cc), "torn");
		else if (has_c)
			snprintf(cc, sizeof(cc), "%" PRIu64, cv);
		snprintf(digest, dlen, "app=%s,a=%s,b=%s,c=%s,cm=%" PRIu64, ap,
		    aa, bb, cc, x);
	}
	return 0;
}

struct rthread {
	hotcfg *h;
	int64_t deadline_ms;
	bool waiter;            /* sleeps in hotcfg_wait between reads */
	uint64_t reads, checked, gens, last;
	uint64_t violations, partial, torn;
	char lastdigest[96];
	const char *dumpfile;
	const char *stopfile;
	char first[512];
	/* generation -> digest, for the cross-check */
	uint64_t *glog;
	char (*dlog)[96];
	size_t nlog;
};

static void
violation(struct rthread *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
violation(struct rthread *r, const char *fmt, ...)
{
	va_list ap;

	if (r->violations++ == 0) {
		va_start(ap, fmt);
		vsnprintf(r->first, sizeof(r->first), fmt, ap);
		va_end(ap);
	}
}

static void *
reader_run(void *arg)
{
	struct rthread *r = arg;
	const hotcfg_snap *s;
	char why[512], digest[96];
	bool partial, torn;
	int64_t next_stop_check = 0;

	while (th_now_ms() < r->deadline_ms) {
		int rc;
		uint64_t g;

		/* The driver says when it is done (looked at every 100 ms:
		 * a waiter thread reads only once per wait). */
		if (th_now_ms() >= next_stop_check) {
			if (r->stopfile != NULL && access(r->stopfile, F_OK) == 0)
				break;
			next_stop_check = th_now_ms() + 100;
		}
		rc = hotcfg_snapshot(r->h, &s);

		if (rc == HOTCFG_ENOTPUB)
			continue;
		if (rc != 0) {
			violation(r, "snapshot: %s", hotcfg_strerror(rc));
			th_sleep_ms(10);
			continue;
		}
		r->reads++;
		g = hotcfg_snap_generation(s);
		if (g < r->last)
			violation(r, "generation went back from %" PRIu64
			    " to %" PRIu64, r->last, g);
		/* Every read is checked, not only the first of a
		 * generation: a mapping must not change under a reader. */
		digest[0] = '\0';
		if (check_snapshot(s, digest, sizeof(digest), &partial, &torn,
		    why, sizeof(why)) != 0) {
			violation(r, "generation %" PRIu64 ": %s", g, why);
			/* The first bad snapshot, whole, for the report. */
			if (r->violations == 1 && r->dumpfile != NULL) {
				FILE *fp = fopen(r->dumpfile, "w");
				if (fp != NULL) {
					fprintf(fp, "# generation %" PRIu64 ": %s\n",
					    g, why);
					hc_dump(s, fp, HC_DUMP_FLAT, NULL, true);
					fclose(fp);
				}
			}
		}
		r->checked++;
		if (g != r->last) {
			r->gens++;
			r->partial += partial;
			r->torn += torn;
			if (r->nlog < MAXGEN_LOG) {
				r->glog[r->nlog] = g;
				snprintf(r->dlog[r->nlog], sizeof(r->dlog[0]),
				    "%s", digest);
				r->nlog++;
			}
		} else if (strcmp(digest, r->lastdigest) != 0) {
			violation(r, "generation %" PRIu64 " changed under the "
			    "reader: %s then %s", g, r->lastdigest, digest);
		}
		snprintf(r->lastdigest, sizeof(r->lastdigest), "%s", digest);
		r->last = g;
		if (r->waiter)
			(void)hotcfg_wait(r->h, g, 50);
	}
	return NULL;
}

/* A reader process: THREADS threads on one handle, then a report. */
static int
reader_main(const char *dir, int seconds, int nthreads, const char *out)
{
	struct rthread rt[16];
	pthread_t t[16];
	static char dumps[16][800], stopfile[800];
	int64_t deadline = th_now_ms() + (int64_t)seconds * 1000;
	hotcfg *h = NULL;
	FILE *fp;
	int rc;

	if (nthreads < 1 || nthreads > 16)
		nthreads = 2;
	snprintf(stopfile, sizeof(stopfile), "%s/../stop", dir);
	while ((rc = hotcfg_open(&h, dir)) != 0) {
		if (th_now_ms() > deadline) {
			fprintf(stderr, "torture reader: open: %s\n",
			    hotcfg_strerror(rc));
			return 2;
		}
		th_sleep_ms(10);
	}
	for (int i = 0; i < nthreads; i++) {
		memset(&rt[i], 0, sizeof(rt[i]));
		rt[i].h = h;
		rt[i].deadline_ms = deadline;
		rt[i].waiter = i == 0;
		rt[i].dumpfile = dumps[i];
		rt[i].stopfile = stopfile;
		snprintf(dumps[i], sizeof(dumps[i]), "%s.bad%d", out, i);
		rt[i].glog = calloc(MAXGEN_LOG, sizeof(uint64_t));
		rt[i].dlog = calloc(MAXGEN_LOG, sizeof(rt[i].dlog[0]));
		if (!rt[i].glog || !rt[i].dlog ||
		    pthread_create(&t[i], NULL, reader_run, &rt[i]) != 0)
			return 2;
	}
	if ((fp = fopen(out, "w")) == NULL)
		return 2;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(t[i], NULL);
		fprintf(fp, "stats %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
		    " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", rt[i].reads,
		    rt[i].checked, rt[i].gens, rt[i].last, rt[i].violations,
		    rt[i].partial, rt[i].torn);
		if (rt[i].violations)
			fprintf(fp, "violation %s\n", rt[i].first);
		for (size_t k = 0; k < rt[i].nlog; k++)
			fprintf(fp, "gen %" PRIu64 " %s\n", rt[i].glog[k],
			    rt[i].dlog[k]);
		free(rt[i].glog);
		free(rt[i].dlog);
	}
	fclose(fp);
	hotcfg_close(h);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The writer.                                                          */
/* ------------------------------------------------------------------ */

static char scratch[512], src[600], pub[600], cfgpath[600], agentlog[600];
static uint64_t rng;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned
pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

struct figures {
	unsigned long edits[6];         /* by style */
	unsigned long broken, deleted, kills, restarts, kubelet;
	unsigned long violations;
};

static struct figures fig;
static const char *const style_name[] = {
	"in-place", "truncate+write", "rename", "delete+recreate", "kubelet",
	"remove"
};
enum { ST_INPLACE, ST_TRUNC, ST_RENAME, ST_RECREATE, ST_KUBELET, ST_REMOVE };

static void
fail_setup(const char *what)
{
	fprintf(stderr, "torture: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* Write text to path in `style`. */
static void
write_style(const char *path, const char *text, int style)
{
	size_t len = strlen(text);
	int fd;

	switch (style) {
	case ST_INPLACE:
		/* Overwrite from offset 0, then cut: one open, no O_TRUNC;
		 * between the write and the cut the file is new bytes
		 * followed by old ones. */
		if ((fd = open(path, O_WRONLY | O_CREAT, 0644)) < 0)
			fail_setup(path);
		if (pwrite(fd, text, len, 0) != (ssize_t)len ||
		    ftruncate(fd, (off_t)len) != 0)
			fail_setup(path);
		close(fd);
		break;
	case ST_TRUNC:
		/* Truncate, then write in two pieces with a pause: the
		 * file is empty, then half there, while still open. */
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
			fail_setup(path);
		if (th_write_fd(fd, text, len / 2) != 0)
			fail_setup(path);
		if (pick(2))
			th_sleep_ms((int)pick(3));
		if (th_write_fd(fd, text + len / 2, len - len / 2) != 0)
			fail_setup(path);
		close(fd);
		break;
	case ST_RENAME:
		if (th_write_rename(path, text) != 0)
			fail_setup(path);
		break;
	case ST_RECREATE:
		unlink(path);
		if (pick(2))
			th_sleep_ms((int)pick(20));
		if (th_write(path, text) != 0)
			fail_setup(path);
		break;
	}
}

/* What each source holds now (the writer's view). */
static uint64_t next_version = 1;
static uint64_t v_app, v_a, v_b, v_c, v_cm;
static bool have_b, have_c;
static unsigned kube_serial;

static void
put_app(int style)
{
	char body[512], path[700];

	v_app = next_version++;
	block_text(body, sizeof(body), "app", v_app);
	snprintf(path, sizeof(path), "%s/app.yaml", src);
	strcat(body, "\n");
	write_style(path, body, style);
}

static void
put_dir_block(const char *name, uint64_t *v, int style)
{
	char body[512], text[600], path[700];

	*v = next_version++;
	block_text(body, sizeof(body), name, *v);
	snprintf(text, sizeof(text), "%s: %s\n", name, body);
	snprintf(path, sizeof(path), "%s/dir/%s.yaml", src, name);
	write_style(path, text, style);
}

static void
put_c(int style)
{
	char text[64], path[700];

	v_c = next_version++;
	plain_text(text, sizeof(text), v_c);
	snprintf(path, sizeof(path), "%s/dir/c.txt", src);
	write_style(path, text, style);
	have_c = true;
}

/* The kubelet's atomic writer: a new timestamped directory, a new
 * "..data" link renamed over the old one, the old directory removed. */
static void
put_cm(void)
{
	char body[512], text[600], dir[700], path[1000], link[700], tmp[700];
	char old[256] = "";
	ssize_t n;

	v_cm = next_version++;
	snprintf(link, sizeof(link), "%s/cm/..data", src);
	n = readlink(link, old, sizeof(old) - 1);
	old[n > 0 ? n : 0] = '\0';
	snprintf(dir, sizeof(dir), "%s/cm/..2026_01_01_00_00_%02u.%u", src,
	    kube_serial % 60, kube_serial);
	kube_serial++;
	if (mkdir(dir, 0755) != 0)
		fail_setup(dir);
	block_text(body, sizeof(body), "x", v_cm);
	snprintf(text, sizeof(text), "x: %s\n", body);
	snprintf(path, sizeof(path), "%s/x.yaml", dir);
	if (th_write(path, text) != 0)
		fail_setup(path);
	block_text(body, sizeof(body), "y", v_cm);
	snprintf(text, sizeof(text), "{\"y\": %s}\n", body);
	/* JSON wants quoted keys; the block's are bare YAML flow keys,
	 * which YAML (a JSON superset reader) takes as well. */
	snprintf(path, sizeof(path), "%s/y.json", dir);
	if (th_write(path, text) != 0)
		fail_setup(path);
	snprintf(tmp, sizeof(tmp), "%s/cm/..data_tmp", src);
	unlink(tmp);
	if (symlink(strrchr(dir, '/') + 1, tmp) != 0 || rename(tmp, link) != 0)
		fail_setup(link);
	if (old[0] != '\0') {
		snprintf(path, sizeof(path), "%s/cm/%s", src, old);
		th_rmrf(path);
	}
	fig.kubelet++;
}

/*
 * Documents the agent must refuse, and whose first halves it must refuse
 * too: the truncate-and-write style leaves a file at its first half for a
 * moment, and a reader may see whatever the agent made of it (the two
 * with a duplicate key and a bad !!int were "a: 1\na: 2\n" and "v: !!int
 * nope\n", whose halves "a: 1\n" and "v: !!in" are good YAML: a run
 * published dir.a = 1).  halves_are_refused() checks it at start.
 */
static const char *const broken_docs[] = {
	"{v: [unclosed\n",
	"{a: 1, a: 2}\n",
	"\t- tab indented: [\n",
	"l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
	"l1: &l1 [*l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0]\n"
	"l2: &l2 [*l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1]\n"
	"l3: &l3 [*l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2]\n"
	"l4: &l4 [*l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3]\n",
	"{v: !!int nope}\n",
	/* Not UTF-8 (and no byte order mark: FF FE would make it a valid
	 * UTF-16 document). */
	"a: \xc3\x28 garbage \xe2\x82\n",
};

/* Every broken document, and its first half, fails to load (with the
 * agent's limits in this run). */
static void
halves_are_refused(void)
{
	struct cfg_limits lim;

	cfg_limits_default(&lim);
	lim.max_nodes = MAX_NODES;
	for (size_t i = 0; i < sizeof(broken_docs) / sizeof(broken_docs[0]);
	    i++) {
		size_t len = strlen(broken_docs[i]);
		const size_t sizes[2] = { len / 2, len };  /* half, whole */

		for (size_t k = 0; k < 2; k++) {
			struct cfg_node *tree = NULL;
			struct cfg_error err;
			size_t n = sizes[k];

			if (cfg_load_yaml("doc", broken_docs[i], n, 0, &lim,
			    &tree, &err) == 0) {
				fprintf(stderr, "torture: broken document %zu "
				    "loads from its first %zu bytes\n", i, n);
				exit(2);
			}
		}
	}
}

/* Break a YAML source (app.yaml or dir/a.yaml).  The next good write of
 * it recovers. */
static void
break_one(void)
{
	char path[700];
	const char *doc = broken_docs[pick(sizeof(broken_docs) /
	    sizeof(broken_docs[0]))];

	if (pick(2))
		snprintf(path, sizeof(path), "%s/app.yaml", src);
	else
		snprintf(path, sizeof(path), "%s/dir/a.yaml", src);
	write_style(path, doc, (int)pick(4));
	fig.broken++;
}

static bool app_broken, a_broken;

static void
one_edit(void)
{
	unsigned what = pick(100);
	int style = (int)pick(4);

	if (what < 25) {
		put_app(style);
		app_broken = false;
		fig.edits[style]++;
	} else if (what < 40) {
		put_dir_block("a", &v_a, style);
		a_broken = false;
		fig.edits[style]++;
	} else if (what < 50) {
		put_dir_block("b", &v_b, style);
		have_b = true;
		fig.edits[style]++;
	} else if (what < 55) {
		char path[700];
		snprintf(path, sizeof(path), "%s/dir/b.yaml", src);
		if (unlink(path) == 0) {
			have_b = false;
			fig.edits[ST_REMOVE]++;
		}
	} else if (what < 63) {
		put_c(style);
		fig.edits[style]++;
	} else if (what < 66) {
		char path[700];
		snprintf(path, sizeof(path), "%s/dir/c.txt", src);
		if (unlink(path) == 0) {
			have_c = false;
			fig.edits[ST_REMOVE]++;
		}
	} else if (what < 84) {
		put_cm();
		fig.edits[ST_KUBELET]++;
	} else if (what < 94) {
		break_one();
	} else {
		/* A required file gone for a while. */
		char path[700];
		snprintf(path, sizeof(path), "%s/app.yaml", src);
		unlink(path);
		fig.deleted++;
		th_sleep_ms(20 + (int)pick(200));
		put_app(ST_RENAME);
	}
}

/* ------------------------------------------------------------------ */
/* The agent.                                                           */
/* ------------------------------------------------------------------ */

static pid_t agent = -1;
static uint64_t gen_before_kill;

static void
agent_start(void)
{
	const char *args[] = { "-c", cfgpath, NULL };

	agent = th_agent_start(agentlog, args);
	if (agent <= 0) {
		errno = -agent;
		fail_setup("starting hotcfgd");
	}
}

static void
agent_kill(void)
{
	int st;

	gen_before_kill = th_gen(pub);
	kill(agent, SIGKILL);
	waitpid(agent, &st, 0);
	fig.kills++;
	if (pick(3) == 0)
		th_sleep_ms((int)pick(300));    /* down for a while */
	agent_start();
	fig.restarts++;
}

/* ------------------------------------------------------------------ */

static const uint64_t *sort_g;

static int
cmp_ix(const void *a, const void *b)
{
	uint64_t x = sort_g[*(const size_t *)a], y = sort_g[*(const size_t *)b];
	return x < y ? -1 : x > y;
}

static void
usage(void)
{
	fprintf(stderr, "usage: torture [-s SECONDS] [-r PROCS] [-t THREADS] "
	    "[-S SEED] [-d DIR] [-kK]\n"
	    "       torture reader DIR SECONDS THREADS OUT\n");
	exit(2);
}

static void
setup_sources(void)
{
	char path[800];

	snprintf(src, sizeof(src), "%s/src", scratch);
	snprintf(pub, sizeof(pub), "%s/pub", scratch);
	snprintf(cfgpath, sizeof(cfgpath), "%s/hotcfgd.yaml", scratch);
	snprintf(agentlog, sizeof(agentlog), "%s/agent.log", scratch);
	snprintf(path, sizeof(path), "%s/dir", src);
	if (mkdir(src, 0755) != 0 || mkdir(path, 0755) != 0)
		fail_setup(src);
	snprintf(path, sizeof(path), "%s/cm", src);
	if (mkdir(path, 0755) != 0)
		fail_setup(path);
	put_app(ST_RENAME);
	put_dir_block("a", &v_a, ST_RENAME);
	put_cm();
	snprintf(path, sizeof(path), "%s/cm/x.yaml", src);
	if (symlink("..data/x.yaml", path) != 0)
		fail_setup(path);
	snprintf(path, sizeof(path), "%s/cm/y.json", src);
	if (symlink("..data/y.json", path) != 0)
		fail_setup(path);
	if (th_writef(cfgpath,
	    "dir: %s\n"
	    "history: %d\n"
	    "limits: {max_nodes: %d}\n"
	    "sources:\n"
	    "  - {file: %s/app.yaml, prefix: app}\n"
	    "  - {dir: %s/dir, prefix: dir}\n"
	    "  - {dir: %s/cm, prefix: cm}\n",
	    pub, HISTORY, MAX_NODES, src, src, src) != 0)
		fail_setup(cfgpath);
}

static void
final_digest(char *buf, size_t len)
{
	char b[32] = "-", c[32] = "-";

	if (have_b)
		snprintf(b, sizeof(b), "%" PRIu64, v_b);
	if (have_c)
		snprintf(c, sizeof(c), "%" PRIu64, v_c);
	snprintf(buf, len, "app=%" PRIu64 ",a=%" PRIu64 ",b=%s,c=%s,cm=%"
	    PRIu64, v_app, v_a, b, c, v_cm);
}

/* Wait until the published snapshot is exactly `want`. */
static bool
wait_digest(const char *want, int timeout_ms, char *last, size_t len)
{
	int64_t end = th_now_ms() + timeout_ms;

	do {
		hotcfg *h;
		const hotcfg_snap *s;
		char why[512], d[96] = "";
		bool partial, torn;

		if (hotcfg_open(&h, pub) == 0) {
			if (hotcfg_snapshot(h, &s) == 0 &&
			    check_snapshot(s, d, sizeof(d), &partial, &torn, why,
			    sizeof(why)) == 0)
				snprintf(last, len, "%s", d);
			hotcfg_close(h);
			if (strcmp(last, want) == 0)
				return true;
		}
		th_sleep_ms(50);
	} while (th_now_ms() < end);
	return false;
}

int
main(int argc, char **argv)
{
	int seconds = 60, procs = 3, threads = 2, ch;
	bool keep = false, nokill = false;
	pid_t readers[32];
	char outs[32][700];
	int64_t start, deadline, next_kill;
	uint64_t reads = 0, checked = 0, gens = 0, maxgen = 0, partials = 0;
	uint64_t torns = 0, distinct = 0, torn_gens = 0, partial_gens = 0;
	unsigned long viol = 0;
	const char *dir = NULL;

	if (argc >= 2 && strcmp(argv[1], "reader") == 0) {
		if (argc != 6)
			usage();
		return reader_main(argv[2], atoi(argv[3]), atoi(argv[4]),
		    argv[5]);
	}
	halves_are_refused();
	rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	while ((ch = getopt(argc, argv, "s:r:t:S:d:kK")) != -1) {
		switch (ch) {
		case 's': seconds = atoi(optarg); break;
		case 'r': procs = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'S': rng = strtoull(optarg, NULL, 0); break;
		case 'd': dir = optarg; break;
		case 'k': keep = true; break;
		case 'K': nokill = true; break;
		default: usage();
		}
	}
	if (rng == 0)
		rng = 88172645463325252ull;
	if (procs < 1 || procs > 32 || seconds < 1)
		usage();
	printf("torture: seed=%" PRIu64 " seconds=%d readers=%dx%d\n", rng,
	    seconds, procs, threads);
	fflush(stdout);
	if (dir != NULL) {
		snprintf(scratch, sizeof(scratch), "%s", dir);
		if (mkdir(scratch, 0755) != 0 && errno != EEXIST)
			fail_setup(scratch);
	} else if (th_mkdtemp(scratch, sizeof(scratch)) != 0) {
		fail_setup("mkdtemp");
	}
	setup_sources();
	agent_start();
	if (!th_wait_gen(pub, 1, 60000)) {
		fprintf(stderr, "torture: the agent never published:\n%s\n",
		    th_read(agentlog));
		return 2;
	}

	/* The readers run a little longer than the writer, so that they
	 * see the final publish too. */
	for (int i = 0; i < procs; i++) {
		char self[600], secs[16], nt[16];
		char *rargv[8];

		snprintf(self, sizeof(self), "%s/tests/helpers/torture",
		    th_build());
		snprintf(secs, sizeof(secs), "%d", seconds + 120);
		snprintf(nt, sizeof(nt), "%d", threads);
		snprintf(outs[i], sizeof(outs[i]), "%s/reader-%d.out", scratch, i);
		rargv[0] = self;
		rargv[1] = "reader";
		rargv[2] = pub;
		rargv[3] = secs;
		rargv[4] = nt;
		rargv[5] = outs[i];
		rargv[6] = NULL;
		if (posix_spawn(&readers[i], self, NULL, NULL, rargv, environ)
		    != 0)
			fail_setup("spawning a reader");
	}

	start = th_now_ms();
	deadline = start + (int64_t)seconds * 1000;
	next_kill = start + 300 + (int64_t)pick(2000);
	while (th_now_ms() < deadline) {
		int st;

		one_edit();
		th_sleep_ms((int)pick(25));
		if (!nokill && th_now_ms() >= next_kill) {
			agent_kill();
			next_kill = th_now_ms() + 200 + (int64_t)pick(2500);
			/* Generations continue across restarts. */
			if (th_wait_gen(pub, gen_before_kill, 0) == false) {
				printf("torture: violation: generation %" PRIu64
				    " gone after a restart\n", gen_before_kill);
				fig.violations++;
			}
		}
		if (th_exited(agent, &st)) {
			printf("torture: violation: hotcfgd exited by itself "
			    "(status %d)\n", st);
			fig.violations++;
			agent_start();
		}
	}

	/* The final word: a good version of everything, written by rename
	 * (a new inode, complete at once). */
	put_app(ST_RENAME);
	put_dir_block("a", &v_a, ST_RENAME);
	if (have_b)
		put_dir_block("b", &v_b, ST_RENAME);
	put_cm();
	{
		char want[96], last[96] = "";
		final_digest(want, sizeof(want));
		if (!wait_digest(want, 60000, last, sizeof(last))) {
			printf("torture: violation: final snapshot is \"%s\", "
			    "not \"%s\"\n", last, want);
			fig.violations++;
		}
	}
	maxgen = th_gen(pub);
	{
		/* The readers have seen the final publish (or will not):
		 * they may stop. */
		char stop[700];
		snprintf(stop, sizeof(stop), "%s/stop", scratch);
		th_write(stop, "");
	}
	{
		int rc = th_agent_stop(agent);
		if (rc != 0) {
			printf("torture: violation: hotcfgd exit status %d on "
			    "SIGTERM\n", rc);
			fig.violations++;
		}
	}
	/* Nothing in the directory beyond the history. */
	{
		DIR *d = opendir(pub);
		struct dirent *de;
		unsigned snaps = 0;

		while (d && (de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
			    !strcmp(de->d_name, "control") ||
			    !strcmp(de->d_name, ".lock"))
				continue;
			if (strncmp(de->d_name, "snap.", 5) == 0) {
				snaps++;
				continue;
			}
			printf("torture: violation: %s left in the directory\n",
			    de->d_name);
			fig.violations++;
		}
		if (d)
			closedir(d);
		if (snaps < 1 || snaps > HISTORY + 1) {
			printf("torture: violation: %u snapshots kept, history "
			    "is %d\n", snaps, HISTORY);
			fig.violations++;
		}
	}

	/* The readers' reports, and one content per generation. */
	{
		size_t cap = 1 << 16, n = 0;
		uint64_t *g = malloc(cap * sizeof(*g));
		char (*dg)[96] = malloc(cap * sizeof(*dg));

		for (int i = 0; i < procs; i++) {
			int st;
			FILE *fp;
			char line[1024];

			waitpid(readers[i], &st, 0);
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				printf("torture: violation: reader %d status %d\n",
				    i, WIFEXITED(st) ? WEXITSTATUS(st) :
				    128 + WTERMSIG(st));
				fig.violations++;
			}
			if ((fp = fopen(outs[i], "r")) == NULL)
				continue;
			while (fgets(line, sizeof(line), fp)) {
				uint64_t a, b, c, d, e, f, t;
				char digest[96];
				if (sscanf(line, "stats %" SCNu64 " %" SCNu64 " %"
				    SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %"
				    SCNu64, &a, &b, &c, &d, &e, &f, &t) == 7) {
					torns += t;
					reads += a;
					checked += b;
					gens += c;
					viol += e;
					partials += f;
					if (d > maxgen)
						maxgen = d;
				} else if (strncmp(line, "violation ", 10) == 0) {
					printf("torture: violation (reader %d): %s", i,
					    line + 10);
				} else if (sscanf(line, "gen %" SCNu64 " %95s", &a,
				    digest) == 2) {
					if (n == cap) {
						cap *= 2;
						g = realloc(g, cap * sizeof(*g));
						dg = realloc(dg, cap * sizeof(*dg));
					}
					g[n] = a;
					snprintf(dg[n], sizeof(dg[n]), "%s", digest);
					n++;
				}
			}
			fclose(fp);
		}
		/* Same generation, same content, for every reader; and the
		 * distinct generations the readers saw. */
		{
			size_t *ix = malloc((n ? n : 1) * sizeof(*ix));
			for (size_t i = 0; i < n; i++)
				ix[i] = i;
			sort_g = g;
			qsort(ix, n, sizeof(*ix), cmp_ix);
			for (size_t i = 0; i < n; i++) {
				const char *d = dg[ix[i]];
				if (i > 0 && g[ix[i]] == g[ix[i - 1]]) {
					if (strcmp(d, dg[ix[i - 1]]) != 0) {
						printf("torture: violation: "
						    "generation %" PRIu64 " was \"%s\" "
						    "and \"%s\"\n", g[ix[i]], d,
						    dg[ix[i - 1]]);
						fig.violations++;
					}
					continue;
				}
				distinct++;
				if (strstr(d, "c=torn") != NULL)
					torn_gens++;
				if (strstr(d, "app=-") != NULL ||
				    strstr(d, "a=-") != NULL)
					partial_gens++;
			}
			free(ix);
		}
		free(g);
		free(dg);
	}
	fig.violations += viol;

	(void)gens;
	(void)partials;
	(void)torns;
	printf("torture: seconds=%d reads=%" PRIu64 " checked=%" PRIu64
	    " generations_seen=%" PRIu64 " last_generation=%" PRIu64
	    " kills=%lu restarts=%lu edits=%lu", seconds, reads, checked,
	    distinct, maxgen, fig.kills, fig.restarts,
	    fig.edits[0] + fig.edits[1] + fig.edits[2] + fig.edits[3] +
	    fig.edits[4] + fig.edits[5]);
	for (int i = 0; i < 6; i++)
		printf(" %s=%lu", style_name[i], fig.edits[i]);
	printf(" errors_injected=%lu (broken=%lu deleted=%lu kills=%lu)"
	    " generations_with_an_empty_file=%" PRIu64
	    " generations_with_a_torn_plain_file=%" PRIu64
	    " violations=%lu\n", fig.broken + fig.deleted + fig.kills,
	    fig.broken, fig.deleted, fig.kills, partial_gens, torn_gens,
	    fig.violations);
	if (!keep && fig.violations == 0)
		th_rmrf(scratch);
	else
		printf("torture: scratch directory kept: %s\n", scratch);
	return fig.violations ? 1 : 0;
}
