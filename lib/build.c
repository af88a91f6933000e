/*
 * build.c - the snapshot builder.
 *
 * The agent adds entries in any order; hc_builder_finish() sorts them by
 * key (cheaply when they come sorted or nearly: see insertion_sort()),
 * refuses duplicates, derives the hash seed from the keys, hashes them
 * and groups them by bucket, assigns index slots (assign_slots()), picks
 * each bucket's tags (choose_tags()), lays out the records in runs
 * (layout_runs(); see snap.h for the format), writes them (from
 * PAR_MIN entries on, the layout and the writing are shared by two
 * threads), and computes the content hash and the checksum.  The result
 * is one malloc'd block that the publisher writes to a file as it is.
 *
 * Keys and texts are copied into an arena of large chunks so that adding a
 * million entries costs a million small copies, not a million mallocs.
 * Sorting compares a big-endian 8-byte key prefix first, which settles most
 * comparisons without touching the arena.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
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
			hc_format_int(e->i, num);
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

/* Eight key bytes at p as a number whose order is theirs (big-endian). */
static inline uint64_t
load_be64(const char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	return w;
}

/* A key's first 8 bytes as a number in key order, zero-padded. */
static uint64_t
key_prefix(const char *k, uint32_t len)
{
	uint64_t p = 0;

	if (len >= 8)
		return load_be64(k);
	for (uint32_t i = 0; i < 8; i++)
		p = (p << 8) | (i < len ? (unsigned char)k[i] : 0);
	return p;
}

/*
 * Key order: bytes, then length (a key sorts before its extensions), for
 * keys of at least 8 bytes whose first 8 are known to agree.  Inline,
 * eight bytes at a time: the sort calls it for every pair of keys with
 * equal prefixes, and config keys share long ones ("services.").  The
 * last word is read at the end of the shorter key, overlapping bytes
 * already found equal, so no byte past either key is read.
 */
static inline int
keycmp_from8(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
	uint32_t n = alen < blen ? alen : blen, i;
	uint64_t x, y;

	for (i = 8; i + 8 <= n; i += 8)
		if ((x = load_be64(a + i)) != (y = load_be64(b + i)))
			return x < y ? -1 : 1;
	if (i < n && (x = load_be64(a + n - 8)) != (y = load_be64(b + n - 8)))
		return x < y ? -1 : 1;
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
	/* Equal prefixes.  A key under 8 bytes is all there in its prefix,
	 * zero-padded, and no key holds a NUL (hc_builder_add()), so the
	 * other key is the same key. */
	if (x->klen < 8 || y->klen < 8)
		return x->klen < y->klen ? -1 : x->klen > y->klen;
	return keycmp_from8(x->key, x->klen, y->key, y->klen);
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

/* memcpy() for the short keys and texts of most records, without a call:
 * two overlapping moves of 8 or 16 bytes cover 8 to 32 bytes. */
static inline void
copy_short(unsigned char *d, const char *s, size_t n)
{
	uint64_t a, b;

	if (n >= 8 && n <= 16) {
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n > 16 && n <= 32) {
		uint64_t c, e;
		memcpy(&a, s, 8);
		memcpy(&b, s + 8, 8);
		memcpy(&c, s + n - 16, 8);
		memcpy(&e, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + 8, &b, 8);
		memcpy(d + n - 16, &c, 8);
		memcpy(d + n - 8, &e, 8);
	} else {
		memcpy(d, s, n);
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
 * after it may.  The records of a bucket's run (snap.h) may lie in any
 * order, and the builder packs them: with r bytes left in the current
 * line, it places the first of the pooled records (oldest first) whose
 * head fits in r and that fills the line (the record reaches the line's
 * end or spills into the next line), or else the first whose head fits
 * and after which another pooled record would fill the rest of the line, or
 * else the longest whose head fits; it pads to the next line only when no
 * head of the pool fits.  Heads longer than a line start at a line.  The
 * pool holds the records of two runs, the oldest unfinished one and the
 * next (layout_runs()), so runs interleave a little: with only the 4.2
 * records of an average run to choose from, packing cost 12.0 bytes of
 * padding per entry on the benchmark's 1.1M entries, with two runs 10.5
 * (9.5 for the 8 next records in key order, before runs).
 * Everything depends on the entries alone, so equal entries give an
 * equal blob.  The records of links (those a run could not reach) are
 * packed the same way after the last run, from a window of PACK_W of them
 * in the order their links were made.
 */
#ifndef PACK_W
#define PACK_W    8
#endif
#define PACK_WAIT (4 * PACK_W)
#define POOL_CAP  40            /* two runs: 2 * HC_BUCKET_SLOTS */
_Static_assert(PACK_W <= POOL_CAP && 2 * HC_BUCKET_SLOTS <= POOL_CAP,
    "the pool holds a window and two runs");

/*
 * The pool: record index, record bytes (8-aligned), and for the line
 * arithmetic, one byte per record: the head (at most a line) and the
 * record bytes capped at 127, compared for all records at once (SWAR on
 * 64-bit words: every byte is below 128, so a byte-wise subtraction never
 * borrows from its neighbour).  Empty places hold head 127 and length 0,
 * which never fit.
 */
#define POOL_WORDS (POOL_CAP / 8)
_Static_assert(POOL_CAP % 8 == 0, "the pool is whole 64-bit words");

struct pool {
	union { uint8_t b[POOL_CAP]; uint64_t w[POOL_WORDS]; } h, lc;
	uint32_t idx[POOL_CAP];
	uint64_t len[POOL_CAP];
	uint8_t run[POOL_CAP];  /* runs: which of the open two */
	uint8_t slot[POOL_CAP]; /* runs: the slot naming the record */
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

/* The first (oldest) record of a byte mask over the pool's first nw
 * words, or -1. */
static inline int
swar_first(const uint64_t *m, unsigned nw)
{
	for (unsigned k = 0; k < nw; k++)
		if (m[k] != 0)
			return (int)(k * 8 + (unsigned)__builtin_ctzll(m[k]) / 8);
	return -1;
}

static void
pool_init(struct pool *p)
{
	p->n = 0;
	memset(p->cnt, 0, sizeof(p->cnt));
	memset(p->h.b, 127, sizeof(p->h.b));
	memset(p->lc.b, 0, sizeof(p->lc.b));
}

static void
pool_count(struct pool *p, unsigned j, unsigned d)
{
	for (unsigned r = (p->h.b[j] + 7u) & ~7u; r < HC_LINE &&
	    r <= p->lc.b[j]; r += 8)
		p->cnt[r / 8] += d;
}

/* The head a lookup reads of e's record, and the record's bytes. */
static void
rec_size(const struct bent *e, uint32_t *head, uint64_t *len)
{
	unsigned tb = rec_tbyte(e);
	uint64_t h = hc_rec_keyoff(tb) + e->klen;

	*head = (uint32_t)(h > HC_LINE ? HC_LINE : h);
	*len = align_up(hc_rec_len(tb, e->klen, e->vlen), 8);
}

static void
pool_add(struct pool *p, uint32_t head, uint64_t len, uint32_t i)
{
	unsigned j = p->n++;

	p->idx[j] = i;
	p->h.b[j] = (uint8_t)head;
	p->len[j] = len;
	p->lc.b[j] = (uint8_t)(len > 127 ? 127 : len);
	pool_count(p, j, 1);
}

static void
pool_del(struct pool *p, unsigned j)
{
	unsigned n = --p->n;

	pool_count(p, j, (unsigned)-1);
	for (unsigned k = j; k < n; k++) {
		p->h.b[k] = p->h.b[k + 1];
		p->lc.b[k] = p->lc.b[k + 1];
		p->idx[k] = p->idx[k + 1];
		p->len[k] = p->len[k + 1];
		p->run[k] = p->run[k + 1];
		p->slot[k] = p->slot[k + 1];
	}
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
	uint64_t fit, m[POOL_WORDS], any = 0;
	unsigned nw = (p->n + 7) / 8;   /* the words in use; the rest empty */
	int j;

	for (unsigned k = 0; k < nw; k++) {
		fit = swar_le(p->h.w[k], r);
		m[k] = fit & swar_ge(p->lc.w[k], r);
		any |= fit;
	}
	if (any == 0)
		return -1;
	if ((j = swar_first(m, nw)) >= 0)
		return j;
	/* No record fills the line, so every one that fits is shorter than
	 * r: the oldest after which another could fill the rest, else the
	 * longest (the oldest of equals).  once, twice: bit q set when at
	 * least one, two pooled records would fill 8q bytes. */
	{
		unsigned once = 0, twice = 0, best = 0;

		for (unsigned q = 1; q < HC_LINE / 8; q++) {
			once |= (unsigned)(p->cnt[q] >= 1) << q;
			twice |= (unsigned)(p->cnt[q] >= 2) << q;
		}
		j = -1;
		for (unsigned k = 0; k < p->n; k++) {
			unsigned h = p->h.b[k], l = p->lc.b[k], q;

			if (h > r)
				continue;
			q = (r - l) / 8;
			/* (The only record filling 8q cannot follow itself.) */
			if (((twice >> q) & 1) || (((once >> q) & 1) &&
			    !(h <= 8 * q && 8 * q <= l)))
				return (int)k;
			if (l > best) {
				best = l;
				j = (int)k;
			}
		}
	}
	return j;
}

/*
 * The index and the runs.  The builder hashes every key (in key order),
 * groups the keys by home bucket (a counting sort), and then, bucket by
 * bucket: every key whose preferred slot is free takes it, the others the
 * lowest free slots; keys beyond 20 are carried on to the following
 * buckets, which take them after their own keys (the few left after the
 * last bucket go round to the first ones with room).  Then each bucket
 * picks its tags: bits 48-63 of the hash, or bits 32-47 if fewer of its
 * keys would then meet another key's record before their own (see
 * lookup_ok()).  Finally the runs are laid out, in bucket order.
 */
struct gkey {
	uint64_t hv;
	uint32_t i;             /* key order */
	uint32_t ent;           /* b->ents[] */
	uint32_t head;          /* rec_size() */
	uint32_t len;
};

/* Would a lookup of the key in slot j of a bucket whose slot keys have
 * tags tag[] (0: empty) and whose key in slot j prefers slot p read no
 * record but its own?  (The fast path reads slot p's if the tag matches;
 * the probe then reads every matching slot's in slot order.) */
static int
lookup_ok(const uint16_t *tag, unsigned j, unsigned p)
{
	if (p == j)
		return 1;       /* the inline test finds it */
	if (tag[p] == tag[j])
		return 0;
	for (unsigned i = 0; i < j; i++)
		if (i != p && tag[i] == tag[j])
			return 0;
	return 1;
}

struct layout {
	struct gkey *g;
	const uint32_t *first;  /* bucket b's keys: g[first[b] .. first[b + 1]) */
	uint32_t *carry;        /* keys carried on from full buckets (FIFO) */
	size_t ncarry, carrycap, carryhead;
	uint32_t *offs;         /* key order: record offset */
	uint32_t *far;          /* g[] indexes of linked records */
	uint32_t *linkat;       /* where far[k]'s link is */
	size_t nfar;
	uint64_t *half2;        /* the second half: bit i set for key i */
};


#define SLOTS_ALL ((1u << HC_BUCKET_SLOTS) - 1)

/* Assign bucket b's slots: w[i] = g index + 1 (0: empty), *usedp the
 * used slots.  Keys that find b full join lay->carry, and b takes what
 * earlier buckets carried after its own.  -ENOMEM. */
static int
assign_bucket(struct layout *lay, uint64_t b, uint32_t *w, uint32_t *usedp)
{
	uint32_t lo = lay->first[b], hi = lay->first[b + 1], used = 0;

	memset(w, 0, HC_BUCKET_SLOTS * sizeof(*w));
	/* Own keys: preferred slots, then the lowest free. */
	for (uint32_t x = lo; x < hi; x++) {
		unsigned p = hc_pref_slot(lay->g[x].hv);
		if (w[p] == 0) {
			w[p] = x + 1;
			used |= 1u << p;
		}
	}
	for (uint32_t x = lo; x < hi; x++) {
		unsigned p = hc_pref_slot(lay->g[x].hv), k;
		uint32_t freem = ~used & SLOTS_ALL;

		if (w[p] == x + 1)
			continue;
		if (freem != 0) {
			k = (unsigned)__builtin_ctz(freem);
			w[k] = x + 1;
			used |= 1u << k;
			continue;
		}
		if (lay->ncarry == lay->carrycap) {
			size_t c = lay->carrycap ? lay->carrycap * 2 : 64;
			uint32_t *v = realloc(lay->carry, c * sizeof(*v));
			if (v == NULL)
				return -ENOMEM;
			lay->carry = v;
			lay->carrycap = c;
		}
		lay->carry[lay->ncarry++] = x;
	}
	/* Then keys carried from full buckets before this one. */
	while (lay->carryhead < lay->ncarry) {
		uint32_t freem = ~used & SLOTS_ALL;
		unsigned k;

		if (freem == 0)
			break;
		k = (unsigned)__builtin_ctz(freem);
		w[k] = lay->carry[lay->carryhead++] + 1;
		used |= 1u << k;
	}
	*usedp = used;
	return 0;
}

/* The keys bucket b carries on to the next when c are carried into it:
 * what assign_bucket() does, on the counts alone. */
static inline uint64_t
carry_after(const uint32_t *first, uint64_t b, uint64_t c)
{
	uint64_t n = first[b + 1] - first[b] + c;

	return n > HC_BUCKET_SLOTS ? n - HC_BUCKET_SLOTS : 0;
}

/* Where (in buckets from `start`) the second of two halves laid out side
 * by side may begin: the first bucket from the middle on that no key is
 * carried into, so that no carry crosses from one half to the other; or
 * nbuckets if there is none. */
static uint64_t
half_split(const uint32_t *first, uint64_t nbuckets, uint64_t start)
{
	uint64_t c = 0;

	for (uint64_t k = 0; k < nbuckets; k++) {
		if (k >= nbuckets / 2 && c == 0)
			return k;
		c = carry_after(first, (start + k) & (nbuckets - 1), c);
	}
	return nbuckets;
}

/* The bucket to start from so that no key is carried round past the
 * last bucket into buckets already laid out: 0, unless the last buckets
 * overflow, then the first bucket no carry reaches (the chain of carries
 * is followed on the counts alone). */
static uint64_t
first_bucket(const uint32_t *first, uint64_t nbuckets)
{
	uint64_t c = 0;

	for (uint64_t b = 0; b < nbuckets; b++)
		c = carry_after(first, b, c);
	for (uint64_t b = 0; c != 0 && b < nbuckets; b++)
		if ((c = carry_after(first, b, c)) == 0)
			return (b + 1) & (nbuckets - 1);
	return 0;
}

/* Choose bucket b's tags: 0 or HC_BASE_ALT, and fill tag[]. */
static uint32_t
choose_tags(const struct layout *lay, const uint32_t *w, uint32_t usedm,
    uint64_t b, uint64_t bmask, uint16_t *tag)
{
	unsigned bad[2] = { 0, 0 }, used[HC_BUCKET_SLOTS], nu = 0;
	uint16_t t[2][HC_BUCKET_SLOTS];

	for (uint32_t m = usedm; m != 0; m &= m - 1)
		used[nu++] = (unsigned)__builtin_ctz(m);
	for (unsigned alt = 0; alt < 2; alt++) {
		unsigned dup = 0;

		memset(t[alt], 0, sizeof(t[alt]));
		for (unsigned k = 0; k < nu; k++) {
			uint16_t x = hc_tag_of(lay->g[w[used[k]] - 1].hv,
			    (int)alt);
			for (unsigned m = 0; m < k; m++)
				dup |= t[alt][used[m]] == x;
			t[alt][used[k]] = x;
		}
		/* No tag twice: every lookup meets its own key first. */
		if (!dup)
			break;
		for (unsigned k = 0; k < nu; k++) {
			uint64_t hv = lay->g[w[used[k]] - 1].hv;
			/* A key carried here costs a bucket more anyway. */
			if ((hv & bmask) == b &&
			    !lookup_ok(t[alt], used[k], hc_pref_slot(hv)))
				bad[alt]++;
		}
		if (bad[0] == 0)
			break;
	}
	{
		unsigned alt = bad[0] > 0 && bad[1] < bad[0];
		memcpy(tag, t[alt], sizeof(t[alt]));
		return alt ? HC_BASE_ALT : 0;
	}
}

/*
 * Lay out the runs, bucket by bucket, from *off.  The records of two
 * runs are packed together (see above: with only the four records of an
 * average run to choose from, lines are filled worse), and every record
 * must start within 8 * HC_REL_MAX bytes of its run's first.  What keeps
 * that true: whenever a run is open (its first record placed), off + 8 *
 * R <= its start + reach, R being the records the open runs have still to
 * place; so an 8-byte link for any of them always fits, and a record, or
 * padding, is placed only if the same still holds after it.  A record
 * that cannot be placed becomes a link, and its record joins lay->far.
 * Fills each bucket's base and rel[].
 */
struct run {
	uint64_t b, base;
	unsigned rem, set;
	uint32_t w[HC_BUCKET_SLOTS], used;
};

#define RUN_AGE 1024

/* Would len bytes at `at` for open run z (or opening it) keep every open
 * run's reach, and start within z's? */
static int
runs_fit(const struct run *o, unsigned no, uint64_t at, uint64_t len,
    unsigned z, uint64_t reach)
{
	uint64_t r = 0;

	for (unsigned i = 0; i < no; i++)
		if (o[i].set || i == z)
			r += o[i].rem;
	r--;
	for (unsigned i = 0; i < no; i++) {
		uint64_t base = o[i].set ? o[i].base : at;
		if (!o[i].set && i != z)
			continue;
		if (i == z && at > base + 8 * (uint64_t)HC_REL_MAX)
			return 0;
		if (r > 0 && at + len + 8 * r > base + reach)
			return 0;
	}
	return 1;
}

/* Assign bucket b's slots, choose its tags, and add its records to the
 * pool as run `ri`.  -ENOMEM. */
static int
run_open(struct layout *lay, struct pool *p, struct run *o, unsigned ri,
    uint64_t b, struct hc_bucket *index, uint64_t bmask)
{
	struct run *ru = &o[ri];
	int rc;

	ru->b = b;
	ru->base = 0;
	ru->rem = 0;
	ru->set = 0;
	if ((rc = assign_bucket(lay, b, ru->w, &ru->used)) != 0)
		return rc;
	index[b].base = choose_tags(lay, ru->w, ru->used, b, bmask,
	    index[b].tag);
	for (uint32_t m = ru->used; m != 0; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctz(m);
		const struct gkey *gk = &lay->g[ru->w[i] - 1];

		/* (Written when the record is placed, a few records on.) */
		__builtin_prefetch(&lay->offs[gk->i], 1);
		p->run[p->n] = (uint8_t)ri;
		p->slot[p->n] = (uint8_t)i;
		pool_add(p, gk->head, gk->len, ru->w[i] - 1);
		ru->rem++;
	}
	return 0;
}

static int
layout_runs(struct layout *lay, struct hc_bucket *index, uint64_t nbuckets,
    uint64_t start, uint64_t next, uint64_t end, uint64_t *offp)
{
	const uint64_t reach = 8 * (uint64_t)HC_REL_MAX + 8;
	uint64_t off = *offp;
	int rc;
	struct run o[2];
	unsigned no = 0;
	struct pool p;

	pool_init(&p);
	for (;;) {
		unsigned r, z, anyopen = 0;
		uint64_t at;
		int pick, link = 0, old;

		/* Retire finished runs (the first, or the second), and keep
		 * two runs in the pool while buckets remain. */
		for (unsigned i = 0; i < no;) {
			if (o[i].rem != 0) {
				i++;
				continue;
			}
			index[o[i].b].base |= (uint32_t)o[i].base;
			if (i == 0 && no == 2) {
				o[0] = o[1];
				for (unsigned k = 0; k < p.n; k++)
					p.run[k] = 0;
			}
			no--;
		}
		while (no < 2 && next < end) {
			if ((rc = run_open(lay, &p, o, no++, (start + next++) &
			    (nbuckets - 1), index, nbuckets - 1)) != 0)
				return rc;
		}
		if (p.n == 0) {
			if (no == 0 && next >= end)
				break;
			continue;
		}
		for (unsigned i = 0; i < no; i++)
			anyopen |= o[i].set;
		r = HC_LINE - (unsigned)(off % HC_LINE);
		/* A run open for RUN_AGE bytes goes first: otherwise a record
		 * the packer never prefers would wait, while later runs
		 * open and close, until its run's reach ran out. */
		old = o[0].set && off - o[0].base > RUN_AGE;
		pick = old ? -1 : pool_pick(&p, r);
		/* (pool_pick() found no head that fits: neither will this.) */
		if ((pick < 0 && old) || (pick >= 0 && !runs_fit(o, no, off,
		    p.len[pick], p.run[pick], reach))) {
			/* The oldest record (of the old run, if one is) whose
			 * head fits and that keeps every run's reach; else
			 * padding; else a link. */
			pick = -1;
			for (unsigned k = 0; k < p.n && pick < 0; k++)
				if (p.h.b[k] <= r && (!old || p.run[k] == 0) &&
				    runs_fit(o, no, off, p.len[k], p.run[k],
				    reach))
					pick = (int)k;
		}
		if (pick < 0) {
			int padok = r < HC_LINE;

			at = align_up(off, HC_LINE);
			for (unsigned i = 0; i < no && padok; i++) {
				uint64_t rr = 0;
				for (unsigned k = 0; k < no; k++)
					if (o[k].set)
						rr += o[k].rem;
				if (o[i].set && at + 8 * rr > o[i].base + reach)
					padok = 0;
			}
			if (padok) {
				off = at;
				continue;
			}
			/* A link for the oldest record of an open run (or of
			 * any run when none is open). */
			for (unsigned k = 0; k < p.n && pick < 0; k++)
				if (!anyopen || o[p.run[k]].set)
					pick = (int)k;
			link = 1;
		}
		z = p.run[pick];
		if (!o[z].set) {
			o[z].base = off;
			o[z].set = 1;
		}
		{
			unsigned j = (unsigned)pick;
			struct hc_bucket *bk = &index[o[z].b];
			const struct gkey *gk = &lay->g[p.idx[j]];

			bk->rel[p.slot[j]] = (uint8_t)((off - o[z].base) / 8);
			if (!link) {
				lay->offs[gk->i] = (uint32_t)off;
				if (lay->half2 != NULL)
					lay->half2[gk->i / 64] |=
					    UINT64_C(1) << (gk->i % 64);
				off += p.len[j];
			} else {
				lay->linkat[lay->nfar] = (uint32_t)off;
				lay->far[lay->nfar++] = p.idx[j];
				off += 8;
			}
			o[z].rem--;
			pool_del(&p, j);
		}
	}
	*offp = off;
	return 0;
}

/* Lay out the records of links (g[] indexes far[0..n), in the order the
 * links were made) from off, packed from a window of PACK_W.  Returns the
 * end. */
static uint64_t
layout_far(struct layout *lay, const struct hc_builder *b, uint64_t off)
{
	struct pool p;
	size_t next = 0, n = lay->nfar;

	pool_init(&p);
	while (p.n > 0 || next < n) {
		unsigned r = HC_LINE - (unsigned)(off % HC_LINE);
		int pick;

		while (p.n < PACK_W && next < n) {
			uint32_t head;
			uint64_t len;
			rec_size(&b->ents[lay->g[lay->far[next]].ent], &head,
			    &len);
			pool_add(&p, head, len, (uint32_t)next);
			next++;
		}
		if (next - p.idx[0] > PACK_WAIT) {
			pick = 0;
			if (p.h.b[0] > r)
				off = align_up(off, HC_LINE);
		} else if ((pick = pool_pick(&p, r)) < 0) {
			off = align_up(off, HC_LINE);
			continue;
		}
		lay->offs[lay->g[lay->far[p.idx[pick]]].i] = (uint32_t)off;
		off += p.len[pick];
		pool_del(&p, (unsigned)pick);
	}
	return off;
}

/*
 * Two threads.  From PAR_MIN entries on, the buckets are laid out in two
 * halves side by side, the second by a thread of its own, from offset 0:
 * the keys whose records it placed are marked in a bitmap that it alone
 * writes, and its records' offsets, its runs' bases and its links are
 * moved up by where the first half ends (rounded up to a line, so that the
 * second half's packing holds) once both are done; slot offsets are
 * relative to the bases, so nothing else moves.  (An offset's high bit
 * cannot be the mark: a blob may be 4 GiB.)  The
 * records are then written by two threads, half of the keys each.  The
 * halves touch disjoint buckets and keys, and no key is carried from one
 * to the other (half_split()).  Without a thread (pthread_create()
 * failing), the same work runs in this one, one half after the other.
 */
#define PAR_MIN   32768

struct half {
	struct layout *lay;
	struct hc_bucket *index;
	uint64_t nbuckets, start, from, to, off;
	int rc;
};

static void *
half_layout(void *arg)
{
	struct half *j = arg;

	j->rc = layout_runs(j->lay, j->index, j->nbuckets, j->start, j->from,
	    j->to, &j->off);
	return NULL;
}

struct wjob {
	const struct hc_builder *b;
	const struct sortkey *sk;
	const uint32_t *offs;
	const uint64_t *half2;  /* keys whose offsets get shift added */
	unsigned char *blob;
	uint32_t *order;
	size_t from, to;
	uint64_t shift;         /* added to the second half's offsets */
};

/* Write the records of keys [from, to) and their order array entries. */
static void *
write_records(void *arg)
{
	const struct wjob *w = arg;
	const struct hc_builder *b = w->b;

	/* In key order: the entries and their keys and texts are read
	 * front to back (in the order they were added, when that was key
	 * order), and the writes, scattered over the record area, are
	 * fetched ahead. */
	for (size_t k = w->from; k < w->to; k++) {
		const struct bent *e = &b->ents[w->sk[k].idx];
		uint32_t o = w->offs[k];
		unsigned tb = rec_tbyte(e);
		struct hc_rec *r;
		unsigned char *p;

		if (k + 16 < w->to) {
			uint64_t f = w->offs[k + 16];
			if (w->half2 && (w->half2[(k + 16) / 64] >>
			    ((k + 16) % 64) & 1))
				f += w->shift;
			__builtin_prefetch(w->blob + f, 1);
		}
		if (w->half2 && (w->half2[k / 64] >> (k % 64) & 1))
			o = (uint32_t)(o + w->shift);
		w->order[k] = o;
		r = (struct hc_rec *)(w->blob + o);
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
		copy_short(p, e->key, e->klen);
		p += e->klen + 1;
		copy_short(p, e->text, e->vlen);
	}
	return NULL;
}

/* The seed: from every key's first 8 bytes, in key order, and the
 * count, so that equal entries give an equal blob and a different key
 * set a different seed. */
static uint64_t
keys_seed(const struct hc_builder *b, const struct sortkey *sk)
{
	uint64_t acc[2] = { UINT64_C(0x9e3779b97f4a7c15), b->n };

	for (size_t i = 0; i < b->n; i++) {
		acc[0] = (acc[0] ^ sk[i].prefix) * UINT64_C(0xff51afd7ed558ccd);
		acc[0] ^= acc[0] >> 29;
	}
	return XXH3_64bits(acc, sizeof(acc));
}

int
hc_builder_finish(struct hc_builder *b, int64_t time_ns, void **blobp,
    size_t *sizep, char **dupkey)
{
	struct sortkey *sk = NULL;
	struct layout lay, half2;
	struct half job;
	pthread_t tid;
	int threaded = 0;
	uint64_t start, split, shift = 0;
	uint32_t *first = NULL;
	unsigned char *blob = NULL;
	uint64_t off, off_index, off_order, off_records, off_sources, size;
	uint64_t nbuckets, seed;
	uint32_t log2 = 0;
	size_t breaks = 0, ties = 0;
	struct hc_snap_hdr *h;
	struct hc_bucket *index = NULL;
	uint32_t *order;
	int rc = -ENOMEM;

	memset(&lay, 0, sizeof(lay));
	memset(&half2, 0, sizeof(half2));
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

	/* Index: a power of two of 20-slot buckets, with at least one
	 * bucket per 6 keys, so the load stays at or under 0.3 and some
	 * bucket always has room. */
	nbuckets = 1;
	while (nbuckets * 6 < (uint64_t)b->n + 1)
		nbuckets <<= 1;
	while ((UINT64_C(1) << log2) < nbuckets)
		log2++;
	if (log2 > HC_BUCKETS_LOG2_MAX) {
		rc = -E2BIG;
		goto out;
	}
	seed = keys_seed(b, sk);

	/* Hash the keys in key order and group them by home bucket. */
	{
		size_t n = b->n;
		uint64_t *hv = malloc((n ? n : 1) * sizeof(*hv));
		int big = 0;

		first = calloc(nbuckets + 1, sizeof(*first));
		lay.g = malloc((n ? n : 1) * sizeof(*lay.g));
		if (hv == NULL || first == NULL || lay.g == NULL) {
			free(hv);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			const struct bent *e = &b->ents[sk[i].idx];
			hv[i] = hc_key_hash(e->key, e->klen, seed);
			first[(hv[i] & (nbuckets - 1)) + 1]++;
		}
		for (uint64_t k = 0; k < nbuckets; k++)
			first[k + 1] += first[k];
		for (size_t i = 0; i < n; i++) {
			uint64_t k = hv[i] & (nbuckets - 1);
			struct gkey *gk = &lay.g[first[k]++];

			if (i + 32 < n)
				__builtin_prefetch(&lay.g[first[hv[i + 32] &
				    (nbuckets - 1)]], 1);
			uint64_t len;
			gk->hv = hv[i];
			gk->i = (uint32_t)i;
			gk->ent = sk[i].idx;
			rec_size(&b->ents[sk[i].idx], &gk->head, &len);
			big |= len > UINT32_MAX;
			gk->len = (uint32_t)len;
		}
		/* first[k] is now where bucket k + 1 starts. */
		memmove(first + 1, first, nbuckets * sizeof(*first));
		first[0] = 0;
		free(hv);
		if (big) {
			rc = -E2BIG;
			goto out;
		}
	}
	lay.first = first;
	lay.offs = malloc((b->n ? b->n : 1) * sizeof(*lay.offs));
	/* (far[] and linkat[] are rarely used: their pages are never
	 * touched then.) */
	lay.far = malloc((b->n ? b->n : 1) * sizeof(*lay.far));
	lay.linkat = malloc((b->n ? b->n : 1) * sizeof(*lay.linkat));
	index = calloc(nbuckets, sizeof(*index));
	if (lay.offs == NULL || lay.far == NULL ||
	    lay.linkat == NULL || index == NULL)
		goto out;

	off_index = align_up(sizeof(struct hc_snap_hdr), HC_LINE);
	off = off_index + nbuckets * sizeof(struct hc_bucket);
	off_order = off;
	off += (uint64_t)b->n * sizeof(uint32_t);
	off_records = align_up(off, HC_LINE);
	off = off_records;
	start = first_bucket(first, nbuckets);
	split = b->n >= PAR_MIN ? half_split(first, nbuckets, start) :
	    nbuckets;
	if (split < nbuckets) {
		half2 = lay;
		half2.carry = NULL;
		half2.ncarry = half2.carrycap = half2.carryhead = 0;
		half2.nfar = 0;
		half2.half2 = calloc((b->n + 63) / 64, sizeof(*half2.half2));
		half2.far = malloc(b->n * sizeof(*half2.far));
		half2.linkat = malloc(b->n * sizeof(*half2.linkat));
		if (half2.far == NULL || half2.linkat == NULL ||
		    half2.half2 == NULL)
			goto out;
		job = (struct half){ &half2, index, nbuckets, start, split,
		    nbuckets, 0, 0 };
		threaded = pthread_create(&tid, NULL, half_layout, &job) == 0;
	}
	rc = layout_runs(&lay, index, nbuckets, start, 0, split, &off);
	if (split < nbuckets) {
		if (threaded)
			pthread_join(tid, NULL);
		else
			half_layout(&job);
		if (rc == 0)
			rc = job.rc;
	}
	if (rc != 0)
		goto out;
	rc = -ENOMEM;
	if (split < nbuckets) {
		/* Move the second half up behind the first. */
		shift = align_up(off, HC_LINE);
		for (uint64_t k = split; k < nbuckets; k++)
			index[(start + k) & (nbuckets - 1)].base += (uint32_t)shift;
		for (size_t k = 0; k < half2.nfar; k++) {
			lay.far[lay.nfar] = half2.far[k];
			lay.linkat[lay.nfar++] = half2.linkat[k] + (uint32_t)shift;
		}
		off = shift + job.off;
	}
	off = layout_far(&lay, b, align_up(off, 8));
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
	memcpy(blob + off_index, index, nbuckets * sizeof(*index));

	/* The records and the order array, then the links. */
	{
		struct wjob w1 = { b, sk, lay.offs, half2.half2, blob, order,
		    0, b->n, shift };
		struct wjob w2 = w1;

		threaded = 0;
		if (split < nbuckets) {
			w1.to = w2.from = b->n / 2;
			threaded = pthread_create(&tid, NULL, write_records,
			    &w2) == 0;
		}
		write_records(&w1);
		if (threaded)
			pthread_join(tid, NULL);
		else if (split < nbuckets)
			write_records(&w2);
	}
	for (size_t k = 0; k < lay.nfar; k++) {
		struct hc_rec *r = (struct hc_rec *)(blob + lay.linkat[k]);
		r->type = HC_REC_LINK;
		r->vlen = lay.offs[lay.g[lay.far[k]].i];
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
	h->seed = seed;
	h->content_hash = hc_blob_content(blob, size);
	h->checksum = hc_blob_checksum(blob, size);

	*blobp = blob;
	*sizep = size;
	blob = NULL;
	rc = 0;
out:
	free(sk);
	free(first);
	free(index);
	free(lay.carry);
	free(half2.carry);
	free(half2.far);
	free(half2.linkat);
	free(half2.half2);
	free(lay.g);
	free(lay.offs);
	free(lay.far);
	free(lay.linkat);
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
