/*
 * section.c - load a YAML file section by section, and keep the trees of
 * the sections that did not change since the last read.
 *
 * An edit of a configuration file usually touches one of its top-level
 * sections; parsing the whole file again costs the whole file.  A file
 * source therefore keeps, between reads, the file's text and one tree per
 * top-level section (a run of lines from one top-level key to the next),
 * or rather per group of sections: the top-level keys are grouped as a
 * cut chunk's children are (below), so that a file of thousands of flat
 * keys makes groups of a few KiB.  On the next read only the groups whose
 * text changed are parsed; the others lend their trees as they are (trees
 * are immutable once loaded, node.h), and the root mapping is put
 * together from the groups' keys.
 *
 * A large section (split_min bytes and more) that is one key over a block
 * mapping is cut the same way one level down: its children, the lines at
 * the mapping's column that begin a plain key, are parsed in groups, and
 * the section's tree is put together from the groups' keys; a large group
 * of one child is cut again (cut_chunk() gives the form this needs and
 * why the result is the whole parse's).  So an edit deep inside a file of
 * one big section, the usual shape of a service's configuration, parses a
 * group of a few KiB rather than the file.  Each chunk (section or group)
 * is parsed with max_depth less the levels above it, so that depth is
 * counted as the whole parse counts it (`<<` values too), and the budget
 * is added up the same way as for sections.
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
 *    convert it).
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

#define MAX_LEVELS 32

/* Chunks are recognised by a hash of their text (then compared byte by
 * byte once): a file of many long, nearly equal chunks must not cost a
 * compare of every pair. */
#define XXH_INLINE_ALL
#include <xxhash.h>

/*
 * How chunks are cut below the top level (cfg_pcache_tune() changes it
 * for the tests): a chunk of split_min bytes or more is cut into groups of
 * its children; a group ends before a child whose key line hashes to 0
 * under group_mask once the group holds group_min bytes, and before any
 * child once it holds group_max.  Cutting at lines chosen by their own
 * text keeps the groups after an edit where they were: only the group
 * edited (and at worst the next) is parsed again.  A child of split_min
 * bytes or more is a group of its own, to be cut in turn.
 */
static size_t split_min = 16u << 10;
static size_t group_min = 2u << 10;
static size_t group_max = 16u << 10;
static uint64_t group_mask = 7;

void
cfg_pcache_tune(size_t smin, size_t gmin, size_t gmax, unsigned mask)
{
	split_min = smin;
	group_min = gmin;
	group_max = gmax;
	group_mask = mask;
}

/*
 * A run of lines parsed on its own: a top-level section (col 0), or a
 * group of the children of a chunk that was cut (their column).  A cut
 * chunk's tree is put together from its groups, which follow it in the
 * array (pre-order); ndesc counts them with their own groups.
 */
struct chunk {
	size_t off, len;
	unsigned col;                   /* the column of its mapping */
	unsigned level;                 /* cuts above it (its depth - 1) */
	size_t ndesc;
	uint64_t hash;                  /* XXH3-64 of its text */
	struct cfg_node *tree;          /* one reference */
	size_t nodes;                   /* the budget its parse spent */
};

struct cfg_pcache {
	char *buf;                      /* the text of the last good read */
	size_t len;
	unsigned source;
	struct cfg_limits lim;
	struct chunk *v;
	size_t n;
	size_t *slot;                   /* hash index of v: i + 1, 0 empty */
	size_t mask;
	size_t parsed;                  /* bytes the read that made it parsed */
};

static void
chunks_free(struct chunk *v, size_t n)
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
	chunks_free(c->v, c->n);
	free(c->slot);
	free(c->buf);
	free(c);
}

size_t
cfg_pcache_parsed(const struct cfg_pcache *c)
{
	return c != NULL ? c->parsed : 0;
}

size_t
cfg_pcache_chunks(const struct cfg_pcache *c)
{
	return c != NULL ? c->n : 0;
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

/*
 * A line break of libyaml's other than "\n" and "\r\n": a lone CR, NEL
 * (C2 85), LS (E2 80 A8) or PS (E2 80 A9).  One pass, eight bytes at a
 * time past the words that hold neither a CR nor a byte of 0x80 or more
 * (none of the three can start in one): a file of plain ASCII lines costs
 * about a byte a cycle less than the four scans this replaced.
 */
static bool
odd_breaks(const char *b, size_t len)
{
	const unsigned char *p = (const unsigned char *)b, *end = p + len;
	const uint64_t lo = UINT64_C(0x0101010101010101),
	    hi = UINT64_C(0x8080808080808080);

	while (p < end) {
		if (end - p >= 8) {
			uint64_t w, cr;

			memcpy(&w, p, 8);
			cr = w ^ (lo * '\r');  /* a zero byte where a CR was */
			if (((w | ((cr - lo) & ~cr)) & hi) == 0) {
				p += 8;
				continue;
			}
		}
		if (*p == '\r') {
			if (p + 1 == end || p[1] != '\n')
				return true;
			p += 2;
			continue;
		}
		if (*p == 0xc2 && end - p >= 2 && p[1] == 0x85)
			return true;
		if (*p == 0xe2 && end - p >= 3 && p[1] == 0x80 &&
		    (p[2] == 0xa8 || p[2] == 0xa9))
			return true;
		p++;
	}
	return false;
}

/* Append v to the growable array *a of *n (capacity *cap).  0 or -ENOMEM. */
static int
push_off(size_t **a, size_t *n, size_t *cap, size_t v)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64, *na;

		if ((na = realloc(*a, nc * sizeof(**a))) == NULL)
			return -ENOMEM;
		*a = na;
		*cap = nc;
	}
	(*a)[(*n)++] = v;
	return 0;
}

/*
 * The top-level keys of buf: the offset of each key's line in *offp
 * (malloc'd; the first is 0, where the first section starts), their
 * number in *np.  0; 1 when the text is not to be cut (above); -ENOMEM.
 */
static int
find_sections(const char *b, size_t len, size_t **offp, size_t *np)
{
	const char *p = b, *end = b + len;
	bool seen_key = false;
	size_t n = 0, cap = 0, *off = NULL;

	*offp = NULL;
	*np = 0;
	if (len == 0)
		return 1;
	if (len >= 2 && (((unsigned char)b[0] == 0xff &&
	    (unsigned char)b[1] == 0xfe) || ((unsigned char)b[0] == 0xfe &&
	    (unsigned char)b[1] == 0xff)))
		return 1;
	if (memchr(b, '&', len) != NULL && memchr(b, '*', len) != NULL)
		return 1;
	if (odd_breaks(b, len))
		return 1;
	if (push_off(&off, &n, &cap, 0) != 0)
		return -ENOMEM;
	while (p < end) {
		const char *nl, *q = p;

		/* libyaml reads past a BOM at the start of the stream as if
		 * it were not there (a directive may follow), and skips one
		 * at the start of a line (then a column further on: not a
		 * section start, but be careful with what follows). */
		if (has_bom(q, (size_t)(end - q)))
			q += 3;
		if (q < end && *q == '%')
			goto no;
		if (q == p && starts_key((unsigned char)*p)) {
			if (seen_key && push_off(&off, &n, &cap,
			    (size_t)(p - b)) != 0) {
				free(off);
				return -ENOMEM;
			}
			seen_key = true;
		} else if (p == b && q < end && starts_key((unsigned char)*q)) {
			seen_key = true;        /* the first key, after a BOM */
		} else if (seen_key && is_marker(q, (size_t)(end - q))) {
			goto no;
		}
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		p = nl + 1;
	}
	if (!seen_key)
		goto no;
	*offp = off;
	*np = n;
	return 0;
no:
	free(off);
	return 1;
}

static bool
same_limits(const struct cfg_limits *a, const struct cfg_limits *b)
{
	return a->max_file == b->max_file && a->max_depth == b->max_depth &&
	    a->max_nodes == b->max_nodes && a->max_key == b->max_key;
}

/* One read by chunks: the text, and the chunks made so far. */
struct reader {
	const char *name, *buf;
	unsigned source;
	const struct cfg_limits *l;
	const struct cfg_pcache *old;
	struct chunk *v;
	size_t n, cap;
	size_t parsed;
};

/* A chunk of the last read with this text and column, or SIZE_MAX.  Its
 * tree and budget depend on its text alone (with the source and limits,
 * which the cache was made with): the rules above keep the rest of the
 * file out. */
static size_t
find_old(const struct cfg_pcache *c, const char *text, size_t len,
    unsigned col, unsigned level, uint64_t hash)
{
	size_t i;

	if (c == NULL || c->slot == NULL)
		return SIZE_MAX;
	for (i = (size_t)hash & c->mask; c->slot[i] != 0;
	    i = (i + 1) & c->mask) {
		const struct chunk *s = &c->v[c->slot[i] - 1];

		if (s->hash == hash && s->len == len && s->col == col &&
		    s->level == level && memcmp(c->buf + s->off, text, len) == 0)
			return c->slot[i] - 1;
	}
	return SIZE_MAX;
}

/* Room for `more` chunks; 0 or -ENOMEM. */
static int
reserve(struct reader *r, size_t more)
{
	struct chunk *v;
	size_t cap;

	if (r->cap - r->n >= more)
		return 0;
	cap = r->cap ? r->cap : 16;
	while (cap - r->n < more)
		cap *= 2;
	if ((v = realloc(r->v, cap * sizeof(*v))) == NULL)
		return -ENOMEM;
	r->v = v;
	r->cap = cap;
	return 0;
}

static bool
blank_rest(const char *p, const char *eol)
{
	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	return p == eol || (p + 1 == eol && *p == '\r');
}

/* The end of the line at p (its '\n', or end). */
static const char *
eol_of(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? nl : end;
}

/* The line's indentation in spaces. */
static size_t
indent_of(const char *p, const char *eol)
{
	const char *q = p;

	while (q < eol && *q == ' ')
		q++;
	return (size_t)(q - p);
}

/*
 * A key line that may head a cut: `col` spaces, a plain key of the
 * characters below, ':' and nothing but blanks or a comment after it.
 * Then the value is the block mapping below it and nothing else (no tag,
 * anchor or scalar on the key's line).
 */
static bool
is_head(const char *p, const char *eol, size_t col)
{
	const char *q = p + col;

	if (indent_of(p, eol) != col || q >= eol ||
	    !starts_key((unsigned char)*q))
		return false;
	while (q < eol && (starts_key((unsigned char)*q) || *q == '-' ||
	    *q == '.' || *q == '/'))
		q++;
	if (q == eol || *q != ':')
		return false;
	q++;
	if (q < eol && *q != ' ' && *q != '\t' && *q != '\r')
		return false;
	while (q < eol && (*q == ' ' || *q == '\t'))
		q++;
	return q == eol || *q == '#' || (*q == '\r' && q + 1 == eol);
}

static int load_chunk(struct reader *r, size_t off, size_t len,
    unsigned col, unsigned level, size_t *at);

/*
 * A map of the children of every tree in v[from..] at the same level
 * (the groups of one chunk, or the top-level sections), in order.  0; 1 for
 * a key given twice (the whole parse says where); -ENOMEM.
 */
static int
join(struct reader *r, const size_t *idx, size_t n, struct cfg_node **out)
{
	struct cfg_node *m;
	size_t i, k;

	if ((m = cfg_node_new(HOTCFG_MAP, r->source)) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct cfg_node *t = r->v[idx[i]].tree;

		for (k = 0; k < t->nkids; k++) {
			const struct cfg_kid *kid = &t->kids[k];
			uint64_t h;

			if (cfg_map_get_hash(m, kid->key, kid->klen,
			    &h) != NULL) {
				cfg_free(m);
				return 1;
			}
			if (cfg_node_add_hashed(m, kid->key, kid->klen, h,
			    false, cfg_node_ref(kid->node)) != 0) {
				cfg_free(m);
				return -ENOMEM;
			}
		}
	}
	cfg_node_finish(m);
	*out = m;
	return 0;
}

/* Parse chunk i as it is; 0, 1 (not as a chunk: parse the whole file) or
 * -ENOMEM. */
static int
parse_chunk(struct reader *r, size_t i)
{
	struct chunk *c = &r->v[i];
	struct cfg_yaml_info info;
	struct cfg_limits l = *r->l;
	struct cfg_error err;
	struct cfg_node *t;

	/* The whole parse counts every level above the chunk's mapping, and
	 * also the mappings of `<<` values, which the tree does not show. */
	if (l.max_depth <= c->level)
		return 1;
	l.max_depth -= c->level;
	r->parsed += c->len;
	if (cfg_load_yaml_info(r->name, r->buf + c->off, c->len, r->source,
	    &l, &t, &err, &info) != 0)
		return 1;
	c->tree = t;
	c->nodes = info.nodes;
	if (t == NULL || t->type != HOTCFG_MAP || info.docs != 1 ||
	    info.roots != 1 || info.root_block_col != (int)c->col ||
	    info.root_merge)
		return 1;
	return 0;
}

/* The node budget chunks idx[0..n) spent, less their own roots (each
 * parse counts the mapping the chunk is, which the whole has once). */
static size_t
below_roots(const struct reader *r, const size_t *idx, size_t n)
{
	size_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum = cfg_sat_add(sum, r->v[idx[i]].nodes - 1);
	return sum;
}

/*
 * Load the children whose lines begin at starts[0..n) (the first group
 * begins at starts[0], which may lie before its child's line) up to `end`,
 * in groups: a group ends before a child whose key line hashes to 0
 * under group_mask once it holds group_min bytes, before any child once
 * it holds group_max, and around a child of split_min bytes or more.  The
 * groups' indices go to gidx, their number to *ng.  As load_chunk().
 */
static int
load_groups(struct reader *r, const size_t *starts, size_t n, size_t end,
    unsigned col, unsigned level, size_t *gidx, size_t *ng)
{
	const char *stop = r->buf + end;
	size_t j, gstart = starts[0];
	int rc;

	*ng = 0;
	for (j = 0; j < n; j++) {
		size_t next = j + 1 < n ? starts[j + 1] : end;
		bool cut = true;

		if (j + 1 < n) {
			size_t nnext = j + 2 < n ? starts[j + 2] : end;
			size_t span = next - gstart;
			const char *kl = r->buf + next;

			cut = span >= group_max ||
			    next - starts[j] >= split_min ||
			    nnext - next >= split_min ||
			    (span >= group_min && (XXH3_64bits(kl,
			    (size_t)(eol_of(kl, stop) - kl)) & group_mask) ==
			    0);
		}
		if (!cut)
			continue;
		if ((rc = load_chunk(r, gstart, next - gstart, col, level,
		    &gidx[*ng])) != 0)
			return rc;
		(*ng)++;
		gstart = next;
	}
	return 0;
}

/*
 * Cut chunk i into groups of its children.  2 when it is not of the form
 * that allows it (it is then parsed whole; that is known before any group
 * is loaded), else as load_chunk().
 *
 * The form: blank and comment lines, a head line (is_head()) at the
 * chunk's column, then lines that are blank, comments (at any column), or
 * indented by at least the column k > col of the first of them, which
 * begins a plain key.  Every line at column k that begins a plain key
 * begins a child; so the value of the head's key is the block mapping at
 * column k made of the children, and a group of them parses alone into
 * the same keys and values: a line at column k ends every scalar and
 * block collection of the child before it in both parses, and a quoted
 * scalar or flow collection running over it leaves the group before it
 * unterminated, an error (the whole file is then parsed).
 */
static int
cut_chunk(struct reader *r, size_t i, unsigned level)
{
	const char *b = r->buf + r->v[i].off, *end = b + r->v[i].len;
	const char *p = b, *eol, *body;
	unsigned col = r->v[i].col;
	size_t k = 0, *kids = NULL, nk = 0, capk = 0, *gidx = NULL, ng = 0;
	struct cfg_yaml_info info;
	struct cfg_error err;
	struct cfg_node *head = NULL, *inner = NULL, *outer = NULL;
	int rc = 2;

	/* The head line. */
	for (;; p = eol + 1) {
		eol = eol_of(p, end);
		if (!blank_rest(p, eol) && p[indent_of(p, eol)] != '#')
			break;
		if (eol == end)
			return 2;
	}
	if (!is_head(p, eol, col) || eol == end)
		return 2;
	body = eol + 1;
	/* The children. */
	for (p = body; p < end; p = eol + 1) {
		size_t in;

		eol = eol_of(p, end);
		in = indent_of(p, eol);
		if (!blank_rest(p, eol) && p[in] != '#') {
			if (k == 0) {
				if (in <= col ||
				    !starts_key((unsigned char)p[in]))
					goto out;
				k = in;
			}
			if (in < k)
				goto out;
			if (in == k && starts_key((unsigned char)p[k]) &&
			    push_off(&kids, &nk, &capk,
			    (size_t)(p - r->buf)) != 0) {
				rc = -ENOMEM;
				goto out;
			}
		}
		if (eol == end)
			break;
	}
	if (nk == 0)
		goto out;
	/* The head alone: its key exactly as the whole parse reads it. */
	r->parsed += (size_t)(body - b);
	if (cfg_load_yaml_info(r->name, b, (size_t)(body - b), r->source, r->l,
	    &head, &err, &info) != 0 || head == NULL ||
	    head->type != HOTCFG_MAP || head->nkids != 1 || info.docs != 1 ||
	    info.roots != 1 || info.root_block_col != (int)col ||
	    info.root_merge)
		goto out;
	/* The groups (above split_min). */
	if ((gidx = malloc(nk * sizeof(*gidx))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	kids[0] = (size_t)(body - r->buf);
	if ((rc = load_groups(r, kids, nk, r->v[i].off + r->v[i].len,
	    (unsigned)k, level + 1, gidx, &ng)) != 0)
		goto out;
	if ((rc = join(r, gidx, ng, &inner)) != 0)
		goto out;
	rc = -ENOMEM;
	if ((outer = cfg_node_new(HOTCFG_MAP, r->source)) == NULL)
		goto out;
	/* cfg_node_add() takes over inner, also when it fails. */
	rc = cfg_node_add(outer, head->kids[0].key, head->kids[0].klen,
	    inner);
	inner = NULL;
	if (rc != 0) {
		rc = -ENOMEM;
		goto out;
	}
	cfg_node_finish(outer);
	/* The budget as the whole parse of this chunk spends it: its root
	 * and the head's mapping, and what the groups spent below theirs. */
	r->v[i].tree = outer;
	r->v[i].nodes = cfg_sat_add(2, below_roots(r, gidx, ng));
	r->v[i].ndesc = r->n - i - 1;
	outer = NULL;
	rc = 0;
out:
	cfg_free(outer);
	cfg_free(inner);
	cfg_free(head);
	free(gidx);
	free(kids);
	return rc;
}

/*
 * Load the chunk buf[off, off + len) whose mapping is at column `col`:
 * from the last read when it has the same text, else cut (large enough
 * and of the form for it) or parsed.  Its index goes to *at.  0; 1 when
 * the whole file has to be parsed instead; -ENOMEM.
 */
static int
load_chunk(struct reader *r, size_t off, size_t len, unsigned col,
    unsigned level, size_t *at)
{
	const char *text = r->buf + off;
	uint64_t hash = XXH3_64bits(text, len);
	size_t j, d, i = r->n;
	int rc;

	if ((j = find_old(r->old, text, len, col, level, hash)) != SIZE_MAX) {
		const struct chunk *o = r->old->v;

		if (reserve(r, o[j].ndesc + 1) != 0)
			return -ENOMEM;
		/* It, and the groups it was cut into, for the next read. */
		for (d = 0; d <= o[j].ndesc; d++) {
			struct chunk *c = &r->v[r->n++];

			*c = o[j + d];
			c->off = off + (o[j + d].off - o[j].off);
			cfg_node_ref(c->tree);
		}
		*at = i;
		return 0;
	}
	if (reserve(r, 1) != 0)
		return -ENOMEM;
	memset(&r->v[i], 0, sizeof(r->v[i]));
	r->v[i].off = off;
	r->v[i].len = len;
	r->v[i].col = col;
	r->v[i].level = level;
	r->v[i].hash = hash;
	r->n++;
	*at = i;
	if (len >= split_min && level < MAX_LEVELS) {
		if ((rc = cut_chunk(r, i, level)) != 2)
			return rc;
	}
	return parse_chunk(r, i);
}

/* The hash index of c->v; without it (no memory) nothing is reused. */
static void
index_chunks(struct cfg_pcache *c)
{
	size_t size = 16, i, s;

	while (size < 2 * c->n)
		size *= 2;
	if ((c->slot = calloc(size, sizeof(*c->slot))) == NULL)
		return;
	c->mask = size - 1;
	for (i = 0; i < c->n; i++) {
		for (s = (size_t)c->v[i].hash & c->mask; c->slot[s] != 0;
		    s = (s + 1) & c->mask)
			;
		c->slot[s] = i + 1;
	}
}

/*
 * Load buf by sections into *out, reusing what the last read left.  0 and
 * the chunks in *r; 1 when the whole text has to be parsed instead;
 * -ENOMEM.
 */
static int
load_sections(struct reader *r, size_t len, struct cfg_node **out)
{
	size_t *off = NULL, *idx = NULL, n, ng;
	struct cfg_node *root = NULL;
	int rc;

	if ((rc = find_sections(r->buf, len, &off, &n)) != 0)
		return rc;
	rc = 1;
	if (n == 1 && len < split_min)
		goto out;
	rc = -ENOMEM;
	if ((idx = malloc(n * sizeof(*idx))) == NULL)
		goto out;
	/* The top-level keys in groups, as a cut chunk's children. */
	if ((rc = load_groups(r, off, n, len, 0, 0, idx, &ng)) != 0)
		goto out;
	/* The budget of the whole text: cfg_load_yaml() refuses it when
	 * the total passes max_nodes (what it spends on the way never
	 * exceeds the total: a key's node, refunded, comes before a value).
	 * That is one root and what the groups spent below theirs. */
	rc = 1;
	if (cfg_sat_add(1, below_roots(r, idx, ng)) > r->l->max_nodes)
		goto out;
	if ((rc = join(r, idx, ng, &root)) != 0)
		goto out;
	if (root->weight > r->l->max_nodes || root->height > r->l->max_depth) {
		cfg_free(root);
		rc = 1;
		goto out;
	}
	*out = root;
out:
	free(idx);
	free(off);
	return rc;
}

int
cfg_load_yaml_cached(const char *name, char *buf, size_t len,
    unsigned source, const struct cfg_limits *lim, struct cfg_pcache **cache,
    struct cfg_node **out, struct cfg_error *err)
{
	struct cfg_limits l;
	struct cfg_pcache *c = *cache, *nc;
	struct reader r;
	int rc;

	*out = NULL;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	cfg_limits_resolve(lim, &l);
	if (c != NULL && (c->source != source || !same_limits(&c->lim, &l))) {
		cfg_pcache_free(c);
		*cache = c = NULL;
	}
	memset(&r, 0, sizeof(r));
	r.name = name;
	r.buf = buf;
	r.source = source;
	r.l = &l;
	r.old = c;
	rc = len <= l.max_file ? load_sections(&r, len, out) : 1;
	if (rc != 0) {
		chunks_free(r.v, r.n);
		r.v = NULL;
	}
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
		chunks_free(r.v, r.n);
		free(buf);
		cfg_pcache_free(c);
		*cache = NULL;
		return 0;
	}
	nc->buf = buf;
	nc->len = len;
	nc->source = source;
	nc->lim = l;
	nc->v = r.v;
	nc->n = r.n;
	nc->parsed = r.parsed;
	index_chunks(nc);
	cfg_pcache_free(c);
	*cache = nc;
	return 0;
}
