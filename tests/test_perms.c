/*
 * test_perms.c - the permission model of a published configuration
 * (design.md "Failure rules": the directory and files belong to the agent;
 * readers need read access only and map everything PROT_READ).
 *
 *  - hotcfgd makes the directory 0750 and every snapshot 0440, owned by
 *    its user and the configured group; the control file is 0640 (the
 *    agent writes it through a shared mapping), the lock file 0600;
 *  - a reader running as another user, outside that group, cannot open
 *    the configuration (EACCES);
 *  - a reader in the group can, and every mapping it holds is read-only;
 *  - the agent runs as an unprivileged user and group just as well.
 *
 * Readers and the unprivileged agent run as uid 65534 (nobody) in a child
 * process that drops root with setgroups/setgid/setuid.  Root only: the
 * tests are skipped otherwise.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/hard.h"

TH_LSAN_SKIP_CRITERION

#define NOBODY 65534
#define GROUP  4242     /* a group number no one else uses */
#define OTHER  4243

static char base[256];

static void
setup(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to switch users");
	cr_assert_eq(th_mkdtemp(base, sizeof(base)), 0);
	/* Others may walk to what is inside; what they may read there is
	 * up to the agent. */
	cr_assert_eq(chmod(base, 0755), 0);
}

static void
teardown(void)
{
	th_agent_reap_all();
	if (base[0])
		th_rmrf(base);
}

TestSuite(perms, .init = setup, .fini = teardown, .timeout = 120);

/* Start the agent with a configuration file; wait for generation 1. */
static pid_t
agent_with_group(const char *pub, const char *group, const char *log)
{
	char cfg[512], src[512];
	pid_t pid;

	snprintf(cfg, sizeof(cfg), "%s/hotcfgd.yaml", base);
	snprintf(src, sizeof(src), "%s/app.yaml", base);
	cr_assert_eq(th_write(src, "secret: s3cr3t\nport: 8080\n"), 0);
	cr_assert_eq(th_writef(cfg, "dir: %s\n%s%s%ssources: [%s]\n", pub,
	    group ? "group: \"" : "", group ? group : "", group ? "\"\n" : "",
	    src), 0);
	const char *args[] = { "-c", cfg, NULL };
	pid = th_agent_start(log, args);
	cr_assert_gt(pid, 0);
	cr_assert(th_wait_gen(pub, 1, 30000), "no publish:\n%s", th_read(log));
	/* Generation 1 may be an earlier run's: wait for this one. */
	cr_assert(th_wait_log(log, "reason=start", 30000), "no start:\n%s",
	    th_read(log));
	return pid;
}

static void
expect_mode(const char *path, mode_t mode, gid_t gid)
{
	struct stat st;

	cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
	cr_expect_eq(st.st_mode & 07777, mode, "%s: mode %04o, not %04o", path,
	    st.st_mode & 07777, mode);
	if (gid != (gid_t)-1)
		cr_expect_eq(st.st_gid, gid, "%s: group %u, not %u", path,
		    (unsigned)st.st_gid, (unsigned)gid);
}

/*
 * In a child as uid 65534 with the given supplementary groups: open the
 * configuration, take the snapshot, read "port", and check that every
 * mapping of the directory's files is read-only.  The child's exit status:
 * 0 read fine, 10 + the open error's errno when refused, 3 a mapping is
 * writable, 4 a wrong value.
 */
static int
read_as_nobody(const char *pub, const gid_t *groups, size_t ngroups)
{
	pid_t pid = fork();
	int st;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		hotcfg *h;
		const hotcfg_snap *s;
		int64_t port;
		int rc;

		if (setgroups(ngroups, groups) != 0 || setgid(NOBODY) != 0 ||
		    setuid(NOBODY) != 0)
			_exit(2);
		if ((rc = hotcfg_open(&h, pub)) != 0)
			_exit(10 + (rc < 0 && rc > -100 ? -rc : 99));
		if ((rc = hotcfg_snapshot(h, &s)) != 0)
			_exit(10 + (rc < 0 && rc > -100 ? -rc : 99));
		if (hotcfg_get_int(s, "port", &port) != 0 || port != 8080)
			_exit(4);
		/* Every mapping of a file in pub: r--s, never w. */
		char *maps = th_read("/proc/self/maps"), *line, *save = NULL;
		unsigned seen = 0;
		for (line = strtok_r(maps, "\n", &save); line;
		    line = strtok_r(NULL, "\n", &save)) {
			if (strstr(line, pub) == NULL)
				continue;
			char perms[8] = "";
			sscanf(line, "%*s %7s", perms);
			if (strcmp(perms, "r--s") != 0)
				_exit(3);
			seen++;
		}
		free(maps);
		hotcfg_close(h);
		_exit(seen >= 2 ? 0 : 5);      /* control and a snapshot */
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(perms, agent_makes_the_directory_0750_and_snapshots_0440_in_its_group)
{
	char pub[512], log[512], path[1024], group[16];
	pid_t agent;

	snprintf(pub, sizeof(pub), "%s/pub", base);
	snprintf(log, sizeof(log), "%s/agent.log", base);
	snprintf(group, sizeof(group), "%d", GROUP);
	agent = agent_with_group(pub, group, log);
	expect_mode(pub, 0750, GROUP);
	snprintf(path, sizeof(path), "%s/snap.%016x", pub, 1);
	expect_mode(path, 0440, GROUP);
	snprintf(path, sizeof(path), "%s/control", pub);
	expect_mode(path, 0640, GROUP);
	snprintf(path, sizeof(path), "%s/.lock", pub);
	expect_mode(path, 0600, (gid_t)-1);
	/* A second generation gets the same. */
	snprintf(path, sizeof(path), "%s/app.yaml", base);
	cr_assert_eq(th_write_rename(path, "port: 9090\n"), 0);
	cr_assert(th_wait_gen(pub, 2, 30000));
	snprintf(path, sizeof(path), "%s/snap.%016x", pub, 2);
	expect_mode(path, 0440, GROUP);
	cr_assert_eq(th_agent_stop(agent), 0);
}

Test(perms, a_reader_outside_the_group_is_refused_with_eacces)
{
	char pub[512], log[512], group[16], path[1024];
	gid_t other = OTHER;
	pid_t agent;
	int rc;

	snprintf(pub, sizeof(pub), "%s/pub", base);
	snprintf(log, sizeof(log), "%s/agent.log", base);
	snprintf(group, sizeof(group), "%d", GROUP);
	agent = agent_with_group(pub, group, log);
	rc = read_as_nobody(pub, NULL, 0);
	cr_expect_eq(rc, 10 + EACCES, "nobody without groups: status %d", rc);
	rc = read_as_nobody(pub, &other, 1);
	cr_expect_eq(rc, 10 + EACCES, "nobody in another group: status %d", rc);
	/* Not even a file by its full name. */
	snprintf(path, sizeof(path), "%s/snap.%016x", pub, 1);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(2);
		_exit(open(path, O_RDONLY) < 0 && errno == EACCES ? 0 : 1);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a snapshot file "
	    "is readable by others");
	cr_assert_eq(th_agent_stop(agent), 0);
}

Test(perms, a_reader_in_the_group_reads_and_maps_everything_read_only)
{
	char pub[512], log[512], group[16];
	gid_t g = GROUP;
	pid_t agent;
	int rc;

	snprintf(pub, sizeof(pub), "%s/pub", base);
	snprintf(log, sizeof(log), "%s/agent.log", base);
	snprintf(group, sizeof(group), "%d", GROUP);
	agent = agent_with_group(pub, group, log);
	rc = read_as_nobody(pub, &g, 1);
	cr_expect_eq(rc, 0, "nobody in the group: status %d (3: a writable "
	    "mapping, 1x: open error x)", rc);
	cr_assert_eq(th_agent_stop(agent), 0);
}

/*
 * Changing the group in the configuration and restarting must move every
 * file the readers open to the new group: a control file kept from the
 * previous run with the old group would lock the new group's readers out.
 */
Test(perms, a_restart_with_another_group_regroups_the_files_readers_open)
{
	char pub[512], log[512], group[16];
	gid_t g = OTHER;
	pid_t agent;
	int rc;

	snprintf(pub, sizeof(pub), "%s/pub", base);
	snprintf(log, sizeof(log), "%s/agent.log", base);
	snprintf(group, sizeof(group), "%d", GROUP);
	agent = agent_with_group(pub, group, log);
	cr_assert_eq(th_agent_stop(agent), 0);
	snprintf(group, sizeof(group), "%d", OTHER);
	snprintf(log, sizeof(log), "%s/agent2.log", base);
	agent = agent_with_group(pub, group, log);
	/* A new generation is not needed for the control file. */
	rc = read_as_nobody(pub, &g, 1);
	cr_expect_eq(rc, 0, "a reader in the new group: status %d", rc);
	cr_assert_eq(th_agent_stop(agent), 0);
}

/*
 * The agent needs no privilege: as nobody, with the configured group as
 * its primary group, it publishes into a directory it may write, and
 * reads only what its user may read.
 */
Test(perms, the_agent_runs_unprivileged)
{
	char run[512], pub[512], log[512], src[512], cfg[512], hotcfgd[512];
	char secret[512];
	pid_t pid;
	int st;

	snprintf(run, sizeof(run), "%s/run", base);
	snprintf(pub, sizeof(pub), "%s/run/pub", base);
	snprintf(log, sizeof(log), "%s/run/agent.log", base);
	snprintf(src, sizeof(src), "%s/app.yaml", base);
	snprintf(secret, sizeof(secret), "%s/root-only.yaml", base);
	snprintf(cfg, sizeof(cfg), "%s/hotcfgd.yaml", base);
	cr_assert_eq(mkdir(run, 0755), 0);
	cr_assert_eq(chown(run, NOBODY, GROUP), 0);
	cr_assert_eq(th_write(src, "port: 8080\n"), 0);
	cr_assert_eq(th_write(secret, "k: v\n"), 0);
	cr_assert_eq(chmod(secret, 0600), 0);
	cr_assert_eq(th_writef(cfg, "dir: %s\ngroup: \"%d\"\nsources:\n"
	    "  - %s\n", pub, GROUP, src), 0);
	snprintf(hotcfgd, sizeof(hotcfgd), "%s/hotcfgd", th_build());
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd;
		if (setgroups(0, NULL) || setgid(GROUP) || setuid(NOBODY))
			_exit(2);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(hotcfgd, hotcfgd, "-c", cfg, (char *)NULL);
		_exit(3);
	}
	th_agent_register(pid);
	cr_assert(th_wait_gen(pub, 1, 30000), "no publish as nobody:\n%s",
	    th_read(log));
	struct stat sb;
	char path[1024];
	snprintf(path, sizeof(path), "%s/snap.%016x", pub, 1);
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq(sb.st_uid, NOBODY);
	cr_expect_eq(sb.st_gid, GROUP);
	cr_expect_eq(sb.st_mode & 07777, 0440);
	/* What nobody may not read is an error, not a leak. */
	cr_assert_eq(th_writef(cfg, "dir: %s\ngroup: \"%d\"\nsources:\n"
	    "  - %s\n  - %s\n", pub, GROUP, src, secret), 0);
	cr_assert(th_agent_stop(pid) == 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(GROUP) || setuid(NOBODY))
			_exit(2);
		int fd = open(log, O_WRONLY | O_APPEND);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(hotcfgd, hotcfgd, "-n", "-c", cfg, (char *)NULL);
		_exit(3);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "-n as nobody on a "
	    "root-only source: status %d", WEXITSTATUS(st));
	cr_expect(th_wait_log(log, "Permission denied", 1000), "%s",
	    th_read(log));
}
