/*
 * test_faults.c - what goes wrong around hotcfg, done on purpose: the
 * configuration directory's filesystem full, a file size limit, memory
 * running out anywhere in a build and publish, snapshot and control files
 * replaced by garbage, truncated or of a newer format, the inotify queue
 * overflowing and the inotify watch limit reached.  The rule in every case
 * is design.md's: nothing half-done is ever visible, readers keep the last
 * good snapshot, the status and the log say why, and the next good turn
 * recovers.
 *
 * The full-disk tests mount a small tmpfs in a mount namespace of the test
 * process (root only; skipped otherwise), so nothing outside the test ever
 * sees it and it goes away with the process.  The watch_limit test lowers
 * the limit in a user namespace of the agent only, never the machine's.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "helpers/gensnap.h"
#include "helpers/hard.h"
#include "snap.h"

TH_LSAN_SKIP_CRITERION

static char base[256];

static void
setup(void)
{
	cr_assert_eq(th_mkdtemp(base, sizeof(base)), 0);
}

static void
teardown(void)
{
	char mnt[512];

	th_agent_reap_all();
	snprintf(mnt, sizeof(mnt), "%s/mnt", base);
	umount2(mnt, MNT_DETACH);
	th_rmrf(base);
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 240);

static void
path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", base, name);
}

/* Mount a tmpfs of `kib` KiB at base/mnt, private to this process and
 * its children.  False when that is not permitted here. */
static bool
small_tmpfs(unsigned kib)
{
	char mnt[512], opts[64];

	path_of(mnt, sizeof(mnt), "mnt");
	if (mkdir(mnt, 0755) != 0)
		return false;
	if (unshare(CLONE_NEWNS) != 0)
		return false;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return false;
	snprintf(opts, sizeof(opts), "size=%uk,mode=0755", kib);
	return mount("hotcfg-test", mnt, "tmpfs", MS_NOSUID | MS_NODEV, opts) == 0;
}

/* Fill the filesystem holding `dir` with one file until it is full. */
static void
fill(const char *file)
{
	static char block[4096];
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	cr_assert_geq(fd, 0);
	do
		n = write(fd, block, sizeof(block));
	while (n > 0);
	cr_assert_eq(errno, ENOSPC, "filled with %s", strerror(errno));
	/* The last partial page too. */
	while (write(fd, block, 1) == 1)
		;
	close(fd);
}

static uint64_t
publish_gensnap(struct hc_pub *p, unsigned nkeys)
{
	void *blob;
	size_t size;
	uint64_t gen = 0;

	cr_assert_eq(gensnap_build(hc_pub_generation(p) + 1, nkeys, &blob,
	    &size), 0);
	cr_assert_eq(hc_pub_publish(p, blob, size, &gen), 0);
	free(blob);
	return gen;
}

static void
expect_reader_at(hotcfg *h, uint64_t gen, unsigned nkeys)
{
	const hotcfg_snap *s;
	char why[128];

	cr_assert_eq(hotcfg_snapshot(h, &s), 0);
	cr_assert_eq(hotcfg_snap_generation(s), gen, "reader at %llu, not %llu",
	    (unsigned long long)hotcfg_snap_generation(s),
	    (unsigned long long)gen);
	cr_assert_eq(gensnap_check(s, nkeys, why, sizeof(why)), 0, "%s", why);
}

/* ------------------------------------------------------------------ */
/* A full filesystem, a file size limit.                                */
/* ------------------------------------------------------------------ */

Test(faults, full_disk_publish_fails_cleanly_readers_keep_last_good_then_recovers)
{
	char dir[512], filler[512];
	struct hc_pub *p;
	hotcfg *h, *h2;
	hotcfg_status st;
	void *blob;
	size_t size;
	uint64_t gen;

	if (!small_tmpfs(128))
		cr_skip_test("cannot mount a tmpfs here: %s", strerror(errno));
	path_of(dir, sizeof(dir), "mnt/cfg");
	path_of(filler, sizeof(filler), "mnt/filler");
	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	cr_assert_eq(publish_gensnap(p, 16), 1);
	cr_assert_eq(hotcfg_open(&h, dir), 0);
	expect_reader_at(h, 1, 16);

	fill(filler);
	cr_assert_eq(gensnap_build(2, 400, &blob, &size), 0);
	cr_assert_eq(hc_pub_publish(p, blob, size, &gen), -ENOSPC);
	/* Nothing is visible: the generation, the files, the readers. */
	cr_assert_eq(hc_pub_generation(p), 1);
	cr_assert_eq(hotcfg_generation(h), 1);
	cr_assert_eq(th_count(dir, ".snap.tmp"), 0, "temporary file left");
	cr_assert_eq(th_count(dir, "snap."), 1);
	expect_reader_at(h, 1, 16);
	cr_assert_eq(hotcfg_open(&h2, dir), 0);
	expect_reader_at(h2, 1, 16);
	/* The status record lives in the control file's preallocated
	 * pages: recording why still works on a full disk. */
	hc_pub_outcome(p, HOTCFG_OUTCOME_ERROR, "publish", 0, 0,
	    hotcfg_strerror(-ENOSPC));
	cr_assert_eq(hotcfg_status_read(h2, &st), 0);
	cr_assert_eq(st.outcome, HOTCFG_OUTCOME_ERROR);
	cr_assert_str_eq(st.message, "No space left on device");
	cr_assert_eq(st.generation, 1);

	/* Space comes back: the same blob publishes. */
	cr_assert_eq(unlink(filler), 0);
	cr_assert_eq(hc_pub_publish(p, blob, size, &gen), 0);
	cr_assert_eq(gen, 2);
	free(blob);
	expect_reader_at(h, 2, 400);
	expect_reader_at(h2, 2, 400);
	hotcfg_close(h);
	hotcfg_close(h2);
	hc_pub_close(p);
}

Test(faults, file_size_limit_publish_fails_with_efbig_and_leaves_nothing)
{
	char dir[512];
	struct hc_pub *p;
	hotcfg *h;
	pid_t pid;
	int st;

	path_of(dir, sizeof(dir), "cfg");
	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	cr_assert_eq(publish_gensnap(p, 8), 1);
	hc_pub_close(p);
	cr_assert_eq(hotcfg_open(&h, dir), 0);
	expect_reader_at(h, 1, 8);

	/* The limit lives in a child: it must not reach Criterion. */
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rlimit rl = { 4096, 4096 };
		void *blob;
		size_t size;
		uint64_t gen;
		int rc;

		signal(SIGXFSZ, SIG_IGN);
		if (hc_pub_open(&p, dir, NULL) != 0)
			_exit(10);
		if (gensnap_build(2, 1000, &blob, &size) != 0 || size <= 4096)
			_exit(11);
		setrlimit(RLIMIT_FSIZE, &rl);
		rc = hc_pub_publish(p, blob, size, &gen);
		if (rc != -EFBIG)
			_exit(12);
		if (hc_pub_generation(p) != 1 || th_count(dir, ".snap.tmp") != 0)
			_exit(13);
		hc_pub_close(p);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "child status %d (12: not EFBIG, 13: something visible)",
	    WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
	cr_assert_eq(th_count(dir, "snap."), 1);
	expect_reader_at(h, 1, 8);
	/* Without the limit the next publish goes through. */
	cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
	cr_assert_eq(publish_gensnap(p, 1000), 2);
	expect_reader_at(h, 2, 1000);
	hotcfg_close(h);
	hc_pub_close(p);
}

Test(faults, agent_on_a_full_disk_reports_enospc_and_publishes_once_space_returns)
{
	char dir[512], filler[512], src[512], log[512], conf[512], ctext[2048];
	hotcfg_status st;
	pid_t agent;

	if (!small_tmpfs(1024))
		cr_skip_test("cannot mount a tmpfs here: %s", strerror(errno));
	path_of(dir, sizeof(dir), "mnt/cfg");
	path_of(filler, sizeof(filler), "mnt/filler");
	path_of(src, sizeof(src), "app.yaml");
	path_of(log, sizeof(log), "agent.log");
	path_of(conf, sizeof(conf), "hotcfgd.yaml");
	cr_assert_eq(th_write(src, "value: one\n"), 0);
	/* Rescans every 200 ms: checks must not defeat the retry backoff. */
	snprintf(ctext, sizeof(ctext), "dir: %s\nrescan: 200ms\n"
	    "sources: [%s]\n", dir, src);
	cr_assert_eq(th_write(conf, ctext), 0);
	const char *args[] = { "-c", conf, NULL };
	agent = th_agent_start(log, args);
	cr_assert_gt(agent, 0);
	cr_assert(th_wait_str(dir, "value", "one", 30000), "first publish");

	fill(filler);
	/* A build bigger than what is left (a page at most), smaller than
	 * the filesystem. */
	{
		char *big = malloc(300000);
		cr_assert_not_null(big);
		memcpy(big, "value: two\npad: ", 16);
		memset(big + 16, 'x', 300000 - 18);
		big[300000 - 2] = '\n';
		big[300000 - 1] = '\0';
		cr_assert_eq(th_write(src, big), 0);
		free(big);
	}
	cr_assert(th_wait_outcome(dir, HOTCFG_OUTCOME_ERROR, &st, 30000),
	    "status never said error");
	cr_assert_str_eq(st.source, "publish");
	cr_assert(strstr(st.message, "No space left on device") != NULL,
	    "status message: %s", st.message);
	cr_assert_eq(st.generation, 1);
	/* The log line comes right after the status record. */
	cr_assert(th_wait_log_line(log, (const char *const[]){ "level=error",
	    "source=publish", "No space left on device", "kept=1", NULL },
	    30000), "no log line says why");
	/* Readers keep generation 1, nothing half-written lies around. */
	cr_assert_eq(th_gen(dir), 1);
	cr_assert(th_wait_str(dir, "value", "one", 0));
	cr_assert_eq(th_count(dir, ".snap.tmp"), 0);

	/* While the disk stays full the agent tries again after 1, 2, 4...
	 * seconds: in 7.5 s after the first failure, the tries at about 1 s
	 * and 3 s (and 7 s on a slow machine), not one a second, nor one
	 * per rescan. */
	{
		struct timespec ts = { 7, 500000000 };
		unsigned tries = 0;
		char *text, *p;

		nanosleep(&ts, NULL);
		text = th_read(log);
		cr_assert_not_null(text);
		for (p = text; (p = strstr(p, "source=publish")) != NULL; p++)
			tries++;
		cr_assert(tries >= 2 && tries <= 4, "%u failed publishes "
		    "logged in 7.5 s (backoff 1, 2, 4 s):\n%s", tries, text);
		cr_assert_eq(th_gen(dir), 1);
		free(text);
	}

	/* Space returns: the agent retries by itself, no edit needed. */
	cr_assert_eq(unlink(filler), 0);
	cr_assert(th_wait_str(dir, "value", "two", 30000),
	    "never published after space returned:\n%s", th_read(log));
	cr_assert(th_wait_outcome(dir, HOTCFG_OUTCOME_OK, &st, 30000));
	cr_assert_eq(st.generation, 2);
	cr_assert_eq(th_count(dir, ".snap.tmp"), 0);
	cr_assert_eq(th_agent_stop(agent), 0);
}

/* ------------------------------------------------------------------ */
/* Out of memory.                                                       */
/* ------------------------------------------------------------------ */

/*
 * tests/helpers/oomrun fails every allocation of a whole reload (config,
 * sources, merge, flatten, build, publish, dump) and of a reader in turn,
 * once and from then on, and checks after each: no crash, nothing
 * published by a failed run, exactly the right snapshot by a successful
 * one, no temporary file, no leak.  See its header for the mechanism.
 */
Test(faults, out_of_memory_at_every_allocation_never_publishes_leaks_or_crashes,
    .timeout = 600)
{
	char dir[512], out[512], helper[512];
	char *argv[] = { helper, dir, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;
	char *text;

	path_of(dir, sizeof(dir), "oom");
	path_of(out, sizeof(out), "oom.out");
	snprintf(helper, sizeof(helper), "%s/tests/helpers/oomrun", th_build());
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	cr_assert_eq(posix_spawn(&pid, helper, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	text = th_read(out);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "oomrun: status %d:\n%s",
	    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
	    text ? text : "");
	cr_assert(text && strstr(text, "violations=0"), "%s", text ? text : "");
	cr_log_info("oomrun: %s", text);
	free(text);
}

/* ------------------------------------------------------------------ */
/* Snapshot and control files that are not what they should be.         */
/* ------------------------------------------------------------------ */

enum variant {
	V_GARBAGE,      /* random bytes, same size */
	V_HALF,         /* the first half */
	V_HEADER,       /* the header only */
	V_NEWER,        /* format version + 1, checksum right */
	V_EMPTY,
	V_OTHER_GEN,    /* a good snapshot, but of another generation */
	V_SIZE_LIE,     /* the header claims more bytes than there are */
	V_DIRECTORY,
	V_SYMLINK,      /* to a good snapshot */
	V_FIFO,         /* opening it must not block */
	V_COUNT
};

static const char *const variant_name[] = {
	"garbage", "half", "header only", "newer version", "empty",
	"other generation", "size lie", "directory", "symlink", "fifo",
};

/* Put `v` at path (replacing, through a new inode). */
static void
make_variant(const char *path, enum variant v, const void *good, size_t size,
    const char *other)
{
	unsigned char *b = malloc(size);
	char tmp[1100];
	size_t len = size;

	/* The variants that need another file get one; the others ignore
	 * it.  (Never NULL, which the compiler cannot see otherwise.) */
	if (other == NULL)
		other = "/nonexistent";

	cr_assert_not_null(b);
	memcpy(b, good, size);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	switch (v) {
	case V_GARBAGE:
		srand(7);
		for (size_t i = 0; i < size; i++)
			b[i] = (unsigned char)rand();
		break;
	case V_HALF:
		len = size / 2;
		break;
	case V_HEADER:
		len = sizeof(struct hc_snap_hdr);
		break;
	case V_NEWER: {
		struct hc_snap_hdr *h = (struct hc_snap_hdr *)b;
		h->version = HC_SNAP_VERSION + 1;
		h->checksum = hc_blob_checksum(b, size);
		break;
	}
	case V_EMPTY:
		len = 0;
		break;
	case V_OTHER_GEN:
		break;          /* written below from `other` */
	case V_SIZE_LIE: {
		struct hc_snap_hdr *h = (struct hc_snap_hdr *)b;
		h->size = size + 4096;
		h->checksum = hc_blob_checksum(b, size);
		break;
	}
	case V_DIRECTORY:
		cr_assert_eq(mkdir(tmp, 0700), 0);
		goto place;
	case V_SYMLINK:
		cr_assert_eq(symlink(other, tmp), 0);
		goto place;
	case V_FIFO:
		cr_assert_eq(mkfifo(tmp, 0600), 0);
		goto place;
	default:
		break;
	}
	if (v == V_OTHER_GEN) {
		char *cmd;
		cr_assert_neq(asprintf(&cmd, "cp '%s' '%s'", other, tmp), -1);
		cr_assert_eq(system(cmd), 0);
		free(cmd);
	} else {
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0400);
		cr_assert_geq(fd, 0);
		cr_assert_eq(th_write_fd(fd, b, len), 0);
		close(fd);
	}
place:
	if (v == V_DIRECTORY)
		unlink(path);   /* rename(2) puts no directory over a file */
	cr_assert_eq(rename(tmp, path), 0, "rename over %s: %s", path,
	    strerror(errno));
	free(b);
}

Test(faults, replaced_snapshot_is_refused_with_a_clear_error_and_readers_keep_the_last_good)
{
	for (int v = 0; v < V_COUNT; v++) {
		char dir[512], s1[600], s2[600];
		struct hc_pub *p;
		hotcfg *h, *h2;
		const hotcfg_snap *s;
		void *blob;
		size_t size;
		uint64_t gen;
		int rc, want;

		snprintf(dir, sizeof(dir), "%s/cfg-%d", base, v);
		snprintf(s1, sizeof(s1), "%s/snap.%016x", dir, 1);
		snprintf(s2, sizeof(s2), "%s/snap.%016x", dir, 2);
		cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
		cr_assert_eq(publish_gensnap(p, 8), 1);
		cr_assert_eq(hotcfg_open(&h, dir), 0);
		expect_reader_at(h, 1, 8);

		/* Generation 2 is published, then its file is replaced
		 * before any reader looked at it. */
		cr_assert_eq(gensnap_build(2, 8, &blob, &size), 0);
		cr_assert_eq(hc_pub_publish(p, blob, size, &gen), 0);
		make_variant(s2, (enum variant)v, blob, size, s1);
		free(blob);

		cr_assert_eq(hotcfg_snapshot(h, &s), 0, "%s: reader lost its "
		    "snapshot", variant_name[v]);
		cr_assert_eq(hotcfg_snap_generation(s), 1, "%s accepted",
		    variant_name[v]);
		cr_assert_eq(hotcfg_open(&h2, dir), 0);
		rc = hotcfg_snapshot(h2, &s);
		want = v == V_NEWER ? HOTCFG_EVERSION : HOTCFG_ECORRUPT;
		cr_expect_eq(rc, want, "%s: a new reader got %d (%s), not %s",
		    variant_name[v], rc, hotcfg_strerror(rc),
		    hotcfg_strerror(want));
		hotcfg_close(h2);

		/* The next good publish recovers every reader. */
		cr_assert_eq(publish_gensnap(p, 8), 3);
		expect_reader_at(h, 3, 8);
		hotcfg_close(h);
		hc_pub_close(p);
	}
}

/* The control file, replaced through a new inode. */
Test(faults, replaced_control_file_is_refused_by_new_readers_running_ones_carry_on)
{
	static const enum variant vs[] = { V_GARBAGE, V_HALF, V_NEWER,
		V_EMPTY, V_DIRECTORY, V_FIFO };

	for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
		char dir[512], ctl[600];
		struct hc_pub *p;
		hotcfg *h, *h2;
		void *copy;
		int fd, rc, want;

		snprintf(dir, sizeof(dir), "%s/ctl-%zu", base, i);
		snprintf(ctl, sizeof(ctl), "%s/control", dir);
		cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
		cr_assert_eq(publish_gensnap(p, 8), 1);
		cr_assert_eq(hotcfg_open(&h, dir), 0);
		expect_reader_at(h, 1, 8);

		copy = malloc(HC_CTL_SIZE);
		fd = open(ctl, O_RDONLY);
		cr_assert_eq(read(fd, copy, HC_CTL_SIZE), (ssize_t)HC_CTL_SIZE);
		close(fd);
		if (vs[i] == V_NEWER) {
			((struct hc_ctl *)copy)->version = HC_CTL_VERSION + 1;
			/* The variant writer only knows snapshots. */
			char tmp[700];
			snprintf(tmp, sizeof(tmp), "%s.new", ctl);
			fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			cr_assert_eq(th_write_fd(fd, copy, HC_CTL_SIZE), 0);
			close(fd);
			cr_assert_eq(rename(tmp, ctl), 0);
		} else {
			make_variant(ctl, vs[i], copy, HC_CTL_SIZE, NULL);
		}
		free(copy);

		/* A new reader is refused, clearly. */
		rc = hotcfg_open(&h2, dir);
		want = vs[i] == V_NEWER ? HOTCFG_EVERSION : HOTCFG_ECORRUPT;
		cr_expect_eq(rc, want, "%s: hotcfg_open gave %d (%s)",
		    variant_name[vs[i]], rc, hotcfg_strerror(rc));
		if (rc == 0)
			hotcfg_close(h2);
		/* A running reader keeps its mapping of the old control
		 * file, which the running publisher still writes. */
		expect_reader_at(h, 1, 8);
		cr_assert_eq(publish_gensnap(p, 8), 2);
		expect_reader_at(h, 2, 8);
		/* A publisher that starts again puts a good control file
		 * back, continuing the generations. */
		hc_pub_close(p);
		if (vs[i] == V_DIRECTORY) {
			/* Not a file it can replace by rename: refused. */
			cr_expect_neq(hc_pub_open(&p, dir, NULL), 0);
			char cmd[800];
			snprintf(cmd, sizeof(cmd), "rmdir '%s'", ctl);
			cr_assert_eq(system(cmd), 0);
		}
		cr_assert_eq(hc_pub_open(&p, dir, NULL), 0, "%s: publisher "
		    "cannot start", variant_name[vs[i]]);
		cr_assert_eq(publish_gensnap(p, 8), 3);
		cr_assert_eq(hotcfg_open(&h2, dir), 0);
		expect_reader_at(h2, 3, 8);
		hotcfg_close(h2);
		hotcfg_close(h);
		hc_pub_close(p);
	}
}

/* The control file overwritten in place (same size, same inode): what
 * readers have mapped changes under them. */
Test(faults, control_file_overwritten_in_place_readers_keep_last_good_and_say_corrupt)
{
	for (int newer = 0; newer <= 1; newer++) {
		char dir[512], ctl[600];
		struct hc_pub *p;
		hotcfg *h, *h2;
		hotcfg_status st;
		int fd, rc;

		snprintf(dir, sizeof(dir), "%s/inplace-%d", base, newer);
		snprintf(ctl, sizeof(ctl), "%s/control", dir);
		cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
		cr_assert_eq(publish_gensnap(p, 8), 1);
		cr_assert_eq(publish_gensnap(p, 8), 2);
		cr_assert_eq(hotcfg_open(&h, dir), 0);
		expect_reader_at(h, 2, 8);
		fd = open(ctl, O_WRONLY);
		cr_assert_geq(fd, 0);
		if (newer) {
			uint32_t v = HC_CTL_VERSION + 1;
			cr_assert_eq(pwrite(fd, &v, 4,
			    offsetof(struct hc_ctl, version)), 4);
		} else {
			/* Zeros where magic and generation were. */
			static const char zero[64];
			cr_assert_eq(pwrite(fd, zero, sizeof(zero), 0), 64);
		}
		close(fd);
		expect_reader_at(h, 2, 8);
		rc = hotcfg_status_read(h, &st);
		cr_expect_eq(rc, newer ? HOTCFG_EVERSION : HOTCFG_ECORRUPT,
		    "status_read gave %d", rc);
		rc = hotcfg_open(&h2, dir);
		cr_expect_eq(rc, newer ? HOTCFG_EVERSION : HOTCFG_ECORRUPT);
		/* A restarted publisher repairs it. */
		hc_pub_close(p);
		cr_assert_eq(hc_pub_open(&p, dir, NULL), 0);
		cr_assert_eq(publish_gensnap(p, 8), 3);
		cr_assert_eq(hotcfg_open(&h2, dir), 0);
		expect_reader_at(h2, 3, 8);
		hotcfg_close(h2);
		hotcfg_close(h);
		hc_pub_close(p);
	}
}

/* ------------------------------------------------------------------ */
/* inotify: a queue overflow, the watch limit.                          */
/* ------------------------------------------------------------------ */

/*
 * The agent is stopped (SIGSTOP) while files are created in the directory
 * it watches: more events than the kernel queues (max_queued_events,
 * 16,384 by default), so the queue overflows for certain.  When it continues it
 * must say so and rescan, and publish what the directory holds.
 */
Test(faults, inotify_queue_overflow_makes_the_agent_rescan_and_say_so)
{
	char dir[512], src[512], log[512], path[700];
	pid_t agent;
	int st;

	path_of(dir, sizeof(dir), "pub");
	path_of(src, sizeof(src), "src");
	path_of(log, sizeof(log), "agent.log");
	cr_assert_eq(mkdir(src, 0755), 0);
	snprintf(path, sizeof(path), "%s/a.yaml", src);
	cr_assert_eq(th_write(path, "final: 0\n"), 0);
	const char *args[] = { "--dir", dir, src, NULL };
	agent = th_agent_start(log, args);
	cr_assert_gt(agent, 0);
	cr_assert(th_wait_str(dir, "final", "0", 30000));

	/* Each new file queues two events (create, close after write). */
	long queued = 16384, files;
	char *q = th_read("/proc/sys/fs/inotify/max_queued_events");
	if (q != NULL)
		queued = strtol(q, NULL, 10);
	free(q);
	if (queued > 200000)
		cr_skip_test("max_queued_events is %ld here", queued);
	files = queued / 2 + 2000;

	cr_assert_eq(kill(agent, SIGSTOP), 0);
	for (long i = 0; i < files; i++) {
		/* Hidden names: events, but no entries. */
		snprintf(path, sizeof(path), "%s/.burst-%06ld", src, i);
		int fd = open(path, O_WRONLY | O_CREAT, 0644);
		cr_assert_geq(fd, 0);
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/a.yaml", src);
	cr_assert_eq(th_write(path, "final: 20000\n"), 0);
	cr_assert_eq(kill(agent, SIGCONT), 0);

	cr_assert(th_wait_log(log, "event=overflow", 60000),
	    "the agent never said the queue overflowed");
	cr_assert(th_log_line_has(log, (const char *const[]){ "level=warning",
	    "event=overflow", "action=rescan", NULL }));
	cr_assert(th_wait_str(dir, "final", "20000", 60000),
	    "the final content was never published");
	cr_assert(!th_exited(agent, &st), "agent exited with %d", st);
	cr_assert_eq(th_agent_stop(agent), 0);
}

/*
 * The watch limit, lowered to 0 for the agent alone: since Linux 5.11
 * inotify limits are counted per user namespace (/proc/sys/user), so the
 * agent runs in a user namespace of its own that maps root to root.  It
 * must say that it falls back to rescanning, and still publish edits.
 */
Test(faults, inotify_watch_limit_falls_back_to_rescanning_and_says_so)
{
	char dir[512], src[512], log[512];
	pid_t pid;
	int pfd[2], st;
	char ok = 0;

	path_of(dir, sizeof(dir), "pub");
	path_of(src, sizeof(src), "app.yaml");
	path_of(log, sizeof(log), "agent.log");
	cr_assert_eq(th_write(src, "v: 1\n"), 0);
	cr_assert_eq(pipe(pfd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Single-threaded here, as CLONE_NEWUSER wants. */
		char hotcfgd[512];
		int fd;

		close(pfd[0]);
		if (unshare(CLONE_NEWUSER) != 0)
			_exit(20);
		if (th_write("/proc/self/setgroups", "deny") != 0 ||
		    th_write("/proc/self/uid_map", "0 0 1") != 0 ||
		    th_write("/proc/self/gid_map", "0 0 1") != 0 ||
		    th_write("/proc/sys/user/max_inotify_watches", "0") != 0)
			_exit(21);
		(void)!write(pfd[1], "1", 1);
		close(pfd[1]);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		snprintf(hotcfgd, sizeof(hotcfgd), "%s/hotcfgd", th_build());
		execl(hotcfgd, hotcfgd, "--dir", dir, src, (char *)NULL);
		_exit(22);
	}
	close(pfd[1]);
	th_agent_register(pid);
	if (read(pfd[0], &ok, 1) != 1) {
		waitpid(pid, &st, 0);
		th_agent_forget(pid);
		close(pfd[0]);
		cr_skip_test("no user namespace with its own inotify limits "
		    "here (child status %d)", WEXITSTATUS(st));
	}
	close(pfd[0]);
	cr_assert(th_wait_str(dir, "v", "1", 30000), "first publish");
	cr_assert(th_wait_log(log, "event=watch_limit", 30000),
	    "the agent never said it hit the watch limit");
	cr_assert(th_log_line_has(log, (const char *const[]){ "level=warning",
	    "event=watch_limit", "fallback=rescan", NULL }));
	/* An edit still arrives, through the rescans. */
	cr_assert_eq(th_write_rename(src, "v: 2\n"), 0);
	cr_assert(th_wait_str(dir, "v", "2", 60000),
	    "an edit was never published without inotify");
	cr_assert_eq(th_agent_stop(pid), 0);
}
