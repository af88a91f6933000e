/*
 * gensnap.h - a snapshot whose every value is a function of its
 * generation, and the check that a snapshot is such a one.  Shared by the
 * test publisher (pubtool), the reader processes (readcheck) and the
 * Criterion tests, so that a torn or mixed snapshot cannot go unnoticed.
 */
#ifndef GENSNAP_H
#define GENSNAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotcfg.h"
#include "internal.h"

/* Build the snapshot of generation `gen` with `nkeys` int keys. */
static inline int
gensnap_build(uint64_t gen, unsigned nkeys, void **blob, size_t *size)
{
	struct hc_builder *b;
	hotcfg_entry e;
	char key[64], text[64];
	unsigned src;
	int rc;

	if ((rc = hc_builder_new(&b)) != 0)
		return rc;
	hc_builder_source(b, "gensnap", &src);
	memset(&e, 0, sizeof(e));
	e.type = HOTCFG_INT;
	e.key = "gen";
	e.key_len = 3;
	e.i = (int64_t)gen;
	if ((rc = hc_builder_add(b, &e)) != 0)
		goto out;
	for (unsigned i = 0; i < nkeys; i++) {
		snprintf(key, sizeof(key), "k.%u", i);
		e.key = key;
		e.key_len = strlen(key);
		e.i = (int64_t)(gen * 1000 + i);
		if ((rc = hc_builder_add(b, &e)) != 0)
			goto out;
	}
	snprintf(text, sizeof(text), "generation-%llu", (unsigned long long)gen);
	e.type = HOTCFG_STR;
	e.key = "name";
	e.key_len = 4;
	e.text = text;
	e.text_len = strlen(text);
	if ((rc = hc_builder_add(b, &e)) != 0)
		goto out;
	rc = hc_builder_finish(b, 0, blob, size, NULL);
out:
	hc_builder_free(b);
	return rc;
}

/*
 * 0 when s is a complete gensnap of its own generation with nkeys keys;
 * otherwise -1 and a reason in why.
 */
static inline int
gensnap_check(const hotcfg_snap *s, unsigned nkeys, char *why, size_t len)
{
	uint64_t g = hotcfg_snap_generation(s);
	int64_t v;
	const char *str;
	char key[64], text[64];

	if (hotcfg_get_int(s, "gen", &v) != 0 || (uint64_t)v != g) {
		snprintf(why, len, "gen key %lld in generation %llu",
		    (long long)v, (unsigned long long)g);
		return -1;
	}
	for (unsigned i = 0; i < nkeys; i++) {
		snprintf(key, sizeof(key), "k.%u", i);
		if (hotcfg_get_int(s, key, &v) != 0 ||
		    v != (int64_t)(g * 1000 + i)) {
			snprintf(why, len, "%s = %lld in generation %llu", key,
			    (long long)v, (unsigned long long)g);
			return -1;
		}
	}
	snprintf(text, sizeof(text), "generation-%llu", (unsigned long long)g);
	if (hotcfg_get_str(s, "name", &str) != 0 || strcmp(str, text) != 0) {
		snprintf(why, len, "name wrong in generation %llu",
		    (unsigned long long)g);
		return -1;
	}
	if (hotcfg_snap_count(s) != nkeys + 2) {
		snprintf(why, len, "count %zu in generation %llu",
		    hotcfg_snap_count(s), (unsigned long long)g);
		return -1;
	}
	return 0;
}

#endif
