/*
 * read_path - part 1 of the benchmark: what one lookup of a random existing
 * key costs a service, through hotcfg and through the designs people use
 * instead, side by side in one run.
 *
 *   read_path [-s] [-l] [-I] [-j FILE] [-k N,N,...] [-t 1|2] [-r REPS]
 *             [-w MS] [-i MS]
 *   read_path -c NLOOKUPS -C DIR [-m bare|null]
 *
 *   -k   key counts (default 1000,100000,1000000)
 *   -t   only this many reader threads (default: 1 and 2)
 *   -I   idle cases only (nothing published while measuring)
 *   -r   repetitions per design and case (default 15); medians are quoted
 *   -w   measuring window per repetition in ms (default 10 idle; the
 *        publishing cases use 25 ms, so that each spans two or three
 *        publishes)
 *   -i   publish interval in ms (default 10)
 *   -l   layout only: count the cache lines per lookup (and, with
 *        $BENCH_CG_DIR set, leave the snapshot and lookup stream there for
 *        cachegrind.sh), time nothing
 *   -c   cachegrind helper, see cachegrind_helper() and cachegrind.sh
 *
 * The designs, each handed exactly the same keys and the same sequence of
 * lookups (a packed stream of key strings, so the caller's key costs every
 * design the same, prefetched, sequential read):
 *
 *  bare      hotcfg_get_int() on a snapshot pointer taken once: the
 *            snapshot's own lookup with no generation check, the floor;
 *  hotcfg    hotcfg_snapshot() + hotcfg_get_int() per lookup, as a service
 *            calls them;
 *  rwlock    a pthread_rwlock_t around an open-addressing hash map: the
 *            classic design;
 *  refcount  an atomic pointer to an immutable map and an atomic reference
 *            count taken and dropped around each lookup: the usual C
 *            rendition of Go's atomic.Value copy-on-write map;
 *  urcu      the same immutable map published through liburcu's memb
 *            flavour, read under rcu_read_lock(): the best in-process
 *            design known.
 *
 * The three baselines share one hash map (below), built to be as fair as
 * we can make it: the same hash (XXH3-64, seeded), the same load factor
 * (at most 0.75), linear probing, 32 hash bits and the key length kept in
 * a 16-byte slot, and each value stored next to its key, so that a lookup
 * touches a slot line and an entry line, as hotcfg's does.  Its lookup is
 * kept out of line, as a library's would be.
 *
 * "Publishing" runs every design while the configuration changes every
 * interval: for hotcfg a child process publishes with the real publisher
 * (the code hotcfgd uses), alternating two snapshots whose values differ;
 * for the baselines a writer thread swaps between two maps the same way
 * (rwlock: write-lock and swap the pointer; refcount: exchange, then wait
 * until the old map's count is zero; urcu: rcu_assign_pointer and
 * synchronize_rcu).  Both writers run during every design's window, so
 * the background load is the same for all.  The baselines' writer builds
 * nothing (both maps exist from the start), which favours them: hotcfg's
 * publisher writes a whole file per publish, as the agent does.
 *
 * A window's figure is each reader thread's CPU time divided by its
 * lookups: on a shared two-core machine wall time mostly measures who else
 * ran.  What CPU time leaves out is sleeping, which only a reader that
 * waits for a lock or for another thread's mapping does; bench.json also
 * carries the wall time, the sleeps and preemptions, and the share of the
 * window the threads were on a CPU (two threads that seldom ran at the
 * same time met no contention, and the row says so).
 *
 * Also measured: how many cache lines of the snapshot a lookup touches at
 * 1M keys, counted over the real snapshot by following the same probe as
 * the lookup (the machine's perf has no hardware counters; see the
 * README for the cachegrind cross-check that -c serves).
 */
#define _LGPL_SOURCE    /* liburcu's inline read-side fast path */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <urcu/urcu-memb.h>

#include "bench.h"
#include "snap.h"

#define STRIDE 48           /* bytes per key in the lookup stream */
#define BATCH 256           /* lookups between two looks at the clock */
#define MAX_THREADS 2

enum design { D_BARE, D_HOTCFG, D_RWLOCK, D_REFCOUNT, D_URCU, ND };
static const char *const dname[ND] = { "bare", "hotcfg", "rwlock",
	"refcount", "urcu" };

/* ------------------------------------------------------------ the map */

struct bent {
	int64_t val;
	char key[];
};

struct bslot {
	uint32_t tag;
	uint32_t klen;
	const struct bent *e;
};

struct bmap {
	struct bslot *slots;
	uint64_t mask;
	uint64_t seed;
	char *arena;
	/* The reference count of the refcount design, on a line of its own
	 * so that only that design's traffic lands on it. */
	_Alignas(64) atomic_long refs;
	char pad[64 - sizeof(atomic_long)];
};

static uint64_t
slots_for(size_t n)
{
	uint64_t ns = 8;
	while (ns * 3 < (uint64_t)n * 4 + 4)
		ns <<= 1;
	return ns;
}

static struct bmap *
bmap_build(const char *keys, size_t n, unsigned flip)
{
	struct bmap *m = aligned_alloc(64, sizeof(*m));
	uint64_t ns = slots_for(n);
	size_t off = 0;

	if (m == NULL)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->mask = ns - 1;
	m->seed = UINT64_C(0x243f6a8885a308d3);
	m->slots = aligned_alloc(64, ns * sizeof(struct bslot));
	m->arena = aligned_alloc(64, n * (8 + STRIDE) + 64);
	if (m->slots == NULL || m->arena == NULL)
		abort();
	memset(m->slots, 0, ns * sizeof(struct bslot));
	for (size_t i = 0; i < n; i++) {
		const char *k = keys + i * STRIDE;
		size_t len = strlen(k);
		struct bent *e = (struct bent *)(m->arena + off);
		uint64_t hv = hc_key_hash(k, len, m->seed), s = hv & m->mask;

		e->val = bench_value((uint32_t)i, flip);
		memcpy(e->key, k, len + 1);
		off += (8 + len + 1 + 7) & ~(size_t)7;
		while (m->slots[s].e != NULL)
			s = (s + 1) & m->mask;
		m->slots[s] = (struct bslot){ (uint32_t)(hv >> 32),
		    (uint32_t)len, e };
	}
	atomic_init(&m->refs, 0);
	return m;
}

static void
bmap_free(struct bmap *m)
{
	if (m) {
		free(m->slots);
		free(m->arena);
		free(m);
	}
}

__attribute__((noinline)) static int
bmap_get(const struct bmap *m, const char *key, int64_t *out)
{
	size_t len = strlen(key);
	uint64_t hv = hc_key_hash(key, len, m->seed);
	uint32_t tag = (uint32_t)(hv >> 32);

	for (uint64_t i = hv & m->mask;; i = (i + 1) & m->mask) {
		const struct bslot *s = &m->slots[i];
		if (s->e == NULL)
			return -ENOENT;
		if (s->tag == tag && s->klen == len &&
		    hc_key_eq(s->e->key, key, len)) {
			*out = s->e->val;
			return 0;
		}
	}
}

/* ------------------------------------------------------------ state */

static struct {
	size_t nkeys;
	char *keys;             /* nkeys * STRIDE, key i at i * STRIDE */
	char *stream;           /* qn * STRIDE: the lookup sequence */
	size_t qn;              /* a power of two */
	hotcfg *h;
	struct bmap *maps[2];
	pthread_rwlock_t rw;
	struct bmap *rw_cur;
	_Atomic(struct bmap *) rc_cur;
	struct bmap *rcu_cur;   /* rcu_dereference / rcu_assign_pointer */
	atomic_bool writer_stop;
	bool publishing;        /* set before a publishing row's threads */
	atomic_long writer_swaps;
} S = { .rw = PTHREAD_RWLOCK_INITIALIZER };

struct worker {
	pthread_t tid;
	enum design d;
	unsigned idx;
	int64_t warm_ns, window_ns;
	pthread_barrier_t *bar;
	const hotcfg_snap *bare;        /* D_BARE: taken once, before timing */
	/* results */
	uint64_t lookups, errors;
	int64_t wall_ns, cpu_ns;
	long vcsw, ivcsw;       /* sleeps and preemptions in the window */
	int64_t sink;
};

/*
 * One loop per design, so that nothing but the design differs between
 * them: the same stream walk, the same error count and checksum.  A body
 * may set stop_ to end the window after its lookup: hotcfg's does when it
 * mapped a new generation past the window's end.  At 1M keys a publisher
 * that writes a generation faster than a reader maps and validates one
 * (about 45 ms each) makes every hotcfg_snapshot() call map again, and a
 * batch of BATCH such lookups would take seconds.
 */
#define LOOP(body) do { \
		unsigned b_; \
		int stop_ = 0; \
		for (b_ = 0; b_ < BATCH && !stop_; b_++) { \
			const char *key = S.stream + (pos & qmask) * STRIDE; \
			int64_t v = 0; \
			int rc; \
			pos++; \
			body; \
			errors += rc != 0; \
			sink += v; \
		} \
		n += b_; \
		if (stop_) \
			goto done; \
	} while (0)

static void
run_design(struct worker *w, int64_t until, uint64_t *np, uint64_t *errp,
    int64_t *sinkp, uint64_t *posp)
{
	const size_t qmask = S.qn - 1;
	uint64_t pos = *posp, n = 0, errors = 0;
	int64_t sink = 0;
	const hotcfg_snap *snap = w->bare;

	switch (w->d) {
	case D_BARE:
		do {
			LOOP(rc = hotcfg_get_int(snap, key, &v));
		} while (bench_ns() < until);
		break;
	case D_HOTCFG: {
		const hotcfg_snap *seen = NULL;

		if (!S.publishing) {
			do {
				LOOP(rc = hotcfg_snapshot(S.h, &snap);
				    if (rc == 0)
					    rc = hotcfg_get_int(snap, key, &v));
			} while (bench_ns() < until);
			break;
		}
		/* While publishing (rows no target judges), one compare
		 * more per lookup: a new mapping past the window's end
		 * ends the window. */
		do {
			LOOP(rc = hotcfg_snapshot(S.h, &snap);
			    if (rc == 0) rc = hotcfg_get_int(snap, key, &v);
			    if (__builtin_expect(snap != seen, 0)) {
				    seen = snap;
				    stop_ = bench_ns() >= until;
			    });
		} while (bench_ns() < until);
		break;
	}
	case D_RWLOCK:
		do {
			LOOP(pthread_rwlock_rdlock(&S.rw);
			    rc = bmap_get(S.rw_cur, key, &v);
			    pthread_rwlock_unlock(&S.rw));
		} while (bench_ns() < until);
		break;
	case D_REFCOUNT:
		do {
			LOOP(struct bmap *m;
			    for (;;) {
				    m = atomic_load_explicit(&S.rc_cur,
					memory_order_acquire);
				    atomic_fetch_add_explicit(&m->refs, 1,
					memory_order_acq_rel);
				    if (atomic_load_explicit(&S.rc_cur,
					memory_order_acquire) == m)
					    break;
				    atomic_fetch_sub_explicit(&m->refs, 1,
					memory_order_release);
			    }
			    rc = bmap_get(m, key, &v);
			    atomic_fetch_sub_explicit(&m->refs, 1,
				memory_order_release));
		} while (bench_ns() < until);
		break;
	case D_URCU:
		do {
			LOOP(urcu_memb_read_lock();
			    rc = bmap_get(rcu_dereference(S.rcu_cur), key, &v);
			    urcu_memb_read_unlock());
		} while (bench_ns() < until);
		break;
	default:
		abort();
	}
done:
	*np = n;
	*errp = errors;
	*sinkp += sink;
	*posp = pos;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t pos = (uint64_t)w->idx * (S.qn / 2), n, e;
	int64_t t0, c0, sink = 0;
	struct rusage ru0, ru1;

	if (w->d == D_URCU)
		urcu_memb_register_thread();
	if (w->d == D_BARE && hotcfg_snapshot(S.h, &w->bare) != 0)
		abort();
	pthread_barrier_wait(w->bar);
	/* Warm up: caches, the thread's hotcfg record, the branch
	 * predictors; then the measured window. */
	run_design(w, bench_ns() + w->warm_ns, &n, &e, &sink, &pos);
	getrusage(RUSAGE_THREAD, &ru0);
	t0 = bench_ns();
	c0 = bench_thread_cpu_ns();
	run_design(w, t0 + w->window_ns, &w->lookups, &w->errors, &sink, &pos);
	w->wall_ns = bench_ns() - t0;
	w->cpu_ns = bench_thread_cpu_ns() - c0;
	getrusage(RUSAGE_THREAD, &ru1);
	w->vcsw = ru1.ru_nvcsw - ru0.ru_nvcsw;
	w->ivcsw = ru1.ru_nivcsw - ru0.ru_nivcsw;
	w->sink = sink;
	if (w->d == D_URCU)
		urcu_memb_unregister_thread();
	return NULL;
}

/* One window of one design with `nthr` threads: ns per lookup, wall and
 * CPU, averaged over the threads' lookups. */
static int
measure(enum design d, unsigned nthr, int64_t warm_ns, int64_t window_ns,
    double *wall, double *cpu, uint64_t *errors, long *vcsw, long *ivcsw,
    double *oncpu)
{
	struct worker w[MAX_THREADS];
	pthread_barrier_t bar;
	uint64_t n = 0;
	int64_t tw = 0, tc = 0;

	pthread_barrier_init(&bar, NULL, nthr);
	for (unsigned t = 0; t < nthr; t++) {
		memset(&w[t], 0, sizeof(w[t]));
		w[t].d = d;
		w[t].idx = t;
		w[t].warm_ns = warm_ns;
		w[t].window_ns = window_ns;
		w[t].bar = &bar;
		if (pthread_create(&w[t].tid, NULL, worker_main, &w[t]) != 0)
			return -1;
	}
	for (unsigned t = 0; t < nthr; t++) {
		pthread_join(w[t].tid, NULL);
		n += w[t].lookups;
		tw += w[t].wall_ns;
		tc += w[t].cpu_ns;
		*errors += w[t].errors;
		*vcsw += w[t].vcsw;
		*ivcsw += w[t].ivcsw;
	}
	pthread_barrier_destroy(&bar);
	*wall = n ? (double)tw / (double)n : 0;
	*cpu = n ? (double)tc / (double)n : 0;
	/* The share of the window the threads were on a CPU: with two
	 * threads on a busy two-core machine they may seldom run at the same
	 * time, and then no design meets contention. */
	*oncpu = tw ? (double)tc / (double)tw : 0;
	return 0;
}

/* ------------------------------------------------------------ the line */

/*
 * What moving one cache line between two CPUs costs on this host, now:
 * the price refcount pays, up to twice a lookup, with two threads (its
 * count's line goes back and forth), and hotcfg never pays.  Two threads
 * pass a token through one word on a line of its own, each spinning on a
 * plain load until the other's store arrives (no pause instruction: it
 * would add its own latency to every move).  The window is cut into
 * batches of LINE_TRIPS round trips, and its figure is the median batch's
 * time over twice LINE_TRIPS: the one-way time while both threads ran, as
 * a batch during which the host took a vCPU away from us counts no more
 * than any other.  It is measured in every repetition of the 2-thread
 * idle case and the row quotes the median over them: the host moves our
 * vCPUs about, where they sit decides this figure, and with it what
 * refcount costs.
 */
#define LINE_TRIPS   64
#define LINE_BATCHES 4096
struct line_probe {
	_Alignas(64) atomic_uint turn;
	char pad[64 - sizeof(atomic_uint)];
	atomic_bool stop;
	cpu_set_t peer_cpu;
	pthread_barrier_t bar;
};

static void *
line_peer(void *arg)
{
	struct line_probe *lp = arg;
	unsigned want = 1;

	pthread_setaffinity_np(pthread_self(), sizeof(lp->peer_cpu),
	    &lp->peer_cpu);
	pthread_barrier_wait(&lp->bar);
	for (;;) {
		unsigned t = atomic_load_explicit(&lp->turn,
		    memory_order_acquire);
		if (t == want) {
			atomic_store_explicit(&lp->turn, want + 1,
			    memory_order_release);
			want += 2;
		} else if (atomic_load_explicit(&lp->stop,
		    memory_order_relaxed))
			return NULL;
	}
}

/* One-way ns, or -1 when there are not two CPUs to run on.  The two
 * threads are pinned to the first two CPUs this process may use (on a
 * 2-CPU machine the two CPUs the readers run on when they run at once);
 * unpinned, a new thread starts on its creator's CPU and the token would
 * move by context switch.  The calling thread's own mask is restored
 * before it returns, so the readers created after it are not pinned. */
static double
line_transfer_ns(int64_t window_ns)
{
	struct line_probe *lp;
	cpu_set_t all, mine;
	pthread_t tid;
	unsigned next = 0;
	int64_t t0, t1;
	int cpu[2], nc = 0;
	size_t nb = 0;
	static double batch[LINE_BATCHES];

	if (pthread_getaffinity_np(pthread_self(), sizeof(all), &all) != 0)
		return -1;
	for (int i = 0; i < CPU_SETSIZE && nc < 2; i++)
		if (CPU_ISSET(i, &all))
			cpu[nc++] = i;
	if (nc < 2 || (lp = aligned_alloc(64, sizeof(*lp))) == NULL)
		return -1;
	memset(lp, 0, sizeof(*lp));
	CPU_ZERO(&lp->peer_cpu);
	CPU_SET(cpu[1], &lp->peer_cpu);
	CPU_ZERO(&mine);
	CPU_SET(cpu[0], &mine);
	atomic_init(&lp->turn, 0);
	atomic_init(&lp->stop, false);
	if (pthread_barrier_init(&lp->bar, NULL, 2) != 0) {
		free(lp);
		return -1;
	}
	if (pthread_setaffinity_np(pthread_self(), sizeof(mine), &mine) != 0 ||
	    pthread_create(&tid, NULL, line_peer, lp) != 0) {
		pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
		pthread_barrier_destroy(&lp->bar);
		free(lp);
		return -1;
	}
	pthread_barrier_wait(&lp->bar);
	t0 = bench_ns();
	t1 = t0;
	while (t1 - t0 < window_ns && nb < LINE_BATCHES) {
		int64_t tb = t1;

		/* LINE_TRIPS round trips between two looks at the clock. */
		for (unsigned i = 0; i < LINE_TRIPS; i++) {
			atomic_store_explicit(&lp->turn, next + 1,
			    memory_order_release);
			while (atomic_load_explicit(&lp->turn,
			    memory_order_acquire) != next + 2)
				;
			next += 2;
		}
		t1 = bench_ns();
		batch[nb++] = (double)(t1 - tb) / (2.0 * LINE_TRIPS);
	}
	atomic_store(&lp->stop, true);
	pthread_join(tid, NULL);
	pthread_barrier_destroy(&lp->bar);
	if (pthread_setaffinity_np(pthread_self(), sizeof(all), &all) != 0) {
		/* Every later reader would inherit the pin. */
		fprintf(stderr, "read_path: cannot restore the CPU mask\n");
		exit(1);
	}
	free(lp);
	return nb ? bench_median(batch, nb) : -1;
}

/* ------------------------------------------------------------ writers */

static void *
writer_main(void *arg)
{
	int64_t interval = *(int64_t *)arg, next = bench_ns() + interval;
	unsigned flip = 0;

	while (!atomic_load(&S.writer_stop)) {
		struct bmap *nm, *old;

		bench_sleep_ns(next - bench_ns() > 0 ? next - bench_ns() : 0);
		next += interval;
		flip ^= 1;
		nm = S.maps[flip];
		pthread_rwlock_wrlock(&S.rw);
		S.rw_cur = nm;
		pthread_rwlock_unlock(&S.rw);
		old = atomic_exchange(&S.rc_cur, nm);
		while (atomic_load(&old->refs) != 0)
			sched_yield();
		rcu_assign_pointer(S.rcu_cur, nm);
		urcu_memb_synchronize_rcu();
		atomic_fetch_add(&S.writer_swaps, 1);
	}
	return NULL;
}

static volatile sig_atomic_t pub_stop;

static void
on_term(int sig)
{
	(void)sig;
	pub_stop = 1;
}

/*
 * The hotcfg publisher: a child process, as the agent is, that publishes
 * blob[1], blob[0], blob[1]... every interval until SIGTERM, then writes
 * how many it published to `fd`.
 */
static pid_t
publisher_start(const char *dir, void *blob[2], size_t size[2],
    int64_t interval, int fd)
{
	pid_t parent = getpid(), pid = fork();

	if (pid != 0)
		return pid;
	/* A benchmark killed before it stops the publisher takes it along. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(1);
	{
		struct sigaction sa;
		struct hc_pub *p = NULL;
		struct hc_pub_opts o = { .history = 2, .gid = (gid_t)-1,
		    .group_read = true };
		int64_t next, t0;
		uint64_t count = 0, gen;
		unsigned flip = 0;
		char msg[64];

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_term;
		sigaction(SIGTERM, &sa, NULL);
		for (int i = 0; i < 500 && hc_pub_open(&p, dir, &o) == -EBUSY; i++)
			bench_sleep_ns(1000000);
		if (p == NULL)
			_exit(1);
		t0 = next = bench_ns();
		while (!pub_stop) {
			flip ^= 1;
			if (hc_pub_publish(p, blob[flip], size[flip], &gen) < 0)
				_exit(1);
			count++;
			next += interval;
			if (next > bench_ns())
				bench_sleep_ns(next - bench_ns());
			else
				next = bench_ns();
		}
		snprintf(msg, sizeof(msg), "%" PRIu64 " %" PRId64 "\n", count,
		    bench_ns() - t0);
		if (write(fd, msg, strlen(msg)) < 0)
			_exit(1);
		hc_pub_close(p);
		_exit(0);
	}
}

/* ------------------------------------------------------------ setup */

static int
build_blob(size_t n, unsigned flip, void **blob, size_t *size)
{
	struct hc_builder *b;
	hotcfg_entry e;
	unsigned src;
	int rc;

	if ((rc = hc_builder_new(&b)) != 0)
		return rc;
	hc_builder_source(b, "bench", &src);
	memset(&e, 0, sizeof(e));
	e.type = HOTCFG_INT;
	for (size_t i = 0; i < n; i++) {
		e.key = S.keys + i * STRIDE;
		e.key_len = strlen(e.key);
		e.i = bench_value((uint32_t)i, flip);
		if ((rc = hc_builder_add(b, &e)) != 0)
			break;
	}
	if (rc == 0)
		rc = hc_builder_finish(b, hc_now_ns(), blob, size, NULL);
	hc_builder_free(b);
	return rc;
}

static size_t
next_pow2(size_t v)
{
	size_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

static void
make_keys(size_t n, uint64_t seed)
{
	uint64_t rs = seed;

	S.nkeys = n;
	S.keys = malloc(n * STRIDE);
	for (size_t i = 0; i < n; i++)
		if (bench_key(S.keys + i * STRIDE, STRIDE, (uint32_t)i) >= STRIDE)
			abort();
	/* Long enough that the stream does not make a small working set
	 * out of a large table; short enough to stay cheap. */
	S.qn = next_pow2(2 * n);
	if (S.qn < 4096)
		S.qn = 4096;
	if (S.qn > (1u << 20))
		S.qn = 1u << 20;
	S.stream = malloc(S.qn * STRIDE);
	for (size_t q = 0; q < S.qn; q++)
		memcpy(S.stream + q * STRIDE,
		    S.keys + (bench_rand(&rs) % n) * STRIDE, STRIDE);
}

/* ------------------------------------------------------------ lines */

/* Lines are counted from the blob's start, which a reader's mapping
 * places on a page boundary (a malloc'd copy may not be). */
static const unsigned char *line_base;

static void
touch(uint64_t *lines, unsigned *nl, const void *p, size_t len)
{
	uintptr_t o = (uintptr_t)((const unsigned char *)p - line_base);
	uintptr_t a = o / 64, z;

	if (len == 0)
		return;
	z = (o + len - 1) / 64;
	for (uintptr_t l = a; l <= z; l++) {
		unsigned i;
		for (i = 0; i < *nl; i++)
			if (lines[i] == l)
				break;
		if (i == *nl && *nl < 64)
			lines[(*nl)++] = l;
	}
}

/* What one lookup of an existing key did (lines_for()). */
struct look {
	unsigned lines;         /* distinct lines of the snapshot */
	unsigned buckets;       /* buckets read */
	const struct hc_rec *rec;       /* what it found, or NULL */
	bool found;
	bool fast;              /* found by the inline test: preferred slot */
	bool link;              /* its own record reached through a link */
	bool other;             /* read another key's record (a tag match) */
	bool long_head;         /* its head is longer than a line */
};

/*
 * The cache lines of the snapshot that hc_snap_find() (snap.h) and
 * hotcfg_get_int() read for one key, following the same steps.  The
 * inline test: the home bucket's line (base, the preferred slot's tag and
 * rel); if that tag is the key's (with the bucket's tag choice), the
 * slot's record header, and if it is neither a link nor extended and its
 * key length is the key's, the key bytes (memcmp).  Then, unless that
 * found the key, hc_snap_probe_body(): bucket by bucket from home, every
 * slot whose tag matches, in slot order: the slot's record header, the
 * record a link names, header and extension (key length) and, when the
 * length matches, the key bytes; a bucket with an empty slot ends the
 * probe.  Once found, the 8-byte value.
 */
static void
lines_for(const struct hotcfg_snap *s, const char *key, struct look *o)
{
	size_t len = strlen(key);
	uint64_t hv = hc_key_hash(key, len, s->seed), lines[64];
	uint64_t home = hv & s->bmask;
	unsigned nl = 0, p = hc_pref_slot(hv);
	const struct hc_bucket *b = &s->index[home];
	const struct hc_rec *r = NULL;

	memset(o, 0, sizeof(*o));
	o->buckets = 1;
	touch(lines, &nl, b, sizeof(*b));
	if (b->tag[p] == hc_tag(hv, b->base)) {
		const struct hc_rec *x = hc_slot_rec(s->base, b, p);

		touch(lines, &nl, x, sizeof(*x));
		if (!(x->type & (HC_REC_EXT | HC_REC_LINK))) {
			if (x->klen == len) {
				const char *k = (const char *)x +
				    hc_rec_keyoff_short(x->type);
				touch(lines, &nl, k, len);
				if (memcmp(k, key, len) == 0)
					r = x;
			}
			if (r != NULL)
				o->fast = true;
			else
				o->other = true;
		}
	}
	for (uint64_t i = home, n = 0; r == NULL && n <= s->bmask;
	    i = (i + 1) & s->bmask, n++) {
		unsigned m;

		b = &s->index[i];
		if (i != home) {
			o->buckets++;
			touch(lines, &nl, b, sizeof(*b));
		}
		m = hc_bucket_match(b, hc_tag(hv, b->base));
		for (; m != 0 && r == NULL; m &= m - 1) {
			const struct hc_rec *x = hc_slot_rec(s->base, b,
			    (unsigned)__builtin_ctz(m));
			bool via = false;

			touch(lines, &nl, x, sizeof(*x));
			if (x->type == HC_REC_LINK) {
				x = hc_rec_follow(s->base, x);
				via = true;
			}
			touch(lines, &nl, x, hc_rec_valoff(x->type));
			if (hc_rec_klen(x) == len) {
				touch(lines, &nl, hc_rec_key(x), len);
				if (memcmp(hc_rec_key(x), key, len) == 0) {
					r = x;
					o->link = via;
					break;
				}
			}
			o->other = true;
		}
		if (r == NULL && hc_bucket_has_room(b))
			break;          /* the lookup says: absent */
	}
	if (r != NULL) {
		uint64_t head = hc_rec_keyoff(r->type) + len;

		o->rec = r;
		o->found = true;
		if (hc_type_has_value(hc_rec_type(r)))
			touch(lines, &nl, hc_rec_value(r), 8);
		o->long_head = head > HC_LINE;
	}
	o->lines = nl;
}

/* A key's hash, from its record. */
static uint64_t
rec_hash(const struct hotcfg_snap *s, const struct hc_rec *r)
{
	return hc_key_hash(hc_rec_key(r), hc_rec_klen(r), s->seed);
}

/*
 * Keys in their home bucket whose lookup would read another key's record
 * before its own (the inline test's preferred slot, then the probe's
 * slots before its own, when their tags equal its own), with each
 * bucket's tags as built (alt < 0) or all from bits 48-63 (alt 0: no
 * HC_BASE_ALT).  Keys carried out of their home bucket are left out.
 * (The builder's lookup_ok() also counts a key in its preferred slot
 * whose tag an earlier slot shares, which the inline test finds first.)
 */
static uint64_t
tag_meets(const struct hotcfg_snap *s, int alt)
{
	uint64_t n = 0;

	for (uint64_t k = 0; k <= s->bmask; k++) {
		const struct hc_bucket *b = &s->index[k];
		uint64_t hv[HC_BUCKET_SLOTS];
		uint16_t t[HC_BUCKET_SLOTS];
		int a = alt < 0 ? (b->base & HC_BASE_ALT) != 0 : alt;

		for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
			t[i] = 0;
			if (b->tag[i] == 0)
				continue;
			hv[i] = rec_hash(s, hc_rec_follow(s->base,
			    hc_slot_rec(s->base, b, i)));
			t[i] = hc_tag_of(hv[i], a);
		}
		for (unsigned j = 0; j < HC_BUCKET_SLOTS; j++) {
			unsigned p;
			bool meets = false;

			if (t[j] == 0 || (hv[j] & s->bmask) != k)
				continue;
			p = hc_pref_slot(hv[j]);
			/* In its preferred slot, a plain record is found by
			 * the inline test; a link or an extended one is left
			 * to the probe. */
			if (p == j && !(hc_slot_rec(s->base, b, j)->type &
			    (HC_REC_EXT | HC_REC_LINK)))
				continue;
			if (p != j && t[p] == t[j])
				meets = true;
			for (unsigned i = 0; i < j; i++)
				if (t[i] == t[j])
					meets = true;
			n += meets;
		}
	}
	return n;
}

/*
 * Keys out of their home bucket with the snapshot's keys in nb buckets of
 * 20 slots (home bucket hv % nb), filled as the builder fills them (every
 * key into its home bucket while there is room, the others afterwards
 * into the first following bucket with room), and the mean number of
 * buckets a lookup reads.
 */
static json_t *
whatif(const struct hotcfg_snap *s, uint64_t nb)
{
	uint64_t leave = 0, lsum = 0, nspill = 0;
	uint64_t *home = malloc(s->count * sizeof(*home));
	uint32_t *spill = malloc(s->count * sizeof(*spill));
	uint8_t *fill = calloc(nb, 1);

	if (home == NULL || spill == NULL || fill == NULL)
		abort();
	for (uint32_t i = 0; i < s->count; i++)
		home[i] = rec_hash(s, (const void *)(s->base +
		    s->order[i])) % nb;
	for (uint32_t i = 0; i < s->count; i++) {
		uint64_t h = home[i];
		if (fill[h] < HC_BUCKET_SLOTS) {
			fill[h]++;
			lsum++;
		} else {
			spill[nspill++] = i;
		}
	}
	for (uint64_t j = 0; j < nspill; j++) {
		uint64_t p = home[spill[j]], d = 1;

		while (fill[p] == HC_BUCKET_SLOTS) {
			p = (p + 1) % nb;
			d++;
		}
		fill[p]++;
		lsum += d;
		leave++;
	}
	free(home);
	free(spill);
	free(fill);
	return json_pack("{s:I, s:I, s:o, s:o}", "buckets", (json_int_t)nb,
	    "keys_leave_home_bucket", (json_int_t)leave,
	    "pct_leave_home_bucket", bench_num(100.0 * (double)leave /
	    (double)s->count), "mean_bucket_lines", bench_num((double)lsum /
	    (double)s->count));
}

static json_t *
count_lines(const void *blob, size_t size, size_t nsample)
{
	hotcfg_snap *s;
	uint64_t hist[5] = { 0 }, probes_sum = 0, lsum = 0, rs = 99, cross = 0;
	uint64_t npref = 0, notfound = 0, over = 0, links = 0, alts = 0;
	uint64_t c_carried = 0, c_long = 0, c_link = 0, c_other = 0;
	uint64_t c_none = 0;
	unsigned maxl = 0;
	json_t *o;

	if (hc_snap_wrap(blob, size, &s) != 0)
		return NULL;
	line_base = blob;
	if (nsample > S.nkeys)
		nsample = S.nkeys;
	for (size_t q = 0; q < nsample; q++) {
		/* Every key once when sampling all; else a random sample. */
		size_t i = nsample == S.nkeys ? q : bench_rand(&rs) % S.nkeys;
		struct look lk;
		unsigned l;

		const char *key = S.keys + i * STRIDE;

		lines_for(s, key, &lk);
		l = lk.lines;
		/* The count followed the lookup, or it is wrong: the same
		 * record as hc_snap_find() (both paths), which must find
		 * every key. */
		if (!lk.found || lk.rec != hc_snap_find(s, key, strlen(key)) ||
		    lk.rec != hc_snap_find_with(s, key, strlen(key), 1)) {
			if (notfound++ < 5)
				fprintf(stderr, "read_path: key \"%s\": the "
				    "count found %p, hc_snap_find() %p, scalar "
				    "%p\n", key, (const void *)lk.rec,
				    (const void *)hc_snap_find(s, key,
				    strlen(key)), (const void *)
				    hc_snap_find_with(s, key, strlen(key), 1));
		}
		hist[l < 4 ? l : 4]++;
		lsum += l;
		probes_sum += lk.buckets;
		if (l > maxl)
			maxl = l;
		cross += lk.buckets > 1;
		npref += lk.fast;
		if (l > 2) {
			bool any = false;
			over++;
			if (lk.buckets > 1)
				c_carried++, any = true;
			if (lk.long_head)
				c_long++, any = true;
			if (lk.link)
				c_link++, any = true;
			if (lk.other)
				c_other++, any = true;
			c_none += !any;
		}
	}
	for (uint64_t k = 0; k <= s->bmask; k++) {
		const struct hc_bucket *b = &s->index[k];
		alts += (b->base & HC_BASE_ALT) != 0;
		for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++)
			links += b->tag[i] != 0 &&
			    hc_slot_rec(s->base, b, i)->type == HC_REC_LINK;
	}
	o = json_pack("{s:I, s:o, s:o, s:I, s:o, s:o, s:o, s:o}",
	    "lookups", (json_int_t)nsample,
	    "mean_lines", bench_num((double)lsum / (double)nsample),
	    "pct_at_most_2", bench_num(100.0 * (double)(hist[1] + hist[2]) /
	    (double)nsample),
	    "max_lines", (json_int_t)maxl,
	    "pct_3_lines", bench_num(100.0 * (double)hist[3] / (double)nsample),
	    "pct_4plus_lines", bench_num(100.0 * (double)hist[4] /
	    (double)nsample),
	    "mean_buckets_probed", bench_num((double)probes_sum /
	    (double)nsample),
	    "pct_probe_leaves_home_bucket", bench_num(100.0 * (double)cross /
	    (double)nsample));
	json_object_set_new(o, "pct_in_preferred_slot", bench_num(100.0 *
	    (double)npref / (double)nsample));
	json_object_set_new(o, "load_factor", bench_num((double)s->count /
	    (double)((s->bmask + 1) * HC_BUCKET_SLOTS)));
	json_object_set_new(o, "keys_out_of_home_bucket", json_integer(
	    (json_int_t)cross));
	json_object_set_new(o, "lookups_failed", json_integer(
	    (json_int_t)notfound));
	json_object_set_new(o, "links", json_integer((json_int_t)links));
	json_object_set_new(o, "buckets", json_integer(
	    (json_int_t)(s->bmask + 1)));
	json_object_set_new(o, "buckets_alt_tags", json_integer(
	    (json_int_t)alts));
	/* A key can have more than one cause; "none" counts keys with none
	 * of these (a head of at most a line that crosses one, say). */
	json_object_set_new(o, "over_2_lines_by_cause", json_pack("{s:I, s:I, "
	    "s:I, s:I, s:I, s:I}", "lookups", (json_int_t)over,
	    "carried_out_of_home_bucket", (json_int_t)c_carried,
	    "head_longer_than_a_line", (json_int_t)c_long,
	    "link", (json_int_t)c_link,
	    "tag_met_before_own", (json_int_t)c_other,
	    "none_of_these", (json_int_t)c_none));
	{
		/* The builder's bucket filling on the same keys (checks the
		 * count above), and at the sizing rule's limit: one bucket
		 * per 6 keys, load 0.3.  The tags: keys whose lookup meets
		 * another key's tag first, as built and if every bucket took
		 * its tags from bits 48-63 (no HC_BASE_ALT). */
		uint64_t nb = s->bmask + 1, nb30 = ((uint64_t)s->count + 5) / 6;
		json_t *w = json_object();

		json_object_set_new(w, "builder", whatif(s, nb));
		json_object_set_new(w, "builder_at_load_0_3",
		    whatif(s, nb30 ? nb30 : 1));
		json_object_set_new(w, "home_keys_meeting_another_tag_first",
		    json_pack("{s:I, s:I}", "as_built",
		    (json_int_t)tag_meets(s, -1), "without_alt_tags",
		    (json_int_t)tag_meets(s, 0)));
		json_object_set_new(o, "simulated_index_layouts", w);
	}
	hc_snap_unwrap(s);
	return o;
}

/*
 * -c N: the cachegrind helper.  Reads a snapshot blob and a lookup
 * stream that a normal run left in DIR (-C DIR), then does N lookups
 * ("bare") or only walks the stream ("null").  Running both under
 * cachegrind and subtracting gives the data-cache misses of the lookups
 * alone.  See README.md.
 */
static int
cachegrind_helper(const char *dir, const char *mode, size_t n)
{
	char path[512];
	size_t qlen;
	struct stat st;
	void *blob;
	char *stream;
	hotcfg_snap *s;
	int64_t v, sink = 0;
	int fd;

	/* Mapped, as a reader maps it: page-aligned. */
	snprintf(path, sizeof(path), "%s/blob", dir);
	if ((fd = open(path, O_RDONLY)) < 0 || fstat(fd, &st) != 0)
		return 1;
	blob = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (blob == MAP_FAILED)
		return 1;
	snprintf(path, sizeof(path), "%s/stream", dir);
	if ((stream = bench_read_file(path, &qlen)) == NULL)
		return 1;
	if (hc_snap_wrap(blob, (size_t)st.st_size, &s) != 0)
		return 1;
	qlen /= STRIDE;
	for (size_t i = 0; i < n; i++) {
		const char *key = stream + (i % qlen) * STRIDE;
		if (strcmp(mode, "bare") == 0) {
			if (hotcfg_get_int(s, key, &v) != 0)
				return 1;
			sink += v;
		} else {
			sink += (int64_t)strlen(key);
		}
	}
	printf("%" PRId64 "\n", sink);
	return 0;
}

/* ------------------------------------------------------------ main */

struct cres {
	size_t nkeys;
	unsigned thr;
	bool pub;
	double wall[ND], cpu[ND];
	long vcsw[ND], ivcsw[ND];
	double oncpu;
	/* Paired ratios: the median over repetitions of the ratio of two
	 * designs measured in the same repetition, a few ms apart. */
	double r_bare, r_urcu, r_rwlock, r_refcount;
	/* 2 threads, idle: refcount over bare, paired as above (what no
	 * check in front of this lookup can beat), and the median one-way
	 * time of a cache line between the two CPUs (line_transfer_ns()). */
	double r_refcount_bare, line_ns;
	uint64_t errors;
	double pub_interval_ms, swap_interval_ms;
	double window_ms;       /* the window used (longer when the
	                           publisher is slow) */
	uint64_t publishes;
};

/* Append to the string in buf (cap bytes), cutting what does not fit. */
static void __attribute__((format(printf, 3, 4)))
appendf(char *buf, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
}

static const char *
kname(size_t n, char *buf, size_t len)
{
	if (n >= 1000000 && n % 1000000 == 0)
		snprintf(buf, len, "%zuM", n / 1000000);
	else if (n >= 1000 && n % 1000 == 0)
		snprintf(buf, len, "%zuk", n / 1000);
	else
		snprintf(buf, len, "%zu", n);
	return buf;
}

int
main(int argc, char **argv)
{
	size_t ks[8] = { 1000, 100000, 1000000 }, nk = 3;
	unsigned reps = 15;
	int64_t win_ms = 10, interval_ms = 10;
	const char *json = NULL, *cgdir = NULL, *cgmode = "bare";
	size_t cgn = 0;
	bool smoke = false, layout_only = false, idle_only = false;
	unsigned only_thr = 0;
	json_t *out, *cases, *targets, *lines = NULL;
	struct cres *res;
	size_t nres = 0;
	int opt;

	while ((opt = getopt(argc, argv, "slIt:j:k:r:w:i:c:C:m:")) != -1) {
		switch (opt) {
		case 's':
			smoke = true;
			break;
		case 'l':
			layout_only = true;
			break;
		case 'I':
			idle_only = true;
			break;
		case 't':
			only_thr = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'j':
			json = optarg;
			break;
		case 'k':
			nk = bench_sizes(optarg, ks,
			    sizeof(ks) / sizeof(ks[0]));
			break;
		case 'r':
			reps = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			win_ms = strtol(optarg, NULL, 10);
			break;
		case 'i':
			interval_ms = strtol(optarg, NULL, 10);
			break;
		case 'c':
			cgn = strtoul(optarg, NULL, 10);
			break;
		case 'C':
			cgdir = optarg;
			break;
		case 'm':
			cgmode = optarg;
			break;
		default:
			fprintf(stderr, "usage: read_path [-s] [-l] [-I] [-j FILE] "
			    "[-k N,...] [-t N] [-r REPS] [-w MS] [-i MS]\n"
			    "       read_path -c N -C DIR [-m bare|null]\n");
			return 2;
		}
	}
	if (cgn)
		return cgdir ? cachegrind_helper(cgdir, cgmode, cgn) : 2;
	if (smoke) {
		ks[0] = 1000;
		ks[1] = 20000;
		nk = 2;
		reps = 1;
		win_ms = 5;
	}
	if (reps == 0)
		reps = 1;

	urcu_memb_init();
	res = calloc(nk * 4, sizeof(*res));
	out = json_object();
	cases = json_array();
	targets = json_array();

	printf("READ PATH  ns per lookup of a random existing key (reader "
	    "thread CPU time), median of %u windows of %" PRId64 " ms idle / "
	    "%" PRId64 " ms publishing every %" PRId64 " ms; a ratio is the "
	    "median of the ratios within each repetition\n", reps, win_ms,
	    win_ms * 5 / 2, interval_ms);
	printf("  %-5s %3s %-10s %8s %8s %8s %8s %8s   %7s %7s %7s %7s\n",
	    "keys", "thr", "publishing", "bare", "hotcfg", "rwlock", "refcount",
	    "urcu", "hc/bare", "hc/urcu", "rw/hc", "rc/hc");
	fflush(stdout);

	for (size_t ki = 0; ki < nk; ki++) {
		size_t n = ks[ki];
		void *blob[2];
		size_t size[2];
		char *dir = NULL, kb[32];
		struct hc_pub *p = NULL;
		struct hc_pub_opts po = { .history = 2, .gid = (gid_t)-1,
		    .group_read = true };
		uint64_t gen;

		fprintf(stderr, "read_path: %zu keys: building\n", n);
		make_keys(n, 0x5eed + n);
		if (build_blob(n, 0, &blob[0], &size[0]) != 0 ||
		    build_blob(n, 1, &blob[1], &size[1]) != 0) {
			fprintf(stderr, "read_path: build failed\n");
			return 1;
		}
		S.maps[0] = bmap_build(S.keys, n, 0);
		S.maps[1] = bmap_build(S.keys, n, 1);
		S.rw_cur = S.maps[0];
		atomic_store(&S.rc_cur, S.maps[0]);
		rcu_assign_pointer(S.rcu_cur, S.maps[0]);
		if ((dir = bench_tmpdir("read")) == NULL ||
		    hc_pub_open(&p, dir, &po) != 0 ||
		    hc_pub_publish(p, blob[0], size[0], &gen) != 0) {
			fprintf(stderr, "read_path: cannot publish in %s\n",
			    dir ? dir : "a scratch directory");
			return 1;
		}
		hc_pub_close(p);
		if (hotcfg_open(&S.h, dir) != 0) {
			fprintf(stderr, "read_path: cannot open %s\n", dir);
			return 1;
		}

		if (n >= 1000000 || (smoke && ki == nk - 1) || layout_only) {
			lines = count_lines(blob[0], size[0], n);
			if (getenv("BENCH_CG_DIR")) {
				/* Leave the inputs of the cachegrind runs. */
				char path[512];
				snprintf(path, sizeof(path), "%s/blob",
				    getenv("BENCH_CG_DIR"));
				bench_write_file(path, blob[0], size[0]);
				snprintf(path, sizeof(path), "%s/stream",
				    getenv("BENCH_CG_DIR"));
				bench_write_file(path, S.stream, S.qn * STRIDE);
			}
		}

		for (int pub = 0; pub <= 1 && !layout_only; pub++) {
			if (pub && idle_only)
				break;
			for (unsigned thr = 1; thr <= MAX_THREADS; thr++) {
				if (only_thr && thr != only_thr)
					continue;
				struct cres *c = &res[nres++];
				double wall[ND][32], cpu[ND][32], on[ND * 32];
				double lns[32];
				unsigned non = 0, nl = 0;
				int64_t wnd = (pub ? win_ms * 5 / 2 : win_ms) * 1000000;
				int64_t interval = interval_ms * 1000000;
				pthread_t wt;
				pid_t child = -1;
				int pfd[2] = { -1, -1 };
				int64_t t0 = bench_ns();
				unsigned r;

				c->nkeys = n;
				c->thr = thr;
				c->pub = pub;
				c->window_ms = (double)wnd / 1e6;
				S.publishing = pub;
				if (pub) {
					atomic_store(&S.writer_stop, false);
					atomic_store(&S.writer_swaps, 0);
					if (pipe(pfd) != 0)
						return 1;
					child = publisher_start(dir, blob, size,
					    interval, pfd[1]);
					pthread_create(&wt, NULL, writer_main,
					    &interval);
					/* Let both writers get going. */
					bench_sleep_ns(3 * interval);
					/* A window must span a few publishes, so
					 * that what a reader pays to map each new
					 * generation is spread over the lookups
					 * between them, as in a service: at 1M keys
					 * the publisher manages one every 45-65 ms,
					 * not every 10. */
					uint64_t g0 = hotcfg_generation(S.h);
					int64_t ts = bench_ns(), span;

					bench_sleep_ns(20 * interval);
					span = bench_ns() - ts;
					uint64_t ng = hotcfg_generation(S.h) - g0;
					int64_t every = ng ? span / (int64_t)ng : span;
					if (wnd < 3 * every)
						wnd = 3 * every < 300000000 ?
						    3 * every : 300000000;
					c->window_ms = (double)wnd / 1e6;
				}
				for (r = 0; r < reps && r < 32; r++) {
					/* Each repetition starts with another design,
					 * and the stride changes every ND repetitions,
					 * so that no design always runs right after
					 * the one that shares its memory (bare and
					 * hotcfg, the three maps) and finds the cache
					 * warmed for it. */
					unsigned stride = 1 + (r / ND) % (ND - 1);
					for (unsigned j = 0; j < ND; j++) {
						enum design d = (enum design)((r + j *
						    stride) % ND);
						measure(d, thr, wnd / 4, wnd,
						    &wall[d][r], &cpu[d][r],
						    &c->errors, &c->vcsw[d],
						    &c->ivcsw[d], &on[non++]);
					}
					if (thr == 2 && !pub) {
						double x = line_transfer_ns(
						    2000000);
						if (x > 0)
							lns[nl++] = x;
					}
				}
				c->line_ns = nl ? bench_median(lns, nl) : -1;
				if (pub) {
					char msg[64] = "";
					ssize_t got;
					unsigned long long cnt = 0;
					long long ns = 0;

					atomic_store(&S.writer_stop, true);
					pthread_join(wt, NULL);
					kill(child, SIGTERM);
					close(pfd[1]);
					got = read(pfd[0], msg, sizeof(msg) - 1);
					close(pfd[0]);
					waitpid(child, NULL, 0);
					if (got > 0) {
						msg[got] = '\0';
						sscanf(msg, "%llu %lld", &cnt, &ns);
					}
					c->publishes = cnt;
					c->pub_interval_ms = cnt ? (double)ns /
					    (double)cnt / 1e6 : 0;
					c->swap_interval_ms = (double)(bench_ns() - t0) /
					    (double)(atomic_load(&S.writer_swaps) + 1) /
					    1e6;
				}
				for (unsigned d = 0; d < ND; d++) {
					c->wall[d] = bench_median(wall[d], r);
					c->cpu[d] = bench_median(cpu[d], r);
				}
				c->oncpu = bench_median(on, non);
				{
					double q[5][32];
					for (unsigned k = 0; k < r; k++) {
						double hc = cpu[D_HOTCFG][k];
						q[0][k] = hc / cpu[D_BARE][k];
						q[1][k] = hc / cpu[D_URCU][k];
						q[2][k] = cpu[D_RWLOCK][k] / hc;
						q[3][k] = cpu[D_REFCOUNT][k] / hc;
						q[4][k] = cpu[D_REFCOUNT][k] /
						    cpu[D_BARE][k];
					}
					c->r_refcount_bare = bench_median(q[4], r);
					c->r_bare = bench_median(q[0], r);
					c->r_urcu = bench_median(q[1], r);
					c->r_rwlock = bench_median(q[2], r);
					c->r_refcount = bench_median(q[3], r);
				}
				/* A hotcfg figure of a millisecond or more is
				 * not a lookup but a mapping: every
				 * hotcfg_snapshot() found a newer generation
				 * (see LOOP).  In ms then, and said so. */
				char hcb[16];
				bool mapping = c->cpu[D_HOTCFG] >= 1e6;

				if (mapping)
					snprintf(hcb, sizeof(hcb), "%.1fms",
					    c->cpu[D_HOTCFG] / 1e6);
				else
					snprintf(hcb, sizeof(hcb), "%.1f",
					    c->cpu[D_HOTCFG]);
				printf("  %-5s %3u %-10s %8.1f %8s %8.1f %8.1f %8.1f"
				    "   %6.2fx %6.2fx %6.2fx %6.2fx",
				    kname(n, kb, sizeof(kb)), thr,
				    pub ? "yes" : "no", c->cpu[D_BARE],
				    hcb, c->cpu[D_RWLOCK],
				    c->cpu[D_REFCOUNT], c->cpu[D_URCU],
				    c->r_bare, c->r_urcu, c->r_rwlock,
				    c->r_refcount);
				if (pub)
					printf("  published every %.1f ms",
					    c->pub_interval_ms);
				if (pub && c->window_ms > win_ms * 5 / 2 + 0.5)
					printf(", windows of %.0f ms",
					    c->window_ms);
				if (mapping)
					printf("  hotcfg: each lookup mapped a "
					    "new generation");
				if (c->oncpu < 0.9)
					printf("  threads on CPU %.0f%%",
					    100 * c->oncpu);
				if (c->line_ns > 0)
					printf("  line moves in %.1f ns",
					    c->line_ns);
				if (c->errors)
					printf("  ERRORS %" PRIu64, c->errors);
				printf("\n");
				fflush(stdout);

				json_t *jw = json_object(), *jc = json_object();
				json_t *jv = json_object(), *ji = json_object();
				for (unsigned d = 0; d < ND; d++) {
					json_object_set_new(jw, dname[d],
					    bench_num(c->wall[d]));
					json_object_set_new(jc, dname[d],
					    bench_num(c->cpu[d]));
					json_object_set_new(jv, dname[d],
					    json_integer(c->vcsw[d]));
					json_object_set_new(ji, dname[d],
					    json_integer(c->ivcsw[d]));
				}
				json_t *jo = json_pack("{s:I, s:i, s:b, s:o, s:o, s:o, "
				    "s:o, s:o, s:o, s:I}",
				    "keys", (json_int_t)n, "threads", (int)thr,
				    "publishing", pub, "cpu_ns_per_lookup", jc,
				    "wall_ns_per_lookup", jw,
				    "sleeps", jv, "preemptions", ji,
				    "threads_on_cpu", bench_num(c->oncpu),
				    "paired_ratios", json_pack("{s:o, s:o, s:o, s:o}",
				    "hotcfg_over_bare", bench_num(c->r_bare),
				    "hotcfg_over_urcu", bench_num(c->r_urcu),
				    "rwlock_over_hotcfg", bench_num(c->r_rwlock),
				    "refcount_over_hotcfg", bench_num(c->r_refcount)),
				    "errors", (json_int_t)c->errors);
				if (pub) {
					json_object_set_new(jo, "publishes",
					    json_integer((json_int_t)c->publishes));
					json_object_set_new(jo,
					    "hotcfg_publish_interval_ms",
					    bench_num(c->pub_interval_ms));
					json_object_set_new(jo,
					    "baseline_swap_interval_ms",
					    bench_num(c->swap_interval_ms));
				}
				if (thr == 2 && !pub) {
					json_object_set_new(jo,
					    "refcount_over_bare",
					    bench_num(c->r_refcount_bare));
					json_object_set_new(jo, "line_transfer_ns",
					    c->line_ns > 0 ?
					    bench_num(c->line_ns) : json_null());
				}
				json_object_set_new(jo, "window_ms",
				    bench_num(c->window_ms));
				json_array_append_new(cases, jo);
			}
		}
		hotcfg_close(S.h);
		S.h = NULL;
		bmap_free(S.maps[0]);
		bmap_free(S.maps[1]);
		free(blob[0]);
		free(blob[1]);
		free(S.keys);
		free(S.stream);
		bench_rmtree(dir);
		free(dir);
	}

	if (lines) {
		json_t *w = json_object_get(lines, "simulated_index_layouts");
		json_t *c = json_object_get(lines, "over_2_lines_by_cause");
		json_t *t = json_object_get(w,
		    "home_keys_meeting_another_tag_first");
#define JI(o, name) ((long long)json_integer_value(json_object_get(o, name)))
#define JR(o, name) json_real_value(json_object_get(o, name))
		printf("  cache lines of the snapshot per lookup at %lld keys "
		    "(every key once, counted along the lookup's own probe): "
		    "mean %.3f, %.2f%% of lookups touch <= 2, %.2f%% 3, "
		    "%.3f%% 4+, max %lld; buckets probed %.3f, keys out of "
		    "their home bucket %lld (%.3f%%), found in the preferred slot "
		    "%.1f%%, load %.2f; links %lld, buckets with HC_BASE_ALT "
		    "tags %lld of %lld; lookups over 2 lines %lld: carried out "
		    "of the home bucket %lld, head longer than a line %lld, "
		    "link %lld, tag met before own %lld, none of these %lld\n",
		    JI(lines, "lookups"), JR(lines, "mean_lines"),
		    JR(lines, "pct_at_most_2"), JR(lines, "pct_3_lines"),
		    JR(lines, "pct_4plus_lines"), JI(lines, "max_lines"),
		    JR(lines, "mean_buckets_probed"),
		    JI(lines, "keys_out_of_home_bucket"),
		    JR(lines, "pct_probe_leaves_home_bucket"),
		    JR(lines, "pct_in_preferred_slot"),
		    JR(lines, "load_factor"), JI(lines, "links"),
		    JI(lines, "buckets_alt_tags"), JI(lines, "buckets"),
		    JI(c, "lookups"), JI(c, "carried_out_of_home_bucket"),
		    JI(c, "head_longer_than_a_line"), JI(c, "link"),
		    JI(c, "tag_met_before_own"), JI(c, "none_of_these"));
		if (JI(lines, "lookups_failed") != 0)
			printf("  ERRORS: %lld lookups of existing keys failed "
			    "or differ from the count\n",
			    JI(lines, "lookups_failed"));
		printf("  simulated on the same keys: keys out of their home "
		    "bucket with the builder's filling %lld, at the sizing "
		    "limit (%lld buckets, 6 keys a bucket, load 0.30) %lld; "
		    "keys in their "
		    "home bucket whose lookup meets another key's tag first: "
		    "%lld as built, %lld with every bucket's tags from bits "
		    "48-63 (no HC_BASE_ALT)\n",
		    JI(json_object_get(w, "builder"), "keys_leave_home_bucket"),
		    JI(json_object_get(w, "builder_at_load_0_3"), "buckets"),
		    JI(json_object_get(w, "builder_at_load_0_3"),
		    "keys_leave_home_bucket"), JI(t, "as_built"),
		    JI(t, "without_alt_tags"));
#undef JI
#undef JR
	}

	/* Targets of issue 6 that this part can judge. */
	for (size_t i = 0; i < nres; i++) {
		struct cres *c = &res[i];
		if (c->nkeys != ks[0] || c->pub)
			continue;
		if (c->thr == 1) {
			double a = c->r_bare, b = c->r_urcu;
			bench_target(targets, a <= 1.3, "read, %zu keys, 1 thread: "
			    "hotcfg %.2fx bare (<= 1.3x)", c->nkeys, a);
			bench_target(targets, b <= 1.2, "read, %zu keys, 1 thread: "
			    "hotcfg %.2fx urcu (<= 1.2x)", c->nkeys, b);
		} else if (c->thr == 2) {
			double a = c->r_rwlock, b = c->r_refcount;
			/* Two threads that seldom ran together met no
			 * contention: the ratio then says nothing. */
			bool ran = c->oncpu >= 0.9;
			char why[320] = "";

			if (!ran)
				snprintf(why, sizeof(why), "; not judged: the threads "
				    "were on a CPU %.0f%% of the time",
				    100 * c->oncpu);
			/* What the host did to hotcfg itself, which shares
			 * nothing between its readers: its cost with two
			 * threads against one.  Two vCPUs on one physical
			 * core slow each other down (hotcfg and bare alike),
			 * and move the count's line cheaply. */
			for (size_t j = 0; j < nres; j++) {
				if (res[j].nkeys != c->nkeys || res[j].pub ||
				    res[j].thr != 1 || res[j].cpu[D_HOTCFG] <= 0)
					continue;
				appendf(why, sizeof(why), "; hotcfg itself %.2fx "
				    "its 1-thread cost",
				    c->cpu[D_HOTCFG] / res[j].cpu[D_HOTCFG]);
			}
			bench_target(targets, ran ? a >= 3 : -1, "read, %zu keys, "
			    "2 threads: hotcfg %.2fx faster than rwlock (>= 3x)%s",
			    c->nkeys, a, why);
			/* What this run's host allowed: refcount over bare is
			 * the most any check in front of the lookup could
			 * show, and how fast a line moved between the two
			 * CPUs is what set refcount's cost. */
			appendf(why, sizeof(why), "; refcount %.2fx bare",
			    c->r_refcount_bare);
			if (c->line_ns > 0)
				appendf(why, sizeof(why), "; a cache line moved "
				    "between the two CPUs in %.1f ns", c->line_ns);
			bench_target(targets, ran ? b >= 3 : -1, "read, %zu keys, "
			    "2 threads: hotcfg %.2fx faster than refcount (>= 3x)%s",
			    c->nkeys, b, why);
		}
	}
	if (lines) {
		double m = json_real_value(json_object_get(lines, "mean_lines"));
		double p2 = json_real_value(json_object_get(lines,
		    "pct_at_most_2"));
		json_int_t failed = json_integer_value(json_object_get(lines,
		    "lookups_failed"));
		bench_target(targets, p2 >= 100.0 && failed == 0, "read, %lld "
		    "keys: cache lines per lookup mean %.2f, %.2f%% of lookups "
		    "<= 2 lines (target: at most 2)%s",
		    (long long)json_integer_value(json_object_get(lines,
		    "lookups")), m, p2, failed ? "; LOOKUPS FAILED" : "");
		json_object_set_new(out, "cache_lines", lines);
	}
	json_object_set_new(out, "reps", json_integer(reps));
	json_object_set_new(out, "window_ms", json_integer(win_ms));
	json_object_set_new(out, "publish_interval_ms",
	    json_integer(interval_ms));
	json_object_set_new(out, "cases", cases);
	json_object_set_new(out, "targets", targets);
	free(res);
	return bench_write_json(json, out) ? 1 : 0;
}
