/*
 * walk.h - the checks the fuzz targets share: read every entry of a
 * snapshot through the public API and abort() when a promise of hotcfg.h
 * is broken (iteration order, the entry count, a getter that disagrees
 * with the entry's type, a string that is not NUL-terminated).  The dump
 * formats run over the snapshot too, into /dev/null: only their not
 * crashing matters here.
 *
 * A header, not a .c file, because every .c file of tests/fuzz is a
 * fuzz target.
 */
#ifndef HOTCFG_FUZZ_WALK_H
#define HOTCFG_FUZZ_WALK_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "hotcfg.h"
#include "internal.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz: %s:%d: check failed: %s\n", __FILE__, \
	    __LINE__, #cond); \
	abort(); } } while (0)

static FILE *
sink(void)
{
	static FILE *fp;

	if (fp == NULL)
		fp = fopen("/dev/null", "w");
	CHECK(fp != NULL);
	return fp;
}

static int
keycmp(const hotcfg_entry *a, const hotcfg_entry *b)
{
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = memcmp(a->key, b->key, n);

	if (c)
		return c;
	return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

/* What the public API promises about one entry, whatever the blob. */
static void
check_entry_shape(const hotcfg_snap *s, const hotcfg_entry *e)
{
	CHECK(e->type >= HOTCFG_NULL && e->type <= HOTCFG_SEQ);
	CHECK(e->key[e->key_len] == '\0');
	CHECK(strlen(e->key) == e->key_len);
	CHECK(e->text[e->text_len] == '\0');
	CHECK(e->source < hotcfg_snap_nsources(s));
	CHECK(hotcfg_snap_source(s, e->source) != NULL);
	if (e->type != HOTCFG_MAP && e->type != HOTCFG_SEQ)
		CHECK(e->count == 0);
	if (e->type == HOTCFG_MAP || e->type == HOTCFG_SEQ)
		CHECK(e->text_len == 0);
}

/*
 * Look the key up every way there is.  The index of a forged blob may not
 * find a key the iteration found, but whatever a lookup returns must be
 * the entry of that key, and the typed getters must agree with its type.
 */
static void
check_lookups(const hotcfg_snap *s, const char *key, bool must_find)
{
	hotcfg_entry e;
	int type, rc;
	int64_t i;
	double f;
	bool b;
	const char *str;
	const void *bytes;
	size_t len, count;

	rc = hotcfg_get(s, key, &e);
	if (rc == -ENOENT) {
		CHECK(!must_find);
		CHECK(hotcfg_get_type(s, key, &type) == -ENOENT);
		CHECK(hotcfg_get_int(s, key, &i) == -ENOENT);
		return;
	}
	CHECK(rc == 0);
	CHECK(strcmp(e.key, key) == 0);
	check_entry_shape(s, &e);
	CHECK(hotcfg_get_type(s, key, &type) == 0 && type == e.type);

	rc = hotcfg_get_int(s, key, &i);
	CHECK(e.type == HOTCFG_INT ? rc == 0 && i == e.i : rc == HOTCFG_ETYPE);
	rc = hotcfg_get_float(s, key, &f);
	if (e.type == HOTCFG_INT || e.type == HOTCFG_FLOAT)
		CHECK(rc == 0);
	else
		CHECK(rc == HOTCFG_ETYPE);
	rc = hotcfg_get_bool(s, key, &b);
	CHECK(e.type == HOTCFG_BOOL ? rc == 0 && b == e.b :
	    rc == HOTCFG_ETYPE);
	rc = hotcfg_get_str(s, key, &str);
	CHECK(e.type == HOTCFG_STR ? rc == 0 && str == e.text :
	    rc == HOTCFG_ETYPE);
	rc = hotcfg_get_bytes(s, key, &bytes, &len);
	if (e.type == HOTCFG_STR || e.type == HOTCFG_BYTES)
		CHECK(rc == 0 && bytes == e.text && len == e.text_len);
	else
		CHECK(rc == HOTCFG_ETYPE);
	rc = hotcfg_get_count(s, key, &count);
	if (e.type == HOTCFG_MAP || e.type == HOTCFG_SEQ)
		CHECK(rc == 0 && count == e.count);
	else
		CHECK(rc == HOTCFG_ETYPE);
}

/*
 * Walk the whole snapshot: the iteration must visit exactly count entries
 * in strictly increasing key order; a prefix walk from a few keys must stay
 * in that key's subtree; the dumps must not crash.
 */
static void
walk(const hotcfg_snap *s, bool must_find)
{
	hotcfg_entry e, prev;
	size_t cursor = 0, n = 0;
	int rc;

	memset(&prev, 0, sizeof(prev));
	for (unsigned id = 0; id < hotcfg_snap_nsources(s); id++)
		CHECK(hotcfg_snap_source(s, id) != NULL);
	CHECK(hotcfg_snap_source(s, hotcfg_snap_nsources(s)) == NULL);

	while ((rc = hotcfg_next(s, NULL, &cursor, &e)) == 0) {
		CHECK(n < hotcfg_snap_count(s));
		check_entry_shape(s, &e);
		if (n > 0)
			CHECK(keycmp(&prev, &e) < 0);
		check_lookups(s, e.key, must_find);
		/* A prefix walk from this key: only its subtree, the key
		 * itself first.  Bounded, so a big blob stays fast.  The
		 * empty key (the root) as a prefix means everything. */
		if (n < 32 && e.key_len > 0) {
			size_t c2 = 0, m = 0;
			hotcfg_entry sub;
			while (hotcfg_next(s, e.key, &c2, &sub) == 0 && m < 64) {
				CHECK(sub.key_len >= e.key_len);
				CHECK(memcmp(sub.key, e.key, e.key_len) == 0);
				if (m == 0)
					CHECK(sub.key_len == e.key_len);
				else
					CHECK(sub.key[e.key_len] == '.' ||
					    sub.key[e.key_len] == '[');
				m++;
			}
		}
		prev = e;
		n++;
	}
	CHECK(rc == -ENOENT);
	CHECK(n == hotcfg_snap_count(s));
	/* Once at the end, it stays there. */
	CHECK(hotcfg_next(s, NULL, &cursor, &e) == -ENOENT);

	/* Keys that are not there, and the odd ones. */
	check_lookups(s, "\x01no such key", false);
	check_lookups(s, "", false);

	for (int fmt = HC_DUMP_FLAT; fmt <= HC_DUMP_YAML; fmt++) {
		(void)hc_dump(s, sink(), fmt, NULL, false);
		(void)hc_dump(s, sink(), fmt, NULL, true);
		if (prev.key != NULL && hotcfg_snap_count(s) > 0)
			(void)hc_dump(s, sink(), fmt, prev.key, false);
	}
}

#endif
