/*
 * pubtool - a test publisher: publishes `count` generations of gensnap
 * snapshots into DIR, `interval_us` apart, then exits.  It uses the real
 * publisher, so readers see exactly what they would see from hotcfgd.
 *
 *   pubtool DIR COUNT [NKEYS [INTERVAL_US [HISTORY]]]
 *
 * Prints the last generation published.  Exit 0, or 1 on any error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gensnap.h"

int
main(int argc, char **argv)
{
	struct hc_pub *p;
	struct hc_pub_opts o = { .history = 2, .gid = (gid_t)-1,
	    .group_read = true };
	unsigned long count, nkeys = 16, interval = 0;
	uint64_t gen = 0;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: pubtool DIR COUNT [NKEYS [INTERVAL_US "
		    "[HISTORY]]]\n");
		return 2;
	}
	count = strtoul(argv[2], NULL, 10);
	if (argc > 3)
		nkeys = strtoul(argv[3], NULL, 10);
	if (argc > 4)
		interval = strtoul(argv[4], NULL, 10);
	if (argc > 5)
		o.history = (unsigned)strtoul(argv[5], NULL, 10);
	if ((rc = hc_pub_open(&p, argv[1], &o)) != 0) {
		fprintf(stderr, "pubtool: %s: %s\n", argv[1], hotcfg_strerror(rc));
		return 1;
	}
	for (unsigned long i = 0; i < count; i++) {
		void *blob;
		size_t size;
		if ((rc = gensnap_build(hc_pub_generation(p) + 1, (unsigned)nkeys,
		    &blob, &size)) != 0 ||
		    (rc = hc_pub_publish(p, blob, size, &gen)) < 0) {
			fprintf(stderr, "pubtool: publish: %s\n",
			    hotcfg_strerror(rc));
			hc_pub_close(p);
			return 1;
		}
		free(blob);
		if (interval)
			usleep((useconds_t)interval);
	}
	printf("%llu\n", (unsigned long long)gen);
	hc_pub_close(p);
	return 0;
}
