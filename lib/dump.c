/*
 * dump.c - the dump formats, shared by `hotcfg dump` and `hotcfgd --print`
 * so that both print exactly the same thing.
 *
 * Everything here reads a snapshot through the public API only (hotcfg_next,
 * hotcfg_snap_source): a dump of a published snapshot and of one that
 * hotcfgd has only built look alike because they are read alike.
 *
 * flat  One line per entry, in key order (the snapshot's bytewise order):
 *           key = value
 *       The key is the escaped key path, printed as it is unless it is
 *       empty (the root) or holds a space, a control character, '"', '#'
 *       or '=': then it is a JSON string ("" for the root).  Values:
 *           null  true  false  42  2.5  .inf  -.inf  .nan
 *           "a string"          always a JSON string, so "42" is not 42
 *           !!binary aGk=       bytes, base64 (RFC 4648); empty: !!binary
 *           <map 3>  <seq 2>    a mapping or sequence and its child count
 *       A string that is not valid UTF-8 (only a non-YAML file can hold
 *       one) is shown as `!!str-base64 BASE64`.  With sources, each line
 *       ends in two spaces, '#', a space and the source's name.
 *
 * json  The tree rebuilt and written by jansson, two-space indent.  Map
 *       keys are unescaped and come in bytewise order, sequence items in
 *       index order.  Ints are JSON integers, floats JSON numbers written
 *       with as many digits as the most demanding float of the dump needs
 *       to read back exactly.  JSON has no bytes and no infinities: bytes
 *       become their base64 string and .inf, -.inf, .nan strings, so those
 *       two types do not survive a JSON round trip (YAML is lossless).
 *
 * yaml  The tree rebuilt and written by libyaml's emitter.  Types survive
 *       a round trip through hotcfgd (YAML 1.2 core schema): a string whose
 *       plain form would read as something else ("123", "true", "", "~",
 *       "<<") is quoted, a number whose canonical text would not read back
 *       as its type gets an explicit tag (!!float), bytes are tagged
 *       !!binary, strings with line breaks use literal block style.
 *
 * With a prefix, only that subtree is dumped; in json and yaml the dump is
 * the subtree's value itself.  With sources, json and yaml do not rebuild
 * the tree: they list every entry under its full key, in key order, as
 *       key: {type: int, value: 42, source: app.yaml}
 * (maps and sequences carry "count" instead of "value").  That listing is
 * for reading, not for feeding back to hotcfgd.
 *
 * An empty snapshot dumps as nothing at all in every format: it has no root
 * value, and an empty file is what reads back as an empty configuration.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

#include "dump.h"
#include "internal.h"

#define YAML_TAG(t) ((yaml_char_t *)"tag:yaml.org,2002:" t)

/* ------------------------------------------------------------------ */
/* Text helpers.                                                        */
/* ------------------------------------------------------------------ */

/* Well-formed UTF-8: no overlong forms, no surrogates, nothing past
 * U+10FFFF.  jansson and libyaml both refuse anything else. */
static bool
utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		size_t len;
		unsigned cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/*
 * Whether valid UTF-8 text holds a character that YAML parsers, libyaml
 * among them, do not take raw although JSON does: the C1 controls, the
 * line and paragraph separators (line breaks to YAML 1.1), the byte order
 * mark and the non-characters U+FFFE and U+FFFF.  A JSON dump holding one
 * escapes all non-ASCII text, so that hotcfgd can read it back.
 */
static bool
yaml_unsafe(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] == 0xc2 && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
			return true;
		if (i + 2 < n && ((s[i] == 0xe2 && s[i + 1] == 0x80 &&
		    (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) ||
		    (s[i] == 0xef && s[i + 1] == 0xbb && s[i + 2] == 0xbf) ||
		    (s[i] == 0xef && s[i + 1] == 0xbf && s[i + 2] >= 0xbe)))
			return true;
	}
	return false;
}

char *
hc_base64(const void *data, size_t len, size_t *outlen)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = data;
	size_t n = (len + 2) / 3 * 4;
	char *out, *o;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	o = out;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		size_t left = len - i;

		if (left > 1)
			v |= (unsigned)s[i + 1] << 8;
		if (left > 2)
			v |= s[i + 2];
		*o++ = abc[v >> 18 & 63];
		*o++ = abc[v >> 12 & 63];
		*o++ = left > 1 ? abc[v >> 6 & 63] : '=';
		*o++ = left > 2 ? abc[v & 63] : '=';
	}
	*o = '\0';
	if (outlen != NULL)
		*outlen = n;
	return out;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
hc_base64_decode(const char *in, size_t len, unsigned char *out,
    size_t *outlen, unsigned flags)
{
	uint32_t acc = 0;
	size_t i, o = 0, q = 0, pad = 0;

	*outlen = 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == '\r' || c == '\n' || ((flags & HC_B64_SPACE) &&
		    (c == ' ' || c == '\t')))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (v = b64_value(c)) < 0)
			return -EINVAL;  /* not base64, or data after padding */
		acc = acc << 6 | (uint32_t)v;
		if (++q % 4 == 0) {
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
			acc = 0;
		}
	}
	/* A lone sixth of a byte, padding that does not end a quantum, or
	 * (when required) padding missing. */
	if (q % 4 == 1 || pad > 2 || (pad > 0 && (q + pad) % 4 != 0) ||
	    ((flags & HC_B64_PADDED) && pad == 0 && q % 4 != 0))
		return -EINVAL;
	if (q % 4 == 2) {
		out[o++] = (unsigned char)(acc >> 4);
	} else if (q % 4 == 3) {
		out[o++] = (unsigned char)(acc >> 10);
		out[o++] = (unsigned char)(acc >> 2);
	}
	out[o] = '\0';
	*outlen = o;
	return 0;
}

/* Write s as a JSON string, quoted and escaped by jansson. */
static int
put_json_string(FILE *fp, const char *s, size_t n)
{
	json_t *j;
	char *q;
	int rc;

	if (!utf8_valid(s, n))
		return -EILSEQ;
	if ((j = json_stringn(s, n)) == NULL)
		return -ENOMEM;
	q = json_dumps(j, JSON_ENCODE_ANY);
	json_decref(j);
	if (q == NULL)
		return -ENOMEM;
	rc = fputs(q, fp) == EOF ? -EIO : 0;
	free(q);
	return rc;
}

int
hc_dump_key(FILE *fp, const char *key, size_t len)
{
	bool plain = len > 0 && utf8_valid(key, len);

	for (size_t i = 0; plain && i < len; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c <= ' ' || c == 0x7f || c == '"' || c == '#' || c == '=')
			plain = false;
	}
	if (plain)
		return fwrite(key, 1, len, fp) == len ? 0 : -EIO;
	if (put_json_string(fp, key, len) == 0)
		return 0;
	/* Not UTF-8 (a file name can be anything): as it is, which is the
	 * best that can be done without inventing an escape syntax. */
	return fwrite(key, 1, len, fp) == len ? 0 : -EIO;
}

static int
put_base64(FILE *fp, const char *tag, const void *data, size_t len)
{
	char *b = hc_base64(data, len, NULL);
	int rc;

	if (b == NULL)
		return -ENOMEM;
	/* No trailing space after the tag of an empty value. */
	rc = fprintf(fp, "%s%s%s", tag, *b ? " " : "", b) < 0 ? -EIO : 0;
	free(b);
	return rc;
}

int
hc_dump_value(FILE *fp, const hotcfg_entry *e)
{
	int rc;

	switch (e->type) {
	case HOTCFG_STR:
		rc = put_json_string(fp, e->text, e->text_len);
		if (rc == -EILSEQ)
			rc = put_base64(fp, "!!str-base64", e->text,
			    e->text_len);
		return rc;
	case HOTCFG_BYTES:
		return put_base64(fp, "!!binary", e->text, e->text_len);
	case HOTCFG_MAP:
	case HOTCFG_SEQ:
		return fprintf(fp, "<%s %zu>", hotcfg_type_name(e->type),
		    e->count) < 0 ? -EIO : 0;
	default:
		return fwrite(e->text, 1, e->text_len, fp) == e->text_len ?
		    0 : -EIO;
	}
}

bool
hc_dump_same_value(const hotcfg_entry *a, const hotcfg_entry *b)
{
	if (a->type != b->type || a->count != b->count ||
	    a->text_len != b->text_len)
		return false;
	return memcmp(a->text, b->text, a->text_len) == 0;
}

/* A source's name for listings; an unknown id gets a made-up one. */
static const char *
source_name(const hotcfg_snap *s, unsigned id, char *buf, size_t len)
{
	const char *name = hotcfg_snap_source(s, id);

	if (name != NULL)
		return name;
	snprintf(buf, len, "source#%u", id);
	return buf;
}

/* ------------------------------------------------------------------ */
/* YAML 1.2 core-schema resolution, to know what needs quotes or tags.  */
/* ------------------------------------------------------------------ */

static bool
all_in(const char *s, size_t n, const char *set)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\0' || strchr(set, s[i]) == NULL)
			return false;
	return true;
}

static bool
is_one_of(const char *s, size_t n, const char *const *words)
{
	for (; *words != NULL; words++)
		if (strlen(*words) == n && memcmp(s, *words, n) == 0)
			return true;
	return false;
}

static bool
core_is_null(const char *s, size_t n)
{
	static const char *const w[] = { "~", "null", "Null", "NULL", NULL };
	return n == 0 || is_one_of(s, n, w);
}

static bool
core_is_bool(const char *s, size_t n)
{
	static const char *const w[] = { "true", "True", "TRUE", "false",
	    "False", "FALSE", NULL };
	return is_one_of(s, n, w);
}

static bool
core_is_int(const char *s, size_t n)
{
	if (n > 2 && s[0] == '0' && s[1] == 'o')
		return all_in(s + 2, n - 2, "01234567");
	if (n > 2 && s[0] == '0' && s[1] == 'x')
		return all_in(s + 2, n - 2, "0123456789abcdefABCDEF");
	if (n > 0 && (s[0] == '-' || s[0] == '+'))
		s++, n--;
	return all_in(s, n, "0123456789");
}

/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
 * and the infinities and NaNs. */
static bool
core_is_float(const char *s, size_t n)
{
	static const char *const w[] = { ".inf", ".Inf", ".INF", "-.inf",
	    "-.Inf", "-.INF", "+.inf", "+.Inf", "+.INF", ".nan", ".NaN",
	    ".NAN", NULL };
	size_t i = 0, d = 0;

	if (is_one_of(s, n, w))
		return true;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, d++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, d++;
	}
	if (d == 0)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		if (i == n)
			return false;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i == n;
}

/*
 * Whether a string must be quoted so that it reads back as a string.  On
 * top of the core schema this is deliberately generous: YAML 1.1 booleans,
 * anything that starts like a number, and the merge key "<<" are quoted
 * too, so that no reader of the dump, strict or old, mistakes them.
 */
static bool
str_needs_quotes(const char *s, size_t n)
{
	static const char *const w[] = { "y", "Y", "yes", "Yes", "YES", "n",
	    "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
	    "<<", "=", NULL };
	const char *p = s;
	size_t m = n;

	if (core_is_null(s, n) || core_is_bool(s, n) || core_is_int(s, n) ||
	    core_is_float(s, n) || is_one_of(s, n, w))
		return true;
	if (m > 0 && (p[0] == '-' || p[0] == '+'))
		p++, m--;
	if (m > 0 && p[0] == '.')
		p++, m--;
	return m > 0 && p[0] >= '0' && p[0] <= '9';
}

/* Whether the canonical text of a typed scalar reads back as that type
 * without a tag. */
static bool
text_resolves(int type, const char *s, size_t n)
{
	switch (type) {
	case HOTCFG_NULL:
		return core_is_null(s, n) && n > 0;
	case HOTCFG_BOOL:
		return core_is_bool(s, n);
	case HOTCFG_INT:
		return core_is_int(s, n);
	case HOTCFG_FLOAT:
		return core_is_float(s, n) && !core_is_int(s, n);
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Collecting entries and rebuilding the tree.                          */
/* ------------------------------------------------------------------ */

struct node {
	const hotcfg_entry *e;  /* NULL for a container implied by a child */
	int kind;               /* an enum hotcfg_type; -1: not known yet */
	bool is_index;          /* how the parent holds it: [index] or name */
	uint64_t index;
	char *name;             /* unescaped, malloc'd */
	size_t name_len;
	const char *rkey;       /* key relative to the prefix */
	size_t rlen;
	char *own_rkey;         /* implied nodes own a copy of their key */
	struct node **kids;
	size_t nkids, cap;
	struct node *next_implied;
};

struct dump {
	const hotcfg_snap *s;
	hotcfg_entry *ents;     /* the subtree's entries, in key order */
	size_t n, cap;
	size_t plen;            /* bytes of prefix stripped from keys */
	struct node *nodes;     /* one per entry */
	struct node *implied;   /* a list of the implied containers */
	struct node *root;
	int float_digits;       /* JSON: digits the floats need */
	bool ascii;             /* JSON: escape everything past ASCII */
};

static int
collect(struct dump *d, const char *prefix)
{
	size_t cursor = 0;
	hotcfg_entry e;
	int rc;

	while ((rc = hotcfg_next(d->s, prefix, &cursor, &e)) == 0) {
		if (d->n == d->cap) {
			size_t ncap = d->cap ? d->cap * 2 : 64;
			hotcfg_entry *p = realloc(d->ents,
			    ncap * sizeof(*p));
			if (p == NULL)
				return -ENOMEM;
			d->ents = p;
			d->cap = ncap;
		}
		d->ents[d->n++] = e;
	}
	return rc == -ENOENT ? 0 : rc;
}

/* Key order: bytewise, a key before every longer key it begins. */
static int
keycmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
entcmp(const void *x, const void *y)
{
	const hotcfg_entry *a = x, *b = y;
	return keycmp(a->key, a->key_len, b->key, b->key_len);
}

/* One segment of a relative key: "[N]", ".name" or, at the very start of
 * an unprefixed key, "name". */
struct seg {
	bool is_index;
	uint64_t index;
	const char *name;       /* escaped */
	size_t nlen;
};

static int
next_seg(const char *r, size_t n, size_t *pos, bool bare, struct seg *sg)
{
	size_t p = *pos;

	if (p < n && r[p] == '[') {
		uint64_t v = 0;

		if (++p >= n || r[p] < '0' || r[p] > '9')
			return HOTCFG_ECORRUPT;
		for (; p < n && r[p] >= '0' && r[p] <= '9'; p++) {
			unsigned dgt = (unsigned)(r[p] - '0');
			if (v > (UINT64_MAX - dgt) / 10)
				return HOTCFG_ECORRUPT;
			v = v * 10 + dgt;
		}
		if (p >= n || r[p] != ']')
			return HOTCFG_ECORRUPT;
		sg->is_index = true;
		sg->index = v;
		*pos = p + 1;
		return 0;
	}
	if (!bare) {
		if (p >= n || r[p] != '.')
			return HOTCFG_ECORRUPT;
		p++;
	}
	sg->is_index = false;
	sg->name = r + p;
	while (p < n && r[p] != '.' && r[p] != '[') {
		if (r[p] == '\\') {
			if (p + 1 >= n)
				return HOTCFG_ECORRUPT;
			p++;
		}
		p++;
	}
	sg->nlen = (size_t)(r + p - sg->name);
	/* An empty first segment with more after it (".a"): no flattened
	 * key starts so (the root's empty key is the only empty one), and
	 * taking it would leave *pos where it was, for ever. */
	if (bare && sg->nlen == 0 && p < n)
		return HOTCFG_ECORRUPT;
	*pos = p;
	return 0;
}

/* Split a relative key into its parent's key (r[0..*plen)) and its last
 * segment. */
static int
last_seg(const struct dump *d, const char *r, size_t n, size_t *parent_len,
    struct seg *last)
{
	size_t pos = 0, start = 0;
	int rc;

	memset(last, 0, sizeof(*last));
	while (pos < n) {
		start = pos;
		rc = next_seg(r, n, &pos, d->plen == 0 && pos == 0, last);
		if (rc != 0)
			return rc;
	}
	*parent_len = start;
	return 0;
}

static int
set_name(struct node *nd, const struct seg *sg)
{
	nd->is_index = sg->is_index;
	nd->index = sg->index;
	if (sg->is_index)
		return 0;
	if ((nd->name = malloc(sg->nlen + 1)) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < sg->nlen; i++) {
		if (sg->name[i] == '\\')
			i++;
		nd->name[nd->name_len++] = sg->name[i];
	}
	nd->name[nd->name_len] = '\0';
	return 0;
}

static int
add_kid(struct node *parent, struct node *kid)
{
	int want = kid->is_index ? HOTCFG_SEQ : HOTCFG_MAP;

	if (parent->kind == -1)
		parent->kind = want;
	if (parent->kind != want)
		return HOTCFG_ECORRUPT;   /* a name in a seq, an item in a map,
		                             or a child of a scalar */
	if (parent->nkids == parent->cap) {
		size_t ncap = parent->cap ? parent->cap * 2 : 4;
		struct node **p = realloc(parent->kids, ncap * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		parent->kids = p;
		parent->cap = ncap;
	}
	parent->kids[parent->nkids++] = kid;
	return 0;
}

static int attach(struct dump *d, struct node *nd);

/*
 * The node for relative key r: an entry's, or an implied container's
 * (made, and attached to its own parent, on first use).  A valid snapshot
 * has an entry for every map and sequence, so containers are implied only
 * for a snapshot made by someone else's rules.
 */
static int
find_node(struct dump *d, const char *r, size_t n, struct node **out)
{
	size_t lo = 0, hi = d->n;
	struct node *nd;
	int rc;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = keycmp(d->nodes[mid].rkey, d->nodes[mid].rlen, r, n);
		if (c == 0) {
			*out = &d->nodes[mid];
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (nd = d->implied; nd != NULL; nd = nd->next_implied) {
		if (nd->rlen == n && memcmp(nd->rkey, r, n) == 0) {
			*out = nd;
			return 0;
		}
	}
	if ((nd = calloc(1, sizeof(*nd))) == NULL)
		return -ENOMEM;
	nd->kind = -1;
	nd->next_implied = d->implied;
	d->implied = nd;
	if ((nd->own_rkey = malloc(n + 1)) == NULL)
		return -ENOMEM;
	memcpy(nd->own_rkey, r, n);
	nd->own_rkey[n] = '\0';
	nd->rkey = nd->own_rkey;
	nd->rlen = n;
	if ((rc = attach(d, nd)) != 0)
		return rc;
	*out = nd;
	return 0;
}

/* Hang a node under its parent, or make it the root. */
static int
attach(struct dump *d, struct node *nd)
{
	struct node *parent;
	struct seg sg;
	size_t plen;
	int rc;

	if (nd->rlen == 0) {
		d->root = nd;
		return 0;
	}
	if ((rc = last_seg(d, nd->rkey, nd->rlen, &plen, &sg)) != 0)
		return rc;
	if ((rc = set_name(nd, &sg)) != 0)
		return rc;
	if ((rc = find_node(d, nd->rkey, plen, &parent)) != 0)
		return rc;
	return add_kid(parent, nd);
}

static int
kidcmp(const void *x, const void *y)
{
	const struct node *a = *(struct node *const *)x;
	const struct node *b = *(struct node *const *)y;

	if (a->is_index)
		return a->index < b->index ? -1 : a->index > b->index;
	return keycmp(a->name, a->name_len, b->name, b->name_len);
}

static void
sort_kids(struct node *nd)
{
	if (nd->nkids > 1)
		qsort(nd->kids, nd->nkids, sizeof(nd->kids[0]), kidcmp);
	for (size_t i = 0; i < nd->nkids; i++)
		sort_kids(nd->kids[i]);
}

static int
build_tree(struct dump *d)
{
	int rc;

	if ((d->nodes = calloc(d->n ? d->n : 1, sizeof(*d->nodes))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < d->n; i++) {
		struct node *nd = &d->nodes[i];
		nd->e = &d->ents[i];
		nd->kind = d->ents[i].type;
		nd->rkey = d->ents[i].key + d->plen;
		nd->rlen = d->ents[i].key_len - d->plen;
	}
	for (size_t i = 0; i < d->n; i++)
		if ((rc = attach(d, &d->nodes[i])) != 0)
			return rc;
	if (d->root != NULL)
		sort_kids(d->root);
	return 0;
}

static void
free_node_parts(struct node *nd)
{
	free(nd->name);
	free(nd->kids);
	free(nd->own_rkey);
}

static void
dump_free(struct dump *d)
{
	struct node *nd, *next;

	for (size_t i = 0; d->nodes != NULL && i < d->n; i++)
		free_node_parts(&d->nodes[i]);
	for (nd = d->implied; nd != NULL; nd = next) {
		next = nd->next_implied;
		free_node_parts(nd);
		free(nd);
	}
	free(d->nodes);
	free(d->ents);
}

/* ------------------------------------------------------------------ */
/* flat                                                                 */
/* ------------------------------------------------------------------ */

static int
dump_flat(struct dump *d, FILE *fp, bool sources)
{
	char buf[32];
	int rc;

	for (size_t i = 0; i < d->n; i++) {
		const hotcfg_entry *e = &d->ents[i];

		if ((rc = hc_dump_key(fp, e->key, e->key_len)) != 0)
			return rc;
		if (fputs(" = ", fp) == EOF)
			return -EIO;
		if ((rc = hc_dump_value(fp, e)) != 0)
			return rc;
		if (sources) {
			const char *src = source_name(d->s, e->source, buf,
			    sizeof(buf));
			if (fputs("  # ", fp) == EOF)
				return -EIO;
			if ((rc = hc_dump_key(fp, src, strlen(src))) != 0)
				return rc;
		}
		if (fputc('\n', fp) == EOF)
			return -EIO;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* json                                                                 */
/* ------------------------------------------------------------------ */

/* The fewest significant digits that read back as exactly f. */
static int
float_digits(double f)
{
	char buf[40];

	for (int p = 1; p < 17; p++) {
		snprintf(buf, sizeof(buf), "%.*g", p, f);
		if (strtod(buf, NULL) == f)
			return p;
	}
	return 17;
}

static int
json_scalar(struct dump *d, const hotcfg_entry *e, json_t **out)
{
	char *b64;
	size_t blen;

	*out = NULL;
	switch (e->type) {
	case HOTCFG_NULL:
		*out = json_null();
		break;
	case HOTCFG_BOOL:
		*out = json_boolean(e->b);
		break;
	case HOTCFG_INT:
		*out = json_integer((json_int_t)e->i);
		break;
	case HOTCFG_FLOAT:
		if (isfinite(e->f)) {
			int p = float_digits(e->f);
			if (p > d->float_digits)
				d->float_digits = p;
			*out = json_real(e->f);
		} else {
			*out = json_stringn(e->text, e->text_len);
		}
		break;
	case HOTCFG_STR:
		if (!utf8_valid(e->text, e->text_len))
			return -EILSEQ;
		d->ascii |= yaml_unsafe(e->text, e->text_len);
		*out = json_stringn(e->text, e->text_len);
		break;
	case HOTCFG_BYTES:
		if ((b64 = hc_base64(e->text, e->text_len, &blen)) == NULL)
			return -ENOMEM;
		*out = json_stringn(b64, blen);
		free(b64);
		break;
	default:
		return HOTCFG_ECORRUPT;
	}
	return *out ? 0 : -ENOMEM;
}

static int
json_tree(struct dump *d, const struct node *nd, json_t **out)
{
	json_t *j = NULL, *kid;
	int rc = 0;

	*out = NULL;
	if (nd->kind != HOTCFG_MAP && nd->kind != HOTCFG_SEQ)
		return json_scalar(d, nd->e, out);
	j = nd->kind == HOTCFG_MAP ? json_object() : json_array();
	if (j == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < nd->nkids; i++) {
		const struct node *k = nd->kids[i];

		if ((rc = json_tree(d, k, &kid)) != 0)
			goto out;
		if (nd->kind == HOTCFG_SEQ) {
			rc = json_array_append_new(j, kid) ? -ENOMEM : 0;
		} else if (!utf8_valid(k->name, k->name_len)) {
			json_decref(kid);
			rc = -EILSEQ;
		} else {
			d->ascii |= yaml_unsafe(k->name, k->name_len);
			rc = json_object_setn_new(j, k->name, k->name_len,
			    kid) ? -ENOMEM : 0;
		}
		if (rc != 0)
			goto out;
	}
	*out = j;
	j = NULL;
out:
	json_decref(j);
	return rc;
}

static int
json_listing(struct dump *d, json_t **out)
{
	json_t *all = json_object(), *item = NULL, *v;
	char buf[32];
	int rc = -ENOMEM;

	if (all == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < d->n; i++) {
		const hotcfg_entry *e = &d->ents[i];
		const char *src = source_name(d->s, e->source, buf,
		    sizeof(buf));

		if (!utf8_valid(e->key, e->key_len) ||
		    !utf8_valid(src, strlen(src))) {
			rc = -EILSEQ;
			goto out;
		}
		d->ascii |= yaml_unsafe(e->key, e->key_len) ||
		    yaml_unsafe(src, strlen(src));
		if ((item = json_object()) == NULL)
			goto out;
		if (json_object_set_new(item, "type",
		    json_string(hotcfg_type_name(e->type))))
			goto out;
		if (e->type == HOTCFG_MAP || e->type == HOTCFG_SEQ) {
			v = json_integer((json_int_t)e->count);
			if (json_object_set_new(item, "count", v))
				goto out;
		} else {
			if ((rc = json_scalar(d, e, &v)) != 0)
				goto out;
			rc = -ENOMEM;
			if (json_object_set_new(item, "value", v))
				goto out;
		}
		if (json_object_set_new(item, "source", json_string(src)))
			goto out;
		if (json_object_setn_new(all, e->key, e->key_len, item)) {
			item = NULL;
			goto out;
		}
		item = NULL;
	}
	*out = all;
	all = NULL;
	rc = 0;
out:
	json_decref(item);
	json_decref(all);
	return rc;
}

static int
dump_json(struct dump *d, FILE *fp, bool sources)
{
	json_t *j = NULL;
	size_t flags;
	int rc;

	if (d->n == 0)
		return 0;
	if (sources)
		rc = json_listing(d, &j);
	else
		rc = json_tree(d, d->root, &j);
	if (rc != 0)
		return rc;
	flags = JSON_INDENT(2) | JSON_ENCODE_ANY |
	    JSON_REAL_PRECISION(d->float_digits ? d->float_digits : 17);
	if (d->ascii)
		flags |= JSON_ENSURE_ASCII;
	rc = json_dumpf(j, fp, flags) != 0 || fputc('\n', fp) == EOF ?
	    -EIO : 0;
	json_decref(j);
	return rc;
}

/* ------------------------------------------------------------------ */
/* yaml                                                                 */
/* ------------------------------------------------------------------ */

/* Hand one event to the emitter (which takes it, success or not). */
static int
y_emit(yaml_emitter_t *em, yaml_event_t *ev)
{
	if (yaml_emitter_emit(em, ev))
		return 0;
	return em->error == YAML_WRITER_ERROR ? -EIO : -EINVAL;
}

/* A plain string: a map key, or a string value. */
static int
y_str(yaml_emitter_t *em, const char *s, size_t n, bool is_key)
{
	yaml_event_t ev;
	bool quote = str_needs_quotes(s, n);
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;

	if (!utf8_valid(s, n))
		return -EILSEQ;
	if (n > INT_MAX)
		return -E2BIG;
	if (!is_key && memchr(s, '\n', n) != NULL)
		style = YAML_LITERAL_SCALAR_STYLE; /* the emitter falls back
		                                      to double quotes when a
		                                      block cannot hold it */
	else if (quote)
		style = YAML_SINGLE_QUOTED_SCALAR_STYLE;
	/* No tag; plain_implicit = 0 forbids the plain style, which is
	 * what keeps "123" a string. */
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL,
	    (yaml_char_t *)s, (int)n, !quote, 1, style))
		return -ENOMEM;
	return y_emit(em, &ev);
}

static int
y_scalar(yaml_emitter_t *em, const hotcfg_entry *e)
{
	static const char *const tags[] = {
		[HOTCFG_NULL] = "tag:yaml.org,2002:null",
		[HOTCFG_BOOL] = "tag:yaml.org,2002:bool",
		[HOTCFG_INT] = "tag:yaml.org,2002:int",
		[HOTCFG_FLOAT] = "tag:yaml.org,2002:float",
	};
	yaml_event_t ev;
	char *b64;
	size_t blen;
	int ok;

	switch (e->type) {
	case HOTCFG_STR:
		return y_str(em, e->text, e->text_len, false);
	case HOTCFG_BYTES:
		if ((b64 = hc_base64(e->text, e->text_len, &blen)) == NULL)
			return -ENOMEM;
		if (blen > INT_MAX) {
			free(b64);
			return -E2BIG;
		}
		ok = yaml_scalar_event_initialize(&ev, NULL,
		    YAML_TAG("binary"), (yaml_char_t *)b64, (int)blen, 0, 0,
		    YAML_PLAIN_SCALAR_STYLE);
		free(b64);
		if (!ok)
			return -ENOMEM;
		return y_emit(em, &ev);
	case HOTCFG_NULL:
	case HOTCFG_BOOL:
	case HOTCFG_INT:
	case HOTCFG_FLOAT: {
		/* The canonical text, plain; tagged when the plain text
		 * alone would read back as another type ("-0" is an int). */
		int implicit = text_resolves(e->type, e->text, e->text_len);
		if (e->text_len > INT_MAX)
			return -E2BIG;
		if (!yaml_scalar_event_initialize(&ev, NULL,
		    (yaml_char_t *)tags[e->type], (yaml_char_t *)e->text,
		    (int)e->text_len, implicit, 0, YAML_PLAIN_SCALAR_STYLE))
			return -ENOMEM;
		return y_emit(em, &ev);
	}
	}
	return HOTCFG_ECORRUPT;
}

static int
y_tree(yaml_emitter_t *em, const struct node *nd)
{
	yaml_event_t ev;
	int rc;

	if (nd->kind == HOTCFG_MAP) {
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
		    YAML_BLOCK_MAPPING_STYLE))
			return -ENOMEM;
		if ((rc = y_emit(em, &ev)) != 0)
			return rc;
		for (size_t i = 0; i < nd->nkids; i++) {
			const struct node *k = nd->kids[i];
			if ((rc = y_str(em, k->name, k->name_len, true)) != 0)
				return rc;
			if ((rc = y_tree(em, k)) != 0)
				return rc;
		}
		yaml_mapping_end_event_initialize(&ev);
		return y_emit(em, &ev);
	}
	if (nd->kind == HOTCFG_SEQ) {
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
		    YAML_BLOCK_SEQUENCE_STYLE))
			return -ENOMEM;
		if ((rc = y_emit(em, &ev)) != 0)
			return rc;
		for (size_t i = 0; i < nd->nkids; i++)
			if ((rc = y_tree(em, nd->kids[i])) != 0)
				return rc;
		yaml_sequence_end_event_initialize(&ev);
		return y_emit(em, &ev);
	}
	return y_scalar(em, nd->e);
}

static int
y_listing(yaml_emitter_t *em, struct dump *d)
{
	yaml_event_t ev;
	char buf[32], num[32];
	int rc;

	if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
	    YAML_BLOCK_MAPPING_STYLE))
		return -ENOMEM;
	if ((rc = y_emit(em, &ev)) != 0)
		return rc;
	for (size_t i = 0; i < d->n; i++) {
		const hotcfg_entry *e = &d->ents[i];
		const char *src = source_name(d->s, e->source, buf,
		    sizeof(buf));
		const char *tname = hotcfg_type_name(e->type);

		if ((rc = y_str(em, e->key, e->key_len, true)) != 0)
			return rc;
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
		    YAML_FLOW_MAPPING_STYLE))
			return -ENOMEM;
		if ((rc = y_emit(em, &ev)) != 0 ||
		    (rc = y_str(em, "type", 4, true)) != 0 ||
		    (rc = y_str(em, tname, strlen(tname), false)) != 0)
			return rc;
		if (e->type == HOTCFG_MAP || e->type == HOTCFG_SEQ) {
			hotcfg_entry c = { .type = HOTCFG_INT };
			c.text = num;
			c.text_len = (size_t)snprintf(num, sizeof(num), "%zu",
			    e->count);
			if ((rc = y_str(em, "count", 5, true)) != 0 ||
			    (rc = y_scalar(em, &c)) != 0)
				return rc;
		} else if ((rc = y_str(em, "value", 5, true)) != 0 ||
		    (rc = y_scalar(em, e)) != 0) {
			return rc;
		}
		if ((rc = y_str(em, "source", 6, true)) != 0 ||
		    (rc = y_str(em, src, strlen(src), false)) != 0)
			return rc;
		yaml_mapping_end_event_initialize(&ev);
		if ((rc = y_emit(em, &ev)) != 0)
			return rc;
	}
	yaml_mapping_end_event_initialize(&ev);
	return y_emit(em, &ev);
}

static int
dump_yaml(struct dump *d, FILE *fp, bool sources)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	int rc;

	if (d->n == 0)
		return 0;
	if (!yaml_emitter_initialize(&em))
		return -ENOMEM;
	yaml_emitter_set_output_file(&em, fp);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);   /* never fold a long line */
	yaml_emitter_set_indent(&em, 2);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	if ((rc = y_emit(&em, &ev)) != 0)
		goto out;
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	if ((rc = y_emit(&em, &ev)) != 0)
		goto out;
	rc = sources ? y_listing(&em, d) : y_tree(&em, d->root);
	if (rc != 0)
		goto out;
	yaml_document_end_event_initialize(&ev, 1);
	if ((rc = y_emit(&em, &ev)) != 0)
		goto out;
	yaml_stream_end_event_initialize(&ev);
	if ((rc = y_emit(&em, &ev)) != 0)
		goto out;
	rc = yaml_emitter_flush(&em) ? 0 : -EIO;
out:
	yaml_emitter_delete(&em);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                         */
/* ------------------------------------------------------------------ */

int
hc_dump_parse_format(const char *name)
{
	if (name == NULL)
		return -EINVAL;
	if (strcmp(name, "flat") == 0)
		return HC_DUMP_FLAT;
	if (strcmp(name, "json") == 0)
		return HC_DUMP_JSON;
	if (strcmp(name, "yaml") == 0)
		return HC_DUMP_YAML;
	return -EINVAL;
}

/*
 * Returns 0; -ENOENT when a prefix was asked for and nothing is under it;
 * -EILSEQ when json or yaml meets text that is not UTF-8; -EIO when fp
 * fails; HOTCFG_ECORRUPT when the keys do not form a tree; -ENOMEM.
 */
int
hc_dump(const hotcfg_snap *s, FILE *fp, int format, const char *prefix,
    bool sources)
{
	struct dump d = { .s = s };
	int rc;

	if (format != HC_DUMP_FLAT && format != HC_DUMP_JSON &&
	    format != HC_DUMP_YAML)
		return -EINVAL;
	if (prefix == NULL)
		prefix = "";
	d.plen = strlen(prefix);
	if ((rc = collect(&d, prefix)) != 0)
		goto out;
	if (d.n == 0 && d.plen > 0) {
		rc = -ENOENT;
		goto out;
	}
	/* Not with n == 0: d.ents is then NULL, which qsort() must not get. */
	if (d.n > 1)
		qsort(d.ents, d.n, sizeof(d.ents[0]), entcmp);
	if (format == HC_DUMP_FLAT) {
		rc = dump_flat(&d, fp, sources);
	} else {
		if (!sources && (rc = build_tree(&d)) != 0)
			goto out;
		if (format == HC_DUMP_JSON)
			rc = dump_json(&d, fp, sources);
		else
			rc = dump_yaml(&d, fp, sources);
	}
	if (rc == 0 && (fflush(fp) == EOF || ferror(fp)))
		rc = -EIO;
out:
	dump_free(&d);
	return rc;
}
