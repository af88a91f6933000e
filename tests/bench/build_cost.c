/*
 * build_cost - part 3 of the benchmark: what building a snapshot costs the
 * agent, without YAML parsing, and how big the snapshot is.
 *
 *   build_cost [-s] [-j FILE] [-n LEAVES] [-r REPS]
 *
 *   -n   scalar leaves of the generated file (default 1000000)
 *   -r   repetitions of each timed step (default 3); medians are quoted
 *
 * On one config-shaped YAML file (bench.h: bench_yaml; its maps and lists
 * are entries too, so 1M leaves make about 1.1M entries):
 *  libyaml       the bare libyaml parse, for scale;
 *  parse         cfg_load_yaml(): libyaml plus the agent's tree (once);
 *  emit+build    cfg_emit() from that parsed tree into a builder, and
 *                hc_builder_finish(): flattening and building without YAML;
 *  builder       hc_builder_add() of the same entries (taken from the
 *                snapshot, so the content is identical) and
 *                hc_builder_finish(): the builder alone;
 *  size          snapshot bytes per entry against the raw bytes of the keys
 *                and values (text) it holds;
 *  agent RSS     the peak RSS (VmHWM) of the real hotcfgd after it has
 *                published this file (limits raised by a config file, as
 *                1M leaves exceed the default max_nodes).
 */
#include <yaml.h>

#include "bench.h"
#include "snap.h"
#include "tree.h"

/*
 * Where a snapshot's bytes go: header, index (the buckets' slots), order
 * array, record headers and 8-byte binary values, key and value bytes
 * with their NULs, padding to 8 bytes, padding that keeps a record's head
 * in one cache line, the 8-byte links that stand in a run for records it
 * cannot reach (snap.h), and the source names.  The parts add up to the
 * blob's size.
 */
struct breakdown {
	double header, slots, order, rechdr, values, text, nuls, pad8, padline,
	    links, sources;
	uint64_t nlinks;
};

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The records and links are walked in the order they sit in the blob
 * (runs in bucket order, hash order, then the records of links: see
 * lib/build.c): the records from the order array, the links from the
 * index's slots. */
static void
size_breakdown(const void *blob, struct breakdown *bd)
{
	const struct hc_snap_hdr *h = blob;
	const unsigned char *base = blob;
	const struct hc_bucket *index = (const void *)(base + h->off_index);
	uint64_t nb = (uint64_t)1 << h->buckets_log2, n = 0, nl = 0;
	uint32_t *at = malloc((h->count ? 2 * (size_t)h->count : 1) *
	    sizeof(*at));
	uint64_t prev_end = h->off_records;

	memset(bd, 0, sizeof(*bd));
	if (at == NULL)
		return;
	memcpy(at, base + h->off_order, h->count * sizeof(*at));
	n = h->count;
	for (uint64_t k = 0; k < nb; k++)
		for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++)
			if (index[k].tag[i] != 0 && hc_slot_rec(base,
			    &index[k], i)->type == HC_REC_LINK && nl < h->count)
				at[n + nl++] = (uint32_t)((const unsigned char *)
				    hc_slot_rec(base, &index[k], i) - base);
	n += nl;
	qsort(at, n, sizeof(*at), u32_cmp);
	bd->nlinks = nl;
	bd->header = h->off_index;
	bd->slots = (double)nb * sizeof(struct hc_bucket);
	bd->order = h->off_records - h->off_order;
	for (uint64_t i = 0; i < n; i++) {
		const struct hc_rec *r = (const void *)(base + at[i]);
		uint64_t start = at[i], end;
		uint64_t gap = start - prev_end;
		uint64_t a8 = (prev_end + 7) / 8 * 8 - prev_end;

		bd->pad8 += (double)(gap < a8 ? gap : a8);
		bd->padline += (double)(gap < a8 ? 0 : gap - a8);
		if (r->type == HC_REC_LINK) {
			bd->links += sizeof(*r);
			end = start + sizeof(*r);
		} else {
			end = start + hc_rec_len(r->type, hc_rec_klen(r),
			    hc_rec_tlen(r));
			bd->rechdr += hc_rec_valoff(r->type);
			bd->values += hc_type_has_value(hc_rec_type(r)) ? 8 : 0;
			bd->text += hc_rec_klen(r) + hc_rec_tlen(r);
			bd->nuls += 2;
		}
		prev_end = end;
	}
	free(at);
	bd->pad8 += (double)(h->off_sources - prev_end);
	bd->sources = (double)(h->size - h->off_sources);
	/* What is left between the slots and the order array, and between
	 * the order array and the records, is alignment too. */
	bd->order -= (double)(h->off_records - h->off_order) -
	    (double)h->count * 4;
	bd->pad8 += (double)(h->off_records - h->off_order) -
	    (double)h->count * 4;
	{
		double sum = bd->header + bd->slots + bd->order + bd->rechdr +
		    bd->values + bd->text + bd->nuls + bd->pad8 + bd->padline +
		    bd->links + bd->sources;
		if (sum != (double)h->size)
			fprintf(stderr, "build_cost: the size breakdown adds "
			    "up to %.0f bytes, not %" PRIu64 " (overlapping "
			    "records?)\n", sum, h->size);
	}
}


static int
emit_build(const struct cfg_node *tree, const struct cfg_limits *lim,
    void **blob, size_t *size)
{
	struct hc_builder *b;
	struct cfg_error err;
	unsigned src;
	int rc;

	if ((rc = hc_builder_new(&b)) != 0)
		return rc;
	if ((rc = hc_builder_source(b, "bench.yaml", &src)) == 0 &&
	    (rc = cfg_emit(tree, b, lim, &err)) == 0)
		rc = hc_builder_finish(b, hc_now_ns(), blob, size, NULL);
	hc_builder_free(b);
	return rc;
}

static int
builder_only(const hotcfg_entry *ents, size_t n, void **blob, size_t *size)
{
	struct hc_builder *b;
	unsigned src;
	int rc;

	if ((rc = hc_builder_new(&b)) != 0)
		return rc;
	rc = hc_builder_source(b, "bench.yaml", &src);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = hc_builder_add(b, &ents[i]);
	if (rc == 0)
		rc = hc_builder_finish(b, hc_now_ns(), blob, size, NULL);
	hc_builder_free(b);
	return rc;
}

/* Peak RSS of the real agent publishing `path`, and its reload turn. */
static int
agent_rss(const char *agent, const char *dir, const char *path,
    size_t leaves, long *hwm_kb, double *turn_ms, double *first_ms)
{
	char conf[512], pub[512], log[512], line[4096];
	char buf[256];
	hotcfg *h = NULL;
	pid_t pid;
	int64_t t0;
	FILE *fp;
	int rc;

	snprintf(conf, sizeof(conf), "%s/hotcfgd.yaml", dir);
	snprintf(pub, sizeof(pub), "%s/pub", dir);
	snprintf(log, sizeof(log), "%s/agent.log", dir);
	snprintf(buf, sizeof(buf), "limits:\n  max_nodes: %zu\n"
	    "  max_file: %zu\n", leaves * 3 + 1000, (size_t)1 << 30);
	if (bench_write_file(conf, buf, strlen(buf)) != 0)
		return -1;
	{
		char *argv[] = { (char *)agent, "-c", conf, "--dir", pub,
		    (char *)path, NULL };
		t0 = bench_ns();
		pid = bench_agent_start(argv, log);
	}
	if (pid < 0)
		return -1;
	rc = bench_open_published(pub, pid, 120000, &h);
	*first_ms = (double)(bench_ns() - t0) / 1e6;
	*hwm_kb = bench_proc_status_kb(pid, "VmHWM");
	hotcfg_close(h);
	bench_agent_stop(pid);
	*turn_ms = -1;
	if ((fp = fopen(log, "r")) != NULL) {
		while (fgets(line, sizeof(line), fp)) {
			const char *d = strstr(line, " duration_ms=");
			if (strstr(line, "event=reload") && d)
				*turn_ms = strtod(d + 13, NULL);
		}
		fclose(fp);
	}
	if (rc != 0)
		fprintf(stderr, "build_cost: the agent published nothing "
		    "(see %s)\n", log);
	return rc;
}

int
main(int argc, char **argv)
{
	size_t leaves = 1000000, len, edit_at, n = 0, cap = 0;
	unsigned reps = 3;
	const char *json = NULL;
	char *yaml, *dir, path[512], *agent;
	struct cfg_node *tree = NULL;
	struct cfg_limits lim;
	struct cfg_error err;
	void *blob = NULL;
	size_t size = 0;
	hotcfg_snap *snap;
	hotcfg_entry *ents = NULL, e;
	size_t cursor = 0;
	double t_libyaml, t_parse, *t_emit, *t_build, *t_shuf, raw = 0;
	long hwm = -1;
	double turn = -1, first = -1;
	json_t *out = json_object(), *targets = json_array();
	int opt;

	while ((opt = getopt(argc, argv, "sj:n:r:")) != -1) {
		switch (opt) {
		case 's':
			leaves = 2000;
			reps = 1;
			break;
		case 'j':
			json = optarg;
			break;
		case 'n':
			leaves = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			reps = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: build_cost [-s] [-j FILE] "
			    "[-n LEAVES] [-r REPS]\n");
			return 2;
		}
	}
	if (reps == 0)
		reps = 1;
	t_emit = calloc(reps, sizeof(double));
	t_build = calloc(reps, sizeof(double));
	t_shuf = calloc(reps, sizeof(double));

	fprintf(stderr, "build_cost: %zu leaves\n", leaves);
	if ((yaml = bench_yaml(leaves, &len, &edit_at)) == NULL ||
	    (dir = bench_tmpdir("build")) == NULL)
		return 1;
	cfg_limits_default(&lim);
	lim.max_nodes = leaves * 3 + 1000;
	lim.max_file = (size_t)1 << 34;

	{
		int64_t t0 = bench_ns();
		if (bench_libyaml_parse(yaml, len) != 0)
			return 1;
		t_libyaml = (double)(bench_ns() - t0) / 1e9;
		t0 = bench_ns();
		if (cfg_load_yaml("bench.yaml", yaml, len, 0, &lim, &tree,
		    &err) != 0) {
			fprintf(stderr, "build_cost: %s\n", err.msg);
			return 1;
		}
		t_parse = (double)(bench_ns() - t0) / 1e9;
	}
	for (unsigned r = 0; r < reps; r++) {
		int64_t t0 = bench_ns();
		free(blob);
		blob = NULL;
		if (emit_build(tree, &lim, &blob, &size) != 0)
			return 1;
		t_emit[r] = (double)(bench_ns() - t0) / 1e9;
	}
	cfg_free(tree);

	/* The same entries for the builder alone, and the raw bytes. */
	if (hc_snap_wrap(blob, size, &snap) != 0)
		return 1;
	while (hotcfg_next(snap, NULL, &cursor, &e) == 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			ents = realloc(ents, cap * sizeof(*ents));
		}
		ents[n++] = e;
		raw += (double)e.key_len + (double)e.text_len;
	}
	for (unsigned r = 0; r < reps; r++) {
		void *b2 = NULL;
		size_t s2;
		int64_t t0 = bench_ns();
		if (builder_only(ents, n, &b2, &s2) != 0)
			return 1;
		t_build[r] = (double)(bench_ns() - t0) / 1e9;
		free(b2);
	}
	/* The same entries shuffled: the builder's full sort. */
	{
		hotcfg_entry *sh = malloc((n ? n : 1) * sizeof(*sh));
		uint64_t rs = 7;

		if (sh == NULL)
			return 1;
		memcpy(sh, ents, n * sizeof(*sh));
		for (size_t i = n; i > 1; i--) {
			size_t j = bench_rand(&rs) % i;
			hotcfg_entry t = sh[i - 1];
			sh[i - 1] = sh[j];
			sh[j] = t;
		}
		for (unsigned r = 0; r < reps; r++) {
			void *b2 = NULL;
			size_t s2;
			int64_t t0 = bench_ns();
			if (builder_only(sh, n, &b2, &s2) != 0)
				return 1;
			t_shuf[r] = (double)(bench_ns() - t0) / 1e9;
			free(b2);
		}
		free(sh);
	}

	snprintf(path, sizeof(path), "%s/config.yaml", dir);
	if ((agent = bench_agent_path()) != NULL &&
	    bench_write_file(path, yaml, len) == 0)
		agent_rss(agent, dir, path, leaves, &hwm, &turn, &first);

	{
		double te = bench_median(t_emit, reps);
		double tb = bench_median(t_build, reps);
		double ts = bench_median(t_shuf, reps);
		double kps_e = (double)n / te, kps_b = (double)n / tb;
		double per = (double)size / (double)n, rawper = raw / (double)n;
		double limit = 1.5 * raw + 32.0 * (double)n;

		printf("BUILD  %zu leaves -> %zu entries, YAML %.1f MB; medians "
		    "of %u\n", leaves, n, (double)len / 1e6, reps);
		printf("  %-34s %10.1f ms   %6.2f M entries/s\n",
		    "libyaml bare parse (for scale)", t_libyaml * 1e3,
		    (double)n / t_libyaml / 1e6);
		printf("  %-34s %10.1f ms   %6.2f M entries/s\n",
		    "parse to tree (cfg_load_yaml)", t_parse * 1e3,
		    (double)n / t_parse / 1e6);
		printf("  %-34s %10.3f ms   %6.2f M entries/s\n",
		    "flatten+build (cfg_emit+builder)", te * 1e3, kps_e / 1e6);
		printf("  %-34s %10.3f ms   %6.2f M entries/s\n",
		    "builder alone (add+finish)", tb * 1e3, kps_b / 1e6);
		printf("  %-34s %10.3f ms   %6.2f M entries/s\n",
		    "builder alone, shuffled input", ts * 1e3,
		    (double)n / ts / 1e6);
		printf("  %-34s %10zu B    %6.1f B/entry; raw key+value %.1f "
		    "B/entry; %.2fx raw, limit 1.5x raw + 32 B = %.1f B/entry\n",
		    "snapshot size", size, per, rawper, (double)size / raw,
		    limit / (double)n);
		{
			struct breakdown bd;
			double c = (double)n;
			size_breakdown(blob, &bd);
			char lk[64] = "";

			if (bd.nlinks)
				snprintf(lk, sizeof(lk), "links %.3f (%" PRIu64
				    " links), ", bd.links / c, bd.nlinks);
			printf("  %-34s slots %.1f, order %.1f, record header "
			    "%.1f, binary value %.1f, key+value text %.1f, NULs "
			    "%.1f, 8-byte padding %.1f, line padding %.1f, "
			    "%sheader+sources %.2f\n", "bytes per entry, by part",
			    bd.slots / c, bd.order / c, bd.rechdr / c,
			    bd.values / c, bd.text / c, bd.nuls / c, bd.pad8 / c,
			    bd.padline / c, lk, (bd.header + bd.sources) / c);
			json_object_set_new(out, "bytes_per_entry_by_part",
			    json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
			    "s:o, s:o}", "slots", bench_num(bd.slots / c),
			    "order", bench_num(bd.order / c),
			    "record_header", bench_num(bd.rechdr / c),
			    "binary_value", bench_num(bd.values / c),
			    "key_value_text", bench_num(bd.text / c),
			    "nuls", bench_num(bd.nuls / c),
			    "pad_8", bench_num(bd.pad8 / c),
			    "pad_line", bench_num(bd.padline / c),
			    "links", bench_num(bd.links / c),
			    "header_sources", bench_num((bd.header +
			    bd.sources) / c)));
		}
		if (agent == NULL)
			printf("  %-34s agent not built: $HOTCFG_BUILD/hotcfgd is "
			    "missing\n", "agent peak RSS");
		else
			printf("  %-34s %10.1f MB   first publish after %.0f ms "
			    "(its reload turn %.0f ms), snapshot %.1f MB, YAML "
			    "%.1f MB\n", "agent peak RSS (VmHWM)",
			    (double)hwm / 1024, first, turn, (double)size / 1e6,
			    (double)len / 1e6);
		fflush(stdout);

		bench_target(targets, kps_e >= 2e6 && kps_b >= 2e6,
		    "build, %zu entries: flatten+build %.2f M/s, builder alone "
		    "%.2f M/s (>= 2 M keys/s excluding YAML parsing)", n,
		    kps_e / 1e6, kps_b / 1e6);
		bench_target(targets, (double)size <= limit, "build: snapshot "
		    "%.1f B/entry <= 1.5 x raw %.1f + 32 = %.1f B/entry", per,
		    rawper, limit / (double)n);

		json_object_set_new(out, "leaves", json_integer((json_int_t)leaves));
		json_object_set_new(out, "entries", json_integer((json_int_t)n));
		json_object_set_new(out, "yaml_bytes", json_integer((json_int_t)len));
		json_object_set_new(out, "reps", json_integer(reps));
		json_object_set_new(out, "libyaml_parse_ms",
		    bench_num(t_libyaml * 1e3));
		json_object_set_new(out, "parse_to_tree_ms",
		    bench_num(t_parse * 1e3));
		json_object_set_new(out, "flatten_build_ms", bench_num(te * 1e3));
		json_object_set_new(out, "flatten_build_keys_per_s",
		    bench_num(kps_e));
		json_object_set_new(out, "builder_ms", bench_num(tb * 1e3));
		json_object_set_new(out, "builder_keys_per_s", bench_num(kps_b));
		json_object_set_new(out, "builder_shuffled_ms", bench_num(ts * 1e3));
		json_object_set_new(out, "builder_shuffled_keys_per_s",
		    bench_num((double)n / ts));
		json_object_set_new(out, "snapshot_bytes",
		    json_integer((json_int_t)size));
		json_object_set_new(out, "snapshot_bytes_per_entry",
		    bench_num(per));
		json_object_set_new(out, "raw_bytes_per_entry", bench_num(rawper));
		json_object_set_new(out, "agent_peak_rss_kb", agent ?
		    json_integer(hwm) : json_null());
		json_object_set_new(out, "agent_first_publish_ms", agent ?
		    bench_num(first) : json_null());
		json_object_set_new(out, "agent_reload_turn_ms", agent ?
		    bench_num(turn) : json_null());
	}
	json_object_set_new(out, "targets", targets);
	hc_snap_unwrap(snap);
	free(blob);
	free(ents);
	free(yaml);
	free(t_emit);
	free(t_build);
	free(t_shuf);
	free(agent);
	bench_rmtree(dir);
	free(dir);
	return bench_write_json(json, out) ? 1 : 0;
}
