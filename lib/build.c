/*
 * build.c - the snapshot builder.
 *
 * The agent adds entries in any order; hc_builder_finish() sorts them by
 * key, refuses duplicates, lays out the records (see snap.h for the format
 * and why records are packed the way they are), computes the content hash,
 * derives the hash seed from it, fills the hash index and checksums the
 * blob.  The result is one malloc'd block that the publisher writes to a
 * file as it is.
 *
 * Keys and texts are copied into an arena of large chunks so that adding a
 * million entries costs a million small copies, not a million mallocs.
 * Sorting compares a big-endian 8-byte key prefix first, which settles most
 * comparisons without touching the arena.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "snap.h"

#define ARENA_CHUNK (1u << 20)
#define MAX_SOURCES 65535u

struct bent {
	const char *key;
	const char *text;
	uint32_t klen;
	uint32_t vlen;
	uint8_t type;
	uint16_t source;
	uint32_t count;
	union {
		int64_t i;
		double f;
		uint64_t u;
	} v;
};

struct chunk {
	struct chunk *next;
	size_t used, cap;
	char data[];
};

struct hc_builder {
	struct bent *ents;
	size_t n, cap;
	struct chunk *arena;
	char **srcs;
	unsigned nsrcs;
};

struct sortkey {
	uint64_t prefix;
	uint32_t idx;
};

int
hc_builder_new(struct hc_builder **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

static void
builder_reset(struct hc_builder *b)
{
	struct chunk *c, *next;

	for (c = b->arena; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	b->arena = NULL;
	for (unsigned i = 0; i < b->nsrcs; i++)
		free(b->srcs[i]);
	free(b->srcs);
	b->srcs = NULL;
	b->nsrcs = 0;
	b->n = 0;
}

void
hc_builder_free(struct hc_builder *b)
{
	if (b == NULL)
		return;
	builder_reset(b);
	free(b->ents);
	free(b);
}

size_t
hc_builder_count(const struct hc_builder *b)
{
	return b->n;
}

/* Copy len bytes plus a NUL into the arena. */
static const char *
arena_copy(struct hc_builder *b, const char *s, size_t len)
{
	struct chunk *c = b->arena;
	char *p;

	if (c == NULL || c->cap - c->used < len + 1) {
		size_t cap = len + 1 > ARENA_CHUNK ? len + 1 : ARENA_CHUNK;
		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = b->arena;
		b->arena = c;
	}
	p = c->data + c->used;
	if (len)
		memcpy(p, s, len);
	p[len] = '\0';
	c->used += len + 1;
	return p;
}

int
hc_builder_source(struct hc_builder *b, const char *name, unsigned *id)
{
	char **v;

	if (b->nsrcs >= MAX_SOURCES)
		return -E2BIG;
	v = realloc(b->srcs, (b->nsrcs + 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	b->srcs = v;
	if ((v[b->nsrcs] = strdup(name ? name : "")) == NULL)
		return -ENOMEM;
	*id = b->nsrcs++;
	return 0;
}

int
hc_builder_add(struct hc_builder *b, const hotcfg_entry *e)
{
	struct bent *be;
	char num[40];
	const char *text = e->text;
	size_t tlen = e->text_len;

	if (e->type < HOTCFG_NULL || e->type > HOTCFG_SEQ)
		return -EINVAL;
	if (e->source >= b->nsrcs && !(b->nsrcs == 0 && e->source == 0))
		return -EINVAL;
	if (e->key_len >= UINT32_MAX / 2 || e->text_len >= UINT32_MAX / 2)
		return -EINVAL;
	/* Keys are handed out as C strings: no NUL inside. */
	if (e->key_len && memchr(e->key, '\0', e->key_len) != NULL)
		return -EINVAL;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct bent *v = realloc(b->ents, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		b->ents = v;
		b->cap = cap;
	}
	be = &b->ents[b->n];
	memset(be, 0, sizeof(*be));
	be->type = (uint8_t)e->type;
	be->source = (uint16_t)e->source;
	switch (e->type) {
	case HOTCFG_NULL:
		if (text == NULL)
			text = "null";
		break;
	case HOTCFG_BOOL:
		be->v.u = e->b ? 1 : 0;
		if (text == NULL)
			text = e->b ? "true" : "false";
		break;
	case HOTCFG_INT:
		be->v.i = e->i;
		if (text == NULL) {
			snprintf(num, sizeof(num), "%" PRId64, e->i);
			text = num;
		}
		break;
	case HOTCFG_FLOAT:
		be->v.f = e->f;
		if (text == NULL) {
			hc_format_float(e->f, num, sizeof(num));
			text = num;
		}
		break;
	case HOTCFG_STR:
	case HOTCFG_BYTES:
		if (text == NULL)
			text = "";
		break;
	case HOTCFG_MAP:
	case HOTCFG_SEQ:
		if (e->count > UINT32_MAX)
			return -EINVAL;
		be->count = (uint32_t)e->count;
		text = "";
		tlen = 0;
		break;
	}
	if (text != e->text)
		tlen = strlen(text);
	be->klen = (uint32_t)e->key_len;
	be->vlen = (uint32_t)tlen;
	if ((be->key = arena_copy(b, e->key ? e->key : "", e->key_len)) == NULL)
		return -ENOMEM;
	if ((be->text = arena_copy(b, text, tlen)) == NULL)
		return -ENOMEM;
	b->n++;
	return 0;
}

static uint64_t
key_prefix(const char *k, uint32_t len)
{
	uint64_t p = 0;

	for (uint32_t i = 0; i < 8; i++)
		p = (p << 8) | (i < len ? (unsigned char)k[i] : 0);
	return p;
}

/* Key order: bytes, then length (a key sorts before its extensions). */
static int
keycmp(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
sortkey_cmp(const void *pa, const void *pb, void *arg)
{
	const struct sortkey *a = pa, *b = pb;
	const struct bent *ents = arg;

	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	const struct bent *x = &ents[a->idx], *y = &ents[b->idx];
	/* Equal prefixes: the first 8 bytes (or all of a shorter key,
	 * zero-padded) agree, so compare from there. */
	return keycmp(x->key, x->klen, y->key, y->klen);
}

static uint64_t
align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * Where a record whose first `head` bytes (header, value, key and its NUL:
 * what a lookup reads) should share one cache line goes, given the next
 * free offset: padded to the next line when the head would cross one.
 * HC_PAD_MAX caps that padding (a head that would need more crosses the
 * line instead).  At HC_LINE, the default, no head that fits in a line
 * crosses one; measured on the benchmark's config-shaped 1.1M entries
 * (heads of 28 to 47 bytes, so one record per line), a cap of 24 bytes
 * takes the snapshot from 83.3 to about 77.4 B/entry but makes about 10%
 * of lookups read a third line.  The readers do not depend on it.
 */
#ifndef HC_PAD_MAX
#define HC_PAD_MAX HC_LINE
#endif
static uint64_t
place_record(uint64_t off, uint64_t head)
{
	off = align_up(off, 8);
	if (head <= HC_LINE && (off % HC_LINE) + head > HC_LINE &&
	    HC_LINE - off % HC_LINE <= HC_PAD_MAX)
		off = align_up(off, HC_LINE);
	return off;
}

/* The type byte of a record: its type, and whether it needs the
 * extension for a long key or a high source index. */
static unsigned
rec_tbyte(const struct bent *e)
{
	unsigned tb = e->type;

	if (e->klen > HC_REC_KLEN_MAX || e->source > HC_REC_SRC_MAX)
		tb |= HC_REC_EXT;
	return tb;
}

/*
 * Fill the index (see snap.h), in three passes.  First every key whose
 * preferred slot in its home bucket is free takes it, in key order; then
 * the others take any free slot of their home bucket; the keys that found
 * their home bucket full are placed last, each in the first following
 * bucket with room (its preferred slot there if free).  So a key is out of
 * its home bucket only if more than 8 keys share that bucket, every bucket
 * a probe passes on the way to a key is full, and as many keys as can be
 * are in their preferred slot.  The first pass hashes the records front to
 * back and prefetches each key's bucket a few keys ahead.
 */
#define PREFETCH 16

struct spill {
	uint64_t hv;
	uint32_t off;
};

/* Put (hv, off) into slot k of bk. */
static void
slot_put(struct hc_bucket *bk, unsigned k, uint64_t hv, uint32_t off)
{
	bk->tag[k] = hc_tag(hv);
	bk->off[k] = off;
}

/* Put (hv, off) into its preferred slot of bk if free, else into the first
 * free one; 0 if bk is full. */
static int
bucket_put(struct hc_bucket *bk, uint64_t hv, uint32_t off)
{
	unsigned k = hc_pref_slot(hc_tag(hv));

	if (bk->off[k] != 0) {
		for (k = 0; k < HC_BUCKET_SLOTS && bk->off[k] != 0; k++)
			;
		if (k == HC_BUCKET_SLOTS)
			return 0;
	}
	slot_put(bk, k, hv, off);
	return 1;
}

static int
fill_index(unsigned char *blob, struct hc_bucket *index, uint64_t bmask,
    const uint32_t *order, size_t n, uint64_t seed)
{
	uint64_t hvs[PREFETCH];
	struct spill *later = NULL;
	size_t nlater = 0, cap = 0, nspill = 0;

	for (size_t i = 0; i < n + PREFETCH; i++) {
		/* Place key i - PREFETCH, whose bucket was prefetched... */
		if (i >= PREFETCH) {
			size_t j = i - PREFETCH;
			uint64_t hv = hvs[j % PREFETCH];
			struct hc_bucket *bk = &index[hv & bmask];
			unsigned k = hc_pref_slot(hc_tag(hv));

			if (bk->off[k] == 0) {
				slot_put(bk, k, hv, order[j]);
			} else {
				if (nlater == cap) {
					size_t c = cap ? cap * 2 : 1024;
					struct spill *v = realloc(later,
					    c * sizeof(*v));
					if (v == NULL) {
						free(later);
						return -ENOMEM;
					}
					later = v;
					cap = c;
				}
				later[nlater++] = (struct spill){ hv, order[j] };
			}
		}
		/* ...then hash key i and prefetch its bucket. */
		if (i < n) {
			const struct hc_rec *r = (const void *)(blob + order[i]);
			uint64_t hv = hc_key_hash(hc_rec_key(r), hc_rec_klen(r),
			    seed);
			hvs[i % PREFETCH] = hv;
			__builtin_prefetch(&index[hv & bmask], 1);
		}
	}
	/* The rest of the home buckets; what does not fit is kept, in
	 * order, at the front of the same array. */
	for (size_t j = 0; j < nlater; j++) {
		if (j + PREFETCH < nlater)
			__builtin_prefetch(&index[later[j + PREFETCH].hv & bmask],
			    1);
		if (!bucket_put(&index[later[j].hv & bmask], later[j].hv,
		    later[j].off))
			later[nspill++] = later[j];
	}
	for (size_t j = 0; j < nspill; j++) {
		uint64_t b = later[j].hv & bmask;

		do
			b = (b + 1) & bmask;
		while (!bucket_put(&index[b], later[j].hv, later[j].off));
	}
	free(later);
	return 0;
}

int
hc_builder_finish(struct hc_builder *b, int64_t time_ns, void **blobp,
    size_t *sizep, char **dupkey)
{
	struct sortkey *sk = NULL;
	unsigned char *blob = NULL;
	uint64_t off, off_index, off_order, off_records, off_sources, size;
	uint64_t nslots, nbuckets;
	uint32_t log2 = 0;
	struct hc_snap_hdr *h;
	uint32_t *order;
	int rc = -ENOMEM;

	*blobp = NULL;
	*sizep = 0;
	if (dupkey)
		*dupkey = NULL;
	if (b->nsrcs == 0) {
		unsigned id;
		if ((rc = hc_builder_source(b, "", &id)) != 0)
			goto out;
		rc = -ENOMEM;
	}
	if (b->n >= UINT32_MAX / 4) {
		rc = -E2BIG;
		goto out;
	}
	if ((sk = malloc((b->n ? b->n : 1) * sizeof(*sk))) == NULL)
		goto out;
	for (size_t i = 0; i < b->n; i++) {
		sk[i].prefix = key_prefix(b->ents[i].key, b->ents[i].klen);
		sk[i].idx = (uint32_t)i;
	}
	qsort_r(sk, b->n, sizeof(*sk), sortkey_cmp, b->ents);
	for (size_t i = 1; i < b->n; i++) {
		const struct bent *x = &b->ents[sk[i - 1].idx];
		const struct bent *y = &b->ents[sk[i].idx];
		if (x->klen == y->klen && memcmp(x->key, y->key, x->klen) == 0) {
			if (dupkey)
				*dupkey = strndup(y->key, y->klen);
			rc = -EEXIST;
			goto out;
		}
	}

	/* Index: a power of two of 8-slot buckets, with at least 4/3 as
	 * many slots as keys, so the load stays at or under 0.75 and some
	 * bucket always has room. */
	nbuckets = 1;
	while (nbuckets * HC_BUCKET_SLOTS * 3 < (uint64_t)b->n * 4 + 4)
		nbuckets <<= 1;
	while ((UINT64_C(1) << log2) < nbuckets)
		log2++;
	nslots = nbuckets * HC_BUCKET_SLOTS;
	if (log2 > HC_BUCKETS_LOG2_MAX || b->n >= nslots) {
		rc = -E2BIG;
		goto out;
	}

	off_index = align_up(sizeof(struct hc_snap_hdr), HC_LINE);
	off = off_index + nbuckets * sizeof(struct hc_bucket);
	off_order = off;
	off += (uint64_t)b->n * sizeof(uint32_t);
	off_records = align_up(off, HC_LINE);
	off = off_records;
	for (size_t i = 0; i < b->n; i++) {
		const struct bent *e = &b->ents[sk[i].idx];
		unsigned tb = rec_tbyte(e);
		uint64_t head = hc_rec_keyoff(tb) + e->klen + 1;
		off = place_record(off, head);
		off += hc_rec_len(tb, e->klen, e->vlen);
	}
	off_sources = align_up(off, 8);
	off = off_sources + (uint64_t)b->nsrcs * sizeof(uint32_t);
	for (unsigned i = 0; i < b->nsrcs; i++)
		off += strlen(b->srcs[i]) + 1;
	size = align_up(off, 8);
	if (size > UINT32_MAX) {
		rc = -E2BIG;
		goto out;
	}

	if ((blob = calloc(1, size)) == NULL)
		goto out;
	h = (struct hc_snap_hdr *)blob;
	order = (uint32_t *)(blob + off_order);

	off = off_records;
	for (size_t i = 0; i < b->n; i++) {
		const struct bent *e = &b->ents[sk[i].idx];
		unsigned tb = rec_tbyte(e);
		uint64_t head = hc_rec_keyoff(tb) + e->klen + 1;
		struct hc_rec *r;
		unsigned char *p;

		off = place_record(off, head);
		r = (struct hc_rec *)(blob + off);
		r->vlen = hc_type_is_container(e->type) ? e->count : e->vlen;
		r->type = (uint8_t)tb;
		if (tb & HC_REC_EXT) {
			struct hc_rec_ext *x = (struct hc_rec_ext *)(r + 1);
			x->klen = e->klen;
			x->source = e->source;
		} else {
			r->klen = (uint16_t)e->klen;
			r->source = (uint8_t)e->source;
		}
		p = (unsigned char *)r + hc_rec_valoff(tb);
		if (hc_type_has_value(e->type)) {
			memcpy(p, &e->v, 8);
			p += 8;
		}
		memcpy(p, e->key, e->klen);
		p += e->klen + 1;
		memcpy(p, e->text, e->vlen);
		order[i] = (uint32_t)off;
		off += hc_rec_len(tb, e->klen, e->vlen);
	}
	{
		uint32_t *srcoff = (uint32_t *)(blob + off_sources);
		uint64_t so = off_sources + (uint64_t)b->nsrcs * sizeof(uint32_t);
		for (unsigned i = 0; i < b->nsrcs; i++) {
			size_t l = strlen(b->srcs[i]);
			srcoff[i] = (uint32_t)so;
			memcpy(blob + so, b->srcs[i], l + 1);
			so += l + 1;
		}
	}

	h->magic = HC_SNAP_MAGIC;
	h->version = HC_SNAP_VERSION;
	h->hdr_size = sizeof(*h);
	h->size = size;
	h->time_ns = time_ns;
	h->count = (uint32_t)b->n;
	h->buckets_log2 = log2;
	h->off_index = (uint32_t)off_index;
	h->off_order = (uint32_t)off_order;
	h->off_records = (uint32_t)off_records;
	h->off_sources = (uint32_t)off_sources;
	h->nsources = b->nsrcs;
	h->content_hash = hc_blob_content(blob, size);
	/* The seed follows from the content, so equal content gives an
	 * equal blob, and nobody can pick keys against a fixed seed. */
	h->seed = h->content_hash ^ UINT64_C(0x9e3779b97f4a7c15);

	if ((rc = fill_index(blob, (struct hc_bucket *)(blob + off_index),
	    nbuckets - 1, order, b->n, h->seed)) != 0)
		goto out;
	h->checksum = hc_blob_checksum(blob, size);

	*blobp = blob;
	*sizep = size;
	blob = NULL;
	rc = 0;
out:
	free(sk);
	free(blob);
	builder_reset(b);
	return rc;
}

uint64_t
hc_blob_content_hash(const void *blob)
{
	return ((const struct hc_snap_hdr *)blob)->content_hash;
}

void
hc_blob_set_generation(void *blob, uint64_t gen)
{
	struct hc_snap_hdr *h = blob;
	unsigned char *b = blob;

	h->checksum ^= XXH3_64bits(b + 16, 16);
	h->generation = gen;
	h->checksum ^= XXH3_64bits(b + 16, 16);
}
