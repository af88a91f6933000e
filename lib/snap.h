/*
 * snap.h - the snapshot file format, shared by the builder (build.c), the
 * validator and lookups (snap.c) and the reader (reader.c).
 *
 * A snapshot is one immutable, position-independent blob: offsets, never
 * pointers, all relative to the start of the blob, all 32-bit (a snapshot is
 * at most 4 GiB).  Integers are in host byte order: a snapshot is shared
 * between processes of one machine, never shipped elsewhere.
 *
 *   +-------------------+  0
 *   | header (128 B)    |  magic, checksum, generation, build time,
 *   |                   |  version, sizes, offsets, seed, content hash
 *   +-------------------+  off_slots (64-byte aligned)
 *   | hash index        |  2^slots_log2 slots of {tag, record offset}
 *   +-------------------+  off_order
 *   | order             |  count record offsets, sorted by key bytes
 *   +-------------------+  off_records
 *   | records           |  8-byte aligned: header, [value], key\0, text\0
 *   +-------------------+  off_sources
 *   | sources           |  nsources name offsets, then the names
 *   +-------------------+  size
 *
 * Point lookups touch two cache lines in the common case: the slot (8 bytes,
 * so a probe sequence rarely leaves its line) and the record, whose header
 * and key the builder keeps inside one 64-byte line whenever they fit in
 * one (it pads the record area to the next line otherwise).  The key is
 * compared in place and the value is read from the same line.
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

#include "internal.h"

#define HC_SNAP_MAGIC   UINT64_C(0x3153474643544f48) /* "HOTCFGS1" */
#define HC_SNAP_VERSION 1u
#define HC_SNAP_SUMFROM 32u
#define HC_LINE         64u

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
	uint32_t slots_log2;
	uint32_t off_slots;
	uint32_t off_order;
	uint32_t off_records;
	uint32_t off_sources;
	uint32_t nsources;
	uint32_t flags;
	uint8_t reserved[128 - 96];
};
_Static_assert(sizeof(struct hc_snap_hdr) == 128, "header is 128 bytes");

struct hc_slot {
	uint32_t tag;   /* high 32 bits of the key's hash */
	uint32_t off;   /* record offset; 0 = empty */
};

struct hc_rec {
	uint32_t klen;
	uint32_t vlen;
	uint8_t type;
	uint8_t flags;
	uint16_t source;
	uint32_t count;
	/* For BOOL, INT, FLOAT: 8 bytes of value (int64, double, 0/1).
	 * Then key bytes, NUL, text bytes, NUL. */
};
_Static_assert(sizeof(struct hc_rec) == 16, "record header is 16 bytes");

/* Types with an 8-byte binary value after the record header. */
static inline int hc_type_has_value(unsigned t)
{
	return t == HOTCFG_BOOL || t == HOTCFG_INT || t == HOTCFG_FLOAT;
}

static inline uint32_t hc_rec_keyoff(unsigned type)
{
	return (uint32_t)sizeof(struct hc_rec) + (hc_type_has_value(type) ? 8u : 0u);
}

/* Total bytes of a record, before alignment. */
static inline uint64_t hc_rec_len(unsigned type, uint64_t klen, uint64_t vlen)
{
	return hc_rec_keyoff(type) + klen + 1 + vlen + 1;
}

/*
 * The reader's view of a validated snapshot.  reader.c embeds it in its
 * mapping record; hc_snap_wrap() allocates a bare one.
 */
struct hotcfg_snap {
	const unsigned char *base;
	uint64_t size;
	const struct hc_slot *slots;
	const uint32_t *order;
	const uint32_t *sources;
	uint64_t mask;
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

/* Whole-blob checksum and content hash as stored in the header. */
uint64_t hc_blob_checksum(const void *blob, size_t size);
uint64_t hc_blob_content(const void *blob, size_t size);

#endif /* HOTCFG_SNAP_H */
