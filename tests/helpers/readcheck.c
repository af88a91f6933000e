/*
 * readcheck - a reader process for the stress tests: THREADS threads share
 * one handle and read DIR until generation UNTIL is seen (or SECONDS pass),
 * checking on every read that the snapshot is a complete gensnap of its
 * generation and never older than the last one that thread saw.
 *
 *   readcheck DIR UNTIL NKEYS SECONDS [THREADS]
 *
 * Prints "reads=N generations=M last=G" per thread.  Exit 0 when every
 * read checked out and every thread reached UNTIL; 1 otherwise, with the
 * reason on stderr.  `make tsan` builds it with ThreadSanitizer, so the
 * reader's own threading is checked there.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "gensnap.h"

struct rd {
	hotcfg *h;
	uint64_t until, last, reads, gens;
	unsigned nkeys;
	int64_t deadline;
	char err[256];
};

static void *
run(void *arg)
{
	struct rd *r = arg;
	const hotcfg_snap *s;

	while (r->last < r->until && hc_mono_ns() < r->deadline) {
		int rc = hotcfg_snapshot(r->h, &s);
		if (rc == HOTCFG_ENOTPUB)
			continue;
		if (rc != 0) {
			snprintf(r->err, sizeof(r->err), "snapshot: %s",
			    hotcfg_strerror(rc));
			return NULL;
		}
		r->reads++;
		uint64_t g = hotcfg_snap_generation(s);
		if (g < r->last) {
			snprintf(r->err, sizeof(r->err), "generation went back "
			    "from %llu to %llu", (unsigned long long)r->last,
			    (unsigned long long)g);
			return NULL;
		}
		r->gens += g != r->last;
		r->last = g;
		if (gensnap_check(s, r->nkeys, r->err, sizeof(r->err)) != 0)
			return NULL;
	}
	if (r->last < r->until)
		snprintf(r->err, sizeof(r->err), "only reached generation %llu "
		    "of %llu", (unsigned long long)r->last,
		    (unsigned long long)r->until);
	return NULL;
}

int
main(int argc, char **argv)
{
	hotcfg *h = NULL;
	unsigned nthreads = 1;
	int64_t deadline;
	int rc, bad = 0;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: readcheck DIR UNTIL NKEYS SECONDS "
		    "[THREADS]\n");
		return 2;
	}
	if (argc == 6)
		nthreads = (unsigned)strtoul(argv[5], NULL, 10);
	if (nthreads == 0 || nthreads > 64)
		nthreads = 1;
	deadline = hc_mono_ns() + (int64_t)strtol(argv[4], NULL, 10) * 1000000000;
	while ((rc = hotcfg_open(&h, argv[1])) != 0) {
		if (hc_mono_ns() > deadline) {
			fprintf(stderr, "readcheck: open: %s\n", hotcfg_strerror(rc));
			return 1;
		}
	}
	struct rd rd[64];
	pthread_t t[64];
	for (unsigned i = 0; i < nthreads; i++) {
		rd[i] = (struct rd){ .h = h, .nkeys = (unsigned)strtoul(argv[3],
		    NULL, 10), .until = strtoull(argv[2], NULL, 10),
		    .deadline = deadline };
		if (pthread_create(&t[i], NULL, run, &rd[i]) != 0) {
			fprintf(stderr, "readcheck: pthread_create failed\n");
			return 1;
		}
	}
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(t[i], NULL);
		printf("reads=%llu generations=%llu last=%llu\n",
		    (unsigned long long)rd[i].reads,
		    (unsigned long long)rd[i].gens,
		    (unsigned long long)rd[i].last);
		if (rd[i].err[0]) {
			fprintf(stderr, "readcheck: thread %u: %s\n", i, rd[i].err);
			bad = 1;
		}
	}
	hotcfg_close(h);
	return bad;
}
