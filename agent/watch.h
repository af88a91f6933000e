/*
 * watch.h - the watcher thread: inotify on the directories that decide
 * what each file or directory source reads.
 *
 * A source is never watched by its own inode: editors and the kubelet
 * replace files rather than rewrite them, and a watch on a replaced inode
 * goes quiet.  Instead the watcher resolves the source's path the way
 * open(2) would and watches every directory entry on the way: the parent
 * directory and name of the path, of each symlink it passes through
 * (kubelet's ..data), and of the final file; for a directory source also
 * every visible entry in it.  A part of the path that does not exist yet
 * is watched for in the nearest directory that does.
 *
 * Events become posts on the pending board (pending.h), with the delay
 * each kind of event deserves:
 *  - completed changes (a close after writing, a rename into place, a
 *    symlink or directory created) are due at once (plus `debounce`);
 *  - a write to a file still open holds the source until the writer
 *    closes it, or `write_timeout` after its last write;
 *  - a delete or rename away is due after `delete_grace`, so an editor
 *    that deletes and re-creates publishes once; a new file in a directory
 *    source likewise, so a temporary file renamed away at once (sed -i)
 *    never shows up;
 *  - a queue overflow re-reads every source, and the sources re-arm
 *    their watches when they are read.
 */
#ifndef HOTCFGD_WATCH_H
#define HOTCFGD_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pending;
struct watcher;

struct watch_opts {
	int64_t debounce_ns;
	int64_t write_timeout_ns;
	int64_t delete_grace_ns;
};

/* Create the inotify instance for nsrc sources (no thread yet).
 * 0 or a negative errno (-EMFILE: the instance limit). */
int watch_new(struct watcher **out, struct pending *p, size_t nsrc,
    const struct watch_opts *o);

/* Start the thread.  It blocks every signal: they belong to the main
 * loop.  0 or a negative errno. */
int watch_start(struct watcher *w);

/* Stop and join the thread, drop every watch, free.  NULL is fine. */
void watch_free(struct watcher *w);

/*
 * Resolve `path` as source `id` reads it and watch what it depends on,
 * replacing the source's previous watches.  Called by the main loop
 * before each read of the source, and again after it: *changed then says
 * whether the path resolves differently (the read may have raced with a
 * change, read again).  Returns 0; -ENOSPC when the inotify watch limit
 * is reached (the source is then only seen by rescans: watch_degraded()
 * turns true); other negative errnos.
 */
int watch_source(struct watcher *w, size_t id, const char *path,
    bool *changed);

/* True while some source could not be fully watched (watch limit). */
bool watch_degraded(struct watcher *w);

/* Events seen and overflows, for the log and the tests. */
void watch_counters(struct watcher *w, uint64_t *events,
    uint64_t *overflows);

#endif /* HOTCFGD_WATCH_H */
