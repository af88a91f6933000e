/*
 * snap.h - the snapshot file format, shared by the builder (build.c), the
 * validator and lookups (snap.c) and the reader (reader.c).
 *
 * A snapshot is one immutable, position-independent blob: offsets, never
 * pointers, all relative to the start of the blob, all 32-bit (a snapshot is
 * at most 4 GiB).  Integers are in host byte order: a snapshot is shared
 * between processes of one machine, never shipped elsewhere.  Format
 * version 2 (version 1 had 8-byte index slots probed one by one and
 * 16-byte record headers).
 *
 *   +-------------------+  0
 *   | header (128 B)    |  magic, checksum, generation, build time,
 *   |                   |  version, sizes, offsets, seed, content hash
 *   +-------------------+  off_index (64-byte aligned)
 *   | hash index        |  2^buckets_log2 buckets of 64 bytes, each one
 *   |                   |  cache line: 8 tags (u32), then 8 offsets (u32)
 *   +-------------------+  off_order
 *   | order             |  count record offsets, sorted by key bytes
 *   +-------------------+  off_records (64-byte aligned)
 *   | records           |  8-byte aligned: header (8 B), [extension (8 B)],
 *   |                   |  [binary value (8 B)], key\0, text\0
 *   +-------------------+  off_sources
 *   | sources           |  nsources name offsets, then the names
 *   +-------------------+  size
 *
 * The index.  A key's hash hv (XXH3-64, seeded) picks its home bucket,
 * hv & (2^buckets_log2 - 1), and its tag, the high 32 bits of hv (0 made 1:
 * a tag of 0 marks an empty slot, whose offset is 0 too), and the tag's
 * low 3 bits its preferred slot in a bucket.  A lookup tries the preferred
 * slot of the home bucket first; then it compares its tag with all 8 tags
 * of the bucket at once (SSE2; a scalar loop elsewhere), checks the record
 * of each other slot that matches (in slot order), and stops at the first
 * bucket with an empty slot; a full bucket sends it on to the next bucket
 * (wrapping).  The builder first puts every key whose preferred slot in
 * its home bucket is free there, then the other keys into any free slot
 * of their home bucket, and only then places the keys of the overflowing
 * buckets, each in the first following bucket with room: a key leaves its
 * home bucket only when more than 8 keys share that bucket.  The index has
 * at most 3/4 as many keys as slots, so some bucket has an empty slot and
 * every probe ends.
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
 * line, and packs the records around that rule instead of padding after
 * each one: the order array gives key order, so records need not lie in
 * key order, and the builder places them a few records out of it (a pool
 * of the next 8 in key order; see layout_records() in build.c) so that a
 * line holds as many records as fit, the last one's NUL and text spilling
 * into the next line.  Iteration follows the order array; its reads of the
 * record area stay almost sequential.  Readers and the validator assume
 * nothing about where records lie, only that each is well-formed and
 * inside the record area.
 *
 * Point lookups thus touch two cache lines when the key sits in its home
 * bucket: the bucket and the record, whose header and key are compared in
 * place and whose value is read from the same line.  A key that was pushed
 * out of an overflowing home bucket costs one more line per bucket passed
 * (0.65% of the keys of the benchmark's 1M, at load 0.48; 5% at load 0.75,
 * the most the sizing allows), and so does a key whose head is longer than
 * a line (a key of more than 48 bytes; 56 without a binary value), or one
 * whose bucket holds another key with the same 32-bit tag (about 4 in
 * 10^9 lookups).  See tests/bench/README.md.
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
#define HC_SNAP_VERSION 2u
#define HC_SNAP_SUMFROM 32u
#define HC_LINE         64u
#define HC_BUCKET_SLOTS 8u
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
	uint32_t tag[HC_BUCKET_SLOTS];  /* hc_tag() of the key; 0 = empty */
	uint32_t off[HC_BUCKET_SLOTS];  /* record offset; 0 = empty */
};
_Static_assert(sizeof(struct hc_bucket) == HC_LINE, "a bucket is a line");

#define HC_REC_TYPE 0x07u       /* type byte: enum hotcfg_type */
#define HC_REC_EXT  0x80u       /* type byte: an hc_rec_ext follows */
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

/* The tag stored for a key of hash hv: never 0, which marks empty. */
static inline uint32_t hc_tag(uint64_t hv)
{
	uint32_t t = (uint32_t)(hv >> 32);
	return t ? t : 1u;
}

/* The slot of its bucket a key of tag `tag` would rather be in. */
static inline unsigned hc_pref_slot(uint32_t tag)
{
	return tag & (HC_BUCKET_SLOTS - 1);
}

/* Bit i set when slot i of b holds tag (0: the empty slots), scalar and
 * SSE2. */
static inline unsigned hc_bucket_match_scalar(const struct hc_bucket *b,
    uint32_t tag)
{
	unsigned m = 0;

	for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++)
		m |= (unsigned)(b->tag[i] == tag) << i;
	return m;
}

#ifdef HC_SNAP_SSE2
static inline unsigned hc_bucket_match_sse2(const struct hc_bucket *b,
    uint32_t tag)
{
	__m128i t = _mm_set1_epi32((int)tag);
	__m128i lo = _mm_loadu_si128((const __m128i *)(const void *)b->tag);
	__m128i hi = _mm_loadu_si128((const __m128i *)(const void *)b->tag + 1);
	__m128i eq = _mm_packs_epi32(_mm_cmpeq_epi32(lo, t),
	    _mm_cmpeq_epi32(hi, t));

	return (unsigned)_mm_movemask_epi8(_mm_packs_epi16(eq,
	    _mm_setzero_si128()));
}
#define hc_bucket_match hc_bucket_match_sse2
#else
#define hc_bucket_match hc_bucket_match_scalar
#endif

/* Has b an empty slot (does a probe end there)? */
static inline int hc_bucket_has_room(const struct hc_bucket *b)
{
	return hc_bucket_match(b, 0) != 0;
}

/*
 * The point lookup on a validated snapshot: hash, probe the index bucket by
 * bucket, compare the key in place.  The key's preferred slot in its home
 * bucket is tried first, inline: most keys are there (about 80% at load
 * 0.5; with one choice per key no builder can do better), and that test is
 * a branch the CPU predicts, so the record load starts as soon as the
 * bucket is in, as with one slot per key.  The inline test takes the key's
 * offset from hc_rec_keyoff_short() (records without the extension): the
 * type-dependent offset sits between loading the record and comparing the
 * key, the path every lookup waits on.  (Two preferred slots per key, one
 * picked with a cmov, put 97% of the keys in one of them but made 1k-key
 * lookups slower, 0.3 to 1 ns: the select sits on that same path.)  The rest
 * of the probe (hc_snap_probe: the other slots whose tags match, all 8
 * tags compared at once, then the following buckets until one with an
 * empty slot) is out of line, which keeps the fast path's registers free.
 * The tests run the probe with the scalar tag compare too (scalar != 0).
 */
static inline __attribute__((always_inline)) const struct hc_rec *
hc_snap_probe_body(const struct hotcfg_snap *s, const char *key, size_t len,
    uint64_t hv, int scalar)
{
	uint32_t tag = hc_tag(hv);

	for (uint64_t i = hv & s->bmask;; i = (i + 1) & s->bmask) {
		const struct hc_bucket *b = &s->index[i];
		unsigned m;

		/* (The preferred slot again, if its tag matched: rare.) */
		m = scalar ? hc_bucket_match_scalar(b, tag) :
		    hc_bucket_match(b, tag);
		while (m != 0) {
			const struct hc_rec *r = (const struct hc_rec *)
			    (const void *)(s->base + b->off[__builtin_ctz(m)]);
			if (hc_rec_klen(r) == len &&
			    memcmp(hc_rec_key(r), key, len) == 0)
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

static inline __attribute__((always_inline)) const struct hc_rec *
hc_snap_find_with(const struct hotcfg_snap *s, const char *key, size_t len,
    int scalar)
{
	uint64_t hv = hc_key_hash(key, len, s->seed);
	uint32_t tag = hc_tag(hv);
	unsigned p = hc_pref_slot(tag);
	const struct hc_bucket *b = &s->index[hv & s->bmask];

	if (HC_LIKELY(b->tag[p] == tag)) {
		const struct hc_rec *r = (const struct hc_rec *)
		    (const void *)(s->base + b->off[p]);
		unsigned tb = r->type;
		if (HC_LIKELY(!(tb & HC_REC_EXT) && r->klen == len &&
		    memcmp((const char *)r + hc_rec_keyoff_short(tb), key,
		    len) == 0))
			return r;
	}
	return scalar ? hc_snap_probe_scalar(s, key, len, hv) :
	    hc_snap_probe(s, key, len, hv);
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
