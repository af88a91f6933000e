/*
 * refresh - part 4 of the benchmark: what the first hotcfg_snapshot()
 * after a publish costs a reader, i.e. mapping the new snapshot file and
 * validating it.
 *
 *   refresh [-s] [-j FILE] [-k N,N,...] [-r REPS]
 *
 *   -k   key counts (default 1000,1000000)
 *   -r   publishes measured per size (default 15 for small sizes, 7 at
 *        1M keys and more); medians and the maximum are quoted
 *
 * The snapshots are the read benchmark's (bench_key() keys, int values),
 * two of them with different values, published alternately with the real
 * publisher into a scratch directory on tmpfs.  After each publish the
 * reader thread calls hotcfg_snapshot() once and the call is timed, with
 * the minor page faults it took.  For comparison, in the same run:
 * hc_snap_validate() on the same blob in memory (validation alone, no
 * mapping, no faults).
 */
#include <sys/resource.h>

#include "bench.h"
#include "snap.h"

#define STRIDE 48

static int
build_blob(size_t n, unsigned flip, void **blob, size_t *size)
{
	struct hc_builder *b;
	hotcfg_entry e;
	char key[STRIDE];
	unsigned src;
	int rc;

	if ((rc = hc_builder_new(&b)) != 0)
		return rc;
	hc_builder_source(b, "bench", &src);
	memset(&e, 0, sizeof(e));
	e.type = HOTCFG_INT;
	for (size_t i = 0; i < n && rc == 0; i++) {
		e.key_len = bench_key(key, sizeof(key), (uint32_t)i);
		e.key = key;
		e.i = bench_value((uint32_t)i, flip);
		rc = hc_builder_add(b, &e);
	}
	if (rc == 0)
		rc = hc_builder_finish(b, hc_now_ns(), blob, size, NULL);
	hc_builder_free(b);
	return rc;
}

static long
minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt;
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
	size_t ks[8] = { 1000, 1000000 }, nk = 2;
	unsigned reps = 0;
	const char *json = NULL;
	json_t *out = json_object(), *sizes = json_array();
	int opt;

	while ((opt = getopt(argc, argv, "sj:k:r:")) != -1) {
		switch (opt) {
		case 's':
			ks[0] = 1000;
			ks[1] = 20000;
			reps = 3;
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
		default:
			fprintf(stderr, "usage: refresh [-s] [-j FILE] [-k N,...] "
			    "[-r REPS]\n");
			return 2;
		}
	}

	printf("REFRESH  the first hotcfg_snapshot() after a publish (map + "
	    "validate), in ms\n");
	printf("  %-5s %10s %5s %9s %9s %9s %11s %12s\n", "keys", "bytes",
	    "runs", "p50", "max", "validate", "faults/call", "GB/s (p50)");
	for (size_t ki = 0; ki < nk; ki++) {
		size_t n = ks[ki], size[2];
		unsigned r = reps ? reps : n >= 1000000 ? 7 : 15;
		void *blob[2];
		char *dir = bench_tmpdir("refresh"), kb[32];
		struct hc_pub *p = NULL;
		struct hc_pub_opts po = { .history = 2, .gid = (gid_t)-1,
		    .group_read = true };
		hotcfg *h = NULL;
		const hotcfg_snap *s;
		double *t = calloc(r, sizeof(double)), *v = calloc(r,
		    sizeof(double));
		long faults = 0;
		uint64_t gen;

		fprintf(stderr, "refresh: %zu keys\n", n);
		if (dir == NULL || build_blob(n, 0, &blob[0], &size[0]) != 0 ||
		    build_blob(n, 1, &blob[1], &size[1]) != 0 ||
		    hc_pub_open(&p, dir, &po) != 0 ||
		    hc_pub_publish(p, blob[0], size[0], &gen) != 0 ||
		    hotcfg_open(&h, dir) != 0 || hotcfg_snapshot(h, &s) != 0) {
			fprintf(stderr, "refresh: setup failed\n");
			return 1;
		}
		for (unsigned i = 0; i < r; i++) {
			struct hotcfg_snap view;
			int64_t t0;
			long f0;

			if (hc_pub_publish(p, blob[(i + 1) % 2], size[0], &gen) != 0)
				return 1;
			f0 = minflt();
			t0 = bench_ns();
			if (hotcfg_snapshot(h, &s) != 0 ||
			    hotcfg_snap_generation(s) != gen)
				return 1;
			t[i] = (double)(bench_ns() - t0) / 1e6;
			faults += minflt() - f0;
			t0 = bench_ns();
			if (hc_snap_validate(blob[i % 2], size[0], &view) != 0)
				return 1;
			v[i] = (double)(bench_ns() - t0) / 1e6;
		}
		{
			double p50 = bench_median(t, r), mx = bench_pct(t, r, 100);
			double val = bench_median(v, r);
			printf("  %-5s %10zu %5u %9.3f %9.3f %9.3f %11.1f %12.2f\n",
			    kname(n, kb, sizeof(kb)), size[0], r, p50, mx, val,
			    (double)faults / r, (double)size[0] / (p50 * 1e6));
			json_array_append_new(sizes, json_pack("{s:I, s:I, s:i, "
			    "s:o, s:o, s:o, s:o}", "keys", (json_int_t)n,
			    "bytes", (json_int_t)size[0], "runs", (int)r,
			    "first_snapshot_p50_ms", bench_num(p50),
			    "first_snapshot_max_ms", bench_num(mx),
			    "validate_in_memory_p50_ms", bench_num(val),
			    "minor_faults_per_call",
			    bench_num((double)faults / r)));
		}
		fflush(stdout);
		hotcfg_close(h);
		hc_pub_close(p);
		free(blob[0]);
		free(blob[1]);
		free(t);
		free(v);
		bench_rmtree(dir);
		free(dir);
	}
	printf("  validate = hc_snap_validate() of the same blob already in "
	    "memory (no mapping, no page faults)\n");
	json_object_set_new(out, "sizes", sizes);
	return bench_write_json(json, out) ? 1 : 0;
}
