/*
 * test_sections.c - loading a file by top-level sections and keeping the
 * unchanged ones between reads (agent/section.c).
 *
 * The rule under test: whatever the text, cfg_load_yaml_cached() gives
 * the tree cfg_load_yaml() gives for the whole text, or the same error at
 * the same line and column.  Every text here is loaded both ways, first
 * with an empty cache and then as an edit of an earlier text, and the two
 * trees are compared node by node.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "node.h"
#include "tree.h"

static void
same_tree(const struct cfg_node *a, const struct cfg_node *b,
    const char *path)
{
	size_t k;

	if (a == NULL || b == NULL) {
		cr_assert(a == b, "%s: one tree is empty", path);
		return;
	}
	cr_assert_eq(a->type, b->type, "%s: type", path);
	cr_assert_eq(a->source, b->source, "%s: source", path);
	cr_assert_eq(a->nkids, b->nkids, "%s: children", path);
	cr_assert_eq(a->weight, b->weight, "%s: weight", path);
	cr_assert_eq(a->height, b->height, "%s: height", path);
	switch (a->type) {
	case HOTCFG_STR:
	case HOTCFG_BYTES:
		cr_assert_eq(a->len, b->len, "%s: length", path);
		cr_assert(memcmp(a->text, b->text, a->len) == 0, "%s: text",
		    path);
		break;
	case HOTCFG_INT:
		cr_assert_eq(a->i, b->i, "%s: int", path);
		break;
	case HOTCFG_FLOAT:
		cr_assert(a->f == b->f || (isnan(a->f) && isnan(b->f)),
		    "%s: float", path);
		break;
	case HOTCFG_BOOL:
		cr_assert_eq(a->b, b->b, "%s: bool", path);
		break;
	}
	for (k = 0; k < a->nkids; k++) {
		char sub[512];

		if (a->type == HOTCFG_MAP) {
			cr_assert_eq(a->kids[k].klen, b->kids[k].klen,
			    "%s: key %zu", path, k);
			cr_assert(memcmp(a->kids[k].key, b->kids[k].key,
			    a->kids[k].klen) == 0, "%s: key %zu", path, k);
			snprintf(sub, sizeof(sub), "%s.%.*s", path,
			    (int)a->kids[k].klen, a->kids[k].key);
		} else {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, k);
		}
		same_tree(a->kids[k].node, b->kids[k].node, sub);
	}
}

/* Load `text` through the cache and whole; both must agree. */
static void
check(struct cfg_pcache **cache, const char *text,
    const struct cfg_limits *lim)
{
	struct cfg_node *whole = NULL, *cut = NULL;
	struct cfg_error ew, ec;
	size_t len = strlen(text);
	char *buf = malloc(len + 1);
	int rw, rc;

	cr_assert_not_null(buf);
	memcpy(buf, text, len + 1);
	rw = cfg_load_yaml("t.yaml", text, len, 3, lim, &whole, &ew);
	rc = cfg_load_yaml_cached("t.yaml", buf, len, 3, lim, cache, &cut,
	    &ec);
	cr_assert_eq(rc, rw, "rc %d, whole %d (%s) for:\n%s", rc, rw, ew.msg,
	    text);
	if (rw != 0) {
		cr_assert_null(cut);
		cr_assert_str_eq(ec.source, ew.source);
		cr_assert_eq(ec.line, ew.line, "line %u, whole %u: %s", ec.line,
		    ew.line, ew.msg);
		cr_assert_eq(ec.col, ew.col);
		cr_assert_str_eq(ec.msg, ew.msg);
	} else {
		same_tree(cut, whole, "");
	}
	cfg_free(whole);
	cfg_free(cut);
}

/* Each text as a first read, then every pair as an edit. */
static void
check_all(const char *const *texts, size_t n,
    const struct cfg_limits *lim)
{
	for (size_t i = 0; i < n; i++) {
		struct cfg_pcache *cache = NULL;

		check(&cache, texts[i], lim);
		for (size_t j = 0; j < n; j++) {
			check(&cache, texts[j], lim);
			check(&cache, texts[i], lim);
		}
		cfg_pcache_free(cache);
	}
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

Test(sections, edits_of_plain_sections_match_the_whole_parse)
{
	static const char *const t[] = {
		"a: 1\nb: 2\nc: 3\n",
		"a: 1\nb: 20\nc: 3\n",
		"# head\n---\na: 1\nb:\n  x: [1, 2]\n  y: {p: q}\nc: |\n"
		"  text\n\n  more\n\nd: >-\n  folded\n  line\n",
		"a: 1\nb:\n  x: [1, 2]\n  y: {p: q, r: s}\nc: |+\n  text\n\n\n"
		"d: 'x'\n",
		"a:\n- 1\n- 2\nb:\n  - 3\nc: ~\n",
		"a: 1\r\nb: 2\r\nc:\r\n  d: 3\r\n",
		"a: 1\nb: 2",
		"x: !!str 1\ny: !!binary aGk=\nz: !!float 1\n",
		"a: 1\n\n# comment\n\nb: 2\n# tail\n",
		"\xef\xbb\xbf" "a: 1\nb: 2\n",
		"a: 1\nb:\n  <<: {m: 1}\n  n: 2\n",
		"? a\n: 1\nb: 2\n",
	};

	check_all(t, N(t), NULL);
}

Test(sections, texts_not_to_cut_match_the_whole_parse)
{
	static const char *const t[] = {
		/* a quoted scalar whose next line looks like a key */
		"a: \"one\nb: two\"\nc: 3\n",
		"a: 'one\nb: two'\nc: 3\n",
		/* a flow collection across lines */
		"a: [1,\nb, 2]\nc: 3\n",
		"a: {x: 1,\nb: 2}\nc: 3\n",
		/* a root that is no block mapping */
		"{a: 1}\nb: 2\n",
		"- a\nb: 2\n",
		"--- |\nfoo\nbar\n",
		"foo\nbar\n",
		/* documents and directives after the first key */
		"a: 1\n---\nb: 2\n",
		"a: 1\n...\nb: 2\n",
		"%YAML 1.1\n---\na: 1\nb: 2\n",
		/* anchors and aliases across sections */
		"a: &x {p: 1}\nb: *x\n",
		"a: &x 1\nb: *x\nc: 2\n",
		/* merge keys at the top */
		"<<: {a: 1}\nb: 2\nc: 3\n",
		"a: 1\n<<: {b: 1}\nb: 2\n",
		/* duplicates across sections, errors in one */
		"a: 1\nb: 2\na: 3\n",
		"a: 1\nb: [\nc: 3\n",
		"a: 1\nb: !!int x\nc: 3\n",
		"a: 1\n b: 2\nc: 3\n",
		"a: 1\nb\nc: 3\n",
		"  a: 1\nb: 2\n",
		"a: 1\nb: 2\n\tc: 3\n",
		"a:\n  - x\n    y\nb: 1\n",
		"a: plain\ncontinued: no\n",
		"",
		"# only a comment\n",
		"~\n",
	};

	check_all(t, N(t), NULL);
}

Test(sections, limits_hold_for_the_whole_text)
{
	static const char *const t[] = {
		"a: [1, 2, 3]\nb: [4, 5, 6]\nc: [7, 8, 9]\n",
		"a: [1, 2, 3]\nb: [4, 5, 6, 7]\nc: [7, 8, 9]\n",
		"a: {b: {c: {d: 1}}}\ne: 1\n",
		"a: 1\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb: 2\n",
	};
	struct cfg_limits lim;

	cfg_limits_default(&lim);
	lim.max_nodes = 12;
	lim.max_depth = 3;
	lim.max_key = 40;
	check_all(t, N(t), &lim);
}

Test(sections, many_sections_and_a_broken_edit_keep_the_good_tree)
{
	struct cfg_pcache *cache = NULL;
	char *good = NULL, *bad = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&good, &len);

	cr_assert_not_null(fp);
	for (int i = 0; i < 300; i++)
		fprintf(fp, "k%03d:\n  v: %d\n  s: \"x%d\"\n", i, i, i);
	fclose(fp);
	/* top-level keys go in groups, as many as there are */
	check(&cache, good, NULL);
	cr_assert_not_null(cache, "300 sections were not cut");
	cr_assert_gt(cfg_pcache_chunks(cache), 1, "300 sections in one chunk");
	good[len / 2] = '\0';
	good[strrchr(good, '\n') - good + 1] = '\0';
	check(&cache, good, NULL);
	cr_assert_not_null(cache, "150 sections were not cut");
	bad = strdup(good);
	cr_assert_not_null(bad);
	memcpy(strstr(bad, "k010:\n  v: 10"), "k010:\n  v: [", 12);
	check(&cache, bad, NULL);
	cr_assert_not_null(cache, "a broken edit lost the sections");
	check(&cache, good, NULL);
	free(good);
	free(bad);
	cfg_pcache_free(cache);
}

/*
 * Large sections are cut into groups of their children, at every level
 * (section.c).  With the cuts made as small as they go, every text here,
 * loaded both ways as a first read and as an edit of every other, gives
 * the whole parse's tree or error.
 */
Test(sections, nested_cuts_match_the_whole_parse)
{
	static const char *const t[] = {
		"top: 1\nsvc:\n  a:\n    x: 1\n    y: [1, 2]\n  b:\n    x: 2\n"
		"  c:\n    deep:\n      p: 1\n      q: 2\n    z: 'q'\n",
		"top: 1\nsvc:\n  a:\n    x: 1\n    y: [1, 3]\n  b:\n    x: 2\n"
		"  c:\n    deep:\n      p: 1\n      q: 5\n    z: 'q'\n",
		"only:\n  a:\n    b: 1\n  c:\n    d: 2\n",
		"only:  # comment\n  a:\n    b: 1\n# at column 0\n  c:\n"
		"    d: |\n      text\n    # inside\n  e: 3\n",
		"# head\n\nonly:\r\n  a: 1\r\n  b:\r\n    c: 2\r\n",
		/* a quoted scalar or flow collection over a child's line */
		"svc:\n  a: \"x\n  b: y\"\n  c: 3\n",
		"svc:\n  a: [1,\n  b, 2]\n  c: 3\n",
		"svc:\n  a: {x: 1,\n  b: 2}\n  c: 3\n",
		/* continuation lines, block scalars with indicators */
		"svc:\n  a: |2\n    x\n  b: >\n    y\n  c: z\n    w\n",
		"svc:\n  a: plain\n  b: 1\n",
		/* what no cut may hide */
		"svc:\n  a: 1\n  a: 2\n",
		"svc:\n  <<: {m: 1}\n  a: 1\n",
		"svc:\n  a: 1\n  <<: {a: 2}\n",
		"svc:\n  a:\n  - 1\n  b: 2\n",
		"svc:\n- 1\n- 2\n",
		"svc:\n   a: 1\n  b: 2\n",
		"svc:\n  a: 1\n   b: 2\n",
		"svc:\n  a: 1\n b: 2\n",
		"svc:\n  a: 1\n\tb: 2\n",
		"svc: !!map\n  a: 1\n",
		"svc: &x\n  a: 1\n",
		"svc: {a: 1}\n",
		"svc:\n  \"q\": 1\n  a: 2\n",
		"svc:\n  ? k\n  : v\n  a: 2\n",
		"svc:\n  a: 1\n\"q\": 2\n",
		"svc:\n  a: 1\n---\nb: 2\n",
		"svc:\n  d::\n   <<: {m: 1}\n  n: 3\n",
		"true:\n  a: 1\n  b: 2\n",
		"1:\n  2:\n    3: x\n  4: y\n",
	};
	struct cfg_limits lim;

	cfg_pcache_tune(0, 0, 0, 0);
	check_all(t, N(t), NULL);
	cfg_pcache_tune(0, 0, SIZE_MAX, 1);
	check_all(t, N(t), NULL);
	/* the depth and node limits at the cuts */
	cfg_limits_default(&lim);
	lim.max_depth = 3;
	lim.max_nodes = 9;
	cfg_pcache_tune(0, 0, 0, 0);
	check_all(t, N(t), &lim);
}

/* A bench-shaped file: `services` holds n services of a few keys each. */
static char *
services_file(unsigned n, unsigned edit)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	cr_assert_not_null(fp);
	fprintf(fp, "# services\nversion: 3\nservices:\n");
	for (unsigned i = 0; i < n; i++)
		fprintf(fp, "  svc-%05u:\n    host: \"svc-%u.internal\"\n"
		    "    port: %u\n    limits:\n      rps: %u\n"
		    "      burst: %u\n    tags: [a, b]\n", i, i, 1024 + i,
		    i == n / 2 ? edit : 100 + i, i % 7);
	fprintf(fp, "tail: end\n");
	fclose(fp);
	return buf;
}

Test(sections, an_edit_deep_in_a_large_section_parses_only_its_group)
{
	struct cfg_pcache *cache = NULL;
	char *a = services_file(3000, 1), *b = services_file(3000, 2);
	size_t len = strlen(a);

	check(&cache, a, NULL);
	cr_assert_not_null(cache);
	/* the first read parses everything once (and the heads) */
	cr_assert_geq(cfg_pcache_parsed(cache), len);
	cr_assert_gt(cfg_pcache_chunks(cache), 3 + len / (16u << 10),
	    "%zu chunks for %zu bytes: services was not cut",
	    cfg_pcache_chunks(cache), len);
	check(&cache, b, NULL);
	/* the edit's group, and the heads above it */
	cr_assert_lt(cfg_pcache_parsed(cache), 64u << 10,
	    "an edit of one value parsed %zu of %zu bytes",
	    cfg_pcache_parsed(cache), len);
	check(&cache, a, NULL);
	cr_assert_lt(cfg_pcache_parsed(cache), 64u << 10);
	/* nothing changed: nothing parsed */
	check(&cache, a, NULL);
	cr_assert_eq(cfg_pcache_parsed(cache), 0);
	free(a);
	free(b);
	cfg_pcache_free(cache);
}

Test(sections, an_edit_of_a_flat_file_of_many_keys_parses_only_its_group)
{
	struct cfg_pcache *cache = NULL;
	char *buf[2] = { NULL, NULL };
	size_t len[2];

	for (int v = 0; v < 2; v++) {
		FILE *fp = open_memstream(&buf[v], &len[v]);

		cr_assert_not_null(fp);
		for (unsigned i = 0; i < 20000; i++)
			fprintf(fp, "server.pool%u.timeout_ms: %u\n", i,
			    i == 12345 ? 7u + (unsigned)v : i);
		fclose(fp);
	}
	check(&cache, buf[0], NULL);
	cr_assert_not_null(cache);
	cr_assert_gt(cfg_pcache_chunks(cache), len[0] / (16u << 10));
	check(&cache, buf[1], NULL);
	cr_assert_lt(cfg_pcache_parsed(cache), 64u << 10,
	    "an edit of one key parsed %zu of %zu bytes",
	    cfg_pcache_parsed(cache), len[1]);
	free(buf[0]);
	free(buf[1]);
	cfg_pcache_free(cache);
}

/*
 * What review and tests/fuzz/fuzz_sections.c found: texts whose sections
 * each parsed alone while the whole text said something else.  Each is
 * also in tests/fuzz/regress/sections/.
 */
Test(sections, directives_before_the_first_key_are_not_cut)
{
	/* %TAG ! makes `!str` mean !!str in every section; alone, `!str`
	 * is a local tag (ignored): the integer 5, and an accepted `!int
	 * x`.  A BOM before the directive hid it from the test. */
	static const char *const t[] = {
		"%TAG ! tag:yaml.org,2002:\n---\na: 1\nb: !str 5\n",
		"%TAG ! tag:yaml.org,2002:\n---\na: 1\nb: !int x\n",
		"\xef\xbb\xbf%TAG ! tag:yaml.org,2002:\n---\na: 1\nb: !int x\n",
		"%TAG !! tag:example.com,2000:\n---\na: 1\nb: !!str 5\n",
		"%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\nb: !e!y 2\n",
		"a: 1\nb: 2\n",
	};

	check_all(t, N(t), NULL);
}

Test(sections, every_line_break_of_libyaml_counts)
{
	/* libyaml ends a line at a lone CR, NEL, LS and PS as well: the
	 * document end hidden behind one made a second document without
	 * its `---`, an error that the sections did not see. */
	static const char *const t[] = {
		"a: 1\r...\nc: 3\n",
		"a: 1\xc2\x85...\nc: 3\n",
		"a: 1\xe2\x80\xa8...\nc: 3\n",
		"a: 1\xe2\x80\xa9---\nc: 3\n",
		"a: 1\r%YAML 1.1\nc: 3\n",
		"a: 1\rb: 2\rc: 3\r",
		"a: 1\r\nb: 2\r\nc: 3\r\n",
		"a: 1\nb: 2\r",
	};

	check_all(t, N(t), NULL);
}

/*
 * The same breaks at every offset from the start of the text to 23 bytes
 * in (the scan for them skips eight bytes at a time).  A text with one of
 * them is parsed whole: with a break that separates two keys (valid
 * YAML) in front of 3,000 more, the parse cache holds one chunk, where
 * the same text with "\n" or "\r\n" there is cut into several.
 */
Test(sections, every_line_break_is_seen_at_every_offset)
{
	static const char *const brk[] = { "\r", "\xc2\x85", "\xe2\x80\xa8",
		"\xe2\x80\xa9", "\n", "\r\n" };
	char *tail = NULL, text[128];
	size_t tlen = 0;
	FILE *fp = open_memstream(&tail, &tlen);

	cr_assert_not_null(fp);
	for (unsigned i = 0; i < 3000; i++)
		fprintf(fp, "key%u: %u\n", i, i);
	fclose(fp);
	for (size_t pad = 0; pad < 24; pad++) {
		const char *t[N(brk)];

		for (size_t k = 0; k < N(brk); k++) {
			struct cfg_pcache *cache = NULL;
			char *big;

			snprintf(text, sizeof(text), "p: %.*s\na: 1%s...\nc: 3\n",
			    (int)pad, "xxxxxxxxxxxxxxxxxxxxxxxx", brk[k]);
			cr_assert(asprintf(&big, "p: %.*s\na: 1%sb: 2\n%s",
			    (int)pad, "xxxxxxxxxxxxxxxxxxxxxxxx", brk[k],
			    tail) > 0);
			check(&cache, big, NULL);
			if (k < 4)
				cr_assert_leq(cfg_pcache_chunks(cache), 1,
				    "break %zu at %zu: cut into %zu chunks", k,
				    pad + 8, cfg_pcache_chunks(cache));
			else
				cr_assert_gt(cfg_pcache_chunks(cache), 1);
			cfg_pcache_free(cache);
			free(big);
			t[k] = strdup(text);
		}
		check_all(t, N(t), NULL);
		for (size_t k = 0; k < N(brk); k++)
			free((char *)t[k]);
	}
	free(tail);
}

Test(sections, a_tag_or_anchor_above_an_indented_root_is_no_root_at_column_0)
{
	/* The start mark of a mapping with a tag or an anchor is the tag's:
	 * column 0 on a line of its own, above a mapping at column 2 that
	 * the next top-level key ends (an error for the whole text). */
	static const char *const t[] = {
		"&x\n  a: \"foo\nb: 2\"\nc: 3\n",
		"!!map\n  a: [1,\nb]\nc: 3\n",
		"!local\n  a: 'x\nb: y'\nc: 3\n",
		"&x\na: 1\nb: 2\n",
		"!!map\na: 1\nb: 2\n",
		"--- !!map\na: 1\nb: 2\n",
	};

	check_all(t, N(t), NULL);
}

Test(sections, the_budget_is_counted_as_the_whole_parse_counts_it)
{
	/* cfg_load_yaml() spends a node on each null document before the
	 * first key and on each node of a `<<` value: more than the tree
	 * holds, which is all the sections checked. */
	static const char *const t[] = {
		"---\n---\na: 1\nb: 2\n",
		"---\n...\n---\na: 1\nb: 2\n",
		"a:\n  <<: {x: 1, y: 2, z: 3, w: 4}\nb: [1, 2, 3, 4, 5]\n",
		"a:\n  <<: {x: 1, y: 2, z: 3, w: 4}\nb: 1\n",
		"a:\n  <<: [{x: 1}, {y: 2}]\n  x: 0\nb: [1, 2]\n",
		"a: 1\nb: 2\n",
	};
	struct cfg_limits lim;

	cfg_limits_default(&lim);
	for (size_t max = 1; max <= 16; max++) {
		lim.max_nodes = max;
		check_all(t, N(t), &lim);
	}
}

Test(sections, more_edge_cases_match_the_whole_parse)
{
	static const char *const t[] = {
		/* a BOM at the start of a line: skipped by libyaml */
		"a: 1\n\xef\xbb\xbf" "b: 2\nc: 3\n",
		"a: |\n  x\n\xef\xbb\xbf...\nc: 3\n",
		"a: 1\n\xef\xbb\xbf%TAG ! tag:yaml.org,2002:\nb: !str 5\n",
		/* tabs, complex keys, keys of digits and '_' */
		"a:\t1\nb:\t2\n",
		"? a\n: 1\n? b\n: 2\nc: 3\n",
		"a: 1 #c\n_b: 2\n0: 3\n",
		"1: a\n\"1\": b\n",
		"a: 1\n1: 2\n01: 3\n0x1: 4\n",
		/* scalars that end at the next top-level key */
		"a: >2\n   x\n  y\nb: 1\n",
		"a: x\n  y\nb: |-\n  z\n\n\nc: \"q\n  r\"\n",
		"a: |+\n  x\n\n# c\n\nb: 1\n",
		/* empty values, with a tag or an anchor left open */
		"a:\nb:\nc:\n",
		"a: !!str\nb: !!map\nc: 1\n",
		"a: &x\nb: 2\n",
		"a: !!seq\n- 1\nb: 2\n",
		"a:\n- b: 1\n  c: 2\nd: 3\n",
		/* errors in a later section, NUL, UTF-16, a trailing ... */
		"a: 1\nb: 2\nc: [\n",
		"a: 1\nb: 2\n...",
		"a: \"\xe2\x80\xa8\"\nb: 2\n",
		"\xff\xfe" "a\0:\0 \0" "1\0\n\0",
	};

	check_all(t, N(t), NULL);
}

Test(sections, a_nul_byte_is_an_error_at_its_place)
{
	static const char text[] = "a: 1\nb: \0\nc: 3\n";
	struct cfg_pcache *cache = NULL;
	struct cfg_node *whole = NULL, *cut = NULL;
	struct cfg_error ew, ec;
	size_t len = sizeof(text) - 1;
	char *buf = malloc(len);

	cr_assert_not_null(buf);
	memcpy(buf, text, len);
	cr_assert_neq(cfg_load_yaml("t.yaml", text, len, 3, NULL, &whole,
	    &ew), 0);
	cr_assert_neq(cfg_load_yaml_cached("t.yaml", buf, len, 3, NULL,
	    &cache, &cut, &ec), 0);
	cr_assert_null(cut);
	cr_assert_eq(ec.line, ew.line);
	cr_assert_eq(ec.col, ew.col);
	cr_assert_str_eq(ec.msg, ew.msg);
	cfg_pcache_free(cache);
}

/* The rules must not stop the cutting of ordinary files. */
Test(sections, ordinary_files_are_still_cut)
{
	static const char *const t[] = {
		"a: 1\nb: 2\n",
		"\xef\xbb\xbf" "a: 1\nb: 2\n",
		"a: 1\r\nb:\r\n  c: 2\r\n",
		"# head\n---\na: 1\nb: 2\n",
		"a: &x 1\nb: 2\n",
		"a:\n  <<: {m: 1}\nb: 2\n",
		"!!map\na: 1\nb: 2\n",
	};

	for (size_t i = 0; i < N(t); i++) {
		struct cfg_pcache *cache = NULL;

		check(&cache, t[i], NULL);
		cr_expect_not_null(cache, "not cut:\n%s", t[i]);
		cfg_pcache_free(cache);
	}
}

/*
 * The seeds and findings of fuzz_sections, through the target itself
 * (tests/helpers/fuzzrun knows only the older targets): a failed check
 * aborts, which fails this test and names the input on stderr.
 */
#define LLVMFuzzerTestOneInput fuzz_sections_one
#include "fuzz/fuzz_sections.c"
#undef LLVMFuzzerTestOneInput

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

/* The input being replayed, named when a check aborts. */
static char replaying[4352];

static void
on_abort(int sig)
{
	static const char what[] = "fuzz_sections: failed on ";

	(void)sig;
	if (write(2, what, sizeof(what) - 1) < 0 ||
	    write(2, replaying, strlen(replaying)) < 0 ||
	    write(2, "\n", 1) < 0)
		_exit(134);
	signal(SIGABRT, SIG_DFL);
	raise(SIGABRT);
}

static unsigned
replay_dir(const char *kind)
{
	const char *src = getenv("HOTCFG_SRC");
	char path[4096];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/tests/fuzz/%s/sections",
	    src ? src : ".", kind);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char file[4352];
		uint8_t *data;
		long size;
		FILE *fp;

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		cr_assert_not_null(fp = fopen(file, "rb"), "%s", file);
		cr_assert_eq(fseek(fp, 0, SEEK_END), 0);
		cr_assert_geq(size = ftell(fp), 0);
		rewind(fp);
		/* Exactly the size, so that ASan sees a read past it. */
		cr_assert_not_null(data = malloc(size ? (size_t)size : 1));
		cr_assert_eq(fread(data, 1, (size_t)size, fp), (size_t)size);
		fclose(fp);
		snprintf(replaying, sizeof(replaying), "%s", file);
		fuzz_sections_one(data, (size_t)size);
		free(data);
		n++;
	}
	closedir(d);
	return n;
}

Test(sections, fuzz_seeds_and_findings_pass_the_target_checks,
    .timeout = 300)
{
	signal(SIGABRT, on_abort);
	cr_assert_gt(replay_dir("corpus"), 0, "no seeds in "
	    "tests/fuzz/corpus/sections (HOTCFG_SRC)");
	cr_assert_gt(replay_dir("regress"), 0, "no findings in "
	    "tests/fuzz/regress/sections (HOTCFG_SRC)");
}
