/*
 * readcheck - a reader process for the stress tests: reads DIR with the
 * public API until generation UNTIL is seen (or SECONDS pass), checking on
 * every read that the snapshot is a complete gensnap of its generation and
 * never older than the last one seen.
 *
 *   readcheck DIR UNTIL NKEYS SECONDS
 *
 * Prints "reads=N generations=M last=G".  Exit 0 when every read checked
 * out and UNTIL was reached; 1 otherwise, with the reason on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "gensnap.h"

int
main(int argc, char **argv)
{
	hotcfg *h = NULL;
	const hotcfg_snap *s;
	uint64_t until, last = 0, reads = 0, gens = 0;
	unsigned nkeys;
	int64_t deadline;
	char why[256];
	int rc;

	if (argc != 5) {
		fprintf(stderr, "usage: readcheck DIR UNTIL NKEYS SECONDS\n");
		return 2;
	}
	until = strtoull(argv[2], NULL, 10);
	nkeys = (unsigned)strtoul(argv[3], NULL, 10);
	deadline = hc_mono_ns() + (int64_t)strtol(argv[4], NULL, 10) * 1000000000;
	while ((rc = hotcfg_open(&h, argv[1])) != 0) {
		if (hc_mono_ns() > deadline) {
			fprintf(stderr, "readcheck: open: %s\n", hotcfg_strerror(rc));
			return 1;
		}
	}
	while (last < until && hc_mono_ns() < deadline) {
		rc = hotcfg_snapshot(h, &s);
		if (rc == HOTCFG_ENOTPUB)
			continue;
		if (rc != 0) {
			fprintf(stderr, "readcheck: snapshot: %s\n",
			    hotcfg_strerror(rc));
			return 1;
		}
		reads++;
		uint64_t g = hotcfg_snap_generation(s);
		if (g < last) {
			fprintf(stderr, "readcheck: generation went back from "
			    "%llu to %llu\n", (unsigned long long)last,
			    (unsigned long long)g);
			return 1;
		}
		if (g != last)
			gens++;
		last = g;
		if (gensnap_check(s, nkeys, why, sizeof(why)) != 0) {
			fprintf(stderr, "readcheck: torn snapshot: %s\n", why);
			return 1;
		}
	}
	printf("reads=%llu generations=%llu last=%llu\n",
	    (unsigned long long)reads, (unsigned long long)gens,
	    (unsigned long long)last);
	hotcfg_close(h);
	if (last < until) {
		fprintf(stderr, "readcheck: only reached generation %llu of %llu\n",
		    (unsigned long long)last, (unsigned long long)until);
		return 1;
	}
	return 0;
}
