/*
 * fuzz_sections.c - libFuzzer target: a file loaded by sections through
 * the section cache (agent/section.c) against the whole-text parse.
 *
 * fuzz-requires: agent/section.c
 *
 * cfg_load_yaml_cached() promises the tree cfg_load_yaml() gives for the
 * whole text, or the same error at the same line and column, whatever the
 * cache holds from earlier texts.  The input is two texts, an old one and
 * its edit:
 *
 *   OLD "\n=====\n" NEW       (no separator: OLD is empty, NEW all)
 *
 * (the newline before the separator belongs to OLD).  Through one cache
 * the target loads OLD, NEW, OLD, NEW, each compared with cfg_load_yaml()
 * of that text: return code, error (source, line, column, message) and
 * tree, node by node (type, source, text and value, keys and their order,
 * weight and height).  The cache is kept across five sets of limits:
 *  - the fuzz defaults (max_nodes lowered as in fuzz_yaml);
 *  - max_nodes at the weight of NEW's tree, then one less (a budget that
 *    the whole parse counts differently from the sections shows here);
 *  - max_depth at the height of NEW's tree and max_key at its longest
 *    key, then each one less.
 * Any difference aborts.  Each accepted tree is also merged into another
 * tree twice, the way the agent layers sources, to exercise the sharing of
 * frozen nodes under ASan.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEC_SEP "\n=====\n"
#define SEC_NAME "fuzz.yaml"
#define SEC_SOURCE 5

#define SEC_CHECK(cond, ...) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_sections: %s:%d: check failed: %s: ", \
	    __FILE__, __LINE__, #cond); \
	fprintf(stderr, __VA_ARGS__); \
	fputc('\n', stderr); \
	abort(); } } while (0)

/* The text in error messages: shown up to 400 bytes, escaped. */
static void
sec_show(const char *what, const char *t, size_t n)
{
	fprintf(stderr, "--- %s (%zu bytes) ---\n", what, n);
	for (size_t i = 0; i < n && i < 400; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c == '\n' || (c >= 0x20 && c < 0x7f && c != '\\'))
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fprintf(stderr, "\n--- end ---\n");
}

static void
sec_same_tree(const struct cfg_node *a, const struct cfg_node *b,
    const char *path)
{
	size_t k;

	if (a == NULL || b == NULL) {
		SEC_CHECK(a == b, "%s: one tree is empty", path);
		return;
	}
	SEC_CHECK(a->type == b->type, "%s: type %d, whole %d", path, a->type,
	    b->type);
	SEC_CHECK(a->source == b->source, "%s: source", path);
	SEC_CHECK(a->nkids == b->nkids, "%s: %zu children, whole %zu", path,
	    a->nkids, b->nkids);
	SEC_CHECK(a->weight == b->weight, "%s: weight %zu, whole %zu", path,
	    a->weight, b->weight);
	SEC_CHECK(a->height == b->height, "%s: height", path);
	SEC_CHECK(a->refs > 0 && b->refs > 0, "%s: refs", path);
	switch (a->type) {
	case HOTCFG_STR:
	case HOTCFG_BYTES:
		SEC_CHECK(a->len == b->len && memcmp(a->text, b->text,
		    a->len) == 0, "%s: text", path);
		SEC_CHECK(a->text[a->len] == '\0', "%s: text end", path);
		break;
	case HOTCFG_INT:
		SEC_CHECK(a->i == b->i, "%s: int", path);
		break;
	case HOTCFG_FLOAT:
		SEC_CHECK(memcmp(&a->f, &b->f, sizeof(a->f)) == 0 ||
		    (isnan(a->f) && isnan(b->f)), "%s: float", path);
		break;
	case HOTCFG_BOOL:
		SEC_CHECK(a->b == b->b, "%s: bool", path);
		break;
	}
	for (k = 0; k < a->nkids; k++) {
		const struct cfg_kid *x = &a->kids[k], *y = &b->kids[k];
		char sub[256];

		if (a->type == HOTCFG_MAP) {
			SEC_CHECK(x->klen == y->klen && memcmp(x->key, y->key,
			    x->klen) == 0 && x->hash == y->hash,
			    "%s: key %zu", path, k);
			snprintf(sub, sizeof(sub), "%s.%.*s", path,
			    (int)(x->klen > 64 ? 64 : x->klen), x->key);
		} else {
			SEC_CHECK(x->key == NULL && y->key == NULL,
			    "%s: item key", path);
			snprintf(sub, sizeof(sub), "%s[%zu]", path, k);
		}
		sec_same_tree(x->node, y->node, sub);
	}
}

/* The longest mapping key of a tree. */
static size_t
sec_longest_key(const struct cfg_node *n)
{
	size_t m = 0, k;

	if (n == NULL)
		return 0;
	for (k = 0; k < n->nkids; k++) {
		size_t c = sec_longest_key(n->kids[k].node);

		if (n->type == HOTCFG_MAP && n->kids[k].klen > m)
			m = n->kids[k].klen;
		if (c > m)
			m = c;
	}
	return m;
}

/*
 * Load `text` through the cache and whole; abort unless both agree.
 * The whole tree goes to *whole_out when asked, else it is freed.
 */
static void
sec_step(struct cfg_pcache **cache, const char *text, size_t len,
    const struct cfg_limits *lim, struct cfg_node **whole_out)
{
	struct cfg_node *whole = NULL, *cut = NULL, *acc = NULL;
	struct cfg_error ew, ec;
	char *buf = malloc(len ? len : 1);
	int rw, rc;

	SEC_CHECK(buf != NULL, "malloc");
	if (len > 0)
		memcpy(buf, text, len);
	rw = cfg_load_yaml(SEC_NAME, text, len, SEC_SOURCE, lim, &whole, &ew);
	/* Takes over buf. */
	rc = cfg_load_yaml_cached(SEC_NAME, buf, len, SEC_SOURCE, lim, cache,
	    &cut, &ec);
	if (rc != rw || (rw != 0 && (cut != NULL || ec.line != ew.line ||
	    ec.col != ew.col || strcmp(ec.msg, ew.msg) != 0 ||
	    strcmp(ec.source, ew.source) != 0))) {
		sec_show("text", text, len);
		fprintf(stderr, "limits: nodes %zu depth %u key %zu\n",
		    lim->max_nodes, lim->max_depth, lim->max_key);
		fprintf(stderr, "whole: %d %u:%u %s\n", rw, ew.line, ew.col,
		    rw ? ew.msg : "");
		fprintf(stderr, "cut:   %d %u:%u %s\n", rc, ec.line, ec.col,
		    rc ? ec.msg : "");
		SEC_CHECK(0, "the section cache and the whole parse differ");
	}
	if (rw == 0) {
		sec_same_tree(cut, whole, "");
		/* Layer it twice over a copy of itself, as the agent does
		 * with a cached tree: frozen nodes are copied, not changed. */
		if (cut != NULL) {
			SEC_CHECK(cfg_merge(&acc, cfg_node_ref(cut)) == 0,
			    "merge");
			SEC_CHECK(cfg_merge(&acc, cfg_node_ref(whole)) == 0,
			    "merge");
			SEC_CHECK(cfg_merge(&acc, cfg_node_ref(cut)) == 0,
			    "merge");
			sec_same_tree(cut, whole, "(after merges)");
			cfg_free(acc);
		}
	}
	cfg_free(cut);
	if (whole_out != NULL)
		*whole_out = whole;
	else
		cfg_free(whole);
}

static void
sec_round(struct cfg_pcache **cache, const char *old, size_t olen,
    const char *nw, size_t nlen, const struct cfg_limits *lim,
    struct cfg_node **whole_new)
{
	sec_step(cache, old, olen, lim, NULL);
	sec_step(cache, nw, nlen, lim, NULL);
	sec_step(cache, old, olen, lim, NULL);
	sec_step(cache, nw, nlen, lim, whole_new);
}

/*
 * How large sections are cut into groups of their children, chosen by a
 * hash of the input so that a finding replays the same way: the agent's
 * defaults (which cut nothing this small), every child a group of its
 * own, groups chosen by the children's key lines, and small groups with
 * nested cuts.
 */
static void
sec_tune(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	switch (h % 4) {
	case 0:
		cfg_pcache_tune(16384, 2048, 16384, 7);
		break;
	case 1:
		cfg_pcache_tune(0, 0, 0, 0);
		break;
	case 2:
		cfg_pcache_tune(0, 0, SIZE_MAX, 1);
		break;
	default:
		cfg_pcache_tune(24, 8, 64, 3);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *old = "", *nw = in, *sep;
	size_t olen = 0, nlen = size;
	struct cfg_pcache *cache = NULL;
	struct cfg_node *whole = NULL;
	struct cfg_limits lim;

	if (size > (64u << 10))
		return 0;
	sep = memmem(in, size, SEC_SEP, sizeof(SEC_SEP) - 1);
	if (sep != NULL) {
		old = in;
		olen = (size_t)(sep - in) + 1;
		nw = sep + sizeof(SEC_SEP) - 1;
		nlen = size - (size_t)(nw - in);
	}

	sec_tune(data, size);
	cfg_limits_default(&lim);
	lim.max_nodes = 20000;
	sec_round(&cache, old, olen, nw, nlen, &lim, &whole);
	if (whole != NULL) {
		size_t w = whole->weight, key = sec_longest_key(whole);
		unsigned h = whole->height;

		/* The node budget alone, then depth and key length: one
		 * limit that fails for another reason would hide it. */
		lim.max_nodes = w;
		sec_round(&cache, old, olen, nw, nlen, &lim, NULL);
		lim.max_nodes = w > 1 ? w - 1 : w;
		sec_round(&cache, old, olen, nw, nlen, &lim, NULL);
		cfg_limits_default(&lim);
		lim.max_nodes = 20000;
		/* Just fits (0 would mean the default: left as is). */
		if (h > 0)
			lim.max_depth = h;
		if (key > 0)
			lim.max_key = key;
		sec_round(&cache, old, olen, nw, nlen, &lim, NULL);
		/* Just does not. */
		if (h > 1)
			lim.max_depth = h - 1;
		if (key > 1)
			lim.max_key = key - 1;
		sec_round(&cache, old, olen, nw, nlen, &lim, NULL);
	}
	cfg_free(whole);
	cfg_pcache_free(cache);
	return 0;
}
