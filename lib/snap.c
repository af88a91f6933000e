/*
 * snap.c - reading a snapshot in place: validation, point lookups, typed
 * getters and ordered iteration.
 *
 * Validation runs once per mapped snapshot and is the only place that
 * distrusts the blob: after it, every offset the lookups follow is known to
 * be in bounds, every key and text is NUL-terminated inside the blob, the
 * keys are strictly sorted, every used index slot names a distinct good
 * record (directly or through a link), and some bucket of the index has
 * an empty slot (so a probe ends).  A hostile blob that keeps the checksum
 * right can still lie about its values, but it cannot make a reader touch
 * memory outside the mapping.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hotcfg.h"
#include "internal.h"
#include "snap.h"

/*
 * The body hash, xor the hash of the 16 bytes of generation and build
 * time: the publisher changes the generation by swapping the second term
 * (see hc_blob_set_generation) without reading the body again, and yet no
 * byte of the blob but the checksum itself goes unchecked.
 */
uint64_t
hc_blob_checksum(const void *blob, size_t size)
{
	const unsigned char *b = blob;
	return XXH3_64bits(b + HC_SNAP_SUMFROM, size - HC_SNAP_SUMFROM) ^
	    XXH3_64bits(b + 16, 16);
}

uint64_t
hc_blob_content(const void *blob, size_t size)
{
	const struct hc_snap_hdr *h = blob;
	return XXH3_64bits((const unsigned char *)blob + h->off_records,
	    size - h->off_records);
}

static inline const struct hc_rec *
rec_at(const struct hotcfg_snap *s, uint32_t off)
{
	return (const struct hc_rec *)(const void *)(s->base + off);
}

static int
keycmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Is there a well-formed record at off, wholly inside [lo, hi)? */
static int
rec_ok(const unsigned char *base, uint64_t off, uint64_t lo, uint64_t hi,
    uint32_t nsources)
{
	const struct hc_rec *r;
	const char *key;
	uint64_t end, klen, tlen, src;
	unsigned tb, t;

	if (off < lo || off % 8 != 0 || off + sizeof(*r) > hi)
		return 0;
	r = (const struct hc_rec *)(const void *)(base + off);
	tb = r->type;
	if ((tb & ~(HC_REC_TYPE | HC_REC_EXT)) != 0)
		return 0;
	t = tb & HC_REC_TYPE;
	if (tb & HC_REC_EXT) {
		const struct hc_rec_ext *x = hc_rec_ext(r);
		if (off + sizeof(*r) + sizeof(*x) > hi ||
		    r->klen != 0 || r->source != 0)
			return 0;
		klen = x->klen;
		src = x->source;
		/* Only where the short header cannot say it. */
		if (klen <= HC_REC_KLEN_MAX && src <= HC_REC_SRC_MAX)
			return 0;
	} else {
		klen = r->klen;
		src = r->source;
	}
	if (src >= nsources)
		return 0;
	tlen = hc_type_is_container(t) ? 0 : r->vlen;
	end = off + hc_rec_len(tb, klen, tlen);
	if (end > hi)
		return 0;
	key = (const char *)r + hc_rec_keyoff(tb);
	if (key[klen] != '\0' || key[klen + 1 + tlen] != '\0')
		return 0;
	if (memchr(key, '\0', klen) != NULL)
		return 0;
	if (t == HOTCFG_BOOL) {
		uint64_t u;
		memcpy(&u, hc_rec_value(r), 8);
		if (u > 1)
			return 0;
	}
	return 1;
}

int
hc_snap_validate(const void *blob, size_t size, struct hotcfg_snap *v)
{
	const unsigned char *base = blob;
	const struct hc_snap_hdr *h = blob;
	uint64_t nbuckets, nslots, used = 0, open = 0, words, *seen = NULL;
	const uint32_t *order, *srcoff;
	const struct hc_bucket *index;

	if (size < sizeof(*h) || ((uintptr_t)blob & 7) != 0)
		return HOTCFG_ECORRUPT;
	if (h->magic != HC_SNAP_MAGIC)
		return HOTCFG_ECORRUPT;
	/* Formats 1 and 2 were published by hotcfgd before format 3; 0
	 * was never a version. */
	if (h->version != HC_SNAP_VERSION)
		return h->version != 0 ? HOTCFG_EVERSION : HOTCFG_ECORRUPT;
	if (h->hdr_size != sizeof(*h) || h->size != size || size % 8 != 0 ||
	    size > UINT32_MAX)
		return HOTCFG_ECORRUPT;
	if (h->checksum != hc_blob_checksum(blob, size))
		return HOTCFG_ECORRUPT;
	if (h->buckets_log2 > HC_BUCKETS_LOG2_MAX)
		return HOTCFG_ECORRUPT;
	nbuckets = UINT64_C(1) << h->buckets_log2;
	nslots = nbuckets * HC_BUCKET_SLOTS;
	if (h->count >= nslots || h->nsources == 0)
		return HOTCFG_ECORRUPT;
	if (h->off_index < sizeof(*h) || h->off_index % HC_LINE != 0 ||
	    h->off_index + nbuckets * sizeof(struct hc_bucket) > h->off_order ||
	    h->off_order % 4 != 0 ||
	    h->off_order + (uint64_t)h->count * 4 > h->off_records ||
	    h->off_records % 8 != 0 || h->off_records > h->off_sources ||
	    h->off_sources % 4 != 0 ||
	    h->off_sources + (uint64_t)h->nsources * 4 > size)
		return HOTCFG_ECORRUPT;

	order = (const uint32_t *)(const void *)(base + h->off_order);
	index = (const struct hc_bucket *)(const void *)(base + h->off_index);
	srcoff = (const uint32_t *)(const void *)(base + h->off_sources);

	/*
	 * Records are checked once, in key order (the order array), which
	 * reads them at random (they lie in runs by bucket).  Nothing
	 * here depends on where records lie, nor proves that they do not
	 * overlap (it never did: an overlap could only make one record's
	 * bytes lie about another's, which a hostile blob can do anyway).
	 * Each good record's start is marked in a bitmap (one bit per 8 bytes
	 * of record area), and a slot is then accepted only if it names a
	 * marked start, directly or through a link, whose mark it clears: a
	 * check in a small bitmap instead of a second rec_ok() at a random
	 * place in the blob, and one that also refuses two slots naming the
	 * same record.  Without memory for the bitmap, every slot's record is
	 * checked in place, as strictly as before.
	 */
	/* One bit per 8 bytes of the record area, rounded up: the area may
	 * end 4 bytes past a multiple of 8 (off_sources is only 4-aligned),
	 * and a slot naming its last 8-aligned offset must find its bit,
	 * unset, inside the bitmap. */
	words = (((uint64_t)(h->off_sources - h->off_records) + 7) / 8 + 63) /
	    64;
	seen = calloc(words ? words : 1, sizeof(*seen));
	for (uint32_t i = 0; i < h->count; i++) {
		/* Records lie in hash order: fetch ahead, so that the walk
		 * waits on many at once instead of one after another.  (An
		 * offset not yet checked is only a hint to the CPU.) */
		if (i + 32 < h->count && order[i + 32] < size - 64) {
			__builtin_prefetch(base + order[i + 32]);
			__builtin_prefetch(base + order[i + 32] + 63);
		}
		if (!rec_ok(base, order[i], h->off_records, h->off_sources,
		    h->nsources))
			goto corrupt;
		if (i > 0) {
			const struct hc_rec *a = (const void *)(base + order[i - 1]);
			const struct hc_rec *b = (const void *)(base + order[i]);
			if (keycmp(hc_rec_key(a), hc_rec_klen(a), hc_rec_key(b),
			    hc_rec_klen(b)) >= 0)
				goto corrupt;
		}
		if (seen) {
			uint64_t bit = (order[i] - h->off_records) / 8;
			seen[bit / 64] |= UINT64_C(1) << (bit % 64);
		}
	}
	/*
	 * The index: a bucket's base is 8-aligned but for HC_BASE_ALT and
	 * inside the record area; a used slot has a non-zero tag and names
	 * (at base + 8 * rel) a good record, or a link to one, that no other
	 * slot names; an empty slot is all zero; and some bucket has an
	 * empty slot, so that every probe ends.
	 */
	for (uint64_t k = 0; k < nbuckets; k++) {
		const struct hc_bucket *b = &index[k];
		uint64_t run = b->base & HC_BASE_MASK;
		unsigned empty = 0;

		if ((b->base & ~(HC_BASE_MASK | HC_BASE_ALT)) != 0)
			goto corrupt;
		for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
			uint64_t off = run + 8 * (uint64_t)b->rel[i];

			if (b->tag[i] == 0) {
				if (b->rel[i] != 0)
					goto corrupt;
				empty = 1;
				continue;
			}
			used++;
			if (off < h->off_records ||
			    off + sizeof(struct hc_rec) > h->off_sources)
				goto corrupt;
			if (base[off + offsetof(struct hc_rec, type)] ==
			    HC_REC_LINK) {
				const struct hc_rec *l = (const void *)(base + off);
				if (l->klen != 0 || l->source != 0)
					goto corrupt;
				off = l->vlen;
			}
			if (seen) {
				uint64_t bit = (off - h->off_records) / 8;
				if (off < h->off_records || off +
				    sizeof(struct hc_rec) > h->off_sources ||
				    off % 8 != 0 ||
				    !(seen[bit / 64] & (UINT64_C(1) << (bit % 64))))
					goto corrupt;
				seen[bit / 64] &= ~(UINT64_C(1) << (bit % 64));
			} else if (!rec_ok(base, off, h->off_records,
			    h->off_sources, h->nsources)) {
				goto corrupt;
			}
		}
		open += empty;
	}
	free(seen);
	seen = NULL;
	if (used != h->count || open == 0)
		return HOTCFG_ECORRUPT;
	{
		uint64_t names = h->off_sources + (uint64_t)h->nsources * 4;
		for (uint32_t i = 0; i < h->nsources; i++) {
			if (srcoff[i] < names || srcoff[i] >= size ||
			    memchr(base + srcoff[i], '\0', size - srcoff[i]) == NULL)
				return HOTCFG_ECORRUPT;
		}
	}

	v->base = base;
	v->size = size;
	v->index = index;
	v->order = order;
	v->sources = srcoff;
	v->bmask = nbuckets - 1;
	v->seed = h->seed;
	v->generation = h->generation;
	v->time_ns = h->time_ns;
	v->count = h->count;
	v->nsources = h->nsources;
	return 0;
corrupt:
	free(seen);
	return HOTCFG_ECORRUPT;
}

int
hc_snap_wrap(const void *blob, size_t size, hotcfg_snap **out)
{
	struct hotcfg_snap *s;
	int rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	if ((rc = hc_snap_validate(blob, size, s)) != 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void
hc_snap_unwrap(hotcfg_snap *s)
{
	free(s);
}

/* The point lookup: see hc_snap_find() in snap.h.  Inlined into each
 * getter: a call and its register saves are a tenth of a 1k-key lookup. */
static inline __attribute__((always_inline)) const struct hc_rec *
find(const struct hotcfg_snap *s, const char *key)
{
	return hc_snap_find(s, key, strlen(key));
}

/* The pairs the typed getters take under HC_WANT_PAIR differ in bit 0
 * only, and keep their key at the same offset. */
_Static_assert((HOTCFG_INT & 1) == 0 && (HOTCFG_INT | 1) == HOTCFG_FLOAT,
    "INT and FLOAT are a pair");
_Static_assert((HOTCFG_STR & 1) == 0 && (HOTCFG_STR | 1) == HOTCFG_BYTES,
    "STR and BYTES are a pair");

/* The same for a getter that takes the records whose type byte, under
 * wmask, is want (hc_snap_find_typed()). */
static inline __attribute__((always_inline)) const struct hc_rec *
find_typed(const struct hotcfg_snap *s, const char *key, unsigned wmask,
    unsigned want)
{
	return hc_snap_find_typed(s, key, strlen(key), 0, wmask, want);
}

uint64_t
hotcfg_snap_generation(const hotcfg_snap *s)
{
	return s->generation;
}

size_t
hotcfg_snap_count(const hotcfg_snap *s)
{
	return s->count;
}

size_t
hotcfg_snap_size(const hotcfg_snap *s)
{
	return (size_t)s->size;
}

int64_t
hotcfg_snap_time(const hotcfg_snap *s)
{
	return s->time_ns;
}

unsigned
hotcfg_snap_nsources(const hotcfg_snap *s)
{
	return s->nsources;
}

const char *
hotcfg_snap_source(const hotcfg_snap *s, unsigned id)
{
	if (id >= s->nsources)
		return NULL;
	return (const char *)s->base + s->sources[id];
}

int
hotcfg_get_int(const hotcfg_snap *s, const char *key, int64_t *out)
{
	const struct hc_rec *r = find_typed(s, key, HC_WANT_ONE, HOTCFG_INT);

	if (r == NULL)
		return -ENOENT;
	if (HC_LIKELY(r->type == HOTCFG_INT)) {
		/* What the inline test takes: the value after the header. */
		memcpy(out, r + 1, sizeof(*out));
		return 0;
	}
	if (hc_rec_type(r) != HOTCFG_INT)
		return HOTCFG_ETYPE;
	memcpy(out, hc_rec_value(r), sizeof(*out));
	return 0;
}

int
hotcfg_get_float(const hotcfg_snap *s, const char *key, double *out)
{
	/* FLOAT and INT (an integer reads as a float) differ in bit 0. */
	const struct hc_rec *r = find_typed(s, key, HC_WANT_PAIR, HOTCFG_INT);
	int64_t i;

	if (r == NULL)
		return -ENOENT;
	if (hc_rec_type(r) == HOTCFG_FLOAT) {
		memcpy(out, hc_rec_value(r), sizeof(*out));
		return 0;
	}
	if (hc_rec_type(r) == HOTCFG_INT) {
		memcpy(&i, hc_rec_value(r), sizeof(i));
		*out = (double)i;
		return 0;
	}
	return HOTCFG_ETYPE;
}

int
hotcfg_get_bool(const hotcfg_snap *s, const char *key, bool *out)
{
	const struct hc_rec *r = find_typed(s, key, HC_WANT_ONE, HOTCFG_BOOL);
	uint64_t u;

	if (r == NULL)
		return -ENOENT;
	if (hc_rec_type(r) != HOTCFG_BOOL)
		return HOTCFG_ETYPE;
	memcpy(&u, hc_rec_value(r), sizeof(u));
	*out = u != 0;
	return 0;
}

int
hotcfg_get_str(const hotcfg_snap *s, const char *key, const char **out)
{
	const struct hc_rec *r = find_typed(s, key, HC_WANT_ONE, HOTCFG_STR);

	if (r == NULL)
		return -ENOENT;
	if (hc_rec_type(r) != HOTCFG_STR)
		return HOTCFG_ETYPE;
	*out = hc_rec_text(r);
	return 0;
}

int
hotcfg_get_bytes(const hotcfg_snap *s, const char *key, const void **data,
    size_t *len)
{
	/* STR and BYTES differ in bit 0. */
	const struct hc_rec *r = find_typed(s, key, HC_WANT_PAIR, HOTCFG_STR);

	if (r == NULL)
		return -ENOENT;
	if (hc_rec_type(r) != HOTCFG_BYTES && hc_rec_type(r) != HOTCFG_STR)
		return HOTCFG_ETYPE;
	*data = hc_rec_text(r);
	*len = hc_rec_tlen(r);
	return 0;
}

static void
fill_entry(const struct hc_rec *r, hotcfg_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->key = hc_rec_key(r);
	e->key_len = hc_rec_klen(r);
	e->type = hc_rec_type(r);
	e->text = hc_rec_text(r);
	e->text_len = hc_rec_tlen(r);
	e->source = hc_rec_source(r);
	switch (hc_rec_type(r)) {
	case HOTCFG_BOOL: {
		uint64_t u;
		memcpy(&u, hc_rec_value(r), 8);
		e->b = u != 0;
		break;
	}
	case HOTCFG_INT:
		memcpy(&e->i, hc_rec_value(r), 8);
		e->f = (double)e->i;
		break;
	case HOTCFG_FLOAT:
		memcpy(&e->f, hc_rec_value(r), 8);
		break;
	case HOTCFG_MAP:
	case HOTCFG_SEQ:
		e->count = r->vlen;
		break;
	}
}

int
hotcfg_get(const hotcfg_snap *s, const char *key, hotcfg_entry *e)
{
	const struct hc_rec *r = find(s, key);

	if (r == NULL)
		return -ENOENT;
	fill_entry(r, e);
	return 0;
}

int
hotcfg_get_type(const hotcfg_snap *s, const char *key, int *type)
{
	const struct hc_rec *r = find(s, key);

	if (r == NULL)
		return -ENOENT;
	*type = hc_rec_type(r);
	return 0;
}

int
hotcfg_get_count(const hotcfg_snap *s, const char *key, size_t *out)
{
	const struct hc_rec *r = find(s, key);

	if (r == NULL)
		return -ENOENT;
	if (hc_rec_type(r) != HOTCFG_MAP && hc_rec_type(r) != HOTCFG_SEQ)
		return HOTCFG_ETYPE;
	*out = r->vlen;
	return 0;
}

/* Index of the first key >= (key, len). */
static uint32_t
lower_bound(const struct hotcfg_snap *s, const char *key, size_t len)
{
	uint32_t lo = 0, hi = s->count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct hc_rec *r = rec_at(s, s->order[mid]);
		if (keycmp(hc_rec_key(r), hc_rec_klen(r), key, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The cursor holds the index of the next entry plus one, so that 0 means
 * "start".  Keys that share the prefix bytes but not the subtree ("ab"
 * under prefix "a") sort among the subtree's keys and are skipped.
 */
int
hotcfg_next(const hotcfg_snap *s, const char *prefix, size_t *cursor,
    hotcfg_entry *e)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	size_t i;

	if (*cursor == 0)
		i = plen ? lower_bound(s, prefix, plen) : 0;
	else
		i = *cursor - 1;
	for (; i < s->count; i++) {
		const struct hc_rec *r = rec_at(s, s->order[i]);
		const char *k = hc_rec_key(r);
		if (plen) {
			if (hc_rec_klen(r) < plen || memcmp(k, prefix, plen) != 0)
				break;
			if (hc_rec_klen(r) > plen && k[plen] != '.' && k[plen] != '[')
				continue;
		}
		fill_entry(r, e);
		*cursor = i + 2;
		return 0;
	}
	*cursor = (size_t)s->count + 1;
	return -ENOENT;
}
