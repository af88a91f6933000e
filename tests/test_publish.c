/*
 * test_publish.c - publication across processes and the reader API: real
 * files in a temporary directory, real futexes, real inotify, publisher
 * processes (tests/helpers/pubtool) and reader processes
 * (tests/helpers/readcheck) next to reader threads in the test itself.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/gensnap.h"

extern char **environ;

static char dir[256];

static void
setup(void)
{
	char tmpl[] = "/tmp/hotcfg-test-XXXXXX";
	cr_assert_not_null(mkdtemp(tmpl));
	snprintf(dir, sizeof(dir), "%s/cfg", tmpl);
}

static void
teardown(void)
{
	char cmd[512];
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
}

TestSuite(publish, .init = setup, .fini = teardown, .timeout = 120);

static const char *
helper(const char *name)
{
	static char path[4][512];
	static int n;
	const char *b = getenv("HOTCFG_BUILD");
	char *p = path[n++ % 4];
	snprintf(p, 512, "%s/tests/helpers/%s", b ? b : "build", name);
	return p;
}

static pid_t
spawn(char *const argv[], int outfd)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	if (outfd >= 0)
		posix_spawn_file_actions_adddup2(&fa, outfd, 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0,
	    "spawn %s", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static int
wait_exit(pid_t pid)
{
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static uint64_t
publish_n(struct hc_pub *p, unsigned n, unsigned nkeys)
{
	uint64_t gen = 0;
	for (unsigned i = 0; i < n; i++) {
		void *blob;
		size_t size;
		cr_assert_eq(gensnap_build(hc_pub_generation(p) + 1, nkeys, &blob,
		    &size), 0);
		cr_assert_eq(hc_pub_publish(p, blob, size, &gen), 0);
		free(blob);
	}
	return gen;
}

static unsigned
count_snaps(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;
	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "snap.", 5) == 0)
			n++;
	closedir(d);
	return n;
}

Test(publish, reader_sees_what_was_published)
{
	struct hc_pub *p;
	hotcfg *h;
	const hotcfg_snap *s;
	char why[128];
	struct stat st;

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	cr_assert_eq(hotcfg_open(&h, dir), 0);
	cr_assert_eq(hotcfg_snapshot(h, &s), HOTCFG_ENOTPUB);
	cr_assert_eq(publish_n(p, 1, 8), 1);
	cr_assert_eq(hotcfg_snapshot(h, &s), 0);
	cr_assert_eq(hotcfg_snap_generation(s), 1);
	cr_assert_eq(gensnap_check(s, 8, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(hotcfg_generation(h), 1);
	cr_assert_str_eq(hotcfg_dir(h), dir);

	/* Files are read-only; the directory is 0750. */
	char path[512];
	snprintf(path, sizeof(path), "%s/snap.%016x", dir, 1);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0440);
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0750);
	hotcfg_close(h);
	hc_pub_close(p);
}

/*
 * hotcfg.h's inline hotcfg_snapshot() against the library's: the same
 * snapshot from both, a new generation seen by both, and a second handle,
 * which the inline code must never answer from the first handle's slot.
 */
Test(publish, inline_snapshot_agrees_with_the_library)
{
	int (*fn)(hotcfg *, const hotcfg_snap **) = hotcfg_snapshot;
	struct hc_pub *p;
	hotcfg *h, *h2;
	const hotcfg_snap *a, *b, *c, *d;

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	cr_assert_eq(hotcfg_open(&h, dir), 0);
	cr_assert_eq(hotcfg_open(&h2, dir), 0);
	cr_assert_eq(publish_n(p, 1, 8), 1);
	for (int round = 0; round < 3; round++) {
		uint64_t want = (uint64_t)round + 1;

		cr_assert_eq(hotcfg_snapshot(h, &a), 0);      /* inline */
		cr_assert_eq((hotcfg_snapshot)(h, &b), 0);    /* the library */
		cr_assert_eq(fn(h, &c), 0);                   /* its address */
		cr_assert_eq(a, b);
		cr_assert_eq(a, c);
		cr_assert_eq(hotcfg_snap_generation(a), want);
		/* h2 maps its own copy; the inline code finds h's slot
		 * first in this thread and must not hand it out for h2. */
		cr_assert_eq(hotcfg_snapshot(h2, &d), 0);
		cr_assert_neq(d, a);
		cr_assert_eq(hotcfg_snap_generation(d), want);
		cr_assert_eq(hotcfg_snapshot(h, &a), 0);
		cr_assert_eq(a, b, "h's snapshot changed without a publish");
		cr_assert_eq(publish_n(p, 1, 8), want + 1);
		/* Both see the new generation at once, inline. */
		cr_assert_eq(hotcfg_snapshot(h, &a), 0);
		cr_assert_eq(hotcfg_snap_generation(a), want + 1);
		cr_assert_eq(hotcfg_snapshot(h2, &d), 0);
		cr_assert_eq(hotcfg_snap_generation(d), want + 1);
		cr_assert_neq(d, a);
	}
	hotcfg_close(h2);
	hotcfg_close(h);
	hc_pub_close(p);
}

Test(publish, open_errors_are_clear)
{
	hotcfg *h;
	cr_assert_eq(hotcfg_open(&h, "/nonexistent/hotcfg/dir"), -ENOENT);
	cr_assert_null(h);
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(hotcfg_open(&h, dir), -ENOENT);
	/* A control file that is not one. */
	char path[512];
	snprintf(path, sizeof(path), "%s/control", dir);
	FILE *f = fopen(path, "w");
	fputs("garbage", f);
	fclose(f);
	cr_assert_eq(hotcfg_open(&h, dir), HOTCFG_ECORRUPT);
	hotcfg_close(NULL);
}

Test(publish, names_resolve_under_hotcfg_root)
{
	struct hc_pub *p;
	hotcfg *h;
	char root[256];

	snprintf(root, sizeof(root), "%s", dir);
	*strrchr(root, '/') = '\0';
	setenv("HOTCFG_ROOT", root, 1);
	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	publish_n(p, 1, 1);
	cr_assert_eq(hotcfg_open(&h, "cfg"), 0);
	cr_assert_str_eq(hotcfg_dir(h), dir);
	hotcfg_close(h);
	cr_assert_eq(hotcfg_open(&h, ".."), -EINVAL);
	hc_pub_close(p);
}

Test(publish, unchanged_content_publishes_nothing)
{
	struct hc_pub *p;
	hotcfg *h;
	hotcfg_status st;
	void *blob;
	size_t size;
	uint64_t gen;

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	cr_assert_eq(gensnap_build(5, 4, &blob, &size), 0);
	cr_assert_eq(hc_pub_publish(p, blob, size, &gen), 0);
	cr_assert_eq(gen, 1);
	free(blob);
	cr_assert_eq(gensnap_build(5, 4, &blob, &size), 0);
	cr_assert_eq(hc_pub_publish(p, blob, size, &gen), 1);
	cr_assert_eq(gen, 1);
	free(blob);
	cr_assert_eq(count_snaps(), 1);
	cr_assert_eq(hotcfg_open(&h, dir), 0);
	cr_assert_eq(hotcfg_status_read(h, &st), 0);
	cr_assert_eq(st.outcome, HOTCFG_OUTCOME_UNCHANGED);
	cr_assert_eq(st.generation, 1);
	hotcfg_close(h);
	hc_pub_close(p);

	/* Also across a restart: the new publisher learns the content
	 * hash from the current file. */
	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	cr_assert_eq(gensnap_build(5, 4, &blob, &size), 0);
	cr_assert_eq(hc_pub_publish(p, blob, size, &gen), 1);
	free(blob);
	hc_pub_close(p);
}

Test(publish, history_keeps_two_previous)
{
	struct hc_pub *p;
	char path[512];

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	publish_n(p, 6, 2);
	cr_assert_eq(count_snaps(), 3);
	for (unsigned g = 4; g <= 6; g++) {
		snprintf(path, sizeof(path), "%s/snap.%016x", dir, g);
		cr_assert_eq(access(path, F_OK), 0, "%s kept", path);
	}
	hc_pub_close(p);
	struct hc_pub_opts o = { .history = 0, .gid = (gid_t)-1,
	    .group_read = false };
	cr_assert_eq(hc_pub_open(&p, dir, &o), 0);
	publish_n(p, 1, 2);
	cr_assert_eq(count_snaps(), 1);
	snprintf(path, sizeof(path), "%s/snap.%016x", dir, 7);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0400);
	hc_pub_close(p);
}

Test(publish, generations_continue_across_publisher_restarts)
{
	struct hc_pub *p;
	char path[512];

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	cr_assert_eq(publish_n(p, 3, 2), 3);
	hc_pub_close(p);
	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	cr_assert_eq(hc_pub_generation(p), 3);
	cr_assert_eq(publish_n(p, 1, 2), 4);
	hc_pub_close(p);

	/* Even with the control file gone, the snapshot files remember. */
	snprintf(path, sizeof(path), "%s/control", dir);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	cr_assert_eq(publish_n(p, 1, 2), 5);
	hc_pub_close(p);

	/* And a different process continues too. */
	char *argv[] = { (char *)helper("pubtool"), dir, "2", "2", NULL };
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = spawn(argv, fds[1]);
	close(fds[1]);
	cr_assert_eq(wait_exit(pid), 0);
	char buf[64] = "";
	cr_assert_gt(read(fds[0], buf, sizeof(buf) - 1), 0);
	close(fds[0]);
	cr_assert_eq(strtoull(buf, NULL, 10), 7);
}

/* An agent that died between creating a temporary file and renaming it
 * left it behind: the next one removes it, snapshot or control, and
 * leaves everything else. */
Test(publish, temporary_files_of_a_dead_agent_are_removed)
{
	static const char *const names[] = { ".snap.tmp.999999",
	    ".control.tmp.999999", "keep.me" };
	struct hc_pub *p;
	struct stat sb;
	char path[512];
	int fd;

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	cr_assert_eq(publish_n(p, 1, 2), 1);
	hc_pub_close(p);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		cr_assert_geq(fd = open(path, O_WRONLY | O_CREAT, 0600), 0);
		close(fd);
	}
	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		cr_assert_eq(stat(path, &sb) == 0, i == 2, "%s", names[i]);
	}
	cr_assert_eq(hc_pub_generation(p), 1);
	hc_pub_close(p);
}

/*
 * From 32768 entries the builder lays out and writes a snapshot with two
 * threads (build.c).  pubtool builds with the real builder, in a process
 * of its own: under `make tsan` that process is TSan-built, so a race
 * between the two threads makes it exit 66 and this test fail.
 */
Test(publish, a_snapshot_built_by_two_threads_reads_back)
{
	char *argv[] = { (char *)helper("pubtool"), dir, "2", "40000", NULL };
	const hotcfg_snap *s;
	char buf[64] = "", why[128];
	int fds[2];
	hotcfg *h;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = spawn(argv, fds[1]);
	close(fds[1]);
	cr_assert_eq(wait_exit(pid), 0);
	cr_assert_gt(read(fds[0], buf, sizeof(buf) - 1), 0);
	close(fds[0]);
	cr_assert_eq(strtoull(buf, NULL, 10), 2);
	cr_assert_eq(hotcfg_open(&h, dir), 0);
	cr_assert_eq(hotcfg_snapshot(h, &s), 0);
	cr_assert_eq(hotcfg_snap_generation(s), 2);
	cr_assert_eq(gensnap_check(s, 40000, why, sizeof(why)), 0, "%s", why);
	hotcfg_close(h);
}

Test(publish, one_publisher_per_directory)
{
	struct hc_pub *p, *q;
	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	cr_assert_eq(hc_pub_open(&q, dir, NULL), -EBUSY);
	hc_pub_close(p);
	cr_assert_eq(hc_pub_open(&q, dir, NULL), 0);
	hc_pub_close(q);
}

Test(publish, old_snapshot_stays_readable_after_its_file_is_unlinked)
{
	struct hc_pub *p;
	hotcfg *h;
	const hotcfg_snap *s, *s2;
	char why[128], path[512];
	const char *name;

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	publish_n(p, 1, 64);
	cr_assert_eq(hotcfg_open(&h, dir), 0);
	cr_assert_eq(hotcfg_snapshot(h, &s), 0);
	cr_assert_eq(hotcfg_get_str(s, "name", &name), 0);
	publish_n(p, 5, 64);
	snprintf(path, sizeof(path), "%s/snap.%016x", dir, 1);
	cr_assert_eq(access(path, F_OK), -1, "generation 1 was unlinked");
	/* The pointers of generation 1 are still good. */
	cr_assert_eq(hotcfg_snap_generation(s), 1);
	cr_assert_str_eq(name, "generation-1");
	cr_assert_eq(gensnap_check(s, 64, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(hotcfg_snapshot(h, &s2), 0);
	cr_assert_eq(hotcfg_snap_generation(s2), 6);
	hotcfg_close(h);
	hc_pub_close(p);
}

Test(publish, reader_starts_and_reads_while_no_publisher_runs)
{
	struct hc_pub *p;
	hotcfg *h;
	const hotcfg_snap *s;

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	publish_n(p, 2, 4);
	hc_pub_close(p);
	cr_assert_eq(hotcfg_open(&h, dir), 0);
	cr_assert_eq(hotcfg_snapshot(h, &s), 0);
	cr_assert_eq(hotcfg_snap_generation(s), 2);
	cr_assert_eq(hotcfg_wait(h, 2, 50), -ETIMEDOUT);
	cr_assert_eq(hotcfg_wait(h, 1, 0), 0);
	hotcfg_close(h);
}

Test(publish, bad_new_snapshot_never_replaces_a_good_one)
{
	struct hc_pub *p;
	hotcfg *h, *h2;
	const hotcfg_snap *s;
	char path[512];

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	publish_n(p, 1, 4);
	cr_assert_eq(hotcfg_open(&h, dir), 0);
	cr_assert_eq(hotcfg_snapshot(h, &s), 0);
	/* Publish generation 2, then damage its file as a faulty disk or a
	 * hostile writer would. */
	publish_n(p, 1, 4);
	snprintf(path, sizeof(path), "%s/snap.%016x", dir, 2);
	cr_assert_eq(chmod(path, 0600), 0);
	int fd = open(path, O_WRONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, "XXXX", 4, 200), 4);
	close(fd);
	cr_assert_eq(hotcfg_snapshot(h, &s), 0);
	cr_assert_eq(hotcfg_snap_generation(s), 1, "kept the good one");
	cr_assert_eq(hotcfg_snapshot(h, &s), 0);
	cr_assert_eq(hotcfg_snap_generation(s), 1);
	/* A fresh reader has nothing good to keep. */
	cr_assert_eq(hotcfg_open(&h2, dir), 0);
	cr_assert_eq(hotcfg_snapshot(h2, &s), HOTCFG_ECORRUPT);
	hotcfg_close(h2);
	/* The next good publish recovers both. */
	publish_n(p, 1, 4);
	cr_assert_eq(hotcfg_snapshot(h, &s), 0);
	cr_assert_eq(hotcfg_snap_generation(s), 3);
	hotcfg_close(h);
	hc_pub_close(p);
}

Test(publish, status_record_round_trips)
{
	struct hc_pub *p;
	hotcfg *h;
	hotcfg_status st;
	struct hc_srcstate src[2] = {
		{ "app.yaml", "ok", "" },
		{ "configmap:ns/cm", "error", "connection refused" },
	};

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	publish_n(p, 1, 4);
	hc_pub_sources(p, src, 2);
	hc_pub_outcome(p, HOTCFG_OUTCOME_ERROR, "app.yaml", 3, 7,
	    "mapping values are not allowed here");
	cr_assert_eq(hotcfg_open(&h, dir), 0);
	cr_assert_eq(hotcfg_status_read(h, &st), 0);
	cr_assert_eq(st.generation, 1);
	cr_assert_eq(st.pid, getpid());
	cr_assert_eq(st.outcome, HOTCFG_OUTCOME_ERROR);
	cr_assert_str_eq(st.source, "app.yaml");
	cr_assert_eq(st.line, 3);
	cr_assert_eq(st.column, 7);
	cr_assert_str_eq(st.message, "mapping values are not allowed here");
	cr_assert_eq(st.nsources, 2);
	cr_assert_str_eq(st.sources[1].name, "configmap:ns/cm");
	cr_assert_str_eq(st.sources[1].detail, "connection refused");
	cr_assert_eq(st.entries, 6);
	cr_assert_gt(st.heartbeat_ns, 0);
	cr_assert_gt(st.published_ns, 0);
	hotcfg_close(h);
	hc_pub_close(p);
}

/* A reader that polls the status record while the publisher rewrites it
 * with messages of different lengths must never see a mix of two. */
static void *
status_writer(void *arg)
{
	struct hc_pub *p = arg;
	char msg[400];
	for (int i = 0; i < 20000; i++) {
		int c = 'a' + i % 26, len = 10 + (i * 37) % 380;
		memset(msg, c, (size_t)len);
		msg[len] = '\0';
		hc_pub_outcome(p, HOTCFG_OUTCOME_ERROR, msg, (unsigned)len,
		    (unsigned)c, msg);
	}
	return NULL;
}

Test(publish, status_is_never_torn)
{
	struct hc_pub *p;
	hotcfg *h;
	hotcfg_status st;
	pthread_t t;

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	cr_assert_eq(hotcfg_open(&h, dir), 0);
	cr_assert_eq(pthread_create(&t, NULL, status_writer, p), 0);
	for (int i = 0; i < 20000; i++) {
		cr_assert_eq(hotcfg_status_read(h, &st), 0);
		if (st.outcome != HOTCFG_OUTCOME_ERROR)
			continue;
		size_t len = strlen(st.message);
		cr_assert_eq(len, st.line, "message length %zu, line %u", len,
		    st.line);
		for (size_t k = 0; k < len; k++)
			cr_assert_eq(st.message[k], (char)st.column);
		/* The source field is shorter: it holds the message's
		 * beginning, never another write's. */
		cr_assert_eq(strlen(st.source), len < 255 ? len : 255);
		cr_assert_eq(strncmp(st.source, st.message, 255), 0);
	}
	pthread_join(t, NULL);
	hotcfg_close(h);
	hc_pub_close(p);
}

Test(publish, wait_wakes_on_publish_by_another_process)
{
	struct hc_pub *p;
	hotcfg *h;

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	publish_n(p, 1, 2);
	hc_pub_close(p);
	cr_assert_eq(hotcfg_open(&h, dir), 0);
	cr_assert_eq(hotcfg_wait(h, 1, 20), -ETIMEDOUT);
	char *argv[] = { (char *)helper("pubtool"), dir, "1", "2", NULL };
	pid_t pid = spawn(argv, -1);
	/* No timeout: if the futex wake were lost, the suite's timeout
	 * would fail this test. */
	cr_assert_eq(hotcfg_wait(h, 1, -1), 0);
	cr_assert_eq(hotcfg_generation(h), 2);
	cr_assert_eq(wait_exit(pid), 0);
	hotcfg_close(h);
}

Test(publish, fd_becomes_readable_on_publish)
{
	struct hc_pub *p;
	hotcfg *h;
	struct pollfd pfd;
	const hotcfg_snap *s;

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	publish_n(p, 1, 2);
	hc_pub_close(p);
	cr_assert_eq(hotcfg_open(&h, dir), 0);
	pfd.fd = hotcfg_fd(h);
	pfd.events = POLLIN;
	cr_assert_geq(pfd.fd, 0);
	cr_assert_eq(hotcfg_fd(h), pfd.fd, "one fd per handle");
	cr_assert_eq(poll(&pfd, 1, 0), 0, "not readable before a publish");
	char *argv[] = { (char *)helper("pubtool"), dir, "1", "2", NULL };
	pid_t pid = spawn(argv, -1);
	cr_assert_eq(poll(&pfd, 1, 30000), 1);
	cr_assert_eq(hotcfg_fd_clear(h), 0);
	/* Readiness comes after the generation store: the new snapshot is
	 * there as soon as the fd says so. */
	cr_assert_eq(hotcfg_snapshot(h, &s), 0);
	cr_assert_eq(hotcfg_snap_generation(s), 2);
	cr_assert_eq(wait_exit(pid), 0);
	pfd.revents = 0;
	cr_assert_eq(poll(&pfd, 1, 0), 0, "cleared");
	hotcfg_close(h);
}

/*
 * The stress test of the issue: reader threads here and reader processes
 * next door read continuously while a publisher process publishes
 * thousands of generations; every read checks the whole snapshot.
 */
struct rstate {
	hotcfg *h;
	uint64_t until;
	uint64_t reads;
	uint64_t gens;
	char err[256];
};

static void *
reader_thread(void *arg)
{
	struct rstate *r = arg;
	const hotcfg_snap *s;
	uint64_t last = 0;
	int64_t deadline = hc_mono_ns() + (int64_t)100 * 1000000000;

	while (last < r->until && hc_mono_ns() < deadline) {
		int rc = hotcfg_snapshot(r->h, &s);
		if (rc == HOTCFG_ENOTPUB)
			continue;
		if (rc != 0) {
			snprintf(r->err, sizeof(r->err), "snapshot: %s",
			    hotcfg_strerror(rc));
			return NULL;
		}
		uint64_t g = hotcfg_snap_generation(s);
		if (g < last) {
			snprintf(r->err, sizeof(r->err), "went back %llu -> %llu",
			    (unsigned long long)last, (unsigned long long)g);
			return NULL;
		}
		r->gens += g != last;
		last = g;
		r->reads++;
		if (gensnap_check(s, 32, r->err, sizeof(r->err)) != 0)
			return NULL;
	}
	if (last < r->until)
		snprintf(r->err, sizeof(r->err), "stopped at %llu",
		    (unsigned long long)last);
	return NULL;
}

Test(publish, stress_readers_threads_and_processes_while_publishing)
{
	enum { THREADS = 4, PROCS = 2, GENS = 3000 };
	struct hc_pub *p;
	pthread_t t[THREADS];
	struct rstate rs[THREADS];
	pid_t readers[PROCS], pub;
	hotcfg *h;

	/* Generation 1 exists first, so every reader can open the
	 * directory at once. */
	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	publish_n(p, 1, 32);
	hc_pub_close(p);
	cr_assert_eq(hotcfg_open(&h, dir), 0);

	char until[32];
	snprintf(until, sizeof(until), "%d", GENS + 1);
	for (int i = 0; i < PROCS; i++) {
		/* Each reader process runs 2 threads on one handle. */
		char *argv[] = { (char *)helper("readcheck"), dir, until, "32",
		    "100", "2", NULL };
		readers[i] = spawn(argv, -1);
	}
	for (int i = 0; i < THREADS; i++) {
		memset(&rs[i], 0, sizeof(rs[i]));
		rs[i].h = h;
		rs[i].until = GENS + 1;
		cr_assert_eq(pthread_create(&t[i], NULL, reader_thread, &rs[i]), 0);
	}
	char count[32];
	snprintf(count, sizeof(count), "%d", GENS);
	char *pargv[] = { (char *)helper("pubtool"), dir, count, "32", "100",
	    NULL };
	pub = spawn(pargv, -1);
	cr_assert_eq(wait_exit(pub), 0);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		cr_assert_str_eq(rs[i].err, "", "thread %d: %s", i, rs[i].err);
		cr_assert_gt(rs[i].reads, 0);
		cr_log_info("thread %d: %llu reads, %llu generations seen", i,
		    (unsigned long long)rs[i].reads,
		    (unsigned long long)rs[i].gens);
	}
	for (int i = 0; i < PROCS; i++)
		cr_assert_eq(wait_exit(readers[i]), 0, "reader process %d", i);
	hotcfg_close(h);
	cr_assert_leq(count_snaps(), 3);
}

/* Threads that come and go, each taking snapshots, while generations
 * change: exercises the per-thread records and the unmapping of old
 * generations (ASan would see a use after unmap or a leak). */
static void *
short_lived(void *arg)
{
	hotcfg *h = arg;
	const hotcfg_snap *s;
	char why[128];
	for (int i = 0; i < 50; i++) {
		if (hotcfg_snapshot(h, &s) == 0 &&
		    gensnap_check(s, 4, why, sizeof(why)) != 0)
			return (void *)1;
	}
	return NULL;
}

Test(publish, threads_come_and_go_while_publishing)
{
	struct hc_pub *p;
	hotcfg *h;

	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	publish_n(p, 1, 4);
	cr_assert_eq(hotcfg_open(&h, dir), 0);
	for (int round = 0; round < 100; round++) {
		pthread_t t[3];
		void *ret;
		for (int i = 0; i < 3; i++)
			pthread_create(&t[i], NULL, short_lived, h);
		publish_n(p, 1, 4);
		for (int i = 0; i < 3; i++) {
			pthread_join(t[i], &ret);
			cr_assert_null(ret);
		}
	}
	/* Handles opened and closed while threads hold records. */
	for (int i = 0; i < 20; i++) {
		hotcfg *h2;
		const hotcfg_snap *s;
		cr_assert_eq(hotcfg_open(&h2, dir), 0);
		cr_assert_eq(hotcfg_snapshot(h2, &s), 0);
		hotcfg_close(h2);
	}
	hotcfg_close(h);
	hc_pub_close(p);
}
