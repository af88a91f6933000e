/*
 * pending.h - which sources changed, and when each is due to be read.
 *
 * The producers of changes (the inotify watcher thread, and later one
 * thread per ConfigMap) post here; the main loop takes the sources that
 * are due and rebuilds.  Posting is cheap and never blocks on a build:
 * whatever is posted while a build runs is taken by the next one, which
 * is how a burst of events becomes one generation.
 *
 * Each source has:
 *  - how:  0 (clean), PEND_CHECK (names or attributes changed: read again
 *          only if what the source resolves to differs from the last read)
 *          or PEND_READ (contents changed: read again);
 *  - due:  when it may be read (monotonic ns); the latest READ post
 *          decides (a delete followed by a re-create waits for the
 *          re-create, then goes at once), a CHECK post only ever moves
 *          it later;
 *  - hold: while a writer still has a file open, the source is not read
 *          before this time even if due (0: no writer).
 */
#ifndef HOTCFGD_PENDING_H
#define HOTCFGD_PENDING_H

#include <stddef.h>
#include <stdint.h>

enum pend_how {
	PEND_NONE = 0,
	PEND_CHECK = 1,
	PEND_READ = 2
};

struct pending;

/* For nsrc sources.  0, -ENOMEM or an eventfd error. */
int pending_new(struct pending **out, size_t nsrc);
void pending_free(struct pending *p);

/* A descriptor that is readable after any post; the main loop polls it
 * and calls pending_drain() before pending_take(). */
int pending_fd(const struct pending *p);
void pending_drain(struct pending *p);

/*
 * Source `id` changed.  `how` adds to what is pending (READ outranks
 * CHECK); `due` replaces the due time (for CHECK, only a later one);
 * `hold` replaces the writer hold unless it is negative.  Any thread.
 */
void pending_post(struct pending *p, size_t id, int how, int64_t due,
    int64_t hold);

/* Every source, e.g. on SIGHUP (READ) or a periodic rescan (CHECK).
 * Holds are kept. */
void pending_post_all(struct pending *p, int how, int64_t due);

/*
 * Take every source that is due at `now` (due <= now and hold <= now):
 * how[id] gets what was pending for it and the source becomes clean;
 * sources not taken get how[id] = PEND_NONE.  Returns the number taken.
 * *next is the earliest time a source not taken becomes due, INT64_MAX
 * when none is pending.
 */
size_t pending_take(struct pending *p, int64_t now, int *how,
    int64_t *next);

#endif /* HOTCFGD_PENDING_H */
