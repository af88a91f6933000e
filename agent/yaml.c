/*
 * yaml.c - YAML (and JSON, which is YAML) text into a configuration tree.
 *
 * libyaml's event API drives a small composer: an explicit stack of open
 * collections (no recursion, so nesting costs heap, never C stack), a table
 * of anchors, and the rules of design.md "The data model".
 *
 * Typing follows the YAML 1.2 core schema.  A plain scalar without a tag is
 * null (empty, ~, null, Null, NULL), bool (true, True, TRUE, false, False,
 * FALSE), int ([-+]?[0-9]+ in decimal, 0o[0-7]+ in octal, 0x[0-9a-fA-F]+ in
 * hex; as in the spec, only decimal takes a sign), float ([-+]?(.N|N(.N*)?)
 * with an optional exponent, and [-+]?.inf and .nan in their three
 * spellings) or else a string.  A decimal integer beyond int64 is read as a
 * float, which the core schema's float pattern also matches; an octal or
 * hex one stays a string.  Quoted, literal and folded scalars are strings.
 *
 * Explicit tags win: !!str, !!int, !!float, !!bool, !!null and !!binary
 * (base64, decoded into a bytes value) convert the text or refuse it with
 * an error; !!map and !!seq must sit on a mapping and a sequence.  The
 * non-specific tag "!" makes a string.  Any other tag (!!timestamp, !!set,
 * a local !thing) is ignored: the node is typed as if it had none, so a
 * plain scalar keeps its core-schema type and a quoted one is a string.
 * This keeps configuration written for other tools loadable, and typed the
 * way a reader of the file would guess.
 *
 * Mapping keys must be scalars; a key that is not a string becomes its text
 * as written (`1: x` has the key "1", `~: y` the key "~").  Keys are
 * compared as text, so `1` and "1" in one mapping are duplicates.  A
 * duplicate key is an error at its line and column.  `<<` (plain, untagged
 * or !!merge) is the merge key: its value, a mapping or a sequence of
 * mappings, lends the mapping every key it does not set itself; among
 * several mappings in a sequence the earlier wins.
 *
 * Anchors and aliases are expanded by sharing (node.h): an alias costs a
 * reference, and its expanded size is added to a budget of nodes checked
 * against cfg_limits.max_nodes before anything grows, so an exponential
 * "billion laughs" document fails at the first alias that would cross the
 * limit, having built only the few nodes it actually spells out.  An alias
 * to a collection that is still open (a recursive structure) is refused.
 * Anchors are scoped to their document.
 *
 * Several documents merge in order like layers (tree.c).  A document whose
 * root is null (an empty document, or one holding only ~ or a comment)
 * contributes nothing; it neither adds nor erases.
 */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "dump.h"
#include "node.h"
#include "tree.h"

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

/* What a tree takes per byte of YAML, about (11 for the benchmarks'
 * config-shaped files): the first chunk of a load's arena, so that the
 * many small loads of a cut file (section.c) waste little of theirs. */
#define TREE_PER_BYTE 12

/* One open mapping or sequence. */
struct frame {
	struct cfg_node *node;
	yaml_mark_t mark;       /* where it starts */
	const char *key;        /* a mapping's key waiting for its value (the
	                           text of its node, in the loader's arena) */
	size_t klen;
	uint64_t khash;
	bool has_key;
	bool merge_key;         /* the waiting key is `<<` */
	bool merged;            /* this mapping had a `<<` already */
	struct cfg_node *merge; /* the value of `<<`, applied at the end */
};

struct loader {
	const char *name;
	const char *buf;
	size_t len;
	unsigned source;
	struct cfg_limits lim;
	struct cfg_error *err;

	struct frame *stack;
	size_t depth, cap;
	struct cfg_node *anchors;  /* a private map: anchor name -> node */
	struct cfg_node *doc;      /* the current document's root */
	struct cfg_node *result;   /* the documents so far, merged */
	size_t nodes;              /* the node budget spent so far */
	struct cfg_yaml_info info; /* for cfg_load_yaml_info() */
};

static int fail(struct loader *, const yaml_mark_t *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Fill the error at `mark` (NULL: no position); returns -EINVAL. */
static int
fail(struct loader *ld, const yaml_mark_t *mark, const char *fmt, ...)
{
	struct cfg_error *err = ld->err;
	va_list ap;

	if (err == NULL)
		return -EINVAL;
	snprintf(err->source, sizeof(err->source), "%s",
	    ld->name != NULL ? ld->name : "");
	err->line = mark != NULL ? (unsigned)mark->line + 1 : 0;
	err->col = mark != NULL ? (unsigned)mark->column + 1 : 0;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int
fail_nomem(struct loader *ld)
{
	fail(ld, NULL, "out of memory");
	return -ENOMEM;
}

/* Keys and anchors shown in messages are cut to a readable length.
 * Values are never shown: a value may be a password or a token, and the
 * message goes to the log and the status (the place says which). */
#define SHOW_MAX 64
#define SHOWN(s, n) ((n) > SHOW_MAX ? SHOW_MAX : (int)(n)), (s), \
	((n) > SHOW_MAX ? "..." : "")

/* ------------------------------------------------------------------ */
/* Scalars.                                                             */
/* ------------------------------------------------------------------ */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void
c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* strtod that ignores the process locale: YAML's decimal point is '.'. */
static double
c_strtod(const char *s)
{
	pthread_once(&c_locale_once, c_locale_init);
	if (c_locale != (locale_t)0)
		return strtod_l(s, NULL, c_locale);
	return strtod(s, NULL);
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
text_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

static bool
match_null(const char *s, size_t n)
{
	return n == 0 || text_is(s, n, "~") || text_is(s, n, "null") ||
	    text_is(s, n, "Null") || text_is(s, n, "NULL");
}

static bool
match_bool(const char *s, size_t n, bool *b)
{
	if (text_is(s, n, "true") || text_is(s, n, "True") ||
	    text_is(s, n, "TRUE")) {
		*b = true;
		return true;
	}
	if (text_is(s, n, "false") || text_is(s, n, "False") ||
	    text_is(s, n, "FALSE")) {
		*b = false;
		return true;
	}
	return false;
}

enum int_match { INT_NO, INT_OK, INT_RANGE_DEC, INT_RANGE_BASED };

/* An integer in one of the core schema's three forms. */
static enum int_match
match_int(const char *s, size_t n, int64_t *out)
{
	uint64_t v = 0, limit = (uint64_t)INT64_MAX;
	unsigned base = 10;
	bool neg = false, over = false;
	size_t i = 0;

	if (n > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
		base = s[1] == 'o' ? 8 : 16;
		i = 2;
	} else if (n > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
		if (neg)
			limit++;        /* -2^63 fits */
	}
	if (i == n)
		return INT_NO;
	for (; i < n; i++) {
		int d = hex_value(s[i]);

		if (d < 0 || (unsigned)d >= base)
			return INT_NO;
		if (v > (limit - (unsigned)d) / base)
			over = true;
		else
			v = v * base + (unsigned)d;
	}
	if (over)
		return base == 10 ? INT_RANGE_DEC : INT_RANGE_BASED;
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return INT_OK;
}

/* A float of the core schema; `s` must be NUL-terminated at n. */
static bool
match_float(const char *s, size_t n, double *out)
{
	size_t i = 0, intd = 0, fracd = 0;
	const char *t = s;

	if (n > 0 && (s[0] == '-' || s[0] == '+'))
		t++;
	if (text_is(t, n - (size_t)(t - s), ".inf") ||
	    text_is(t, n - (size_t)(t - s), ".Inf") ||
	    text_is(t, n - (size_t)(t - s), ".INF")) {
		*out = s[0] == '-' ? -HUGE_VAL : HUGE_VAL;
		return true;
	}
	if (text_is(s, n, ".nan") || text_is(s, n, ".NaN") ||
	    text_is(s, n, ".NAN")) {
		*out = NAN;
		return true;
	}
	i = (size_t)(t - s);
	while (i < n && is_digit(s[i])) {
		i++;
		intd++;
	}
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && is_digit(s[i])) {
			i++;
			fracd++;
		}
	}
	if (intd == 0 && fracd == 0)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t expd = 0;

		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		while (i < n && is_digit(s[i])) {
			i++;
			expd++;
		}
		if (expd == 0)
			return false;
	}
	if (i != n)
		return false;
	*out = c_strtod(s);
	return true;
}

/* Standard base64, whitespace ignored, padding optional.  The result
 * goes to the node's text (NUL-terminated like any text). */
static int
base64_decode(struct cfg_node *n, const char *s, size_t len)
{
	unsigned char *out;
	size_t o;

	if ((out = cfg_node_alloc(n, len / 4 * 3 + 4)) == NULL)
		return -ENOMEM;
	/* On failure, arena memory goes with the arena. */
	if (hc_base64_decode(s, len, out, &o, HC_B64_SPACE) != 0)
		return -EINVAL;
	cfg_node_set_text_buf(n, (char *)out, o);
	return 0;
}

/* What a scalar's tag asks for. */
enum want {
	WANT_AUTO,      /* no tag, or one we ignore: by style and schema */
	WANT_STR, WANT_INT, WANT_FLOAT, WANT_BOOL, WANT_NULL, WANT_BINARY,
	WANT_MAP, WANT_SEQ, WANT_MERGE
};

static enum want
tag_want(const char *tag)
{
	static const struct {
		const char *name;
		enum want want;
	} known[] = {
		{ "str", WANT_STR }, { "int", WANT_INT },
		{ "float", WANT_FLOAT }, { "bool", WANT_BOOL },
		{ "null", WANT_NULL }, { "binary", WANT_BINARY },
		{ "map", WANT_MAP }, { "seq", WANT_SEQ },
		{ "merge", WANT_MERGE },
	};
	size_t k, plen = strlen(YAML_TAG_PREFIX);

	if (tag == NULL)
		return WANT_AUTO;
	if (strcmp(tag, "!") == 0)
		return WANT_STR;
	if (strncmp(tag, YAML_TAG_PREFIX, plen) != 0)
		return WANT_AUTO;
	for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		if (strcmp(tag + plen, known[k].name) == 0)
			return known[k].want;
	return WANT_AUTO;
}

static const char *
short_tag(const char *tag)
{
	size_t plen = strlen(YAML_TAG_PREFIX);

	return strncmp(tag, YAML_TAG_PREFIX, plen) == 0 ? tag + plen : tag;
}

/* Type a scalar node whose text is set, by the core schema. */
static void
type_plain(struct cfg_node *n)
{
	int64_t i;

	if (match_null(n->text, n->len)) {
		n->type = HOTCFG_NULL;
	} else if (match_bool(n->text, n->len, &n->b)) {
		n->type = HOTCFG_BOOL;
	} else {
		switch (match_int(n->text, n->len, &i)) {
		case INT_OK:
			n->type = HOTCFG_INT;
			n->i = i;
			return;
		case INT_RANGE_BASED:
			n->type = HOTCFG_STR;
			return;
		default:
			break;
		}
		/* Out-of-range decimals land here as well. */
		n->type = match_float(n->text, n->len, &n->f) ? HOTCFG_FLOAT :
		    HOTCFG_STR;
	}
}

/*
 * Build the node of a scalar event.  *merge tells whether it is the merge
 * key `<<` (meaningful only where a key is expected).
 */
static int
make_scalar(struct loader *ld, const yaml_event_t *ev, struct cfg_node **out,
    bool *merge)
{
	const char *text = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	size_t len = ev->data.scalar.length;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	enum want want = tag_want(tag);
	struct cfg_node *n;
	int64_t i;
	int rc = -ENOMEM;

	*merge = false;
	if ((n = cfg_node_new(HOTCFG_STR, ld->source)) == NULL)
		return fail_nomem(ld);
	if (cfg_node_set_text(n, text != NULL ? text : "", len) != 0) {
		rc = fail_nomem(ld);
		goto out;
	}
	switch (want) {
	case WANT_MERGE:
	case WANT_AUTO:
		if (text_is(n->text, n->len, "<<") &&
		    (want == WANT_MERGE || (plain && tag == NULL)))
			*merge = true;
		if (plain)
			type_plain(n);
		break;
	case WANT_STR:
		break;
	case WANT_NULL:
		if (!match_null(n->text, n->len)) {
			rc = fail(ld, &ev->start_mark, "the value is not a null "
			    "(tag !!null)");
			goto out;
		}
		n->type = HOTCFG_NULL;
		break;
	case WANT_BOOL:
		if (!match_bool(n->text, n->len, &n->b)) {
			rc = fail(ld, &ev->start_mark, "the value is not a bool "
			    "(tag !!bool)");
			goto out;
		}
		n->type = HOTCFG_BOOL;
		break;
	case WANT_INT:
		switch (match_int(n->text, n->len, &i)) {
		case INT_OK:
			n->type = HOTCFG_INT;
			n->i = i;
			break;
		case INT_NO:
			rc = fail(ld, &ev->start_mark, "the value is not an "
			    "integer (tag !!int)");
			goto out;
		default:
			rc = fail(ld, &ev->start_mark, "the integer is out of "
			    "range (64-bit signed)");
			goto out;
		}
		break;
	case WANT_FLOAT:
		if (match_float(n->text, n->len, &n->f)) {
			n->type = HOTCFG_FLOAT;
		} else if (match_int(n->text, n->len, &i) == INT_OK) {
			n->type = HOTCFG_FLOAT;
			n->f = (double)i;
		} else {
			rc = fail(ld, &ev->start_mark, "the value is not a float "
			    "(tag !!float)");
			goto out;
		}
		break;
	case WANT_BINARY:
		if ((rc = base64_decode(n, text, len)) != 0) {
			if (rc == -ENOMEM)
				rc = fail_nomem(ld);
			else
				rc = fail(ld, &ev->start_mark, "invalid base64 "
				    "data (tag !!binary)");
			goto out;
		}
		n->type = HOTCFG_BYTES;
		break;
	case WANT_MAP:
	case WANT_SEQ:
		rc = fail(ld, &ev->start_mark, "tag !!%s on a scalar",
		    short_tag(tag));
		goto out;
	}
	*out = n;
	n = NULL;
	rc = 0;
out:
	cfg_free(n);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Composing.                                                           */
/* ------------------------------------------------------------------ */

/* Spend `n` nodes of the budget. */
static int
spend(struct loader *ld, size_t n, const yaml_mark_t *mark)
{
	ld->nodes = cfg_sat_add(ld->nodes, n);
	if (ld->nodes > ld->lim.max_nodes)
		return fail(ld, mark, "more than %zu nodes once aliases are "
		    "expanded (limit max_nodes)", ld->lim.max_nodes);
	return 0;
}

static int
add_anchor(struct loader *ld, const yaml_char_t *anchor, struct cfg_node *n)
{
	const char *a = (const char *)anchor;

	if (anchor == NULL)
		return 0;
	/* A later anchor of the same name hides the earlier one. */
	if (cfg_map_put(ld->anchors, a, strlen(a), cfg_node_ref(n)) != 0)
		return fail_nomem(ld);
	return 0;
}

/* The text a scalar node stands for as a key segment. */
static int
take_key(struct loader *ld, struct frame *f, struct cfg_node *n, bool merge,
    const yaml_mark_t *mark)
{
	if (n->type == HOTCFG_MAP || n->type == HOTCFG_SEQ)
		return fail(ld, mark, "a %s cannot be a mapping key (complex "
		    "keys are not supported)", n->type == HOTCFG_MAP ?
		    "mapping" : "sequence");
	/* Decoded bytes need not be text, and a key is text. */
	if (n->type == HOTCFG_BYTES)
		return fail(ld, mark, "a !!binary value cannot be a mapping "
		    "key");
	if (merge) {
		if (ld->depth == 1)
			ld->info.root_merge = true;
		if (f->merged)
			return fail(ld, mark, "duplicate merge key \"<<\"");
		f->merged = true;
		f->merge_key = true;
		f->has_key = true;
		return 0;
	}
	if (memchr(n->text, '\0', n->len) != NULL)
		return fail(ld, mark, "mapping key \"%.*s%s\" holds a NUL "
		    "character", SHOWN(n->text, strlen(n->text)));
	if (n->len > ld->lim.max_key)
		return fail(ld, mark, "mapping key of %zu bytes is longer than "
		    "the limit of %zu (limit max_key)", n->len,
		    ld->lim.max_key);
	if (cfg_map_get_hash(f->node, n->text, n->len, &f->khash) != NULL)
		return fail(ld, mark, "duplicate key \"%.*s%s\"",
		    SHOWN(n->text, n->len));
	/* The key node lives in the loader's arena as long as the map:
	 * its text is the key, without a copy. */
	f->key = n->text;
	f->klen = n->len;
	f->has_key = true;
	return 0;
}

/* A `<<` value must be a mapping or a sequence of mappings. */
static int
check_merge_value(struct loader *ld, const struct cfg_node *n,
    const yaml_mark_t *mark)
{
	size_t k;

	if (n->type == HOTCFG_SEQ)
		for (k = 0; k < n->nkids; k++)
			if (n->kids[k].node->type != HOTCFG_MAP)
				return fail(ld, mark, "item %zu of the merge "
				    "key's sequence is not a mapping", k);
	if (n->type != HOTCFG_MAP && n->type != HOTCFG_SEQ)
		return fail(ld, mark, "the merge key \"<<\" needs a mapping "
		    "or a sequence of mappings");
	return 0;
}

/*
 * A complete node goes to its place: the document root, a sequence item,
 * a mapping key or a mapping value.  Takes over the reference to n.
 * `merge` marks a scalar that is the merge key `<<`.
 */
static int
place(struct loader *ld, struct cfg_node *n, bool merge,
    const yaml_mark_t *mark)
{
	struct frame *f;
	int rc = 0;

	if (ld->depth == 0) {
		cfg_free(ld->doc);      /* never set twice by libyaml */
		ld->doc = n;
		return 0;
	}
	f = &ld->stack[ld->depth - 1];
	if (f->node->type == HOTCFG_SEQ) {
		if (cfg_node_add(f->node, NULL, 0, n) != 0)
			return fail_nomem(ld);
		return 0;
	}
	if (!f->has_key) {
		/* A key is not part of the tree: refund its budget. */
		ld->nodes -= n->weight;
		rc = take_key(ld, f, n, merge, mark);
		cfg_free(n);
		return rc;
	}
	if (f->merge_key) {
		if ((rc = check_merge_value(ld, n, mark)) != 0) {
			cfg_free(n);
			return rc;
		}
		f->merge = n;
		f->merge_key = false;
	} else {
		rc = cfg_node_add_hashed(f->node, f->key, f->klen, f->khash,
		    true, n);
		f->key = NULL;
		if (rc != 0)
			return fail_nomem(ld);
	}
	f->has_key = false;
	return 0;
}

/* Lend the mapping the keys of a `<<` source that it does not set. */
static int
apply_merge_one(struct loader *ld, struct cfg_node *map,
    const struct cfg_node *src)
{
	size_t k;

	for (k = 0; k < src->nkids; k++) {
		const struct cfg_kid *c = &src->kids[k];
		uint64_t h;

		if (cfg_map_get_hash(map, c->key, c->klen, &h) != NULL)
			continue;
		/* Both maps are in the loader's arena: borrow the key. */
		if (cfg_node_add_hashed(map, c->key, c->klen, h, true,
		    cfg_node_ref(c->node)) != 0)
			return fail_nomem(ld);
	}
	return 0;
}

static int
apply_merge(struct loader *ld, struct frame *f)
{
	const struct cfg_node *m = f->merge;
	size_t k;
	int rc = 0;

	if (m == NULL)
		return 0;
	if (m->type == HOTCFG_MAP)
		return apply_merge_one(ld, f->node, m);
	for (k = 0; k < m->nkids && rc == 0; k++)
		rc = apply_merge_one(ld, f->node, m->kids[k].node);
	return rc;
}

static int
open_collection(struct loader *ld, const yaml_event_t *ev)
{
	bool is_map = ev->type == YAML_MAPPING_START_EVENT;
	const char *tag = (const char *)(is_map ?
	    ev->data.mapping_start.tag : ev->data.sequence_start.tag);
	const yaml_char_t *anchor = is_map ? ev->data.mapping_start.anchor :
	    ev->data.sequence_start.anchor;
	enum want want = tag_want(tag);
	struct frame *f;
	struct cfg_node *n;
	int rc;

	if (ld->depth > 0) {
		f = &ld->stack[ld->depth - 1];
		if (f->node->type == HOTCFG_MAP && !f->has_key)
			return fail(ld, &ev->start_mark, "a %s cannot be a "
			    "mapping key (complex keys are not supported)",
			    is_map ? "mapping" : "sequence");
	}
	if (ld->depth + 1 > ld->lim.max_depth)
		return fail(ld, &ev->start_mark, "nesting deeper than %u "
		    "levels (limit max_depth)", ld->lim.max_depth);
	if (want != WANT_AUTO && want != WANT_MERGE &&
	    want != (is_map ? WANT_MAP : WANT_SEQ))
		return fail(ld, &ev->start_mark, "tag !!%s on a %s",
		    short_tag(tag), is_map ? "mapping" : "sequence");
	if ((rc = spend(ld, 1, &ev->start_mark)) != 0)
		return rc;
	if (ld->depth == ld->cap) {
		size_t cap = ld->cap ? ld->cap * 2 : 16;

		if ((f = realloc(ld->stack, cap * sizeof(*f))) == NULL)
			return fail_nomem(ld);
		ld->stack = f;
		ld->cap = cap;
	}
	n = cfg_node_new(is_map ? HOTCFG_MAP : HOTCFG_SEQ, ld->source);
	if (n == NULL)
		return fail_nomem(ld);
	n->open = true;
	if (ld->depth == 0) {
		ld->info.roots++;
		/* The column of the mapping itself: for a block mapping,
		 * libyaml's end mark (the start mark is that of a tag or
		 * anchor before it, which may sit at column 0 on a line of
		 * its own above a mapping indented further). */
		ld->info.root_block_col = is_map &&
		    ev->data.mapping_start.style == YAML_BLOCK_MAPPING_STYLE &&
		    ev->start_mark.column == ev->end_mark.column &&
		    ev->end_mark.column < INT_MAX ?
		    (int)ev->end_mark.column : -1;
	}
	f = &ld->stack[ld->depth++];
	memset(f, 0, sizeof(*f));
	f->node = n;
	f->mark = ev->start_mark;
	return add_anchor(ld, anchor, n);
}

static int
close_collection(struct loader *ld)
{
	struct frame *f = &ld->stack[ld->depth - 1];
	struct cfg_node *n = f->node;
	yaml_mark_t mark = f->mark;
	int rc;

	rc = apply_merge(ld, f);
	cfg_free(f->merge);
	ld->depth--;
	n->open = false;
	cfg_node_finish(n);
	if (rc != 0) {
		cfg_free(n);
		return rc;
	}
	return place(ld, n, false, &mark);
}

static int
on_alias(struct loader *ld, const yaml_event_t *ev)
{
	const char *a = (const char *)ev->data.alias.anchor;
	struct cfg_node *n;
	int rc;

	n = cfg_map_get(ld->anchors, a, strlen(a));
	if (n == NULL)
		return fail(ld, &ev->start_mark, "alias *%.*s%s names no "
		    "anchor", SHOWN(a, strlen(a)));
	if (n->open)
		return fail(ld, &ev->start_mark, "alias *%.*s%s refers to a "
		    "collection that contains it (a recursive structure)",
		    SHOWN(a, strlen(a)));
	if (n->height > 0 && ld->depth + n->height > ld->lim.max_depth)
		return fail(ld, &ev->start_mark, "alias *%.*s%s nests deeper "
		    "than %u levels (limit max_depth)", SHOWN(a, strlen(a)),
		    ld->lim.max_depth);
	if ((rc = spend(ld, n->weight, &ev->start_mark)) != 0)
		return rc;
	return place(ld, cfg_node_ref(n), false, &ev->start_mark);
}

static int
on_scalar(struct loader *ld, const yaml_event_t *ev)
{
	struct cfg_node *n = NULL;
	bool merge;
	int rc;

	if ((rc = spend(ld, 1, &ev->start_mark)) != 0)
		return rc;
	if ((rc = make_scalar(ld, ev, &n, &merge)) != 0)
		return rc;
	if ((rc = add_anchor(ld, ev->data.scalar.anchor, n)) != 0) {
		cfg_free(n);
		return rc;
	}
	return place(ld, n, merge, &ev->start_mark);
}

static int
doc_start(struct loader *ld)
{
	cfg_free(ld->anchors);
	ld->anchors = cfg_node_new(HOTCFG_MAP, 0);
	return ld->anchors == NULL ? fail_nomem(ld) : 0;
}

static int
doc_end(struct loader *ld)
{
	struct cfg_node *doc = ld->doc;

	ld->doc = NULL;
	if (doc == NULL || doc->type == HOTCFG_NULL) {
		cfg_free(doc);
		return 0;
	}
	ld->info.docs++;
	if (cfg_merge(&ld->result, doc) != 0)
		return fail_nomem(ld);
	return 0;
}

/* The line and column of a byte offset, for reader errors. */
static void
offset_mark(const struct loader *ld, size_t off, yaml_mark_t *mark)
{
	size_t i;

	memset(mark, 0, sizeof(*mark));
	mark->index = off;
	for (i = 0; i < off && i < ld->len; i++) {
		if (ld->buf[i] == '\n') {
			mark->line++;
			mark->column = 0;
		} else if (((unsigned char)ld->buf[i] & 0xc0) != 0x80) {
			mark->column++;
		}
	}
}

static int
parse_error(struct loader *ld, const yaml_parser_t *p)
{
	yaml_mark_t mark;
	const char *problem = p->problem != NULL ? p->problem : "syntax error";

	if (p->error == YAML_MEMORY_ERROR)
		return fail_nomem(ld);
	if (p->error == YAML_READER_ERROR) {
		offset_mark(ld, p->problem_offset, &mark);
		return fail(ld, &mark, "%s", problem);
	}
	if (p->context != NULL)
		return fail(ld, &p->problem_mark, "%s (%s at line %zu, column "
		    "%zu)", problem, p->context, p->context_mark.line + 1,
		    p->context_mark.column + 1);
	return fail(ld, &p->problem_mark, "%s", problem);
}

int
cfg_load_yaml(const char *name, const char *buf, size_t len,
    unsigned source, const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err)
{
	struct cfg_yaml_info info;

	return cfg_load_yaml_info(name, buf, len, source, lim, out, err,
	    &info);
}

int
cfg_load_yaml_info(const char *name, const char *buf, size_t len,
    unsigned source, const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err, struct cfg_yaml_info *info)
{
	struct loader ld;
	struct cfg_arena *arena;
	yaml_parser_t parser;
	yaml_event_t ev;
	bool done = false;
	int rc = 0;

	*out = NULL;
	memset(info, 0, sizeof(*info));
	info->root_block_col = -1;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	memset(&ld, 0, sizeof(ld));
	ld.info.root_block_col = -1;
	cfg_limits_resolve(lim, &ld.lim);
	ld.name = name;
	ld.buf = buf != NULL ? buf : "";
	ld.len = buf != NULL ? len : 0;
	ld.source = source;
	ld.err = err;
	if (ld.len > ld.lim.max_file) {
		fail(&ld, NULL, "%zu bytes is more than the limit of %zu "
		    "(limit max_file)", ld.len, ld.lim.max_file);
		return -EFBIG;
	}
	if ((arena = cfg_arena_begin(len > SIZE_MAX /
	    TREE_PER_BYTE ? SIZE_MAX : len * TREE_PER_BYTE)) == NULL)
		return fail_nomem(&ld);
	if (!yaml_parser_initialize(&parser)) {
		cfg_arena_end(arena, NULL);
		return fail_nomem(&ld);
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)ld.buf,
	    ld.len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = parse_error(&ld, &parser);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			rc = doc_start(&ld);
			break;
		case YAML_DOCUMENT_END_EVENT:
			rc = doc_end(&ld);
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			rc = open_collection(&ld, &ev);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			rc = close_collection(&ld);
			break;
		case YAML_SCALAR_EVENT:
			rc = on_scalar(&ld, &ev);
			break;
		case YAML_ALIAS_EVENT:
			rc = on_alias(&ld, &ev);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (rc == 0) {
		*out = ld.result;
		ld.result = NULL;
	}
	/* Every node is in the arena: what is left goes with it, and the
	 * result (if any) keeps it. */
	free(ld.stack);
	cfg_arena_end(arena, *out);
	ld.info.nodes = ld.nodes;
	*info = ld.info;
	return rc;
}
