/*
 * internal.h - what libhotcfg shares with the agent, the CLI and the tests,
 * but not with its users: the snapshot builder, the publisher, the on-disk
 * formats, and the dump formats.
 *
 * None of these symbols is exported from libhotcfg.so (the version script
 * exports hotcfg_* only); the agent, the CLI and the tests link the internal
 * archive build/libhotcfg-internal.a instead.  Names start with hc_.
 */
#ifndef HOTCFG_INTERNAL_H
#define HOTCFG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "hotcfg.h"

#define HC_LIKELY(x)   __builtin_expect(!!(x), 1)
#define HC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HC_HIDDEN      __attribute__((visibility("hidden")))

/* ------------------------------------------------------------------ */
/* The snapshot builder.                                                */
/* ------------------------------------------------------------------ */

struct hc_builder;

/* A new, empty builder.  0 or -ENOMEM. */
int hc_builder_new(struct hc_builder **out);
void hc_builder_free(struct hc_builder *b);

/*
 * Register a source name; its index (0, 1, ...) is what entries carry in
 * their `source` member.  The name is copied.  0 or -ENOMEM/-E2BIG.
 */
int hc_builder_source(struct hc_builder *b, const char *name, unsigned *id);

/*
 * Add one entry.  The builder copies e->key and e->text.  For HOTCFG_STR
 * and HOTCFG_BYTES, text/text_len is the value.  For HOTCFG_NULL, BOOL,
 * INT and FLOAT, text may be NULL: the builder then writes the canonical
 * YAML form itself; the binary value comes from e->b, e->i or e->f.  For
 * HOTCFG_MAP and HOTCFG_SEQ, e->count is the child count and text is
 * ignored.  A duplicate key is reported by hc_builder_finish().
 * 0, -EINVAL (bad type, source or key length), -ENOMEM.
 */
int hc_builder_add(struct hc_builder *b, const hotcfg_entry *e);

/* Entries added so far. */
size_t hc_builder_count(const struct hc_builder *b);

/*
 * Lay out the snapshot: one malloc'd, position-independent blob returned in
 * *blob (the caller frees it), with generation 0 and build time `time_ns`.
 * The publisher writes the generation in.  -EEXIST when a key was added
 * twice (*dupkey, if not NULL, then points to a malloc'd copy of it),
 * -E2BIG past the format's limits, -ENOMEM.  The builder can be freed or
 * reused (it is emptied) afterwards.
 */
int hc_builder_finish(struct hc_builder *b, int64_t time_ns, void **blob,
    size_t *size, char **dupkey);

/* The content hash of a finished blob: equal for equal entries and
 * sources, whatever the generation and build time. */
uint64_t hc_blob_content_hash(const void *blob);

/* Set the generation in a finished blob (it is outside the checksum). */
void hc_blob_set_generation(void *blob, uint64_t gen);

/* ------------------------------------------------------------------ */
/* The publisher (agent side of design.md "Publication across processes"). */
/* ------------------------------------------------------------------ */

struct hc_pub;

struct hc_pub_opts {
	unsigned history;      /* previous snapshots kept; default 2 */
	gid_t gid;             /* group for the directory and files, or -1 */
	bool group_read;       /* files 0440 (true) or 0400 */
};

/*
 * Open (create if needed, mode 0750) the directory `dir`, take the
 * publisher lock (one publisher per directory; -EBUSY when another live
 * agent holds it), create or adopt the control file and continue the
 * generation from the highest one found there.  Records our pid.
 */
int hc_pub_open(struct hc_pub **out, const char *dir,
    const struct hc_pub_opts *opts);

/* Close; the control file and snapshots stay for readers.  NULL ok. */
void hc_pub_close(struct hc_pub *p);

/*
 * Publish a finished blob.  If its content hash equals the current
 * snapshot's, nothing is written: returns 1 and records "unchanged".
 * Otherwise writes snap.<gen> under a temporary name, fsyncs nothing
 * (tmpfs), makes it read-only, renames it into place, stores the
 * generation with release order, bumps and wakes the futex, touches the
 * control file for hotcfg_fd() readers, unlinks snapshots older than the
 * history, and records "ok".  Returns 0 and *gen; on failure (-ENOSPC,
 * -EIO...) nothing is visible to readers and the error is returned (the
 * caller records the outcome).  The blob is modified (generation).
 */
int hc_pub_publish(struct hc_pub *p, void *blob, size_t size, uint64_t *gen);

/* The current generation (0 if none yet). */
uint64_t hc_pub_generation(const struct hc_pub *p);

/* Store a heartbeat (now) in the control file. */
void hc_pub_heartbeat(struct hc_pub *p);

/*
 * Record the outcome of a build in the control file, under its sequence
 * lock: readers see the old record or the new one, never a mix.  source
 * and msg may be NULL.  Strings longer than the record are cut.
 */
void hc_pub_outcome(struct hc_pub *p, int outcome, const char *source,
    unsigned line, unsigned col, const char *msg);

/* Record the list of sources and their states (same sequence lock).
 * n is capped at HOTCFG_STATUS_MAXSRC. */
struct hc_srcstate {
	const char *name;
	const char *state;
	const char *detail;
};
void hc_pub_sources(struct hc_pub *p, const struct hc_srcstate *s,
    unsigned n);

/* ------------------------------------------------------------------ */
/* Helpers shared by the agent, the CLI and the tests.                  */
/* ------------------------------------------------------------------ */

/* Resolve hotcfg_open()'s `where` into a directory path (malloc'd). */
int hc_resolve_dir(const char *where, char **out);

/* Nanoseconds since the epoch (CLOCK_REALTIME). */
int64_t hc_now_ns(void);
/* Nanoseconds of CLOCK_MONOTONIC. */
int64_t hc_mono_ns(void);

/* The canonical YAML text of a float, shortest form that reads back
 * exactly ("2.5", "1e+300", ".inf", "-.inf", ".nan").  buf >= 32 bytes. */
void hc_format_float(double f, char *buf, size_t len);
/* The same by its rule, with printf and strtod every time (the tests'
 * reference for hc_format_float()'s short path). */
void hc_format_float_printf(double f, char *buf, size_t len);
/* The decimal text of v, NUL-terminated, as "%" PRId64 writes it; buf >=
 * 21 bytes.  Returns its length. */
size_t hc_format_int(int64_t v, char *buf);

/*
 * Dump formats, shared by `hotcfg dump` and `hotcfgd --print`:
 *  HC_DUMP_FLAT  one "key = value" line per entry, in key order
 *  HC_DUMP_JSON  the tree rebuilt, written with jansson
 *  HC_DUMP_YAML  the tree rebuilt, written with libyaml's emitter
 * prefix: NULL or a subtree; sources: say which source set each key.
 * 0 or a negative error.
 */
enum hc_dump_format { HC_DUMP_FLAT, HC_DUMP_JSON, HC_DUMP_YAML };
int hc_dump(const hotcfg_snap *s, FILE *fp, int format, const char *prefix,
    bool sources);
int hc_dump_parse_format(const char *name);  /* -EINVAL if unknown */

/*
 * A snapshot view over a blob that is not published (for hotcfgd --print
 * and tests): validates and wraps it so that the public getters and
 * hc_dump() work on it.  The blob must outlive the view.
 */
int hc_snap_wrap(const void *blob, size_t size, hotcfg_snap **out);
void hc_snap_unwrap(hotcfg_snap *s);

#endif /* HOTCFG_INTERNAL_H */
