/*
 * snap.h - the snapshot file format, shared by the builder (build.c), the
 * validator and lookups (snap.c) and the reader (reader.c).
 *
 * A snapshot is one immutable, position-independent blob: offsets, never
 * pointers, all relative to the start of the blob, all 32-bit (a snapshot is
 * at most 4 GiB).  Integers are in host byte order: a snapshot is shared
 * between processes of one machine, never shipped elsewhere.  Format
 * version 3 (version 2 had 8 slots a bucket with 32-bit tags and record
 * offsets, records in key order; version 1 had 8-byte index slots probed
 * one by one and 16-byte record headers).
 *
 *   +-------------------+  0
 *   | header (128 B)    |  magic, checksum, generation, build time,
 *   |                   |  version, sizes, offsets, seed, content hash
 *   +-------------------+  off_index (64-byte aligned)
 *   | hash index        |  2^buckets_log2 buckets of 64 bytes, each one
 *   |                   |  cache line: run offset (u32), 20 tags (u16),
 *   |                   |  20 slot offsets (u8)
 *   +-------------------+  off_order
 *   | order             |  count record offsets, sorted by key bytes
 *   +-------------------+  off_records (64-byte aligned)
 *   | records           |  8-byte aligned, in runs, one per bucket, then
 *   |                   |  the records of links: header (8 B),
 *   |                   |  [extension (8 B)], [binary value (8 B)],
 *   |                   |  key\0, text\0; or a link (8 B)
 *   +-------------------+  off_sources
 *   | sources           |  nsources name offsets, then the names
 *   +-------------------+  size
 *
 * The index.  A key's hash hv (XXH3-64, seeded) picks its home bucket,
 * hv & (2^buckets_log2 - 1); bits 24-31 pick its preferred slot of the 20
 * in a bucket (hc_pref_slot()); and a 16-bit tag, 0 made 1 (a tag of 0
 * marks an empty slot), is bits 48-63 of hv, or bits 32-47 in a bucket
 * whose base has HC_BASE_ALT set: the builder sets it where two keys of
 * the bucket would share a tag and a lookup of one would meet the other
 * first.  A bucket is one 64-byte line: the offset of its run (below), 20
 * tags, and 20 one-byte slot offsets: slot i's record is at the run's
 * offset + 8 * rel[i].  A lookup tries the preferred slot of the home
 * bucket first; then it compares its tag with all 20 tags at once (SSE2; a
 * scalar loop elsewhere), checks the record of each matching slot (in slot
 * order), and stops at the first bucket with an empty slot; a full bucket
 * sends it on to the next bucket (wrapping).  The builder puts every key
 * whose preferred slot is free there, the other keys of the bucket into
 * its lowest free slots, and only the keys of a bucket with more than 20
 * into the first following bucket with room (Poisson: at 1M keys, 4.2 a
 * bucket, one build in about 900 has such a bucket; at 6 a bucket, the
 * most the sizing allows, one in five).  The index has at most 3/10 as
 * many keys as slots, so some bucket has an empty slot and every probe
 * ends.
 *
 * Runs.  The records a bucket's slots name start within 2040 bytes of
 * the bucket's base (what a one-byte offset in 8-byte units reaches): its
 * run.  Runs lie in bucket order (two halves of it side by side, for a
 * large snapshot), the builder packing the records of two neighbouring
 * buckets together, so a run may interleave with the next.
 * A record that would start past its run's reach is replaced in the run by
 * an 8-byte link (type byte HC_REC_LINK, whose vlen is the real record's
 * offset) and laid out after the last run.  Records are thus in hash
 * order, not key order; the order array gives key order.
 *
 * Records.  The 8-byte header holds the text length (for MAP and SEQ, whose
 * text is empty, the child count instead), the key length (u16), the type
 * (low 3 bits) and the source index (u8).  A key of 65536 bytes or more or
 * a source index above 255 sets HC_REC_EXT in the type byte: an 8-byte
 * extension with the 32-bit key length and source follows the header (the
 * header's klen and source are then 0).  BOOL, INT and FLOAT have an 8-byte
 * binary value next (int64, double, 0/1; 8-byte aligned, since records
 * are).  A record's head is what a point lookup reads of it: header,
 * extension, value and the key bytes (not the key's NUL, not the text).
 * The builder keeps every head that fits in 64 bytes inside one 64-byte
 * line, and packs the records of a run around that rule instead of
 * padding after each one: within a run, records go in whatever order
 * fills lines best (see layout_runs() in build.c), the last one's NUL and
 * text spilling into the next line.  Readers and the validator assume
 * nothing about where records lie, only that each is well-formed and
 * inside the record area.
 *
 * Point lookups thus touch two cache lines: the bucket and the record,
 * whose header and key are compared in place and whose value is read from
 * the same line.  The exceptions: a key pushed out of a bucket holding
 * more than 20 (one more line per bucket passed); a key whose head is
 * longer than a line (a key of more than 48 bytes; 56 without a binary
 * value); a record reached through a link (one more line: only records
 * that a run of 2040 bytes cannot hold, that is runs with long texts); and
 * a key whose tag is shared, in both of the bucket's tag choices, with a
 * key the lookup checks first (it takes two keys of one bucket agreeing
 * in 32 hash bits: at most one build in about 1,900 at 1M keys).  See
 * tests/bench/README.md for the benchmark's figures, counted on the
 * built snapshot.
 *
 * The checksum (XXH3-64) covers every byte but itself, in two parts: the
 * body from offset 32, and the generation and build time (offsets 16-31).
 * The publisher can thus write the generation into a finished blob without
 * hashing the body again.  A reader also checks the generation against the
 * file name.  The content hash covers records and sources only: two
 * builds with the same entries have the same content hash whatever their
 * generation, which is how the publisher recognises an edit that changed
 * nothing.
 */
#ifndef HOTCFG_SNAP_H
#define HOTCFG_SNAP_H

#include <stdint.h>
#include <string.h>

/* HC_SNAP_SCALAR: the scalar tag compare even where SSE2 is there. */
#if defined(__SSE2__) && !defined(HC_SNAP_SCALAR)
#define HC_SNAP_SSE2 1
#include <emmintrin.h>
#endif

#include "internal.h"

#define HC_SNAP_MAGIC   UINT64_C(0x3153474643544f48) /* "HOTCFGS1" */
#define HC_SNAP_VERSION 3u
#define HC_SNAP_SUMFROM 32u
#define HC_LINE         64u
#define HC_BUCKET_SLOTS 20u
#define HC_BASE_ALT     1u        /* bucket base: tags from bits 32-47 */
#define HC_BASE_MASK    (~7u)
#define HC_REL_MAX      255u      /* a run reaches 8 * 255 bytes */
#define HC_BUCKETS_LOG2_MAX 27u   /* 2^30 slots */

struct hc_snap_hdr {
	uint64_t magic;
	uint64_t checksum;
	uint64_t generation;
	int64_t time_ns;
	/* Checksummed from here on. */
	uint32_t version;
	uint32_t hdr_size;
	uint64_t size;
	uint64_t content_hash;
	uint64_t seed;
	uint32_t count;
	uint32_t buckets_log2;
	uint32_t off_index;
	uint32_t off_order;
	uint32_t off_records;
	uint32_t off_sources;
	uint32_t nsources;
	uint32_t flags;
	uint8_t reserved[128 - 96];
};
_Static_assert(sizeof(struct hc_snap_hdr) == 128, "header is 128 bytes");

/* One bucket of the index: one cache line. */
struct hc_bucket {
	uint32_t base;                  /* run offset (8-aligned) | HC_BASE_ALT */
	uint16_t tag[HC_BUCKET_SLOTS];  /* hc_tag() of the key; 0 = empty */
	uint8_t rel[HC_BUCKET_SLOTS];   /* record at run + 8 * rel; 0 if empty */
};
_Static_assert(sizeof(struct hc_bucket) == HC_LINE, "a bucket is a line");

#define HC_REC_TYPE 0x07u       /* type byte: enum hotcfg_type */
#define HC_REC_EXT  0x80u       /* type byte: an hc_rec_ext follows */
#define HC_REC_LINK 0x40u       /* type byte: a link, vlen the record */
#define HC_REC_KLEN_MAX 0xffffu /* longest key without the extension */
#define HC_REC_SRC_MAX  0xffu   /* highest source without the extension */

struct hc_rec {
	uint32_t vlen;          /* text bytes; MAP, SEQ: the child count */
	uint16_t klen;          /* key bytes (0 with HC_REC_EXT) */
	uint8_t type;           /* HC_REC_TYPE and HC_REC_EXT bits */
	uint8_t source;         /* source index (0 with HC_REC_EXT) */
	/* [struct hc_rec_ext]; for BOOL, INT, FLOAT: 8 bytes of value
	 * (int64, double, 0/1).  Then key bytes, NUL, text bytes, NUL. */
};
_Static_assert(sizeof(struct hc_rec) == 8, "record header is 8 bytes");

struct hc_rec_ext {
	uint32_t klen;
	uint32_t source;
};

/* Types with an 8-byte binary value after the record header. */
static inline int hc_type_has_value(unsigned t)
{
	return t == HOTCFG_BOOL || t == HOTCFG_INT || t == HOTCFG_FLOAT;
}

/* Types whose header counts children instead of text bytes. */
static inline int hc_type_is_container(unsigned t)
{
	return t == HOTCFG_MAP || t == HOTCFG_SEQ;
}

/* Where the value (if any) starts, for a record's type byte. */
static inline uint32_t hc_rec_valoff(unsigned tbyte)
{
	return (uint32_t)sizeof(struct hc_rec) +
	    ((tbyte & HC_REC_EXT) ? (uint32_t)sizeof(struct hc_rec_ext) : 0u);
}

/* Where the key starts, for a record's type byte. */
static inline uint32_t hc_rec_keyoff(unsigned tbyte)
{
	return hc_rec_valoff(tbyte) +
	    (hc_type_has_value(tbyte & HC_REC_TYPE) ? 8u : 0u);
}

/* The same for a type byte without HC_REC_EXT (a validated one is then
 * below 8): the header, and 8 more for BOOL (1), INT (2) and FLOAT (3),
 * found by shifting a constant with bits 4 to 6 set.  Three instructions
 * between loading the record and comparing its key, which is the lookup's
 * critical path; tests/test_snapshot.c checks it against hc_rec_keyoff(). */
static inline uint32_t hc_rec_keyoff_short(unsigned tbyte)
{
	return (uint32_t)sizeof(struct hc_rec) + ((0x70u >> tbyte) & 8u);
}

/* Total bytes of a record, before alignment (tlen: text bytes). */
static inline uint64_t hc_rec_len(unsigned tbyte, uint64_t klen, uint64_t tlen)
{
	return hc_rec_keyoff(tbyte) + klen + 1 + tlen + 1;
}

static inline unsigned hc_rec_type(const struct hc_rec *r)
{
	return r->type & HC_REC_TYPE;
}

static inline const struct hc_rec_ext *hc_rec_ext(const struct hc_rec *r)
{
	return (const struct hc_rec_ext *)(const void *)(r + 1);
}

static inline uint32_t hc_rec_klen(const struct hc_rec *r)
{
	if (HC_LIKELY(!(r->type & HC_REC_EXT)))
		return r->klen;
	return hc_rec_ext(r)->klen;
}

static inline uint32_t hc_rec_source(const struct hc_rec *r)
{
	if (HC_LIKELY(!(r->type & HC_REC_EXT)))
		return r->source;
	return hc_rec_ext(r)->source;
}

/* Text bytes (0 for MAP and SEQ). */
static inline uint32_t hc_rec_tlen(const struct hc_rec *r)
{
	return hc_type_is_container(hc_rec_type(r)) ? 0 : r->vlen;
}

static inline const char *hc_rec_key(const struct hc_rec *r)
{
	return (const char *)r + hc_rec_keyoff(r->type);
}

static inline const char *hc_rec_text(const struct hc_rec *r)
{
	return hc_rec_key(r) + hc_rec_klen(r) + 1;
}

static inline const void *hc_rec_value(const struct hc_rec *r)
{
	return (const char *)r + hc_rec_valoff(r->type);
}

/*
 * The reader's view of a validated snapshot.  reader.c embeds it in its
 * mapping record; hc_snap_wrap() allocates a bare one.
 */
struct hotcfg_snap {
	const unsigned char *base;
	uint64_t size;
	const struct hc_bucket *index;
	const uint32_t *order;
	const uint32_t *sources;
	uint64_t bmask;         /* buckets - 1 */
	uint64_t seed;
	uint64_t generation;
	int64_t time_ns;
	uint32_t count;
	uint32_t nsources;
};

/* Validate blob and fill *v.  0, HOTCFG_ECORRUPT, HOTCFG_EVERSION. */
int hc_snap_validate(const void *blob, size_t size, struct hotcfg_snap *v);

/* The key hash used by the index: XXH3-64 with the snapshot's seed,
 * inlined (xxhash's header-only mode) because it is on the read path. */
#define XXH_INLINE_ALL
#include <xxhash.h>
static inline uint64_t hc_key_hash(const char *key, size_t len, uint64_t seed)
{
	return XXH3_64bits_withSeed(key, len, seed);
}

/* The tag a key of hash hv has in a bucket whose base is `base`: never 0,
 * which marks empty. */
static inline uint16_t hc_tag_of(uint64_t hv, int alt)
{
	uint16_t t = (uint16_t)(hv >> (alt ? 32 : 48));
	return t ? t : 1u;
}

static inline uint16_t hc_tag(uint64_t hv, uint32_t base)
{
	return hc_tag_of(hv, (base & HC_BASE_ALT) != 0);
}

/* The slot of its bucket a key of hash hv would rather be in. */
static inline unsigned hc_pref_slot(uint64_t hv)
{
	return (unsigned)((((hv >> 24) & 0xffu) * HC_BUCKET_SLOTS) >> 8);
}

/* The record slot i of b names (a link, or the record itself). */
static inline const struct hc_rec *hc_slot_rec(const unsigned char *blob,
    const struct hc_bucket *b, unsigned i)
{
	return (const struct hc_rec *)(const void *)(blob +
	    (b->base & HC_BASE_MASK) + ((size_t)b->rel[i] << 3));
}

/* Bit i set when slot i of b holds tag (0: the empty slots), scalar and
 * SSE2. */
static inline unsigned hc_bucket_match_scalar(const struct hc_bucket *b,
    uint16_t tag)
{
	unsigned m = 0;

	for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++)
		m |= (unsigned)(b->tag[i] == tag) << i;
	return m;
}

#ifdef HC_SNAP_SSE2
/* The 20 tags are bytes 4-43 of the line: three 16-byte loads, the last
 * (bytes 32-47) read for its first six tags, 16 to 19 of them new. */
static inline unsigned hc_bucket_match_sse2(const struct hc_bucket *b,
    uint16_t tag)
{
	const unsigned char *p = (const unsigned char *)b;
	__m128i t = _mm_set1_epi16((short)tag);
	__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + 4));
	__m128i c = _mm_loadu_si128((const __m128i *)(const void *)(p + 20));
	__m128i d = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
	unsigned lo = (unsigned)_mm_movemask_epi8(_mm_packs_epi16(
	    _mm_cmpeq_epi16(a, t), _mm_cmpeq_epi16(c, t)));
	unsigned hi = (unsigned)_mm_movemask_epi8(_mm_packs_epi16(
	    _mm_cmpeq_epi16(d, t), _mm_setzero_si128()));

	/* d's lanes 0-1 are tags 14-15 (already in lo), 2-5 tags 16-19. */
	return lo | ((hi >> 2) & 0xfu) << 16;
}
#define hc_bucket_match hc_bucket_match_sse2
#else
#define hc_bucket_match hc_bucket_match_scalar
#endif

/*
 * Do the len bytes at a and b agree?  Keys of 16 to 48 bytes, which is
 * most configuration keys, are compared inline and without a branch on
 * their length: three 16-byte loads from each side at 0, (len-16)/2 and
 * len-16, which cover the key and never read past its end.  Other lengths
 * call memcmp().
 */
static inline __attribute__((always_inline)) int
hc_key_eq(const char *a, const char *b, size_t len)
{
#ifdef HC_SNAP_SSE2
	if (HC_LIKELY(len - 16 <= 32)) {
		size_t m = (len - 16) >> 1, e = len - 16;
		__m128i x = _mm_cmpeq_epi8(
		    _mm_loadu_si128((const __m128i *)(const void *)a),
		    _mm_loadu_si128((const __m128i *)(const void *)b));
		__m128i y = _mm_cmpeq_epi8(
		    _mm_loadu_si128((const __m128i *)(const void *)(a + m)),
		    _mm_loadu_si128((const __m128i *)(const void *)(b + m)));
		__m128i z = _mm_cmpeq_epi8(
		    _mm_loadu_si128((const __m128i *)(const void *)(a + e)),
		    _mm_loadu_si128((const __m128i *)(const void *)(b + e)));
		return _mm_movemask_epi8(_mm_and_si128(_mm_and_si128(x, y), z))
		    == 0xffff;
	}
#endif
	return memcmp(a, b, len) == 0;
}

/* Has b an empty slot (does a probe end there)? */
static inline int hc_bucket_has_room(const struct hc_bucket *b)
{
	return hc_bucket_match(b, 0) != 0;
}

/* The record a slot's record stands for: a link's target, or itself.
 * (Validated: a link names a record that is not a link.) */
static inline const struct hc_rec *hc_rec_follow(const unsigned char *blob,
    const struct hc_rec *r)
{
	if (r->type == HC_REC_LINK)
		return (const struct hc_rec *)(const void *)(blob + r->vlen);
	return r;
}

/*
 * The point lookup on a validated snapshot: hash, probe the index bucket by
 * bucket, compare the key in place.  The key's preferred slot in its home
 * bucket is tried first, inline: most keys are there (about 90% at 4 keys
 * a bucket; with one choice per key no builder can do better), and that
 * test is a branch the CPU predicts, so the record load starts as soon as
 * the bucket is in, as with one slot per key.  The slot, both tag choices
 * and the key's hash are ready before the bucket arrives; what the bucket
 * adds to the path is the base's tag bit (a select) and the record's
 * address (base + 8 * rel).  How the inline test reads the record depends
 * on the caller: hc_snap_find_typed() and hc_snap_find_with() below; the
 * typed getters' also tries the first slot of the home bucket with the
 * key's tag, inline.  The whole probe (hc_snap_probe: every slot whose tag
 * matches, all 20 tags compared at once, then the following buckets until
 * one with an empty slot) is out of line, which keeps the fast path's
 * registers free; it starts again from the home bucket, so it reads again
 * the slots the inline tests read (it runs for one lookup in ten for the
 * any-type callers, far fewer for the typed getters).  The tests run the
 * probe with the scalar tag compare too (scalar != 0).
 */
static inline __attribute__((always_inline)) const struct hc_rec *
hc_snap_probe_body(const struct hotcfg_snap *s, const char *key, size_t len,
    uint64_t hv, int scalar)
{
	for (uint64_t i = hv & s->bmask;; i = (i + 1) & s->bmask) {
		const struct hc_bucket *b = &s->index[i];
		uint16_t tag = hc_tag(hv, b->base);
		unsigned m;

		/* (The slots the inline tests read, again: rare.) */
		m = scalar ? hc_bucket_match_scalar(b, tag) :
		    hc_bucket_match(b, tag);
		while (m != 0) {
			const struct hc_rec *r = hc_rec_follow(s->base,
			    hc_slot_rec(s->base, b, (unsigned)__builtin_ctz(m)));
			if (hc_rec_klen(r) == len &&
			    hc_key_eq(hc_rec_key(r), key, len))
				return r;
			m &= m - 1;
		}
		if (scalar ? hc_bucket_match_scalar(b, 0) != 0 :
		    hc_bucket_has_room(b))
			return NULL;    /* an empty slot: the key is absent */
	}
}

static __attribute__((noinline, unused)) const struct hc_rec *
hc_snap_probe(const struct hotcfg_snap *s, const char *key, size_t len,
    uint64_t hv)
{
	return hc_snap_probe_body(s, key, len, hv, 0);
}

static __attribute__((noinline, unused)) const struct hc_rec *
hc_snap_probe_scalar(const struct hotcfg_snap *s, const char *key,
    size_t len, uint64_t hv)
{
	return hc_snap_probe_body(s, key, len, hv, 1);
}

/* A record's key length and type byte under wmask: klen | type << 16.
 * On a little-endian machine one load of the four bytes from klen on. */
static inline uint32_t hc_rec_head(const struct hc_rec *r, unsigned wmask)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint32_t w;

	_Static_assert(offsetof(struct hc_rec, type) ==
	    offsetof(struct hc_rec, klen) + 2, "type follows klen");
	memcpy(&w, (const char *)r + offsetof(struct hc_rec, klen), sizeof(w));
	return w & (0xffffu | (uint32_t)wmask << 16);
#else
	return (uint32_t)r->klen | (uint32_t)(r->type & wmask) << 16;
#endif
}

#define HC_WANT_ONE  0xffu      /* wmask: exactly want */
#define HC_WANT_PAIR 0xfeu      /* wmask: want or want + 1 */

/* Is r the key's record, of the type wmask and want accept (head: the key
 * length and want, as hc_rec_head() gives them)? */
static inline __attribute__((always_inline)) int
hc_rec_is_typed(const struct hc_rec *r, const char *key, size_t len,
    uint32_t head, unsigned wmask, unsigned want)
{
	return hc_rec_head(r, wmask) == head &&
	    hc_key_eq((const char *)r + hc_rec_keyoff_short(want), key, len);
}

/*
 * The lookup of a typed getter.  It takes inline the records whose type
 * byte, masked with wmask, is want: a constant type (or a pair of types
 * that differ in bit 0, under HC_WANT_PAIR) without HC_REC_EXT or
 * HC_REC_LINK.  Those keep their key at a fixed offset, so the compare's
 * loads start as soon as the record's address is known, and the key's
 * length and the type byte, which lie next to each other, are checked
 * with one compare.  It tries the key's preferred slot, then the first
 * slot of the home bucket with the key's tag (where the builder's tag
 * choice puts a key that is not in its preferred slot, about one in ten),
 * both inline; hc_snap_try_typed() stops there with NULL, and
 * hc_snap_find_typed() goes on with the probe, which also finds what the
 * inline tests leave to it: another type, the extension, a link, a key
 * carried out of its home bucket.  A record the inline tests accept has
 * r->type & wmask == want, so a getter testing that again learns where
 * the value lies.
 */
static inline __attribute__((always_inline)) const struct hc_rec *
hc_snap_try_typed(const struct hotcfg_snap *s, const char *key, size_t len,
    uint64_t hv, int scalar, unsigned wmask, unsigned want)
{
	uint16_t t0 = hc_tag_of(hv, 0), t1 = hc_tag_of(hv, 1), tag;
	unsigned p = hc_pref_slot(hv), m;
	const struct hc_bucket *b = &s->index[hv & s->bmask];
	uint32_t base = b->base;
	/* klen, type (without the bits wmask clears), in one word. */
	uint32_t head = (uint32_t)len | (uint32_t)want << 16;
	const struct hc_rec *r;

	if (HC_UNLIKELY(len > HC_REC_KLEN_MAX))
		return NULL;
	tag = (base & HC_BASE_ALT) ? t1 : t0;
	if (HC_LIKELY(b->tag[p] == tag)) {
		r = (const struct hc_rec *)(const void *)(s->base +
		    (base & HC_BASE_MASK) + ((size_t)b->rel[p] << 3));
		if (HC_LIKELY(hc_rec_is_typed(r, key, len, head, wmask, want)))
			return r;
	}
	/* Not in its preferred slot: the first slot of the home bucket with
	 * its tag holds its record, unless it was carried on or is absent. */
	m = scalar ? hc_bucket_match_scalar(b, tag) : hc_bucket_match(b, tag);
	if (m != 0) {
		r = hc_slot_rec(s->base, b, (unsigned)__builtin_ctz(m));
		if (hc_rec_is_typed(r, key, len, head, wmask, want))
			return r;
	}
	return NULL;
}

/* The probe, with the vector or the scalar tag compare. */
static inline __attribute__((always_inline)) const struct hc_rec *
hc_snap_probe_with(const struct hotcfg_snap *s, const char *key, size_t len,
    uint64_t hv, int scalar)
{
	return scalar ? hc_snap_probe_scalar(s, key, len, hv) :
	    hc_snap_probe(s, key, len, hv);
}

/* The same, then the probe: the record, or NULL if the key is absent. */
static inline __attribute__((always_inline)) const struct hc_rec *
hc_snap_find_typed(const struct hotcfg_snap *s, const char *key, size_t len,
    int scalar, unsigned wmask, unsigned want)
{
	uint64_t hv = hc_key_hash(key, len, s->seed);
	const struct hc_rec *r = hc_snap_try_typed(s, key, len, hv, scalar,
	    wmask, want);

	return r != NULL ? r : hc_snap_probe_with(s, key, len, hv, scalar);
}

/*
 * The lookup of a caller of any type.  The inline test compares the key at
 * hc_rec_keyoff_short() of the record's type byte (records without the
 * extension, not links), which puts that byte's load between the record's
 * address and the compare.
 */
static inline __attribute__((always_inline)) const struct hc_rec *
hc_snap_find_with(const struct hotcfg_snap *s, const char *key, size_t len,
    int scalar)
{
	uint64_t hv = hc_key_hash(key, len, s->seed);
	uint16_t t0 = hc_tag_of(hv, 0), t1 = hc_tag_of(hv, 1);
	unsigned p = hc_pref_slot(hv);
	const struct hc_bucket *b = &s->index[hv & s->bmask];
	uint32_t base = b->base;

	if (HC_LIKELY(b->tag[p] == ((base & HC_BASE_ALT) ? t1 : t0))) {
		const struct hc_rec *r = (const struct hc_rec *)(const void *)
		    (s->base + (base & HC_BASE_MASK) + ((size_t)b->rel[p] << 3));
		unsigned tb = r->type;
		/* (hc_rec_keyoff_short() only after the EXT and LINK test:
		 * it shifts by the type byte.) */
		if (HC_LIKELY(!(tb & (HC_REC_EXT | HC_REC_LINK)) &&
		    r->klen == len &&
		    hc_key_eq((const char *)r + hc_rec_keyoff_short(tb), key,
		    len)))
			return r;
	}
	return hc_snap_probe_with(s, key, len, hv, scalar);
}

static inline const struct hc_rec *
hc_snap_find(const struct hotcfg_snap *s, const char *key, size_t len)
{
	return hc_snap_find_with(s, key, len, 0);
}

/* Whole-blob checksum and content hash as stored in the header. */
uint64_t hc_blob_checksum(const void *blob, size_t size);
uint64_t hc_blob_content(const void *blob, size_t size);

#endif /* HOTCFG_SNAP_H */
