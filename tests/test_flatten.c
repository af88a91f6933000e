/*
 * test_flatten.c - YAML text to flattened entries (agent/yaml.c, tree.c).
 *
 * Each test loads a small document with cfg_load_yaml(), flattens it with
 * cfg_emit() into the real snapshot builder, and reads the result back
 * through the public reader API (hc_snap_wrap(), hotcfg_get...), so what
 * is checked is what a service would see.  Errors are checked for their
 * code, their message and their line and column.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "internal.h"
#include "tree.h"

/* A built snapshot and what it was built from. */
struct snap {
	void *blob;
	hotcfg_snap *s;
};

static void
snap_free(struct snap *sn)
{
	hc_snap_unwrap(sn->s);
	free(sn->blob);
}

/* Flatten a tree into a snapshot; the tree is released. */
static struct snap
snap_tree(struct cfg_node *tree, const struct cfg_limits *lim)
{
	struct hc_builder *b;
	struct cfg_error err;
	struct snap sn;
	size_t size;
	char *dup = NULL;
	int rc;

	cr_assert_eq(hc_builder_new(&b), 0);
	rc = cfg_emit(tree, b, lim, &err);
	cr_assert_eq(rc, 0, "cfg_emit: %d %s", rc, err.msg);
	rc = hc_builder_finish(b, 0, &sn.blob, &size, &dup);
	cr_assert_eq(rc, 0, "hc_builder_finish: %d %s", rc,
	    dup != NULL ? dup : "");
	cr_assert_eq(hc_snap_wrap(sn.blob, size, &sn.s), 0);
	hc_builder_free(b);
	cfg_free(tree);
	return sn;
}

static struct snap
snap_yaml(const char *text)
{
	struct cfg_node *tree = NULL;
	struct cfg_error err;
	int rc;

	rc = cfg_load_yaml("test.yaml", text, strlen(text), 0, NULL, &tree,
	    &err);
	cr_assert_eq(rc, 0, "load: %d %u:%u %s\n--\n%s", rc, err.line,
	    err.col, err.msg, text);
	return snap_tree(tree, NULL);
}

/* Load text that must be refused; returns the error code. */
static int
load_fails(const char *text, const struct cfg_limits *lim,
    struct cfg_error *err)
{
	struct cfg_node *tree = (struct cfg_node *)&tree;   /* not NULL */
	int rc;

	rc = cfg_load_yaml("bad.yaml", text, strlen(text), 0, lim, &tree,
	    err);
	cr_assert_lt(rc, 0, "accepted:\n%s", text);
	cr_assert_null(tree, "a failed load must leave no tree");
	cr_assert_str_eq(err->source, "bad.yaml");
	return rc;
}

/* Assert the error's message holds `what` and, if line != 0, where. */
static void
expect_error(const char *text, const char *what, unsigned line,
    unsigned col)
{
	struct cfg_error err;
	int rc = load_fails(text, NULL, &err);

	cr_expect_eq(rc, -EINVAL, "code %d for:\n%s", rc, text);
	cr_expect_not_null(strstr(err.msg, what), "message \"%s\" lacks "
	    "\"%s\"", err.msg, what);
	if (line != 0) {
		cr_expect_eq(err.line, line, "line %u, not %u: %s", err.line,
		    line, err.msg);
		cr_expect_eq(err.col, col, "column %u, not %u: %s", err.col,
		    col, err.msg);
	}
}

static hotcfg_entry
get(const struct snap *sn, const char *key)
{
	hotcfg_entry e;

	cr_assert_eq(hotcfg_get(sn->s, key, &e), 0, "no key \"%s\"", key);
	return e;
}

static void
expect_type(const struct snap *sn, const char *key, int type)
{
	hotcfg_entry e = get(sn, key);

	cr_expect_eq(e.type, type, "%s: %s, not %s", key,
	    hotcfg_type_name(e.type), hotcfg_type_name(type));
}

static void
expect_str(const struct snap *sn, const char *key, const char *val)
{
	hotcfg_entry e = get(sn, key);

	cr_expect_eq(e.type, HOTCFG_STR, "%s: %s, not str", key,
	    hotcfg_type_name(e.type));
	cr_expect_str_eq(e.text, val, "%s", key);
}

static void
expect_int(const struct snap *sn, const char *key, int64_t val)
{
	hotcfg_entry e = get(sn, key);

	cr_expect_eq(e.type, HOTCFG_INT, "%s: %s \"%s\", not int", key,
	    hotcfg_type_name(e.type), e.text);
	cr_expect_eq(e.i, val, "%s: %jd, not %jd", key, (intmax_t)e.i,
	    (intmax_t)val);
}

static void
expect_float(const struct snap *sn, const char *key, double val)
{
	hotcfg_entry e = get(sn, key);

	cr_expect_eq(e.type, HOTCFG_FLOAT, "%s: %s \"%s\", not float", key,
	    hotcfg_type_name(e.type), e.text);
	if (isnan(val))
		cr_expect(isnan(e.f), "%s: %g is not NaN", key, e.f);
	else
		cr_expect_eq(e.f, val, "%s: %g, not %g", key, e.f, val);
}

static void
expect_bool(const struct snap *sn, const char *key, bool val)
{
	hotcfg_entry e = get(sn, key);

	cr_expect_eq(e.type, HOTCFG_BOOL, "%s: %s, not bool", key,
	    hotcfg_type_name(e.type));
	cr_expect_eq(e.b, val, "%s", key);
}

static void
expect_count(const struct snap *sn, const char *key, int type, size_t n)
{
	hotcfg_entry e = get(sn, key);

	cr_expect_eq(e.type, type, "%s: %s", key, hotcfg_type_name(e.type));
	cr_expect_eq(e.count, n, "%s: %zu children, not %zu", key, e.count,
	    n);
}

static void
expect_missing(const struct snap *sn, const char *key)
{
	hotcfg_entry e;

	cr_expect_eq(hotcfg_get(sn->s, key, &e), -ENOENT, "\"%s\" exists",
	    key);
}

/* ------------------------------------------------------------------ */
/* Scalar types.                                                        */
/* ------------------------------------------------------------------ */

Test(scalars, core_schema_nulls_are_null_and_quoted_ones_strings)
{
	struct snap sn = snap_yaml(
	    "a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: \"\"\ng: 'null'\n"
	    "h: nULL\ni: [~, ]\n");

	expect_type(&sn, "a", HOTCFG_NULL);
	expect_type(&sn, "b", HOTCFG_NULL);
	expect_type(&sn, "c", HOTCFG_NULL);
	expect_type(&sn, "d", HOTCFG_NULL);
	expect_type(&sn, "e", HOTCFG_NULL);
	expect_str(&sn, "f", "");
	expect_str(&sn, "g", "null");
	expect_str(&sn, "h", "nULL");
	expect_type(&sn, "i[0]", HOTCFG_NULL);
	cr_expect_str_eq(get(&sn, "a").text, "null", "canonical text");
	snap_free(&sn);
}

Test(scalars, core_schema_bools_only_in_their_six_spellings)
{
	struct snap sn = snap_yaml(
	    "a: true\nb: True\nc: TRUE\nd: false\ne: False\nf: FALSE\n"
	    "g: yes\nh: on\ni: tRUE\nj: \"true\"\n");

	expect_bool(&sn, "a", true);
	expect_bool(&sn, "b", true);
	expect_bool(&sn, "c", true);
	expect_bool(&sn, "d", false);
	expect_bool(&sn, "e", false);
	expect_bool(&sn, "f", false);
	expect_str(&sn, "g", "yes");        /* YAML 1.1 only */
	expect_str(&sn, "h", "on");
	expect_str(&sn, "i", "tRUE");
	expect_str(&sn, "j", "true");
	cr_expect_str_eq(get(&sn, "b").text, "true", "canonical text");
	snap_free(&sn);
}

Test(scalars, core_schema_ints_in_decimal_octal_and_hex)
{
	struct snap sn = snap_yaml(
	    "dec: 42\nneg: -17\npos: +8\nzero: 0\nlead: 012\n"
	    "oct: 0o17\nhex: 0x1F\nHEX: 0xff\n"
	    "max: 9223372036854775807\nmin: -9223372036854775808\n"
	    "big: 9223372036854775808\nbighex: 0x10000000000000000\n"
	    "neghex: -0x10\nbadoct: 0o8\nunder: 1_000\nquoted: '42'\n"
	    "bare0x: 0x\n");

	expect_int(&sn, "dec", 42);
	expect_int(&sn, "neg", -17);
	expect_int(&sn, "pos", 8);
	expect_int(&sn, "zero", 0);
	expect_int(&sn, "lead", 12);        /* decimal in YAML 1.2 */
	expect_int(&sn, "oct", 15);
	expect_int(&sn, "hex", 31);
	expect_int(&sn, "HEX", 255);
	expect_int(&sn, "max", INT64_MAX);
	expect_int(&sn, "min", INT64_MIN);
	/* Past int64: a decimal matches the float pattern too... */
	expect_float(&sn, "big", 9223372036854775808.0);
	/* ...while hex, octal and the rest are no numbers at all. */
	expect_str(&sn, "bighex", "0x10000000000000000");
	expect_str(&sn, "neghex", "-0x10");
	expect_str(&sn, "badoct", "0o8");
	expect_str(&sn, "under", "1_000");
	expect_str(&sn, "quoted", "42");
	expect_str(&sn, "bare0x", "0x");
	/* The builder writes the canonical form of what it was given. */
	cr_expect_str_eq(get(&sn, "hex").text, "31");
	cr_expect_str_eq(get(&sn, "pos").text, "8");
	cr_expect_eq(get(&sn, "dec").f, 42.0, "an int fills f too");
	snap_free(&sn);
}

Test(scalars, core_schema_floats_including_inf_and_nan)
{
	struct snap sn = snap_yaml(
	    "a: 1.5\nb: .5\nc: 1.\nd: 1e3\ne: -1E-3\nf: +2.5e+2\n"
	    "g: .inf\nh: -.Inf\ni: +.INF\nj: .nan\nk: .NaN\nl: .NAN\n"
	    "m: 1.2.3\nn: .\no: 1e\np: '1.5'\nq: .Nan\nr: -.5\n");

	expect_float(&sn, "a", 1.5);
	expect_float(&sn, "b", 0.5);
	expect_float(&sn, "c", 1.0);
	expect_float(&sn, "d", 1000.0);
	expect_float(&sn, "e", -0.001);
	expect_float(&sn, "f", 250.0);
	expect_float(&sn, "g", INFINITY);
	expect_float(&sn, "h", -INFINITY);
	expect_float(&sn, "i", INFINITY);
	expect_float(&sn, "j", NAN);
	expect_float(&sn, "k", NAN);
	expect_float(&sn, "l", NAN);
	expect_str(&sn, "m", "1.2.3");
	expect_str(&sn, "n", ".");
	expect_str(&sn, "o", "1e");
	expect_str(&sn, "p", "1.5");
	expect_str(&sn, "q", ".Nan");
	expect_float(&sn, "r", -0.5);
	cr_expect_str_eq(get(&sn, "h").text, "-.inf");
	cr_expect_str_eq(get(&sn, "a").text, "1.5");
	snap_free(&sn);
}

Test(scalars, quoted_and_block_scalars_are_strings)
{
	struct snap sn = snap_yaml(
	    "a: \"12\"\nb: 'true'\nc: |\n  1.5\nd: >-\n  ~\n"
	    "e: \"tab\\tnul\\0end\"\nf: plain text here\n");

	expect_str(&sn, "a", "12");
	expect_str(&sn, "b", "true");
	expect_str(&sn, "c", "1.5\n");
	expect_str(&sn, "d", "~");
	expect_str(&sn, "f", "plain text here");
	/* A string may hold a NUL; its length says where it ends. */
	cr_expect_eq(get(&sn, "e").text_len, 11);
	cr_expect_eq(memcmp(get(&sn, "e").text, "tab\tnul\0end", 11), 0);
	snap_free(&sn);
}

/* ------------------------------------------------------------------ */
/* Tags.                                                                */
/* ------------------------------------------------------------------ */

Test(tags, explicit_core_tags_win_over_the_text)
{
	struct snap sn = snap_yaml(
	    "s: !!str 12\nt: !!str true\nu: !!str\n"
	    "i: !!int \"12\"\nj: !!int 0x10\nf: !!float 3\ng: !!float '2.5'\n"
	    "b: !!bool \"false\"\nn: !!null ''\nm: !!map {a: 1}\n"
	    "q: !!seq [1]\nv: !<tag:yaml.org,2002:int> '7'\n");

	expect_str(&sn, "s", "12");
	expect_str(&sn, "t", "true");
	expect_str(&sn, "u", "");
	expect_int(&sn, "i", 12);
	expect_int(&sn, "j", 16);
	expect_float(&sn, "f", 3.0);
	expect_float(&sn, "g", 2.5);
	expect_bool(&sn, "b", false);
	expect_type(&sn, "n", HOTCFG_NULL);
	expect_count(&sn, "m", HOTCFG_MAP, 1);
	expect_count(&sn, "q", HOTCFG_SEQ, 1);
	expect_int(&sn, "v", 7);
	snap_free(&sn);
}

Test(tags, binary_is_decoded_into_bytes)
{
	struct snap sn = snap_yaml(
	    "a: !!binary aGVsbG8=\n"
	    "b: !!binary |\n  AAEC\n  /w==\n"
	    "c: !!binary \"aGk\"\n"
	    "d: !!binary ''\n");
	hotcfg_entry e;

	expect_type(&sn, "a", HOTCFG_BYTES);
	e = get(&sn, "a");
	cr_expect_eq(e.text_len, 5);
	cr_expect_eq(memcmp(e.text, "hello", 5), 0);
	e = get(&sn, "b");
	cr_expect_eq(e.type, HOTCFG_BYTES);
	cr_expect_eq(e.text_len, 4, "line breaks are not data");
	cr_expect_eq(memcmp(e.text, "\x00\x01\x02\xff", 4), 0);
	e = get(&sn, "c");
	cr_expect_eq(e.text_len, 2, "padding is optional");
	cr_expect_eq(memcmp(e.text, "hi", 2), 0);
	e = get(&sn, "d");
	cr_expect_eq(e.type, HOTCFG_BYTES);
	cr_expect_eq(e.text_len, 0);
	snap_free(&sn);
}

Test(tags, non_specific_bang_makes_a_string)
{
	struct snap sn = snap_yaml("a: ! 12\nb: ! true\n");

	expect_str(&sn, "a", "12");
	expect_str(&sn, "b", "true");
	snap_free(&sn);
}

Test(tags, unknown_tags_type_the_node_as_if_untagged)
{
	struct snap sn = snap_yaml(
	    "a: !local 12\nb: !local '12'\nc: !!timestamp 2001-12-14\n"
	    "d: !<tag:example.com,2000:x> true\ne: !thing {k: v}\n"
	    "f: !!set {x: ~}\n");

	expect_int(&sn, "a", 12);
	expect_str(&sn, "b", "12");
	expect_str(&sn, "c", "2001-12-14");
	expect_bool(&sn, "d", true);
	expect_count(&sn, "e", HOTCFG_MAP, 1);
	expect_count(&sn, "f", HOTCFG_MAP, 1);
	snap_free(&sn);
}

Test(tags, a_tag_that_does_not_fit_is_an_error_at_its_place)
{
	expect_error("a: 1\nb: !!int abc\n", "not an integer", 2, 4);
	expect_error("b: !!int 1.5\n", "not an integer", 1, 4);
	expect_error("b: !!int 99999999999999999999\n", "out of range", 1, 4);
	expect_error("b: !!float abc\n", "not a float", 1, 4);
	expect_error("b: !!bool yes\n", "not a bool", 1, 4);
	expect_error("b: !!null x\n", "not a null", 1, 4);
	expect_error("b: !!binary \"@@@@\"\n", "base64", 1, 4);
	expect_error("b: !!binary \"aGVsbG8=x\"\n", "base64", 1, 4);
	expect_error("b: !!binary \"a\"\n", "base64", 1, 4);
	expect_error("b: !!map x\n", "tag !!map on a scalar", 1, 4);
	expect_error("b: !!seq x\n", "tag !!seq on a scalar", 1, 4);
	expect_error("b: !!str {a: 1}\n", "tag !!str on a mapping", 1, 4);
	expect_error("b: !!seq {a: 1}\n", "tag !!seq on a mapping", 1, 4);
	expect_error("b: !!map [1]\n", "tag !!map on a sequence", 1, 4);
}

/* ------------------------------------------------------------------ */
/* Keys, escapes, maps and sequences as entries.                        */
/* ------------------------------------------------------------------ */

Test(keys, segments_join_with_dots_and_items_with_brackets)
{
	struct snap sn = snap_yaml(
	    "servers:\n  - host: a\n    port: 1\n  - host: b\n"
	    "deep: {x: {y: [[1, 2], [3]]}}\n");

	expect_str(&sn, "servers[0].host", "a");
	expect_int(&sn, "servers[0].port", 1);
	expect_str(&sn, "servers[1].host", "b");
	expect_int(&sn, "deep.x.y[0][1]", 2);
	expect_int(&sn, "deep.x.y[1][0]", 3);
	expect_count(&sn, "servers", HOTCFG_SEQ, 2);
	expect_count(&sn, "servers[0]", HOTCFG_MAP, 2);
	expect_count(&sn, "deep.x.y", HOTCFG_SEQ, 2);
	expect_count(&sn, "deep.x.y[0]", HOTCFG_SEQ, 2);
	expect_count(&sn, "", HOTCFG_MAP, 2);
	cr_expect_eq(hotcfg_snap_count(sn.s), 15, "one entry per node");
	snap_free(&sn);
}

Test(keys, dots_brackets_and_backslashes_in_keys_are_escaped)
{
	struct snap sn = snap_yaml(
	    "metadata:\n  labels:\n    app.kubernetes.io/name: web\n"
	    "\"x[0]\": 1\n'back\\slash': 2\n\"a.b\": {\"c]d\": 3}\n"
	    "\"[\": 4\n");

	expect_str(&sn, "metadata.labels.app\\.kubernetes\\.io/name", "web");
	expect_int(&sn, "x\\[0\\]", 1);
	expect_int(&sn, "back\\\\slash", 2);
	expect_int(&sn, "a\\.b.c\\]d", 3);
	expect_int(&sn, "\\[", 4);
	expect_missing(&sn, "x[0]");
	expect_missing(&sn, "a.b");
	snap_free(&sn);
}

Test(keys, non_string_keys_become_their_text)
{
	struct snap sn = snap_yaml(
	    "1: one\ntrue: yes\nnull: z\n~: tilde\n0x1F: hex\n1.50: f\n");

	expect_str(&sn, "1", "one");
	expect_str(&sn, "true", "yes");
	expect_str(&sn, "null", "z");
	expect_str(&sn, "~", "tilde");
	expect_str(&sn, "0x1F", "hex");
	expect_str(&sn, "1\\.50", "f");
	snap_free(&sn);
	/* Decoded bytes need not be text (the fuzzer found "gICA"), and a
	 * key is text: such a key is refused where it stands. */
	expect_error("ok: 1\n? !!binary aGk=\n: bin\n", "!!binary", 2, 3);
}

Test(keys, empty_key_nests_and_is_refused_at_the_top_level)
{
	struct snap sn = snap_yaml("a: {\"\": 1}\n");
	struct cfg_node *tree = NULL;
	struct hc_builder *b;
	struct cfg_error err;

	expect_int(&sn, "a.", 1);
	snap_free(&sn);

	cr_assert_eq(cfg_load_yaml("t", "\"\": 1\n", 6, 0, NULL, &tree,
	    &err), 0);
	cr_assert_eq(hc_builder_new(&b), 0);
	cr_expect_eq(cfg_emit(tree, b, NULL, &err), -EINVAL);
	cr_expect_not_null(strstr(err.msg, "empty mapping key"), "%s",
	    err.msg);
	/* Under a prefix it has a name again. */
	cr_assert_eq(cfg_mount(&tree, "p", 0), 0);
	sn = snap_tree(tree, NULL);
	expect_int(&sn, "p.", 1);
	snap_free(&sn);
	hc_builder_free(b);
}

Test(keys, complex_keys_are_refused)
{
	expect_error("? [a, b]\n: x\n", "a sequence cannot be a mapping key",
	    1, 3);
	expect_error("{a: 1}: x\n", "a mapping cannot be a mapping key", 1,
	    1);
	expect_error("base: &m {a: 1}\n*m : x\n",
	    "a mapping cannot be a mapping key", 2, 1);
}

Test(keys, nul_in_a_key_is_refused)
{
	expect_error("\"a\\0b\": 1\n", "NUL", 1, 1);
}

Test(keys, maps_and_seqs_are_entries_even_when_empty)
{
	struct snap sn = snap_yaml("m: {}\ns: []\nn: {a: [], b: {}}\n");

	expect_count(&sn, "m", HOTCFG_MAP, 0);
	expect_count(&sn, "s", HOTCFG_SEQ, 0);
	expect_count(&sn, "n", HOTCFG_MAP, 2);
	expect_count(&sn, "n.a", HOTCFG_SEQ, 0);
	cr_expect_str_eq(get(&sn, "m").text, "");
	snap_free(&sn);
}

Test(keys, root_entry_is_the_empty_key)
{
	struct snap sn = snap_yaml("- a\n- b\n");

	expect_count(&sn, "", HOTCFG_SEQ, 2);
	expect_str(&sn, "[0]", "a");
	expect_str(&sn, "[1]", "b");
	snap_free(&sn);

	sn = snap_yaml("just a scalar\n");
	expect_str(&sn, "", "just a scalar");
	cr_expect_eq(hotcfg_snap_count(sn.s), 1, "a scalar root is one value");
	snap_free(&sn);
}

Test(keys, empty_documents_contribute_nothing)
{
	static const char *empty[] = {
		"", "# only a comment\n", "---\n", "~\n", "--- null\n...\n",
		"---\n---\n",
	};
	size_t k;

	for (k = 0; k < sizeof(empty) / sizeof(empty[0]); k++) {
		struct cfg_node *tree = (struct cfg_node *)&tree;
		struct cfg_error err;

		cr_expect_eq(cfg_load_yaml("e", empty[k], strlen(empty[k]), 0,
		    NULL, &tree, &err), 0, "%s", empty[k]);
		cr_expect_null(tree, "\"%s\" gave a tree", empty[k]);
	}
}

Test(keys, every_entry_carries_the_source_id)
{
	struct cfg_node *tree = NULL;
	struct cfg_error err;
	struct hc_builder *b;
	struct snap sn;
	hotcfg_entry e;
	size_t cur = 0, size, n = 0;
	unsigned id;
	char *dup = NULL;
	const char *text = "a: {b: [1, x]}\nc: &y 1\nd: *y\n";

	cr_assert_eq(cfg_load_yaml("t", text, strlen(text), 3, NULL, &tree,
	    &err), 0);
	cr_assert_eq(hc_builder_new(&b), 0);
	cr_assert_eq(hc_builder_source(b, "s0", &id), 0);
	cr_assert_eq(hc_builder_source(b, "s1", &id), 0);
	cr_assert_eq(hc_builder_source(b, "s2", &id), 0);
	cr_assert_eq(hc_builder_source(b, "s3", &id), 0);
	cr_assert_eq(cfg_emit(tree, b, NULL, &err), 0);
	cr_assert_eq(hc_builder_finish(b, 0, &sn.blob, &size, &dup), 0);
	cr_assert_eq(hc_snap_wrap(sn.blob, size, &sn.s), 0);
	while (hotcfg_next(sn.s, NULL, &cur, &e) == 0) {
		cr_expect_eq(e.source, 3, "%s: source %u", e.key, e.source);
		n++;
	}
	cr_expect_eq(n, 7);
	snap_free(&sn);
	hc_builder_free(b);
	cfg_free(tree);
}


/* ------------------------------------------------------------------ */
/* Anchors and aliases.                                                 */
/* ------------------------------------------------------------------ */

Test(aliases, are_expanded_for_scalars_maps_and_seqs)
{
	struct snap sn = snap_yaml(
	    "s: &s text\nm: &m {a: 1, b: [x]}\nq: &q [1, {c: 2}]\n"
	    "s2: *s\nm2: *m\nq2: *q\nnest: {in: *m}\n");

	expect_str(&sn, "s2", "text");
	expect_count(&sn, "m2", HOTCFG_MAP, 2);
	expect_int(&sn, "m2.a", 1);
	expect_str(&sn, "m2.b[0]", "x");
	expect_count(&sn, "q2", HOTCFG_SEQ, 2);
	expect_int(&sn, "q2[1].c", 2);
	expect_str(&sn, "nest.in.b[0]", "x");
	snap_free(&sn);
}

Test(aliases, a_redefined_anchor_names_its_latest_node)
{
	struct snap sn = snap_yaml("a: &x 1\nb: *x\nc: &x 2\nd: *x\n");

	expect_int(&sn, "b", 1);
	expect_int(&sn, "d", 2);
	snap_free(&sn);
}

Test(aliases, unknown_recursive_and_cross_document_aliases_fail)
{
	expect_error("a: 1\nb: *nope\n", "alias *nope names no anchor", 2, 4);
	expect_error("a: &r [1, *r]\n", "recursive", 1, 11);
	expect_error("a: &r {b: *r}\n", "recursive", 1, 11);
	/* Anchors belong to their document. */
	expect_error("a: &x 1\n---\nb: *x\n", "names no anchor", 3, 4);
}

/* ------------------------------------------------------------------ */
/* Merge keys.                                                          */
/* ------------------------------------------------------------------ */

Test(merge, a_mapping_lends_the_keys_not_set_explicitly)
{
	struct snap sn = snap_yaml(
	    "base: &b {host: h, port: 1, tls: {on: true}}\n"
	    "svc:\n  port: 2\n  <<: *b\n  extra: x\n"
	    "inline:\n  <<: {k: v}\n");

	expect_str(&sn, "svc.host", "h");
	expect_int(&sn, "svc.port", 2);        /* explicit wins, before */
	expect_str(&sn, "svc.extra", "x");
	expect_bool(&sn, "svc.tls.on", true);
	expect_count(&sn, "svc", HOTCFG_MAP, 4);
	expect_missing(&sn, "svc.<<");
	expect_str(&sn, "inline.k", "v");
	/* The source of the merge is not changed by it. */
	expect_int(&sn, "base.port", 1);
	expect_count(&sn, "base", HOTCFG_MAP, 3);
	snap_free(&sn);
}

Test(merge, explicit_keys_win_whatever_their_place)
{
	struct snap sn = snap_yaml(
	    "b: &b {x: 1, y: 1}\nm:\n  <<: *b\n  x: 2\n");

	expect_int(&sn, "m.x", 2);
	expect_int(&sn, "m.y", 1);
	snap_free(&sn);
}

Test(merge, in_a_sequence_of_mappings_the_earlier_wins)
{
	struct snap sn = snap_yaml(
	    "a: &a {k: a, only_a: 1}\nb: &b {k: b, only_b: 2}\n"
	    "m:\n  <<: [*a, *b]\n  own: 3\n");

	expect_str(&sn, "m.k", "a");
	expect_int(&sn, "m.only_a", 1);
	expect_int(&sn, "m.only_b", 2);
	expect_int(&sn, "m.own", 3);
	expect_count(&sn, "m", HOTCFG_MAP, 4);
	snap_free(&sn);
}

Test(merge, merged_mappings_can_merge_in_turn)
{
	struct snap sn = snap_yaml(
	    "a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, z: 3}\n");

	expect_int(&sn, "c.x", 1);
	expect_int(&sn, "c.y", 2);
	expect_int(&sn, "c.z", 3);
	snap_free(&sn);
}

Test(merge, a_quoted_merge_key_is_an_ordinary_key)
{
	struct snap sn = snap_yaml("m:\n  \"<<\": {x: 1}\n");

	expect_int(&sn, "m.<<.x", 1);
	snap_free(&sn);
}

Test(merge, bad_merge_values_are_refused)
{
	expect_error("m:\n  <<: 1\n", "needs a mapping", 2, 7);
	expect_error("m:\n  <<: [{a: 1}, 2]\n", "item 1 of the merge", 2, 7);
	expect_error("a: &a {x: 1}\nm:\n  <<: *a\n  <<: *a\n",
	    "duplicate merge key", 4, 3);
}

/* ------------------------------------------------------------------ */
/* Duplicate keys and other errors.                                     */
/* ------------------------------------------------------------------ */

Test(errors, duplicate_keys_are_refused_with_their_position)
{
	expect_error("a: 1\nb: 2\na: 3\n", "duplicate key \"a\"", 3, 1);
	expect_error("x:\n  y: 1\n  z: 2\n  y: 3\n", "duplicate key \"y\"",
	    4, 3);
	expect_error("{a: 1, b: 2, a: 3}\n", "duplicate key \"a\"", 1, 14);
	/* Keys compare as text: the int 1 and the string "1" clash. */
	expect_error("1: a\n\"1\": b\n", "duplicate key \"1\"", 2, 1);
}

Test(errors, same_key_in_different_mappings_is_fine)
{
	struct snap sn = snap_yaml("a: {k: 1}\nb: {k: 2}\nk: 3\n");

	expect_int(&sn, "a.k", 1);
	expect_int(&sn, "b.k", 2);
	expect_int(&sn, "k", 3);
	snap_free(&sn);
}

Test(errors, syntax_errors_say_where_and_why)
{
	struct cfg_error err;

	load_fails("a: 1\nb: [1, 2\nc: 3\n", NULL, &err);
	cr_expect_eq(err.line, 3, "line %u: %s", err.line, err.msg);
	cr_expect_neq(err.col, 0u);
	cr_expect(err.msg[0] != '\0');

	load_fails("a: 1\n\tb: 2\n", NULL, &err);
	cr_expect_eq(err.line, 2, "line %u: %s", err.line, err.msg);

	/* Invalid UTF-8 is a reader error with a byte offset; the line and
	 * column are worked out from it. */
	load_fails("a: 1\nb: \xff\xfe\n", NULL, &err);
	cr_expect_eq(err.line, 2, "line %u: %s", err.line, err.msg);
	cr_expect_eq(err.col, 4, "col %u: %s", err.col, err.msg);
}

/* ------------------------------------------------------------------ */
/* Several documents.                                                   */
/* ------------------------------------------------------------------ */

Test(documents, merge_in_order_like_layers)
{
	struct snap sn = snap_yaml(
	    "a: {x: 1, y: 1}\nl: [1, 2, 3]\ns: 1\n"
	    "---\na: {y: 2, z: 2}\nl: [9]\n"
	    "---\n"                        /* empty: changes nothing */
	    "--- ~\n"                      /* null: changes nothing */
	    "---\ns: {now: map}\n");

	expect_int(&sn, "a.x", 1);
	expect_int(&sn, "a.y", 2);
	expect_int(&sn, "a.z", 2);
	expect_count(&sn, "a", HOTCFG_MAP, 3);
	expect_count(&sn, "l", HOTCFG_SEQ, 1);  /* replaced, not merged */
	expect_int(&sn, "l[0]", 9);
	expect_missing(&sn, "l[1]");
	expect_str(&sn, "s.now", "map");
	expect_count(&sn, "", HOTCFG_MAP, 3);
	snap_free(&sn);
}

Test(documents, a_later_root_of_another_kind_replaces)
{
	struct snap sn = snap_yaml("a: 1\n--- scalar\n");

	expect_str(&sn, "", "scalar");
	expect_missing(&sn, "a");
	snap_free(&sn);

	sn = snap_yaml("--- scalar\n---\na: 1\n");
	expect_count(&sn, "", HOTCFG_MAP, 1);
	expect_int(&sn, "a", 1);
	snap_free(&sn);
}

Test(documents, json_reads_like_the_same_yaml)
{
	struct snap y = snap_yaml("a: 1\nb: [true, null, 1.5, \"s\"]\n"
	    "c: {d: \"12\"}\n");
	struct snap j = snap_yaml("{\"a\": 1, \"b\": [true, null, 1.5, "
	    "\"s\"], \"c\": {\"d\": \"12\"}}");

	cr_expect_eq(hc_blob_content_hash(y.blob),
	    hc_blob_content_hash(j.blob), "same entries, same content hash");
	expect_str(&j, "c.d", "12");
	snap_free(&y);
	snap_free(&j);
}

/* ------------------------------------------------------------------ */
/* Limits.                                                              */
/* ------------------------------------------------------------------ */

Test(limits, file_size)
{
	struct cfg_limits lim;
	struct cfg_error err;

	cfg_limits_default(&lim);
	cr_expect_eq(lim.max_file, 64u << 20);
	lim.max_file = 16;
	cr_expect_eq(load_fails("a: 0123456789abcdef\n", &lim, &err),
	    -EFBIG);
	cr_expect_not_null(strstr(err.msg, "max_file"), "%s", err.msg);
}

/* "[" n times, then `inner`, then "]" n times. */
static char *
nested(unsigned n, const char *inner)
{
	size_t ilen = strlen(inner), len = 2 * (size_t)n + ilen;
	char *s = malloc(len + 1);

	cr_assert_not_null(s);
	memset(s, '[', n);
	memcpy(s + n, inner, ilen);
	memset(s + n + ilen, ']', n);
	s[len] = '\0';
	return s;
}

Test(limits, nesting_depth)
{
	struct cfg_limits lim;
	struct cfg_error err;
	struct cfg_node *tree = NULL;
	char *ok = nested(128, "x"), *deep = nested(129, "x");

	cfg_limits_default(&lim);
	cr_expect_eq(lim.max_depth, 128);
	cr_expect_eq(cfg_load_yaml("ok", ok, strlen(ok), 0, &lim, &tree,
	    &err), 0, "%s", err.msg);
	cfg_free(tree);
	load_fails(deep, &lim, &err);
	cr_expect_not_null(strstr(err.msg, "max_depth"), "%s", err.msg);
	cr_expect_eq(err.col, 129, "the 129th '[' is at fault");

	/* Block mappings count the same way: the fourth level, the
	 * mapping that starts with d, is one too many. */
	lim.max_depth = 3;
	load_fails("a:\n  b:\n    c:\n      d: 1\n", &lim, &err);
	cr_expect_eq(err.line, 4, "%u: %s", err.line, err.msg);
	free(ok);
	free(deep);
}

Test(limits, depth_counts_what_an_alias_brings_along)
{
	struct cfg_limits lim;
	struct cfg_error err;
	struct cfg_node *tree = NULL;
	const char *text = "a: &a [[[1]]]\nb: [[*a]]\n";

	cfg_limits_default(&lim);
	lim.max_depth = 6;      /* the root, b's two, a's three */
	cr_expect_eq(cfg_load_yaml("t", text, strlen(text), 0, &lim, &tree,
	    &err), 0, "%s", err.msg);
	cfg_free(tree);
	lim.max_depth = 5;
	load_fails(text, &lim, &err);
	cr_expect_not_null(strstr(err.msg, "alias *a nests deeper"), "%s",
	    err.msg);
	cr_expect_eq(err.line, 2);
}

Test(limits, key_length_at_load_and_at_flattening)
{
	struct cfg_limits lim;
	struct cfg_error err;
	struct cfg_node *tree = NULL;
	struct hc_builder *b;

	cfg_limits_default(&lim);
	cr_expect_eq(lim.max_key, 4096);
	lim.max_key = 8;
	load_fails("a: {123456789: 1}\n", &lim, &err);
	cr_expect_not_null(strstr(err.msg, "max_key"), "%s", err.msg);
	cr_expect_eq(err.line, 1);
	cr_expect_eq(err.col, 5);

	/* Each segment fits, the joined key does not. */
	cr_assert_eq(cfg_load_yaml("t", "abcd: {efgh: 1}\n", 16, 0, &lim,
	    &tree, &err), 0);
	cr_assert_eq(hc_builder_new(&b), 0);
	cr_expect_eq(cfg_emit(tree, b, &lim, &err), -ENAMETOOLONG);
	cr_expect_not_null(strstr(err.msg, "abcd.efgh"), "%s", err.msg);
	hc_builder_free(b);
	cfg_free(tree);
}

Test(limits, billion_laughs_fails_on_the_node_budget)
{
	const char *lol =
	    "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
	    "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
	    "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	struct cfg_error err;
	struct timespec t0, t1;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	load_fails(lol, NULL, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_expect_not_null(strstr(err.msg, "max_nodes"), "%s", err.msg);
	/* Level f expands to over a million nodes: the budget is crossed
	 * there, while only the ~60 spelled-out nodes exist. */
	cr_expect_eq(err.line, 6, "line %u: %s", err.line, err.msg);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	cr_log_info("billion laughs refused in %.3f ms", ms);
}

Test(limits, the_budget_counts_expanded_nodes_exactly)
{
	/* The root map, a: a seq of 3 (4 nodes), b: a seq of 3 aliases of
	 * a (1 + 3 * 4 = 13): 18 nodes once expanded. */
	const char *text = "a: &a [1, 2, 3]\nb: [*a, *a, *a]\n";
	struct cfg_limits lim;
	struct cfg_error err;
	struct cfg_node *tree = NULL;
	struct snap sn;

	cfg_limits_default(&lim);
	cr_expect_eq(lim.max_nodes, 1000000);
	lim.max_nodes = 18;
	cr_assert_eq(cfg_load_yaml("t", text, strlen(text), 0, &lim, &tree,
	    &err), 0, "%s", err.msg);
	sn = snap_tree(tree, NULL);
	cr_expect_eq(hotcfg_snap_count(sn.s), 18);
	expect_int(&sn, "b[2][2]", 3);
	snap_free(&sn);
	lim.max_nodes = 17;
	load_fails(text, &lim, &err);
	cr_expect_not_null(strstr(err.msg, "max_nodes"), "%s", err.msg);
}

Test(limits, many_keys_load_and_flatten)
{
	size_t n = 50000, k, len = 0;
	char *text = malloc(n * 24);
	struct cfg_node *tree = NULL;
	struct cfg_error err;
	struct snap sn;

	cr_assert_not_null(text);
	for (k = 0; k < n; k++)
		len += (size_t)sprintf(text + len, "key%zu: %zu\n", k, k);
	cr_assert_eq(cfg_load_yaml("t", text, len, 0, NULL, &tree, &err), 0,
	    "%s", err.msg);
	sn = snap_tree(tree, NULL);
	expect_count(&sn, "", HOTCFG_MAP, n);
	expect_int(&sn, "key49999", 49999);
	expect_int(&sn, "key0", 0);
	snap_free(&sn);
	free(text);
}
