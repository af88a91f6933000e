/*
 * idle_cpu - part 5 of the benchmark: what the agent costs while nothing
 * changes.
 *
 *   idle_cpu [-s] [-j FILE] [-t SECONDS] [-n LEAVES]
 *
 *   -t   seconds observed (default 10)
 *   -n   scalar leaves of the watched file (default 1000)
 *
 * Starts $HOTCFG_BUILD/hotcfgd --dir PUB FILE, waits for its first publish
 * and one more second, then reads the agent's CPU time twice, SECONDS
 * apart: utime + stime from /proc/PID/stat (clock ticks, the figure the
 * issue names; a tick is 10 ms, so it is coarse against a 10 ms target),
 * and the run time in nanoseconds of each of its threads, from
 * /proc/PID/task/TID/schedstat (the same CPU time, exact).  Also counted: the agent's wake-ups
 * (voluntary context switches of all its threads).
 */
#include <dirent.h>

#include "bench.h"

/* utime + stime in clock ticks, from /proc/PID/stat. */
static long
stat_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* The command may hold spaces and parentheses: fields start after
	 * the last ')'.  utime and stime are fields 14 and 15. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

/* Sum over the agent's threads: run time (ns) and voluntary switches. */
static int
task_sums(pid_t pid, unsigned long long *run_ns, long *wakeups)
{
	char path[512], line[256];
	struct dirent *de;
	DIR *d;

	*run_ns = 0;
	*wakeups = 0;
	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		FILE *fp;
		unsigned long long ns;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/schedstat",
		    (long)pid, de->d_name);
		if ((fp = fopen(path, "r")) != NULL) {
			if (fscanf(fp, "%llu", &ns) == 1)
				*run_ns += ns;
			fclose(fp);
		}
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/status",
		    (long)pid, de->d_name);
		if ((fp = fopen(path, "r")) != NULL) {
			while (fgets(line, sizeof(line), fp))
				if (strncmp(line, "voluntary_ctxt_switches:",
				    24) == 0)
					*wakeups += strtol(line + 24, NULL, 10);
			fclose(fp);
		}
	}
	closedir(d);
	return 0;
}

int
main(int argc, char **argv)
{
	double secs = 10;
	size_t leaves = 1000, len, edit_at;
	const char *json = NULL;
	json_t *out = json_object(), *targets = json_array();
	char *agent, *dir, *yaml, path[512], pub[512], log[512];
	long tick = sysconf(_SC_CLK_TCK), t0, t1, w0, w1;
	unsigned long long r0, r1;
	hotcfg *h = NULL;
	pid_t pid;
	int opt;

	while ((opt = getopt(argc, argv, "sj:t:n:")) != -1) {
		switch (opt) {
		case 's':
			secs = 0.3;
			leaves = 100;
			break;
		case 'j':
			json = optarg;
			break;
		case 't':
			secs = strtod(optarg, NULL);
			break;
		case 'n':
			leaves = strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: idle_cpu [-s] [-j FILE] "
			    "[-t SECONDS] [-n LEAVES]\n");
			return 2;
		}
	}

	printf("IDLE  the agent's CPU time with nothing changing\n");
	if ((agent = bench_agent_path()) == NULL) {
		printf("  agent not built: $HOTCFG_BUILD/hotcfgd is missing, "
		    "part skipped\n");
		bench_target(targets, -1, "idle agent: < 10 ms CPU per 10 s "
		    "(agent not built)");
		json_object_set_new(out, "skipped", json_string("agent not built"));
		json_object_set_new(out, "targets", targets);
		return bench_write_json(json, out) ? 1 : 0;
	}
	if ((dir = bench_tmpdir("idle")) == NULL ||
	    (yaml = bench_yaml(leaves, &len, &edit_at)) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/config.yaml", dir);
	snprintf(pub, sizeof(pub), "%s/pub", dir);
	snprintf(log, sizeof(log), "%s/agent.log", dir);
	if (bench_write_file(path, yaml, len) != 0)
		return 1;
	{
		char *av[] = { agent, "--dir", pub, path, NULL };
		pid = bench_agent_start(av, log);
	}
	if (pid < 0 || bench_open_published(pub, pid, 30000, &h) != 0) {
		fprintf(stderr, "idle_cpu: the agent published nothing (see %s)\n",
		    log);
		bench_agent_stop(pid);
		return 1;
	}
	bench_sleep_ns(secs >= 5 ? 1000000000 : 100000000);
	t0 = stat_ticks(pid);
	task_sums(pid, &r0, &w0);
	bench_sleep_ns((int64_t)(secs * 1e9));
	t1 = stat_ticks(pid);
	task_sums(pid, &r1, &w1);
	bench_agent_stop(pid);
	hotcfg_close(h);

	{
		double ms_stat = (double)(t1 - t0) * 1000.0 / (double)tick;
		double ms_run = (double)(r1 - r0) / 1e6;
		double per10 = ms_run * 10.0 / secs;
		long wk = w1 - w0;

		printf("  %.1f s observed: utime+stime %.0f ms (%ld ticks of "
		    "%.0f ms), run time %.3f ms = %.3f ms per 10 s, %ld "
		    "wake-ups (%.1f/s)\n", secs, ms_stat, t1 - t0,
		    1000.0 / (double)tick, ms_run, per10, wk, (double)wk / secs);
		bench_target(targets, per10 < 10.0, "idle agent: %.3f ms CPU per "
		    "10 s (< 10 ms)", per10);
		json_object_set_new(out, "seconds", bench_num(secs));
		json_object_set_new(out, "stat_ticks", json_integer(t1 - t0));
		json_object_set_new(out, "stat_ms", bench_num(ms_stat));
		json_object_set_new(out, "run_ms", bench_num(ms_run));
		json_object_set_new(out, "cpu_ms_per_10s", bench_num(per10));
		json_object_set_new(out, "wakeups", json_integer(wk));
	}
	json_object_set_new(out, "targets", targets);
	free(yaml);
	free(agent);
	bench_rmtree(dir);
	free(dir);
	return bench_write_json(json, out) ? 1 : 0;
}
