/*
 * agentread.h - what the agent integration tests (test_agent.c,
 * test_agent_k8s.c) share on the reader's side: waiting for generations,
 * reading values and the status of the directory the agent under test
 * publishes in, and removing a scratch tree.
 *
 * The including file defines, before including this header:
 *   static hotcfg *reader;          the handle on the agent's directory
 *   static char *logtext(void);     the agent's log so far, for messages
 *   WAIT_MS, QUIET_US               how long to wait for something that
 *                                   should happen, and for what should not
 */
#ifndef HOTCFG_TEST_AGENTREAD_H
#define HOTCFG_TEST_AGENTREAD_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hotcfg.h"

#define AR_UNUSED __attribute__((unused))

/* nftw() callback: remove one entry of a scratch tree. */
static AR_UNUSED int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Wait for a generation after `after`; returns it. */
static AR_UNUSED uint64_t
wait_after(uint64_t after)
{
	int rc = hotcfg_wait(reader, after, WAIT_MS);

	cr_assert_eq(rc, 0, "no generation after %llu (%s); log:\n%s",
	    (unsigned long long)after, hotcfg_strerror(rc), logtext());
	return hotcfg_generation(reader);
}

/* Nothing more is published in a further moment. */
static AR_UNUSED void
assert_quiet(uint64_t gen)
{
	usleep(QUIET_US);
	cr_assert_eq(hotcfg_generation(reader), gen,
	    "extra generation: %llu, expected %llu; log:\n%s",
	    (unsigned long long)hotcfg_generation(reader),
	    (unsigned long long)gen, logtext());
}

static AR_UNUSED const hotcfg_snap *
snap(void)
{
	const hotcfg_snap *s;
	int rc = hotcfg_snapshot(reader, &s);

	cr_assert_eq(rc, 0, "snapshot: %s", hotcfg_strerror(rc));
	return s;
}

static AR_UNUSED int64_t
get_int(const char *key)
{
	int64_t v = -1;
	int rc = hotcfg_get_int(snap(), key, &v);

	cr_assert_eq(rc, 0, "%s: %s", key, hotcfg_strerror(rc));
	return v;
}

static AR_UNUSED const char *
get_str(const char *key)
{
	const char *v = NULL;
	int rc = hotcfg_get_str(snap(), key, &v);

	cr_assert_eq(rc, 0, "%s: %s", key, hotcfg_strerror(rc));
	return v;
}

static AR_UNUSED void
status(hotcfg_status *st)
{
	cr_assert_eq(hotcfg_status_read(reader, st), 0);
}

#endif /* HOTCFG_TEST_AGENTREAD_H */
