/*
 * test_torture.c - the short torture run of `make check`: 20 seconds of
 * tests/helpers/torture (see its header: random edits in every style,
 * broken sources, SIGKILLed agent restarts, reader threads and processes
 * checking every snapshot).  `make torture` runs the same for minutes.
 * TORTURE_SECONDS changes the length.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/hard.h"

TH_LSAN_SKIP_CRITERION

Test(torture, readers_never_see_a_torn_or_older_snapshot_while_the_agent_is_killed,
    .timeout = 600)
{
	char out[256], helper[512], secs[16];
	const char *env = getenv("TORTURE_SECONDS");
	char *argv[] = { helper, "-s", secs, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;
	char *text, *line;

	snprintf(secs, sizeof(secs), "%d", env ? atoi(env) : 20);
	snprintf(out, sizeof(out), "/tmp/hotcfg-torture-%ld.out", (long)getpid());
	snprintf(helper, sizeof(helper), "%s/tests/helpers/torture", th_build());
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT |
	    O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	cr_assert_eq(posix_spawn(&pid, helper, &fa, NULL, argv, environ), 0,
	    "spawn %s", helper);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	text = th_read(out);
	unlink(out);
	cr_assert_not_null(text);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "torture status %d:\n%s", WIFEXITED(st) ? WEXITSTATUS(st) :
	    128 + WTERMSIG(st), text);
	line = strstr(text, "torture: seconds=");
	cr_assert_not_null(line, "no figures:\n%s", text);
	cr_assert(strstr(line, "violations=0") != NULL, "%s", text);
	cr_log_info("%s", line);
	free(text);
}
