/*
 * build.c - the snapshot builder.
 *
 * The agent adds entries in any order; hc_builder_finish() sorts them by
 * key (cheaply when they come sorted or nearly: see insertion_sort()),
 * refuses duplicates, lays out the records (see snap.h for the format and
 * layout_records() for how records are packed), computes the content hash,
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

/*
 * Sorting input that is already sorted, or nearly.  The agent hands the
 * entries over in the order of a depth-first walk of its tree: key order
 * wherever siblings came in key order, and otherwise out of order only
 * among the siblings of one map.  So the builder first counts the places
 * where the order breaks (in the pass that computes the prefixes), and
 * then: none, no sort at all (and no duplicate check, the keys being
 * strictly increasing); up to one entry in four, an insertion sort, as
 * long as the entries it steps over add up to at most INSERT_BUDGET per
 * entry (local disorder, such as the siblings of small maps in file
 * order, costs a few comparisons per entry); past that, a natural merge
 * sort if the ascending runs are few (a whole subtree out of place), else
 * qsort_r() (random order breaks at every other entry).
 */
#define INSERT_BUDGET 4u
#define RUNS_MERGE_MAX(n) ((n) / 16 + 1)

static size_t
count_breaks(const struct sortkey *a, size_t n, const struct bent *ents)
{
	size_t k = 0;

	for (size_t i = 1; i < n; i++)
		k += sortkey_cmp(&a[i - 1], &a[i], (void *)ents) > 0;
	return k;
}

/* Insertion sort of a[0..n), stepping over at most budget entries in all;
 * 0 if the budget ran out (a is then a permutation, partly sorted). */
static int
insertion_sort(struct sortkey *a, size_t n, const struct bent *ents,
    size_t budget)
{
	for (size_t i = 1; i < n; i++) {
		struct sortkey x;
		size_t j = i - 1;

		if (sortkey_cmp(&a[j], &a[i], (void *)ents) <= 0)
			continue;
		x = a[i];
		while (j > 0 && sortkey_cmp(&a[j - 1], &x, (void *)ents) > 0)
			if (i - --j > budget)
				return 0;
		if (i - j > budget)
			return 0;
		budget -= i - j;
		memmove(&a[j + 1], &a[j], (i - j) * sizeof(*a));
		a[j] = x;
	}
	return 1;
}

static void
merge_runs(struct sortkey *a, struct sortkey *tmp, size_t *bound,
    size_t nruns, const struct bent *ents)
{
	/* bound[0..nruns]: run r is a[bound[r] .. bound[r + 1]). */
	while (nruns > 1) {
		size_t out = 0;

		for (size_t r = 0; r < nruns; r += 2) {
			size_t lo = bound[r], mid, hi, i, j, k;

			if (r + 1 == nruns) {
				memcpy(tmp + lo, a + lo,
				    (bound[r + 1] - lo) * sizeof(*a));
				bound[out++] = lo;
				continue;
			}
			mid = bound[r + 1];
			hi = bound[r + 2];
			i = lo;
			j = mid;
			k = lo;
			while (i < mid && j < hi)
				tmp[k++] = sortkey_cmp(&a[j], &a[i],
				    (void *)ents) < 0 ? a[j++] : a[i++];
			memcpy(tmp + k, a + i, (mid - i) * sizeof(*a));
			k += mid - i;
			memcpy(tmp + k, a + j, (hi - j) * sizeof(*a));
			bound[out++] = lo;
		}
		bound[out] = bound[nruns];
		nruns = out;
		{
			struct sortkey *t = a;
			memcpy(t, tmp, bound[nruns] * sizeof(*a));
		}
	}
}

static uint64_t
align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
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
 * Record layout.  A lookup reads a record's head (header, extension,
 * binary value and the key bytes, which it compares with memcmp(), not the
 * key's NUL) and nothing else, so a head must not cross a 64-byte line
 * (two lines per lookup: the bucket and the head); the NUL and the text
 * after it may.  The order array gives key order, so where records lie is
 * free, and the builder packs them: it keeps a pool of the next PACK_W
 * records in key order and, with r bytes left in the current line, places
 * the oldest pooled record whose head fits in r and that fills the line
 * (the record reaches the line's end or spills into the next line), or
 * else the oldest whose head fits and after which another pooled record
 * would fill the rest of the line, or else the longest whose head fits; it
 * pads to the next line only when no pooled head fits.  A record that has
 * waited PACK_WAIT placements goes next whatever it costs, so no record
 * lands more than about that many records from its key-order place and
 * iteration in key order reads the record area almost sequentially.
 * Heads longer than a line start at a line.  Everything depends on the
 * entries alone, so equal entries give an equal blob.  On the benchmark's
 * 1.1M config-shaped entries this leaves 9.5 bytes of line padding per
 * entry (15.3 with one record per line), the optimum there: with heads of
 * 27 to 46 bytes and records of 32 to 64, a line that starts empty is only
 * filled exactly by a 64-byte record or two 32-byte ones; pools of 16 or
 * 32 do no better than 8.
 */
#ifndef PACK_W
#define PACK_W    8
#endif
#define PACK_WAIT (4 * PACK_W)

/*
 * The pool, in key order: record index, record bytes (8-aligned), and
 * for the line arithmetic, one byte per record: the head (at most a line)
 * and the record bytes capped at 127, compared for all records at once
 * (SWAR on 64-bit words: every byte is below 128, so a byte-wise
 * subtraction never borrows from its neighbour).  Empty places hold head
 * 127 and length 0, which never fit.
 */
#define POOL_WORDS (PACK_W / 8)
_Static_assert(PACK_W % 8 == 0, "the pool is whole 64-bit words");

struct pool {
	union { uint8_t b[PACK_W]; uint64_t w[POOL_WORDS]; } h, lc;
	uint32_t idx[PACK_W];
	uint64_t len[PACK_W];
	unsigned n;
	/* cnt[q]: pooled records that would fill a line with 8q bytes left
	 * (head <= 8q <= len), q = 1..7. */
	unsigned cnt[HC_LINE / 8];
};

#define B_LO UINT64_C(0x0101010101010101)
#define B_HI UINT64_C(0x8080808080808080)

/* 0x80 in each byte of a (below 128) that is >= v (below 128). */
static inline uint64_t
swar_ge(uint64_t a, unsigned v)
{
	return ((a | B_HI) - B_LO * v) & B_HI;
}

/* 0x80 in each byte of a that is <= v. */
static inline uint64_t
swar_le(uint64_t a, unsigned v)
{
	return ((B_LO * v | B_HI) - a) & B_HI;
}

/* 0x80 in each byte of a equal to v. */
static inline uint64_t
swar_eq(uint64_t a, unsigned v)
{
	uint64_t x = a ^ (B_LO * v), l7 = ~B_HI;
	return ~(((x & l7) + l7) | x | l7);
}

/* The first (oldest) record of a byte mask over the pool's words, or -1. */
static inline int
swar_first(const uint64_t *m)
{
	for (unsigned k = 0; k < POOL_WORDS; k++)
		if (m[k] != 0)
			return (int)(k * 8 + (unsigned)__builtin_ctzll(m[k]) / 8);
	return -1;
}

static void
pool_count(struct pool *p, unsigned j, unsigned d)
{
	for (unsigned r = (p->h.b[j] + 7u) & ~7u; r < HC_LINE &&
	    r <= p->lc.b[j]; r += 8)
		p->cnt[r / 8] += d;
}

static void
pool_add(struct pool *p, const struct bent *e, uint32_t i)
{
	unsigned tb = rec_tbyte(e), j = p->n++;
	uint64_t head = hc_rec_keyoff(tb) + e->klen;
	uint64_t len = align_up(hc_rec_len(tb, e->klen, e->vlen), 8);

	p->idx[j] = i;
	p->h.b[j] = (uint8_t)(head > HC_LINE ? HC_LINE : head);
	p->len[j] = len;
	p->lc.b[j] = (uint8_t)(len > 127 ? 127 : len);
	pool_count(p, j, 1);
}

static void
pool_del(struct pool *p, unsigned j)
{
	unsigned n = --p->n;

	pool_count(p, j, (unsigned)-1);
	memmove(&p->h.b[j], &p->h.b[j + 1], n - j);
	memmove(&p->lc.b[j], &p->lc.b[j + 1], n - j);
	memmove(&p->idx[j], &p->idx[j + 1], (n - j) * sizeof(p->idx[0]));
	memmove(&p->len[j], &p->len[j + 1], (n - j) * sizeof(p->len[0]));
	p->h.b[n] = 127;
	p->lc.b[n] = 0;
}

/*
 * Which pooled record goes next with r bytes left in the line (r a
 * multiple of 8), or -1: pad to the next line.  The oldest that fills the
 * line (head <= r <= length); else the oldest after which another pooled
 * record would fill the rest, 8q bytes (length r - 8q, and cnt[q] counts
 * some record other than itself); else the longest that fits.
 */
static int
pool_pick(const struct pool *p, unsigned r)
{
	uint64_t fit[POOL_WORDS], m[POOL_WORDS], any = 0;
	int j;

	for (unsigned k = 0; k < POOL_WORDS; k++) {
		fit[k] = swar_le(p->h.w[k], r);
		m[k] = fit[k] & swar_ge(p->lc.w[k], r);
		any |= fit[k];
	}
	if (any == 0)
		return -1;
	if ((j = swar_first(m)) >= 0)
		return j;
	any = 0;
	for (unsigned k = 0; k < POOL_WORDS; k++)
		m[k] = 0;
	for (unsigned q = 1; 8 * q < r; q++) {
		if (p->cnt[q] == 0)
			continue;
		for (unsigned k = 0; k < POOL_WORDS; k++) {
			uint64_t c = fit[k] & swar_eq(p->lc.w[k], r - 8 * q);
			/* The only record filling 8q cannot follow itself. */
			if (p->cnt[q] == 1)
				c &= ~(swar_le(p->h.w[k], 8 * q) &
				    swar_ge(p->lc.w[k], 8 * q));
			m[k] |= c;
			any |= c;
		}
	}
	if (any != 0)
		return swar_first(m);
	for (unsigned v = r - 8; v >= 8; v -= 8) {
		for (unsigned k = 0; k < POOL_WORDS; k++)
			m[k] = fit[k] & swar_eq(p->lc.w[k], v);
		if ((j = swar_first(m)) >= 0)
			return j;
	}
	return -1;
}

/* Lay out the n records of b (key order sk) from off: offs[i] is record
 * i's offset, seq[k] the record k-th in the blob.  Returns the end. */
static uint64_t
layout_records(const struct hc_builder *b, const struct sortkey *sk,
    uint64_t off, uint32_t *offs, uint32_t *seq)
{
	struct pool p;
	size_t next = 0, k = 0, n = b->n;

	memset(&p, 0, sizeof(p));
	memset(p.h.b, 127, sizeof(p.h.b));
	while (p.n < PACK_W && next < n) {
		pool_add(&p, &b->ents[sk[next].idx], (uint32_t)next);
		next++;
	}
	while (p.n > 0) {
		unsigned r = HC_LINE - (unsigned)(off % HC_LINE);
		int pick;

		if (next - p.idx[0] > PACK_WAIT) {
			pick = 0;
			if (p.h.b[0] > r)
				off = align_up(off, HC_LINE);
		} else if ((pick = pool_pick(&p, r)) < 0) {
			off = align_up(off, HC_LINE);
			continue;
		}
		offs[p.idx[pick]] = (uint32_t)off;
		seq[k++] = p.idx[pick];
		off += p.len[pick];
		pool_del(&p, (unsigned)pick);
		if (next < n) {
			pool_add(&p, &b->ents[sk[next].idx], (uint32_t)next);
			next++;
		}
	}
	return off;
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
	uint32_t *offs = NULL, *seq;
	unsigned char *blob = NULL;
	uint64_t off, off_index, off_order, off_records, off_sources, size;
	uint64_t nslots, nbuckets;
	uint32_t log2 = 0;
	size_t breaks = 0, ties = 0;
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
		/* (Past n/4 breaks the order is qsort_r()'s to make.) */
		if (i > 0 && breaks <= b->n / 4) {
			int c = sortkey_cmp(&sk[i - 1], &sk[i], b->ents);
			breaks += c > 0;
			ties += c == 0;
		}
	}
	if (breaks == 0 && ties == 0)
		goto sorted;
	if (breaks <= b->n / 4 && insertion_sort(sk, b->n, b->ents,
	    (size_t)INSERT_BUDGET * b->n))
		;
	else if ((breaks = count_breaks(sk, b->n, b->ents)) <
	    RUNS_MERGE_MAX(b->n)) {
		size_t *bound = NULL, nr = 0;
		struct sortkey *tmp = malloc(b->n * sizeof(*tmp));

		if (tmp == NULL || (bound = malloc((breaks + 2) *
		    sizeof(*bound))) == NULL) {
			free(tmp);
			goto out;
		}
		bound[nr++] = 0;
		for (size_t i = 1; i < b->n; i++)
			if (sortkey_cmp(&sk[i - 1], &sk[i], b->ents) > 0)
				bound[nr++] = i;
		bound[nr] = b->n;
		merge_runs(sk, tmp, bound, nr, b->ents);
		free(bound);
		free(tmp);
	} else {
		qsort_r(sk, b->n, sizeof(*sk), sortkey_cmp, b->ents);
	}
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
sorted:

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
	if ((offs = malloc((b->n ? b->n : 1) * 2 * sizeof(*offs))) == NULL)
		goto out;
	seq = offs + b->n;
	off = layout_records(b, sk, off_records, offs, seq);
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

	/* The records in the order they sit in the blob (front to back),
	 * the order array in key order. */
	for (size_t k = 0; k < b->n; k++) {
		const struct bent *e = &b->ents[sk[seq[k]].idx];
		unsigned tb = rec_tbyte(e);
		struct hc_rec *r;
		unsigned char *p;

		r = (struct hc_rec *)(blob + offs[seq[k]]);
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
	}
	memcpy(order, offs, b->n * sizeof(*order));
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
	free(offs);
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
