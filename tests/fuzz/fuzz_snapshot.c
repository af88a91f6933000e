/*
 * fuzz_snapshot.c - libFuzzer target: snapshot bytes -> validator ->
 * every entry read back through the public API and the dump formats.
 *
 * A reader maps whatever file the directory holds, so the validator is the
 * one line of defence between a damaged or hostile file and a crash in
 * every service that links libhotcfg.  Random bytes almost never carry a
 * right checksum, though, and would never get past it; so the first input
 * byte says what the harness repairs before the validator sees the rest:
 *
 *   mode 0  nothing: the bytes as a reader would map them;
 *   mode 1  the header's size and checksum are made to match the bytes,
 *           so that the structural checks behind the checksum are reached;
 *   mode 2  the bytes are not a snapshot but a list of entries: the
 *           builder makes a snapshot of them, which must validate, and
 *           every entry must read back exactly as it was added.
 *
 * Modes 0 and 1 may only find crashes and broken API promises (an
 * iteration that is not in order, a getter that disagrees with the type);
 * a snapshot whose checksum was forged may lie about its values.  Mode 2
 * checks values too, because there the builder made the blob.
 *
 * A violated promise calls abort() so that libFuzzer records the input.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snap.h"
#include "walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Modes 0 and 1: the bytes as a blob. */
static void
fuzz_blob(const uint8_t *data, size_t size, bool repair)
{
	hotcfg_snap *s;
	void *copy;

	/* An exact-size heap copy, so that ASan sees a read one past the
	 * end; 8-aligned like the page-aligned mapping of a reader. */
	copy = malloc(size ? size : 1);
	CHECK(copy != NULL && ((uintptr_t)copy & 7) == 0);
	memcpy(copy, data, size);
	if (repair && size >= sizeof(struct hc_snap_hdr)) {
		struct hc_snap_hdr *h = copy;
		h->size = size;
		h->checksum = hc_blob_checksum(copy, size);
	}
	if (hc_snap_wrap(copy, size, &s) == 0) {
		walk(s, false);
		hc_snap_unwrap(s);
	}
	free(copy);
}

/* Mode 2: a little reader of the input, for the builder's entries. */
struct in {
	const uint8_t *p;
	size_t n;
};

static unsigned
take(struct in *in, unsigned bytes)
{
	unsigned v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		v <<= 8;
		if (in->n > 0) {
			v |= *in->p++;
			in->n--;
		}
	}
	return v;
}

static const uint8_t *
take_bytes(struct in *in, size_t *len)
{
	const uint8_t *p = in->p;

	if (*len > in->n)
		*len = in->n;
	in->p += *len;
	in->n -= *len;
	return p;
}

#define MAXENT 256

struct want {
	char key[64];
	size_t klen;
	hotcfg_entry e;
	uint8_t text[64];
};

static void
fuzz_builder(const uint8_t *data, size_t size)
{
	static struct want want[MAXENT];
	struct in in = { data, size };
	struct hc_builder *b;
	unsigned nsrc = 1 + take(&in, 1) % 4, id, n = 0;
	void *blob = NULL;
	size_t bsize;
	char *dup = NULL;
	hotcfg_snap *s;
	int rc;

	CHECK(hc_builder_new(&b) == 0);
	for (unsigned i = 0; i < nsrc; i++) {
		char name[32];
		snprintf(name, sizeof(name), "source-%u", i);
		CHECK(hc_builder_source(b, name, &id) == 0 && id == i);
	}
	while (in.n > 0 && n < MAXENT) {
		struct want *w = &want[n];
		size_t klen = take(&in, 1) % sizeof(w->key), tlen;
		const uint8_t *k = take_bytes(&in, &klen);

		memset(w, 0, sizeof(*w));
		memcpy(w->key, k, klen);
		/* A NUL inside a key is refused by the builder; keep the
		 * part before it, which is still an arbitrary key. */
		w->klen = strnlen(w->key, klen);
		w->e.key = w->key;
		w->e.key_len = w->klen;
		w->e.type = (int)(take(&in, 1) % 8);
		w->e.source = take(&in, 1) % nsrc;
		switch (w->e.type) {
		case HOTCFG_BOOL:
			w->e.b = take(&in, 1) & 1;
			break;
		case HOTCFG_INT:
			w->e.i = (int64_t)((uint64_t)take(&in, 4) << 32 |
			    take(&in, 4));
			break;
		case HOTCFG_FLOAT: {
			uint64_t u = (uint64_t)take(&in, 4) << 32 | take(&in, 4);
			memcpy(&w->e.f, &u, 8);
			break;
		}
		case HOTCFG_STR:
		case HOTCFG_BYTES:
			tlen = take(&in, 1) % sizeof(w->text);
			memcpy(w->text, take_bytes(&in, &tlen), tlen);
			w->e.text = (const char *)w->text;
			w->e.text_len = tlen;
			break;
		case HOTCFG_MAP:
		case HOTCFG_SEQ:
			w->e.count = take(&in, 2);
			break;
		}
		CHECK(hc_builder_add(b, &w->e) == 0);
		n++;
	}
	rc = hc_builder_finish(b, 42, &blob, &bsize, &dup);
	hc_builder_free(b);
	if (rc == -EEXIST) {
		/* A duplicate must really be one. */
		unsigned seen = 0;
		CHECK(dup != NULL);
		for (unsigned i = 0; i < n; i++)
			seen += strcmp(want[i].key, dup) == 0;
		CHECK(seen >= 2);
		free(dup);
		return;
	}
	CHECK(rc == 0);
	CHECK(hc_snap_wrap(blob, bsize, &s) == 0);
	CHECK(hotcfg_snap_count(s) == n);
	CHECK(hotcfg_snap_nsources(s) == nsrc);
	walk(s, true);
	for (unsigned i = 0; i < n; i++) {
		const struct want *w = &want[i];
		hotcfg_entry e;

		CHECK(hotcfg_get(s, w->key, &e) == 0);
		CHECK(e.type == w->e.type && e.source == w->e.source);
		switch (e.type) {
		case HOTCFG_NULL:
			CHECK(strcmp(e.text, "null") == 0);
			break;
		case HOTCFG_BOOL:
			CHECK(e.b == w->e.b);
			CHECK(strcmp(e.text, e.b ? "true" : "false") == 0);
			break;
		case HOTCFG_INT:
			CHECK(e.i == w->e.i);
			CHECK(strtoll(e.text, NULL, 10) == e.i);
			break;
		case HOTCFG_FLOAT:
			CHECK(memcmp(&e.f, &w->e.f, 8) == 0 ||
			    (isnan(e.f) && isnan(w->e.f)));
			break;
		case HOTCFG_STR:
		case HOTCFG_BYTES:
			CHECK(e.text_len == w->e.text_len);
			CHECK(memcmp(e.text, w->text, e.text_len) == 0);
			break;
		default:
			CHECK(e.count == w->e.count);
		}
	}
	/* The content hash ignores the build time and the generation. */
	{
		uint64_t c = hc_blob_content_hash(blob);
		hc_blob_set_generation(blob, 77);
		CHECK(hc_blob_content_hash(blob) == c);
		hc_snap_unwrap(s);
		CHECK(hc_snap_wrap(blob, bsize, &s) == 0);
		CHECK(hotcfg_snap_generation(s) == 77);
	}
	hc_snap_unwrap(s);
	free(blob);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_blob(data + 1, size - 1, false);
		break;
	case 1:
		fuzz_blob(data + 1, size - 1, true);
		break;
	case 2:
		fuzz_builder(data + 1, size - 1);
		break;
	}
	return 0;
}
