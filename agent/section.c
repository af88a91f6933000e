/*
 * section.c - load a YAML file section by section, and keep the trees of
 * the sections that did not change since the last read.
 *
 * An edit of a configuration file usually touches one of its top-level
 * sections; parsing the whole file again costs the whole file.  A file
 * source therefore keeps, between reads, the file's text and one tree per
 * top-level section (a run of lines from one top-level key to the next).
 * On the next read only the sections whose text changed are parsed; the
 * others lend their trees as they are (trees are immutable once loaded,
 * node.h), and the root mapping is put together from the sections' keys.
 *
 * The result must be exactly what cfg_load_yaml() gives for the whole
 * text, so sections are used only where that is certain, and everything
 * else goes through cfg_load_yaml() on the whole text as before:
 *
 *  - a section starts at a line whose first byte, at column 0, begins a
 *    plain scalar ([A-Za-z0-9_]).  In a block mapping at column 0 such a
 *    line always starts the next top-level key: it ends any plain or block
 *    scalar before it (their continuation lines are indented), and when it
 *    lies inside a quoted scalar or a flow collection instead, the section
 *    before it does not parse on its own (it ends unterminated);
 *  - every section must parse on its own into one document whose root is
 *    a block mapping at column 0, without a `<<` merge key at its top
 *    (the mapping's own column: a tag or anchor at column 0 on a line
 *    above it may stand before a mapping at column 2, `&x\n  a: "..`,
 *    which the next top-level key would end);
 *  - no document marker (---, ...) after the first top-level key: the
 *    whole file is one document;
 *  - no directive (a line starting with '%') anywhere: a %TAG before the
 *    first key changes what the tags of every section mean (`!str 5`
 *    under `%TAG ! tag:yaml.org,2002:` is a string, alone an integer);
 *  - no line break but "\n" and "\r\n": libyaml also breaks lines at a
 *    lone '\r' and at U+0085, U+2028 and U+2029, and a marker after one
 *    of those would escape the test above (`a: 1\r...\nb: 2` is two
 *    documents, the second without its `---`: an error);
 *  - no anchors and aliases together in the file ('&' and '*'): an alias
 *    may name an anchor of another section (a cheap, conservative test);
 *  - no key twice at the top level, the node budget (max_nodes) held by
 *    the whole as cfg_load_yaml() counts it (the budget each section
 *    spent, which is more than its tree when `<<` values or null
 *    documents before the first key were parsed, less the root mapping
 *    every section but the first counts again), not UTF-16 (libyaml would
 *    convert it), at most MAX_SECTIONS sections.
 * A section that does not parse, a duplicate, a budget exceeded: the whole
 * text is parsed again by cfg_load_yaml(), which gives the error with its
 * exact line and column (or, if we were too careful, the tree).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "tree.h"

#define MAX_SECTIONS 256

/* Sections are recognised by a hash of their text (then compared byte by
 * byte once): a file of many long, nearly equal sections must not cost a
 * compare of every pair. */
#define XXH_INLINE_ALL
#include <xxhash.h>

struct section {
	size_t off, len;
	uint64_t hash;                  /* XXH3-64 of its text */
	struct cfg_node *tree;          /* one reference */
	size_t nodes;                   /* the budget its parse spent */
};

struct cfg_pcache {
	char *buf;                      /* the text of the last good read */
	size_t len;
	unsigned source;
	struct cfg_limits lim;
	struct section *v;
	size_t n;
};

static void
sections_free(struct section *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cfg_free(v[i].tree);
	free(v);
}

void
cfg_pcache_free(struct cfg_pcache *c)
{
	if (c == NULL)
		return;
	sections_free(c->v, c->n);
	free(c->buf);
	free(c);
}

static bool
starts_key(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

static bool
is_marker(const char *p, size_t left)
{
	return left >= 3 && (memcmp(p, "---", 3) == 0 ||
	    memcmp(p, "...", 3) == 0);
}

#define BOM "\xef\xbb\xbf"

static bool
has_bom(const char *p, size_t left)
{
	return left >= 3 && memcmp(p, BOM, 3) == 0;
}

/* A line break of libyaml's other than "\n" and "\r\n". */
static bool
odd_breaks(const char *b, size_t len)
{
	const char *p = b, *end = b + len;

	while ((p = memchr(p, '\r', (size_t)(end - p))) != NULL) {
		if (p + 1 == end || p[1] != '\n')
			return true;
		p++;
	}
	return memmem(b, len, "\xc2\x85", 2) != NULL ||
	    memmem(b, len, "\xe2\x80\xa8", 3) != NULL ||
	    memmem(b, len, "\xe2\x80\xa9", 3) != NULL;
}

/*
 * The sections of buf: the offset where each starts (the first at 0).
 * Returns their number, or 0 when the text is not to be cut (above).
 */
static size_t
find_sections(const char *b, size_t len, size_t *off)
{
	const char *p = b, *end = b + len;
	bool seen_key = false;
	size_t n = 1;

	if (len == 0)
		return 0;
	if (len >= 2 && (((unsigned char)b[0] == 0xff &&
	    (unsigned char)b[1] == 0xfe) || ((unsigned char)b[0] == 0xfe &&
	    (unsigned char)b[1] == 0xff)))
		return 0;
	if (memchr(b, '&', len) != NULL && memchr(b, '*', len) != NULL)
		return 0;
	if (odd_breaks(b, len))
		return 0;
	off[0] = 0;
	while (p < end) {
		const char *nl, *q = p;

		/* libyaml reads past a BOM at the start of the stream as if
		 * it were not there (a directive may follow), and skips one
		 * at the start of a line (then a column further on: not a
		 * section start, but be careful with what follows). */
		if (has_bom(q, (size_t)(end - q)))
			q += 3;
		if (q < end && *q == '%')
			return 0;
		if (q == p && starts_key((unsigned char)*p)) {
			if (seen_key) {
				if (n == MAX_SECTIONS)
					return 0;
				off[n++] = (size_t)(p - b);
			}
			seen_key = true;
		} else if (p == b && q < end && starts_key((unsigned char)*q)) {
			seen_key = true;        /* the first key, after a BOM */
		} else if (seen_key && is_marker(q, (size_t)(end - q))) {
			return 0;
		}
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		p = nl + 1;
	}
	return n >= 2 ? n : 0;
}

/* An unchanged section of the last read, or NULL.  Its tree and budget
 * depend on its text alone (with the source and limits, which the cache
 * was made with): the rules above keep the rest of the file out. */
static const struct section *
reuse(const struct cfg_pcache *c, const char *text, size_t len,
    uint64_t hash, size_t hint)
{
	size_t j;

	if (c == NULL)
		return NULL;
	for (j = 0; j < c->n; j++) {
		const struct section *s = &c->v[(hint + j) % c->n];

		if (s->len == len && s->hash == hash &&
		    memcmp(c->buf + s->off, text, len) == 0)
			return s;
	}
	return NULL;
}

static bool
same_limits(const struct cfg_limits *a, const struct cfg_limits *b)
{
	return a->max_file == b->max_file && a->max_depth == b->max_depth &&
	    a->max_nodes == b->max_nodes && a->max_key == b->max_key;
}

/*
 * Load buf by sections into *out, reusing what *cache has.  0 and the
 * sections in *vp; 1 when the whole text has to be parsed instead.
 */
static int
load_sections(const char *name, const char *buf, size_t len,
    unsigned source, const struct cfg_limits *l, const struct cfg_pcache *c,
    struct section **vp, size_t *np, struct cfg_node **out)
{
	size_t off[MAX_SECTIONS + 1], n, i, k, spent;
	const struct section *s;
	struct section *v;
	struct cfg_node *root = NULL;
	int rc = 1;

	if ((n = find_sections(buf, len, off)) == 0)
		return 1;
	off[n] = len;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct cfg_yaml_info info;
		struct cfg_error err;
		struct cfg_node *t;

		v[i].off = off[i];
		v[i].len = off[i + 1] - off[i];
		v[i].hash = XXH3_64bits(buf + v[i].off, v[i].len);
		if ((s = reuse(c, buf + v[i].off, v[i].len, v[i].hash,
		    i)) != NULL) {
			v[i].tree = cfg_node_ref(s->tree);
			v[i].nodes = s->nodes;
			continue;
		}
		if (cfg_load_yaml_info(name, buf + v[i].off, v[i].len, source,
		    l, &t, &err, &info) != 0)
			goto out;
		v[i].tree = t;
		v[i].nodes = info.nodes;
		if (t == NULL || t->type != HOTCFG_MAP || info.docs != 1 ||
		    info.roots != 1 || !info.root_block_map || info.root_merge)
			goto out;
	}
	/* The budget of the whole text: cfg_load_yaml() refuses it when
	 * the total passes max_nodes (what it spends on the way never
	 * exceeds the total: a key's node, refunded, comes before a value).
	 * Every section but the first spent one node on its own root. */
	spent = v[0].nodes;
	for (i = 1; i < n; i++)
		spent = cfg_sat_add(spent, v[i].nodes - 1);
	if (spent > l->max_nodes)
		goto out;
	rc = -ENOMEM;
	if ((root = cfg_node_new(HOTCFG_MAP, source)) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		const struct cfg_node *t = v[i].tree;

		for (k = 0; k < t->nkids; k++) {
			const struct cfg_kid *kid = &t->kids[k];
			uint64_t h;

			if (cfg_map_get_hash(root, kid->key, kid->klen,
			    &h) != NULL) {
				rc = 1;         /* a duplicate: say where */
				goto out;
			}
			if (cfg_node_add_hashed(root, kid->key, kid->klen, h,
			    false, cfg_node_ref(kid->node)) != 0)
				goto out;
		}
	}
	cfg_node_finish(root);
	if (root->weight > l->max_nodes || root->height > l->max_depth) {
		rc = 1;
		goto out;
	}
	*out = root;
	root = NULL;
	*vp = v;
	*np = n;
	v = NULL;
	rc = 0;
out:
	cfg_free(root);
	if (v != NULL)
		sections_free(v, n);
	return rc;
}

int
cfg_load_yaml_cached(const char *name, char *buf, size_t len,
    unsigned source, const struct cfg_limits *lim, struct cfg_pcache **cache,
    struct cfg_node **out, struct cfg_error *err)
{
	struct cfg_limits l;
	struct cfg_pcache *c = *cache, *nc;
	struct section *v = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	cfg_limits_resolve(lim, &l);
	if (c != NULL && (c->source != source || !same_limits(&c->lim, &l))) {
		cfg_pcache_free(c);
		*cache = c = NULL;
	}
	rc = len <= l.max_file ? load_sections(name, buf, len, source, &l, c,
	    &v, &n, out) : 1;
	if (rc == 1) {
		rc = cfg_load_yaml(name, buf, len, source, &l, out, err);
		if (rc == 0) {
			/* Good, but not by sections: nothing to keep. */
			cfg_pcache_free(c);
			*cache = NULL;
		}
		/* A broken text keeps the sections of the last good one:
		 * the fix usually restores them. */
		free(buf);
		return rc;
	}
	if (rc != 0) {
		free(buf);
		if (err != NULL) {
			snprintf(err->source, sizeof(err->source), "%s", name);
			snprintf(err->msg, sizeof(err->msg), "out of memory");
		}
		return rc;
	}
	if ((nc = calloc(1, sizeof(*nc))) == NULL) {
		/* The tree is good; only the next read loses the sections. */
		sections_free(v, n);
		free(buf);
		cfg_pcache_free(c);
		*cache = NULL;
		return 0;
	}
	nc->buf = buf;
	nc->len = len;
	nc->source = source;
	nc->lim = l;
	nc->v = v;
	nc->n = n;
	cfg_pcache_free(c);
	*cache = nc;
	return 0;
}
