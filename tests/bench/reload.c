/*
 * reload - part 2 of the benchmark: how long an edit takes to reach a
 * service, through the real agent.
 *
 *   reload [-bsw] [-j FILE] [-k N,N,...] [-e EDITS] [-r REPS]
 *
 *   -k   scalar leaves per file (default 1000,100000)
 *   -e   edits per file (default 200)
 *   -r   repetitions of the in-process reference timings (default 15)
 *   -b   bury the edited value in the file's largest top-level section
 *        (services.bench.edit instead of bench.edit): the agent parses
 *        by top-level section and keeps the sections that did not change,
 *        and cuts a large section into groups of its children
 *        (agent/section.c), so the default file shows an edit of a small
 *        section, and -b an edit deep inside the large one
 *   -w   add an anchor and an alias to the file: the agent then parses
 *        the whole file on every change (its worst case; not in run.sh)
 *
 * For each size, $HOTCFG_BUILD/hotcfgd --dir PUB FILE runs on a generated
 * config-shaped YAML file (bench.h: bench_yaml).  A reader thread blocks in
 * hotcfg_wait(); the writer rewrites the file the way editors and config
 * tools do (write a temporary file beside it, then rename it over the old
 * one) with a new bench.edit value.  The latency of one edit is from the
 * writer's rename(2) to the moment the reader holds a snapshot in which
 * hotcfg_get_int("bench.edit") returns the new value.  The clock is read
 * just before rename() is called: on two CPUs the agent that the rename
 * wakes often preempts the writer before it could read the clock after
 * rename() returns, so this includes the rename itself (microseconds).
 * Between edits the writer waits until the reader is blocked again and
 * pauses 2 ms, so that every edit meets an idle agent.
 *
 * The latency is split by timing, in this process and on the same file
 * contents, the steps the agent takes:
 *  libyaml the bare libyaml parse (yaml_parser_parse, every event, nothing
 *          built): the floor the issue measures the agent against.  It
 *          is timed before every edit, between the edits, and its median
 *          is the floor (its median before the edits is in the JSON as
 *          libyaml_parse_before);
 *  parse   cfg_load_yaml(): libyaml plus the agent's tree;
 *  build   cfg_emit() into the builder and hc_builder_finish();
 *  publish hc_pub_publish() of that snapshot;
 * and, end to end, for every edit:
 *  refresh reader woken -> holds the value: hotcfg_snapshot() mapping and
 *          validating the new snapshot, and the lookup;
 *  other   what the p50 leaves after parse, build, publish and refresh:
 *          the rest of the agent's turn (reading the file, layering,
 *          recording status), inotify delivery, the hand-over from the
 *          agent's watcher thread, the futex wake and the reader being
 *          scheduled.
 * The agent's own duration_ms for each reload turn is read from its log
 * (and any other *_ms field it logs); the turn ends after the futex wake,
 * so it overlaps the reader's refresh.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdatomic.h>
#include <yaml.h>

#include "bench.h"
#include "tree.h"

/* The key the writer edits (-b changes it). */
static const char *edit_key = "bench.edit";
static bool bury, whole;

struct shared {
	hotcfg *h;
	unsigned edits;
	sem_t ready;            /* reader: about to wait for edit k */
	sem_t done;             /* reader: holds edit k (or gave up) */
	/* per edit, written by the reader */
	int64_t *t_woken, *t_value;
	uint64_t *gen;
	int failed;
};

static void *
reader_main(void *arg)
{
	struct shared *sh = arg;
	const hotcfg_snap *s;
	uint64_t after;
	int64_t v;

	if (hotcfg_snapshot(sh->h, &s) != 0) {
		sh->failed = 1;
		return NULL;
	}
	after = hotcfg_snap_generation(s);
	for (unsigned k = 1; k <= sh->edits; k++) {
		int64_t woken = 0;

		sem_post(&sh->ready);
		for (;;) {
			int rc = hotcfg_wait(sh->h, after, 10000);
			woken = bench_ns();
			if (rc == -EINTR)
				continue;
			if (rc != 0 || hotcfg_snapshot(sh->h, &s) != 0) {
				sh->failed = 1;
				sem_post(&sh->done);
				return NULL;
			}
			after = hotcfg_snap_generation(s);
			if (hotcfg_get_int(s, edit_key, &v) == 0 &&
			    v == (int64_t)k)
				break;
			/* A generation without our edit (cannot happen with
			 * this writer, but never report it as ours). */
		}
		sh->t_value[k - 1] = bench_ns();
		sh->t_woken[k - 1] = woken;
		sh->gen[k - 1] = after;
		sem_post(&sh->done);
	}
	return NULL;
}

/*
 * The agent's "reload" log lines, by generation: every field named
 * *_ms (duration_ms today; parse_ms, build_ms... if the agent adds them,
 * they are picked up and reported without a change here).
 */
#define MAXF 8
struct agentlog {
	char name[MAXF][32];
	unsigned nf;
	double *v[MAXF];        /* v[f][gen], -1 when absent */
	uint64_t maxgen;
};

static void
read_agent_log(const char *path, struct agentlog *al)
{
	FILE *fp = fopen(path, "r");
	char line[4096];

	if (fp == NULL)
		return;
	while (fgets(line, sizeof(line), fp)) {
		const char *g, *p;
		uint64_t gen;

		if (strstr(line, "event=reload") == NULL ||
		    (g = strstr(line, " generation=")) == NULL)
			continue;
		gen = strtoull(g + 12, NULL, 10);
		if (gen > al->maxgen)
			continue;
		for (p = line; (p = strstr(p, "_ms=")) != NULL; p += 4) {
			const char *b = p;
			char name[32];
			unsigned f;

			while (b > line && b[-1] != ' ')
				b--;
			snprintf(name, sizeof(name), "%.*s", (int)(p - b + 3), b);
			for (f = 0; f < al->nf; f++)
				if (strcmp(al->name[f], name) == 0)
					break;
			if (f == al->nf) {
				if (al->nf == MAXF)
					continue;
				snprintf(al->name[f], sizeof(al->name[f]), "%s",
				    name);
				al->v[f] = malloc((al->maxgen + 1) * sizeof(double));
				for (uint64_t i = 0; i <= al->maxgen; i++)
					al->v[f][i] = -1;
				al->nf++;
			}
			al->v[f][gen] = strtod(p + 4, NULL);
		}
	}
	fclose(fp);
}

struct reference {
	double libyaml_ms, parse_ms, build_ms, publish_ms;
	double libyaml_before_ms;       /* libyaml_ms before the edits */
	size_t bytes;
};

/* libyaml / parse / build / publish of the file's contents, medians of
 * reps.  Each round carries another edit value, so that no publish is an
 * "unchanged" one. */
static int
reference(const char *buf, size_t len, size_t edit_at, unsigned reps,
    const char *pubdir, struct reference *r)
{
	double *ly = calloc(reps, sizeof(double));
	double *pa = calloc(reps, sizeof(double));
	double *bu = calloc(reps, sizeof(double));
	double *pu = calloc(reps, sizeof(double));
	char *copy = malloc(len);
	struct cfg_limits lim;
	struct hc_pub *pub = NULL;
	struct hc_pub_opts po = { .history = 2, .gid = (gid_t)-1,
	    .group_read = true };
	int rc = -1;

	cfg_limits_default(&lim);
	lim.max_nodes = 1u << 30;
	lim.max_file = (size_t)1 << 34;
	if (copy == NULL || hc_pub_open(&pub, pubdir, &po) != 0)
		goto out;
	memcpy(copy, buf, len);
	for (unsigned i = 0; i < reps; i++) {
		struct cfg_node *tree = NULL;
		struct cfg_error err;
		struct hc_builder *b = NULL;
		void *blob = NULL;
		size_t size;
		uint64_t gen;
		unsigned src;
		int64_t t0, t1, t2, t3, t4;

		bench_yaml_edit(copy, edit_at, 1000000 + i);
		t0 = bench_ns();
		if (bench_libyaml_parse(copy, len) != 0)
			goto out;
		t1 = bench_ns();
		if (cfg_load_yaml("bench.yaml", copy, len, 0, &lim, &tree,
		    &err) != 0) {
			fprintf(stderr, "reload: cfg_load_yaml: %s\n", err.msg);
			goto out;
		}
		t2 = bench_ns();
		if (hc_builder_new(&b) != 0 ||
		    hc_builder_source(b, "bench.yaml", &src) != 0 ||
		    cfg_emit(tree, b, &lim, &err) != 0 ||
		    hc_builder_finish(b, hc_now_ns(), &blob, &size, NULL) != 0) {
			fprintf(stderr, "reload: build failed\n");
			goto out;
		}
		t3 = bench_ns();
		if (hc_pub_publish(pub, blob, size, &gen) != 0)
			goto out;
		t4 = bench_ns();
		r->bytes = size;
		hc_builder_free(b);
		cfg_free(tree);
		free(blob);
		ly[i] = (double)(t1 - t0) / 1e6;
		pa[i] = (double)(t2 - t1) / 1e6;
		bu[i] = (double)(t3 - t2) / 1e6;
		pu[i] = (double)(t4 - t3) / 1e6;
	}
	r->libyaml_ms = bench_median(ly, reps);
	r->parse_ms = bench_median(pa, reps);
	r->build_ms = bench_median(bu, reps);
	r->publish_ms = bench_median(pu, reps);
	rc = 0;
out:
	hc_pub_close(pub);
	free(copy);
	free(ly);
	free(pa);
	free(bu);
	free(pu);
	return rc;
}

struct result {
	size_t leaves, file_bytes, entries;
	unsigned edits, done;
	double p50, p90, p99, max;
	double refresh_p50, other_p50;
	struct agentlog al;
	double al_p50[MAXF];
	long agent_hwm_kb;
	struct reference ref;
	const char *skip;
};

/*
 * -b: move "bench:\n  edit: N" from the top of the file to the head of the
 * services section, as services.bench.edit.  NULL when out of memory.
 */
static char *
bury_edit(char *y, size_t *len, size_t *edit_at)
{
	static const char head[] = "bench:\n  edit: ", svc[] = "services:\n";
	char *b = strstr(y, head), *sv = strstr(y, svc), *n, *p;

	if (b == NULL || sv == NULL || (n = malloc(*len + 64)) == NULL) {
		free(y);
		return NULL;
	}
	p = n;
	memcpy(p, y, (size_t)(b - y));
	p += b - y;
	p += sprintf(p, "%s  bench:\n    edit: ", svc);
	memcpy(p, y + *edit_at, BENCH_EDIT_WIDTH);
	*edit_at = (size_t)(p - n);
	p += BENCH_EDIT_WIDTH;
	*p++ = '\n';
	memcpy(p, sv + sizeof(svc) - 1, (size_t)(y + *len - sv) -
	    (sizeof(svc) - 1));
	p += (y + *len - sv) - (ptrdiff_t)(sizeof(svc) - 1);
	*len = (size_t)(p - n);
	free(y);
	return n;
}

/*
 * -w: end the file with an anchor and an alias to it, which the agent's
 * section cache does not cut (an alias may name an anchor of another
 * section): every change is parsed whole.  NULL when out of memory.
 */
static char *
add_alias(char *y, size_t *len)
{
	static const char tail[] = "anchored:\n  base: &base 1\n"
	    "  copy: *base\n";
	char *n = realloc(y, *len + sizeof(tail));

	if (n == NULL) {
		free(y);
		return NULL;
	}
	memcpy(n + *len, tail, sizeof(tail));
	*len += sizeof(tail) - 1;
	return n;
}

/* One file size through the real agent. */
static int
run_size(const char *agent, size_t leaves, unsigned edits, unsigned reps,
    struct result *res)
{
	char *dir = bench_tmpdir("reload"), path[512], tmp[512], pubdir[512],
	    log[512], refdir[512];
	size_t len = 0, edit_at = 0;
	char *yaml = bench_yaml(leaves, &len, &edit_at);
	struct shared sh;
	pthread_t rt;
	pid_t pid = -1;
	int64_t *t_rename = calloc(edits, sizeof(int64_t));
	double *lat = calloc(edits, sizeof(double));
	double *ag = calloc(edits, sizeof(double));
	double *re = calloc(edits, sizeof(double));
	double *ly = calloc(edits, sizeof(double));
	int rc = -1;

	memset(&sh, 0, sizeof(sh));
	memset(res, 0, sizeof(*res));
	res->leaves = leaves;
	res->edits = edits;
	res->file_bytes = len;
	res->agent_hwm_kb = -1;
	if (yaml != NULL && bury)
		yaml = bury_edit(yaml, &len, &edit_at);
	if (yaml != NULL && whole)
		yaml = add_alias(yaml, &len);
	if (dir == NULL || yaml == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/src/config.yaml", dir);
	snprintf(tmp, sizeof(tmp), "%s/src/.config.yaml.tmp", dir);
	snprintf(pubdir, sizeof(pubdir), "%s/pub", dir);
	snprintf(refdir, sizeof(refdir), "%s/ref", dir);
	snprintf(log, sizeof(log), "%s/agent.log", dir);
	snprintf(tmp, sizeof(tmp), "%s/src", dir);
	mkdir(tmp, 0755);
	snprintf(tmp, sizeof(tmp), "%s/src/.config.yaml.tmp", dir);

	/* The floor and the in-process split, on the same contents. */
	if (reference(yaml, len, edit_at, reps, refdir, &res->ref) != 0)
		goto out;

	if (bench_write_file(path, yaml, len) != 0)
		goto out;
	{
		char *argv[] = { (char *)agent, "--dir", pubdir, path, NULL };
		pid = bench_agent_start(argv, log);
	}
	if (pid < 0 || bench_open_published(pubdir, pid, 60000, &sh.h) != 0) {
		fprintf(stderr, "reload: the agent published nothing (see %s)\n",
		    log);
		goto out;
	}
	sh.edits = edits;
	sh.t_woken = calloc(edits, sizeof(int64_t));
	sh.t_value = calloc(edits, sizeof(int64_t));
	sh.gen = calloc(edits, sizeof(uint64_t));
	sem_init(&sh.ready, 0, 0);
	sem_init(&sh.done, 0, 0);
	pthread_create(&rt, NULL, reader_main, &sh);

	for (unsigned k = 1; k <= edits; k++) {
		struct timespec ts;

		sem_wait(&sh.ready);
		/* The floor, taken between the edits (the agent is idle,
		 * the reader asleep), so that it sees the machine as the
		 * edits do: measured once before the run, it moved by up
		 * to 80% from one run to the next on the shared machine. */
		{
			int64_t t0 = bench_ns();

			if (bench_libyaml_parse(yaml, len) != 0)
				break;
			ly[k - 1] = (double)(bench_ns() - t0) / 1e6;
		}
		bench_sleep_ns(2000000);
		bench_yaml_edit(yaml, edit_at, k);
		if (bench_write_file(tmp, yaml, len) != 0)
			break;
		/* Just before rename(2): see the top of this file. */
		t_rename[k - 1] = bench_ns();
		if (rename(tmp, path) != 0)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 30;
		if (sem_timedwait(&sh.done, &ts) != 0 || sh.failed) {
			fprintf(stderr, "reload: edit %u never arrived\n", k);
			break;
		}
		res->done = k;
	}
	if (res->done < edits) {
		/* The reader may still be blocked: let it time out. */
		pthread_cancel(rt);
	}
	pthread_join(rt, NULL);
	res->agent_hwm_kb = bench_proc_status_kb(pid, "VmHWM");
	bench_agent_stop(pid);
	pid = -1;

	for (unsigned k = 0; k < res->done; k++) {
		if (sh.gen[k] > res->al.maxgen)
			res->al.maxgen = sh.gen[k];
		lat[k] = (double)(sh.t_value[k] - t_rename[k]) / 1e6;
		re[k] = (double)(sh.t_value[k] - sh.t_woken[k]) / 1e6;
	}
	read_agent_log(log, &res->al);
	for (unsigned f = 0; f < res->al.nf; f++) {
		unsigned n = 0;
		for (unsigned k = 0; k < res->done; k++)
			if (res->al.v[f][sh.gen[k]] >= 0)
				ag[n++] = res->al.v[f][sh.gen[k]];
		res->al_p50[f] = n ? bench_median(ag, n) : -1;
	}
	if (res->done > 0) {
		res->p50 = bench_pct(lat, res->done, 50);
		res->p90 = bench_pct(lat, res->done, 90);
		res->p99 = bench_pct(lat, res->done, 99);
		res->max = bench_pct(lat, res->done, 100);
		res->refresh_p50 = bench_median(re, res->done);
		res->ref.libyaml_before_ms = res->ref.libyaml_ms;
		res->ref.libyaml_ms = bench_median(ly, res->done);
		res->other_p50 = res->p50 - res->refresh_p50 - res->ref.parse_ms -
		    res->ref.build_ms - res->ref.publish_ms;
	}
	{
		const hotcfg_snap *s;
		if (hotcfg_snapshot(sh.h, &s) == 0)
			res->entries = hotcfg_snap_count(s);
	}
	rc = res->done == edits ? 0 : -1;
out:
	if (pid > 0)
		bench_agent_stop(pid);
	hotcfg_close(sh.h);
	free(sh.t_woken);
	free(sh.t_value);
	free(sh.gen);
	free(t_rename);
	free(lat);
	free(ag);
	free(re);
	free(ly);
	free(yaml);
	if (getenv("BENCH_KEEP") == NULL)
		bench_rmtree(dir);
	else
		fprintf(stderr, "reload: kept %s\n", dir);
	free(dir);
	return rc;
}

static const char *
kname(size_t n, char *buf, size_t len)
{
	if (n >= 1000 && n % 1000 == 0)
		snprintf(buf, len, "%zuk", n / 1000);
	else
		snprintf(buf, len, "%zu", n);
	return buf;
}

int
main(int argc, char **argv)
{
	size_t ks[8] = { 1000, 100000 }, nk = 2;
	unsigned edits = 200, reps = 15;
	const char *json = NULL, *mode;
	char *agent;
	json_t *out = json_object(), *sizes = json_array(),
	    *targets = json_array();
	int opt, status = 0;

	while ((opt = getopt(argc, argv, "bswj:k:e:r:")) != -1) {
		switch (opt) {
		case 'w':
			whole = true;
			break;
		case 'b':
			bury = true;
			edit_key = "services.bench.edit";
			break;
		case 's':
			ks[0] = 100;
			nk = 1;
			edits = 5;
			reps = 2;
			break;
		case 'j':
			json = optarg;
			break;
		case 'k':
			nk = bench_sizes(optarg, ks,
			    sizeof(ks) / sizeof(ks[0]));
			break;
		case 'e':
			edits = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			reps = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: reload [-bsw] [-j FILE] [-k N,...] "
			    "[-e EDITS] [-r REPS]\n");
			return 2;
		}
	}
	if (edits == 0)
		edits = 1;
	if (reps == 0)
		reps = 1;

	mode = bury && whole ? " (-b -w: edit in the largest section, "
	    "file parsed whole)" : bury ? " (-b: edit in the largest section)" :
	    whole ? " (-w: file parsed whole)" : "";
	printf("RELOAD LATENCY  writer's rename(2) -> a reader blocked in "
	    "hotcfg_wait() holds the new value, through the real hotcfgd "
	    "(ms)%s\n", mode);
	if ((agent = bench_agent_path()) == NULL) {
		printf("  agent not built: $HOTCFG_BUILD/hotcfgd is missing, "
		    "part skipped\n");
		bench_target(targets, -1, "reload, 1k keys: p50 within libyaml "
		    "parse + 300 us (agent not built)");
		bench_target(targets, -1, "reload, 1k keys: p99 < 2 ms (agent "
		    "not built)");
		bench_target(targets, -1, "reload, 100k keys: p50 <= 1.5x libyaml "
		    "parse (agent not built)");
		json_object_set_new(out, "skipped", json_string("agent not built"));
		json_object_set_new(out, "targets", targets);
		json_decref(sizes);
		return bench_write_json(json, out) ? 1 : 0;
	}
	printf("  %-6s %5s %7s %7s %7s %7s | %7s %7s %7s %7s %7s %7s %7s | "
	    "%7s\n", "leaves", "edits", "p50", "p90", "p99", "max", "libyaml",
	    "warm", "parse", "build", "publish", "refresh", "other", "agent");
	fflush(stdout);
	for (size_t i = 0; i < nk; i++) {
		struct result r;
		char kb[32];
		int rc;

		fprintf(stderr, "reload: %zu leaves, %u edits\n", ks[i], edits);
		rc = run_size(agent, ks[i], edits, reps, &r);
		printf("  %-6s %5u %7.3f %7.3f %7.3f %7.3f | %7.3f %7.3f %7.3f "
		    "%7.3f %7.3f %7.3f %7.3f | %7.3f%s\n",
		    kname(ks[i], kb, sizeof(kb)), r.done, r.p50, r.p90, r.p99,
		    r.max, r.ref.libyaml_ms, r.ref.libyaml_before_ms,
		    r.ref.parse_ms, r.ref.build_ms,
		    r.ref.publish_ms, r.refresh_p50, r.other_p50,
		    r.al.nf ? r.al_p50[0] : -1.0, rc ? "  INCOMPLETE" : "");
		for (unsigned f = 1; f < r.al.nf; f++)
			printf("  %-6s agent log %s p50 %.3f\n", "", r.al.name[f],
			    r.al_p50[f]);
		fflush(stdout);
		if (rc)
			status = 1;
		json_array_append_new(sizes, json_pack(
		    "{s:I, s:I, s:I, s:i, s:i, s:{s:o, s:o, s:o, s:o}, "
		    "s:{s:o, s:o}, s:{s:o, s:o, s:o, s:o, s:o}, s:I, s:I}",
		    "leaves", (json_int_t)r.leaves,
		    "entries", (json_int_t)r.entries,
		    "file_bytes", (json_int_t)r.file_bytes,
		    "edits", (int)r.edits, "completed", (int)r.done,
		    "latency_ms", "p50", bench_num(r.p50), "p90", bench_num(r.p90),
		    "p99", bench_num(r.p99), "max", bench_num(r.max),
		    "split_p50_ms", "refresh", bench_num(r.refresh_p50),
		    "other", bench_num(r.other_p50),
		    "in_process_ms", "libyaml_parse", bench_num(r.ref.libyaml_ms),
		    "libyaml_parse_before", bench_num(r.ref.libyaml_before_ms),
		    "parse_to_tree", bench_num(r.ref.parse_ms),
		    "flatten_build", bench_num(r.ref.build_ms),
		    "publish", bench_num(r.ref.publish_ms),
		    "snapshot_bytes", (json_int_t)r.ref.bytes,
		    "agent_peak_rss_kb", (json_int_t)r.agent_hwm_kb));
		{
			json_t *al = json_object();
			for (unsigned f = 0; f < r.al.nf; f++) {
				json_object_set_new(al, r.al.name[f],
				    bench_num(r.al_p50[f]));
				free(r.al.v[f]);
			}
			json_object_set_new(json_array_get(sizes,
			    json_array_size(sizes) - 1), "agent_log_p50_ms", al);
		}
		if (r.leaves == 1000 && r.done) {
			bench_target(targets, r.p50 <= r.ref.libyaml_ms + 0.3,
			    "reload, 1k keys%s: p50 %.3f ms vs libyaml parse "
			    "%.3f ms + 0.300 ms (libyaml in a warm loop: "
			    "%.3f ms)", mode, r.p50, r.ref.libyaml_ms,
			    r.ref.libyaml_before_ms);
			bench_target(targets, r.p99 < 2.0, "reload, 1k keys%s: p99 "
			    "%.3f ms (< 2 ms)", mode, r.p99);
		} else if (r.leaves == 100000 && r.done) {
			bench_target(targets, r.p50 <= 1.5 * r.ref.libyaml_ms,
			    "reload, 100k keys%s: p50 %.3f ms = %.2fx libyaml parse "
			    "%.3f ms (<= 1.5x; libyaml in a warm loop: %.3f ms)",
			    mode, r.p50, r.p50 / r.ref.libyaml_ms,
			    r.ref.libyaml_ms, r.ref.libyaml_before_ms);
		}
	}
	printf("  p50..max: rename -> value held, end to end.  Split (ms, p50): "
	    "libyaml = bare libyaml parse of the same file, timed before "
	    "each edit, between the edits (the floor), warm = the same in a "
	    "loop before the edits; "
	    "parse = cfg_load_yaml, build = cfg_emit + builder, publish = "
	    "hc_pub_publish, all in-process on the same contents; refresh = "
	    "reader woken -> value held; other = p50 - parse - build - "
	    "publish - refresh (the rest of the agent's turn, inotify, the "
	    "hand-over from its watcher thread, the futex wake); agent = the "
	    "agent's own reload turn from its log (duration_ms, ends after the "
	    "wake)\n");
	json_object_set_new(out, "sizes", sizes);
	json_object_set_new(out, "targets", targets);
	free(agent);
	return bench_write_json(json, out) ? 1 : status;
}
