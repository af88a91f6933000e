/*
 * control.h - the control file: the one piece of shared state the agent
 * writes and every reader maps read-only.
 *
 * It holds the current generation (what readers compare on every
 * hotcfg_snapshot() call), the futex word readers sleep on, the agent's pid
 * and heartbeat, and the status record (last outcome, source states).
 *
 * The generation, futex, pid and heartbeat are single atomic words.  The
 * status record is larger than any atomic store, so it is guarded by a
 * sequence lock with one writer (the agent, which holds the directory's
 * lock file): the writer makes the sequence odd, writes, makes it even; a
 * reader copies the record between two reads of an even, unchanged
 * sequence and retries otherwise.  The record is copied word by word with
 * relaxed atomic loads and stores, so the race the seqlock tolerates is not
 * undefined behaviour in C11 (Boehm, "Can seqlocks get along with
 * programming language memory models?").  A reader never sees a torn error
 * text or a half-updated record.
 */
#ifndef HOTCFG_CONTROL_H
#define HOTCFG_CONTROL_H

#include <stdatomic.h>
#include <stdint.h>

#include "hotcfg.h"

#define HC_CTL_MAGIC   UINT64_C(0x3143474643544f48) /* "HOTCFGC1" */
#define HC_CTL_VERSION 1u
#define HC_CTL_NAME    "control"
#define HC_LOCK_NAME   ".lock"
#define HC_SNAP_PREFIX "snap."

struct hc_status_rec {
	uint64_t generation;
	int64_t published_ns;
	uint64_t entries;
	uint64_t bytes;
	int64_t outcome_ns;
	uint32_t outcome;
	uint32_t line;
	uint32_t column;
	uint32_t nsources;
	char source[256];
	char message[512];
	struct {
		char name[256];
		char state[64];
		char detail[256];
	} src[HOTCFG_STATUS_MAXSRC];
};

#define HC_STATUS_WORDS ((sizeof(struct hc_status_rec) + 7) / 8)

struct hc_ctl {
	uint64_t magic;
	uint32_t version;
	uint32_t size;
	_Atomic uint64_t generation;
	_Atomic uint32_t futex;
	_Atomic uint32_t retired;   /* 1: replaced; reopen the directory */
	_Atomic int32_t pid;
	uint32_t pad0;
	_Atomic int64_t heartbeat_ns;
	_Atomic int64_t started_ns;
	uint8_t pad1[64 - 48];
	/* Its own cache line, so status writes never disturb the line that
	 * readers load the generation from. */
	_Atomic uint32_t seq;
	uint32_t pad2;
	_Atomic uint64_t status[HC_STATUS_WORDS];
};

#define HC_CTL_SIZE ((sizeof(struct hc_ctl) + 4095) & ~(size_t)4095)

#endif /* HOTCFG_CONTROL_H */
