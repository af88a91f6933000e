/*
 * dump.h - the pieces of the dump formats (dump.c) that the CLI reuses
 * outside a whole dump: `hotcfg watch` and `hotcfg diff` print values and
 * keys exactly as the flat format does, so that a line of one can be
 * compared with a line of the other.
 *
 * Internal, like internal.h: not installed, not exported from libhotcfg.so.
 */
#ifndef HOTCFG_DUMP_H
#define HOTCFG_DUMP_H

#include <stdbool.h>
#include <stdio.h>

#include "internal.h"

/*
 * Write an escaped key as the flat format shows it: as it is when it is
 * non-empty and made of printable characters other than space, '"', '#'
 * and '='; otherwise as a JSON string.  0, or a negative error.
 */
int hc_dump_key(FILE *fp, const char *key, size_t len);

/*
 * Write the value of *e as the flat format shows it (the part after
 * "key = "): null, true, 42, 2.5, .inf, "a JSON-quoted string",
 * !!binary BASE64, <map N>, <seq N>.  0, or a negative error.
 */
int hc_dump_value(FILE *fp, const hotcfg_entry *e);

/* Whether two entries hold the same value: same type, same text (so the
 * same number, string or bytes) and, for maps and sequences, the same
 * child count.  The source is not compared. */
bool hc_dump_same_value(const hotcfg_entry *a, const hotcfg_entry *b);

/*
 * Standard base64 (RFC 4648, with padding) of len bytes, as a malloc'd
 * NUL-terminated string; *outlen (if not NULL) receives its length.
 * NULL when out of memory.
 */
char *hc_base64(const void *data, size_t len, size_t *outlen);

/*
 * Decode standard base64 (RFC 4648 section 4) into out, which has room
 * for len / 4 * 3 + 4 bytes; the result is NUL-terminated, *outlen
 * excludes the NUL.  Line breaks (CR, LF) are skipped; padding, where
 * present, must complete the last quantum and nothing may follow it.
 * flags: HC_B64_SPACE also skips spaces and tabs (YAML's !!binary);
 * HC_B64_PADDED refuses a last quantum without its padding (what Go's
 * encoding/json writes for []byte).  0, or -EINVAL when in is not base64.
 */
#define HC_B64_SPACE  1u
#define HC_B64_PADDED 2u
int hc_base64_decode(const char *in, size_t len, unsigned char *out,
    size_t *outlen, unsigned flags);

#endif /* HOTCFG_DUMP_H */
