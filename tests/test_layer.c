/*
 * test_layer.c - layering, prefixes, and file and directory sources
 * (agent/tree.c, agent/files.c).
 *
 * Trees are loaded from text or from files in a temporary directory,
 * mounted and merged as the agent does with its sources, then flattened
 * through the real builder and read back with the public reader API.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "internal.h"
#include "tree.h"

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

/* Flatten a tree (released) with `nsrc` sources registered. */
static struct snap
snap_tree(struct cfg_node *tree, unsigned nsrc)
{
	struct hc_builder *b;
	struct cfg_error err;
	struct snap sn;
	size_t size;
	unsigned k, id;
	char *dup = NULL, name[16];
	int rc;

	cr_assert_eq(hc_builder_new(&b), 0);
	for (k = 0; k < nsrc; k++) {
		snprintf(name, sizeof(name), "src%u", k);
		cr_assert_eq(hc_builder_source(b, name, &id), 0);
		cr_assert_eq(id, k);
	}
	rc = cfg_emit(tree, b, NULL, &err);
	cr_assert_eq(rc, 0, "cfg_emit: %d %s", rc, err.msg);
	rc = hc_builder_finish(b, 0, &sn.blob, &size, &dup);
	cr_assert_eq(rc, 0, "finish: %d %s", rc, dup != NULL ? dup : "");
	cr_assert_eq(hc_snap_wrap(sn.blob, size, &sn.s), 0);
	hc_builder_free(b);
	cfg_free(tree);
	return sn;
}

static struct cfg_node *
tree_of(const char *text, unsigned source)
{
	struct cfg_node *tree = NULL;
	struct cfg_error err;
	int rc;

	rc = cfg_load_yaml("t.yaml", text, strlen(text), source, NULL, &tree,
	    &err);
	cr_assert_eq(rc, 0, "%u:%u %s", err.line, err.col, err.msg);
	return tree;
}

static hotcfg_entry
get(const struct snap *sn, const char *key)
{
	hotcfg_entry e;

	cr_assert_eq(hotcfg_get(sn->s, key, &e), 0, "no key \"%s\"", key);
	return e;
}

static void
expect_int(const struct snap *sn, const char *key, int64_t v, unsigned src)
{
	hotcfg_entry e = get(sn, key);

	cr_expect_eq(e.type, HOTCFG_INT, "%s: %s", key,
	    hotcfg_type_name(e.type));
	cr_expect_eq(e.i, v, "%s: %jd, not %jd", key, (intmax_t)e.i,
	    (intmax_t)v);
	cr_expect_eq(e.source, src, "%s: source %u, not %u", key, e.source,
	    src);
}

static void
expect_str(const struct snap *sn, const char *key, const char *v, int type)
{
	hotcfg_entry e = get(sn, key);

	cr_expect_eq(e.type, type, "%s: %s", key, hotcfg_type_name(e.type));
	cr_expect_eq(e.text_len, strlen(v), "%s: %zu bytes", key,
	    e.text_len);
	cr_expect_eq(memcmp(e.text, v, strlen(v)), 0, "%s: \"%s\"", key,
	    e.text);
}

static void
expect_node(const struct snap *sn, const char *key, int type, size_t n,
    unsigned src)
{
	hotcfg_entry e = get(sn, key);

	cr_expect_eq(e.type, type, "%s: %s", key, hotcfg_type_name(e.type));
	cr_expect_eq(e.count, n, "%s: %zu children, not %zu", key, e.count,
	    n);
	cr_expect_eq(e.source, src, "%s: source %u, not %u", key, e.source,
	    src);
}

static void
expect_missing(const struct snap *sn, const char *key)
{
	hotcfg_entry e;

	cr_expect_eq(hotcfg_get(sn->s, key, &e), -ENOENT, "\"%s\" exists",
	    key);
}

/* ------------------------------------------------------------------ */
/* Layering.                                                            */
/* ------------------------------------------------------------------ */

Test(layer, maps_merge_deeply_and_later_scalars_win)
{
	struct cfg_node *t = tree_of(
	    "db: {host: a, port: 1, opts: {x: 1, y: 1}}\nonly0: 0\n", 0);
	struct snap sn;

	cr_assert_eq(cfg_merge(&t, tree_of(
	    "db: {port: 2, opts: {y: 2, z: 2}}\nonly1: 1\n", 1)), 0);
	sn = snap_tree(t, 2);
	expect_str(&sn, "db.host", "a", HOTCFG_STR);
	cr_expect_eq(get(&sn, "db.host").source, 0);
	expect_int(&sn, "db.port", 2, 1);
	expect_int(&sn, "db.opts.x", 1, 0);
	expect_int(&sn, "db.opts.y", 2, 1);
	expect_int(&sn, "db.opts.z", 2, 1);
	expect_int(&sn, "only0", 0, 0);
	expect_int(&sn, "only1", 1, 1);
	/* Child counts are recomputed; a map both layers hold is credited
	 * to the later one. */
	expect_node(&sn, "db", HOTCFG_MAP, 3, 1);
	expect_node(&sn, "db.opts", HOTCFG_MAP, 3, 1);
	expect_node(&sn, "", HOTCFG_MAP, 3, 1);
	snap_free(&sn);
}

Test(layer, sequences_and_scalars_replace_whole)
{
	struct cfg_node *t = tree_of(
	    "list: [1, 2, 3]\nm: {a: 1}\ns: scalar\nq: [1]\n", 0);
	struct snap sn;

	cr_assert_eq(cfg_merge(&t, tree_of(
	    "list: [9]\nm: now a scalar\ns: {now: a map}\nq: {k: 1}\n", 1)),
	    0);
	sn = snap_tree(t, 2);
	expect_node(&sn, "list", HOTCFG_SEQ, 1, 1);
	expect_int(&sn, "list[0]", 9, 1);
	expect_missing(&sn, "list[1]");
	expect_str(&sn, "m", "now a scalar", HOTCFG_STR);
	expect_missing(&sn, "m.a");
	expect_node(&sn, "s", HOTCFG_MAP, 1, 1);
	expect_node(&sn, "q", HOTCFG_MAP, 1, 1);
	expect_missing(&sn, "q[0]");
	snap_free(&sn);
}

Test(layer, a_root_of_another_kind_replaces_everything)
{
	struct cfg_node *t = tree_of("a: 1\n", 0);
	struct snap sn;

	cr_assert_eq(cfg_merge(&t, tree_of("[x]\n", 1)), 0);
	sn = snap_tree(t, 2);
	expect_node(&sn, "", HOTCFG_SEQ, 1, 1);
	expect_missing(&sn, "a");
	snap_free(&sn);
}

Test(layer, an_empty_layer_changes_nothing)
{
	struct cfg_node *t = tree_of("a: 1\n", 0), *none = NULL;
	struct snap sn;

	cr_assert_eq(cfg_merge(&t, NULL), 0);
	cr_assert_eq(cfg_merge(&none, tree_of("b: 2\n", 1)), 0);
	cr_assert_eq(cfg_merge(&t, none), 0);
	sn = snap_tree(t, 2);
	expect_int(&sn, "a", 1, 0);
	expect_int(&sn, "b", 2, 1);
	snap_free(&sn);
}

Test(layer, overriding_an_aliased_map_changes_only_that_place)
{
	/* base and use share one node; a later layer that changes use must
	 * leave base alone. */
	struct cfg_node *t = tree_of(
	    "base: &b {x: 1, in: {y: 1}}\nuse: *b\nmerged: {<<: *b}\n", 0);
	struct snap sn;

	cr_assert_eq(cfg_merge(&t, tree_of(
	    "use: {x: 2, in: {y: 2}}\nmerged: {in: {y: 3}}\n", 1)), 0);
	sn = snap_tree(t, 2);
	expect_int(&sn, "base.x", 1, 0);
	expect_int(&sn, "base.in.y", 1, 0);
	expect_int(&sn, "use.x", 2, 1);
	expect_int(&sn, "use.in.y", 2, 1);
	expect_int(&sn, "merged.x", 1, 0);
	expect_int(&sn, "merged.in.y", 3, 1);
	expect_node(&sn, "base", HOTCFG_MAP, 2, 0);
	expect_node(&sn, "base.in", HOTCFG_MAP, 1, 0);
	snap_free(&sn);
}

Test(layer, many_layers_in_order)
{
	struct cfg_node *t = NULL;
	char text[64];
	unsigned k;
	struct snap sn;

	for (k = 0; k < 10; k++) {
		snprintf(text, sizeof(text), "last: %u\nl%u: %u\n", k, k, k);
		cr_assert_eq(cfg_merge(&t, tree_of(text, k)), 0);
	}
	sn = snap_tree(t, 10);
	expect_int(&sn, "last", 9, 9);
	expect_int(&sn, "l0", 0, 0);
	expect_int(&sn, "l5", 5, 5);
	expect_node(&sn, "", HOTCFG_MAP, 11, 9);
	snap_free(&sn);
}

/* ------------------------------------------------------------------ */
/* Prefixes.                                                            */
/* ------------------------------------------------------------------ */

Test(mount, a_prefix_creates_the_maps_above_the_tree)
{
	struct cfg_node *t = tree_of("host: a\nport: 1\n", 2);
	struct snap sn;

	cr_assert_eq(cfg_mount(&t, "app.db", 2), 0);
	sn = snap_tree(t, 3);
	expect_node(&sn, "", HOTCFG_MAP, 1, 2);
	expect_node(&sn, "app", HOTCFG_MAP, 1, 2);
	expect_node(&sn, "app.db", HOTCFG_MAP, 2, 2);
	expect_int(&sn, "app.db.port", 1, 2);
	expect_missing(&sn, "host");
	snap_free(&sn);
}

Test(mount, escaped_prefixes_name_one_segment)
{
	struct cfg_node *t = tree_of("v: 1\n", 0);
	struct snap sn;

	cr_assert_eq(cfg_mount(&t, "a\\.b.c\\[0\\]\\\\", 0), 0);
	sn = snap_tree(t, 1);
	expect_node(&sn, "", HOTCFG_MAP, 1, 0);
	expect_node(&sn, "a\\.b", HOTCFG_MAP, 1, 0);
	expect_int(&sn, "a\\.b.c\\[0\\]\\\\.v", 1, 0);
	snap_free(&sn);
}

Test(mount, a_scalar_or_sequence_root_sits_at_the_prefix)
{
	struct cfg_node *t = tree_of("just text\n", 0);
	struct snap sn;

	cr_assert_eq(cfg_mount(&t, "motd", 0), 0);
	sn = snap_tree(t, 1);
	expect_str(&sn, "motd", "just text", HOTCFG_STR);
	expect_node(&sn, "", HOTCFG_MAP, 1, 0);
	snap_free(&sn);

	t = tree_of("[1, 2]\n", 0);
	cr_assert_eq(cfg_mount(&t, "list", 0), 0);
	sn = snap_tree(t, 1);
	expect_node(&sn, "list", HOTCFG_SEQ, 2, 0);
	expect_int(&sn, "list[1]", 2, 0);
	snap_free(&sn);
}

Test(mount, bad_prefixes_are_refused_and_change_nothing)
{
	static const char *bad[] = {
		"a..b", ".a", "a.", ".", "a[0]", "a]", "a\\x", "a\\",
		"a.\\",
	};
	struct cfg_node *t = tree_of("v: 1\n", 0), *none = NULL;
	struct snap sn;
	size_t k;

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		cr_expect_eq(cfg_mount(&t, bad[k], 0), -EINVAL, "\"%s\"",
		    bad[k]);
		cr_expect_eq(cfg_mount(&none, bad[k], 0), -EINVAL, "\"%s\"",
		    bad[k]);
	}
	cr_expect_eq(cfg_mount(&t, NULL, 0), 0);
	cr_expect_eq(cfg_mount(&t, "", 0), 0);
	/* An empty source stays empty under any prefix. */
	cr_expect_eq(cfg_mount(&none, "a.b", 0), 0);
	cr_expect_null(none);
	sn = snap_tree(t, 1);
	expect_node(&sn, "", HOTCFG_MAP, 1, 0);
	expect_int(&sn, "v", 1, 0);
	snap_free(&sn);
}

Test(mount, sources_under_prefixes_merge_side_by_side)
{
	struct cfg_node *t = tree_of("a: 1\n", 0), *u = tree_of("b: 2\n", 1);
	struct cfg_node *w = tree_of("c: 3\n", 2);
	struct snap sn;

	cr_assert_eq(cfg_mount(&t, "x.one", 0), 0);
	cr_assert_eq(cfg_mount(&u, "x.two", 1), 0);
	cr_assert_eq(cfg_merge(&t, u), 0);
	cr_assert_eq(cfg_merge(&t, w), 0);
	sn = snap_tree(t, 3);
	expect_int(&sn, "x.one.a", 1, 0);
	expect_int(&sn, "x.two.b", 2, 1);
	expect_int(&sn, "c", 3, 2);
	expect_node(&sn, "x", HOTCFG_MAP, 2, 1);
	expect_node(&sn, "x.one", HOTCFG_MAP, 1, 0);
	expect_node(&sn, "", HOTCFG_MAP, 2, 2);
	snap_free(&sn);
}

/* ------------------------------------------------------------------ */
/* Files and directories.                                               */
/* ------------------------------------------------------------------ */

static char tmpdir[256];

static void
make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotcfg-layer-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void
rm_tmpdir(void)
{
	char cmd[300];

	if (tmpdir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(dir, .init = make_tmpdir, .fini = rm_tmpdir);
TestSuite(file, .init = make_tmpdir, .fini = rm_tmpdir);

static void
put(const char *name, const void *data, size_t len)
{
	char p[600];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	cr_assert_geq(fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644), 0,
	    "%s: %s", p, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void
puts_file(const char *name, const char *text)
{
	put(name, text, strlen(text));
}

static void
sub(const char *name)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	cr_assert_eq(mkdir(p, 0755), 0, "%s", p);
}

static void
link_to(const char *target, const char *name)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	cr_assert_eq(symlink(target, p), 0, "%s", p);
}

static struct snap
load_dir(const char *dir, unsigned source)
{
	struct cfg_node *t = NULL;
	struct cfg_error err;
	int rc;

	rc = cfg_load_dir(dir, source, NULL, &t, &err);
	cr_assert_eq(rc, 0, "%d %s:%u:%u %s", rc, err.source, err.line,
	    err.col, err.msg);
	return snap_tree(t, source + 1);
}

Test(dir, yaml_files_merge_in_bytewise_name_order)
{
	struct snap sn;

	puts_file("9-b.yaml", "who: nine\nnine: 1\nm: {k: 9}\n");
	puts_file("10-a.yaml", "who: ten\nten: 1\nm: {k: 10, j: 10}\n");
	puts_file("B.yml", "who: upper\n");
	puts_file("a.json", "{\"json\": true}");
	sn = load_dir(tmpdir, 0);
	/* "10-a" < "9-b" < "B" < "a": B.yml is the last to set who. */
	expect_str(&sn, "who", "upper", HOTCFG_STR);
	expect_int(&sn, "m.k", 9, 0);
	expect_int(&sn, "m.j", 10, 0);
	expect_int(&sn, "nine", 1, 0);
	expect_int(&sn, "ten", 1, 0);
	cr_expect_eq(get(&sn, "json").type, HOTCFG_BOOL);
	expect_node(&sn, "", HOTCFG_MAP, 5, 0);  /* who nine m ten json */
	snap_free(&sn);
}

Test(dir, other_files_are_entries_named_after_them)
{
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G', 0, 0xff };
	struct snap sn;

	puts_file("app.yaml", "port: 80\n");
	puts_file("nginx.conf", "server {}\n");
	puts_file("README", "");
	puts_file("upper.YAML", "not: parsed\n");
	put("logo.png", png, sizeof(png));
	sn = load_dir(tmpdir, 0);
	expect_int(&sn, "port", 80, 0);
	expect_str(&sn, "nginx\\.conf", "server {}\n", HOTCFG_STR);
	expect_str(&sn, "README", "", HOTCFG_STR);
	expect_str(&sn, "upper\\.YAML", "not: parsed\n", HOTCFG_STR);
	cr_expect_eq(get(&sn, "logo\\.png").type, HOTCFG_BYTES);
	cr_expect_eq(get(&sn, "logo\\.png").text_len, sizeof(png));
	cr_expect_eq(memcmp(get(&sn, "logo\\.png").text, png, sizeof(png)),
	    0);
	expect_node(&sn, "", HOTCFG_MAP, 5, 0);
	snap_free(&sn);
}

Test(dir, hidden_files_subdirectories_and_dangling_links_are_skipped)
{
	struct snap sn;

	puts_file("visible.yaml", "a: 1\n");
	puts_file(".hidden.yaml", "a: 2\nhidden: 1\n");
	puts_file(".swp", "junk");
	sub("subdir");
	puts_file("subdir/inner.yaml", "inner: 1\n");
	link_to("nowhere.yaml", "dangling.yaml");
	link_to("subdir", "dirlink");
	sn = load_dir(tmpdir, 0);
	expect_int(&sn, "a", 1, 0);
	expect_missing(&sn, "hidden");
	expect_missing(&sn, "\\.swp");
	expect_missing(&sn, "inner");
	expect_missing(&sn, "subdir");
	expect_node(&sn, "", HOTCFG_MAP, 1, 0);
	snap_free(&sn);
}

Test(dir, a_kubelet_configmap_volume_reads_through_its_links)
{
	struct snap sn;

	/* The kubelet's atomic writer: data in a timestamped hidden
	 * directory, "..data" pointing at it, visible names pointing
	 * through "..data". */
	sub("..2024_05_01_10_00_00.123");
	puts_file("..2024_05_01_10_00_00.123/app.yaml", "port: 8080\n");
	puts_file("..2024_05_01_10_00_00.123/motd", "hello\n");
	link_to("..2024_05_01_10_00_00.123", "..data");
	link_to("..data/app.yaml", "app.yaml");
	link_to("..data/motd", "motd");
	sn = load_dir(tmpdir, 2);
	expect_int(&sn, "port", 8080, 2);
	expect_str(&sn, "motd", "hello\n", HOTCFG_STR);
	expect_node(&sn, "", HOTCFG_MAP, 2, 2);
	snap_free(&sn);
}

Test(dir, the_same_files_from_the_api_give_the_same_snapshot)
{
	static const char bin[] = { 1, 2, 3, (char)0xff };
	struct cfg_file files[] = {
		{ "motd", "hello\n", 6, false },
		{ "logo", bin, sizeof(bin), true },
		{ "b.yaml", "x: 2\n", 5, false },
		{ "a.yaml", "x: 1\ny: 1\n", 10, false },
		{ "..data", "ignored", 7, false },
	};
	struct cfg_node *t = NULL;
	struct cfg_error err;
	struct snap api, vol;

	/* Out of order on purpose: cfg_load_files sorts. */
	cr_assert_eq(cfg_load_files(files, 5, 0, NULL, &t, &err), 0, "%s",
	    err.msg);
	api = snap_tree(t, 1);
	expect_int(&api, "x", 2, 0);
	expect_int(&api, "y", 1, 0);
	cr_expect_eq(get(&api, "logo").type, HOTCFG_BYTES);

	put("motd", "hello\n", 6);
	put("logo", bin, sizeof(bin));
	puts_file("b.yaml", "x: 2\n");
	puts_file("a.yaml", "x: 1\ny: 1\n");
	vol = load_dir(tmpdir, 0);
	cr_expect_eq(hc_blob_content_hash(api.blob),
	    hc_blob_content_hash(vol.blob), "volume and API differ");
	snap_free(&api);
	snap_free(&vol);
}

Test(dir, errors_name_the_file_and_position)
{
	struct cfg_node *t = NULL;
	struct cfg_error err;
	char want[600];

	puts_file("a.yaml", "ok: 1\n");
	puts_file("b.yaml", "a: 1\na: 2\n");
	cr_expect_eq(cfg_load_dir(tmpdir, 0, NULL, &t, &err), -EINVAL);
	cr_expect_null(t);
	snprintf(want, sizeof(want), "%s/b.yaml", tmpdir);
	cr_expect_str_eq(err.source, want);
	cr_expect_eq(err.line, 2);
	cr_expect_eq(err.col, 1);
	cr_expect_not_null(strstr(err.msg, "duplicate key"), "%s", err.msg);
}

Test(dir, size_limit_applies_to_each_file)
{
	struct cfg_limits lim;
	struct cfg_node *t = NULL;
	struct cfg_error err;
	struct cfg_file big = { "big.txt", "0123456789", 10, false };

	cfg_limits_default(&lim);
	lim.max_file = 8;
	puts_file("small", "1234");
	cr_expect_eq(cfg_load_dir(tmpdir, 0, &lim, &t, &err), 0, "%s",
	    err.msg);
	cfg_free(t);
	t = NULL;
	puts_file("big.txt", "0123456789");
	cr_expect_eq(cfg_load_dir(tmpdir, 0, &lim, &t, &err), -EFBIG);
	cr_expect_not_null(strstr(err.msg, "max_file"), "%s", err.msg);
	cr_expect_not_null(strstr(err.source, "big.txt"), "%s", err.source);
	cr_expect_eq(cfg_load_files(&big, 1, 0, &lim, &t, &err), -EFBIG);
	cr_expect_null(t);
}

Test(dir, a_missing_directory_is_enoent)
{
	struct cfg_node *t = NULL;
	struct cfg_error err;
	char p[600];

	snprintf(p, sizeof(p), "%s/none", tmpdir);
	cr_expect_eq(cfg_load_dir(p, 0, NULL, &t, &err), -ENOENT);
	cr_expect_str_eq(err.source, p);
	cr_expect_null(t);
}

Test(dir, an_empty_directory_is_an_empty_source)
{
	struct cfg_node *t = (struct cfg_node *)&t;
	struct cfg_error err;

	puts_file(".only-hidden", "x");
	cr_expect_eq(cfg_load_dir(tmpdir, 0, NULL, &t, &err), 0);
	cr_expect_null(t);
}

Test(file, a_file_loads_and_errors_are_precise)
{
	struct cfg_node *t = NULL;
	struct cfg_error err;
	struct cfg_limits lim;
	char p[600];
	struct snap sn;

	puts_file("c.yaml", "a: {b: 1}\n");
	snprintf(p, sizeof(p), "%s/c.yaml", tmpdir);
	cr_assert_eq(cfg_load_file(p, 4, NULL, &t, &err), 0, "%s", err.msg);
	sn = snap_tree(t, 5);
	expect_int(&sn, "a.b", 1, 4);
	snap_free(&sn);

	t = NULL;
	puts_file("bad.yaml", "a: [1\n");
	snprintf(p, sizeof(p), "%s/bad.yaml", tmpdir);
	cr_expect_eq(cfg_load_file(p, 0, NULL, &t, &err), -EINVAL);
	cr_expect_str_eq(err.source, p);
	cr_expect_eq(err.line, 2, "%u %s", err.line, err.msg);

	snprintf(p, sizeof(p), "%s/missing.yaml", tmpdir);
	cr_expect_eq(cfg_load_file(p, 0, NULL, &t, &err), -ENOENT);
	cr_expect_str_eq(err.source, p);

	cr_expect_eq(cfg_load_file(tmpdir, 0, NULL, &t, &err), -EINVAL);
	cr_expect_not_null(strstr(err.msg, "not a regular file"), "%s",
	    err.msg);

	cfg_limits_default(&lim);
	lim.max_file = 4;
	snprintf(p, sizeof(p), "%s/c.yaml", tmpdir);
	cr_expect_eq(cfg_load_file(p, 0, &lim, &t, &err), -EFBIG);
	cr_expect_not_null(strstr(err.msg, "max_file"), "%s", err.msg);
	cr_expect_null(t);
}

Test(file, an_empty_file_gives_no_tree)
{
	struct cfg_node *t = (struct cfg_node *)&t;
	struct cfg_error err;
	char p[600];

	puts_file("empty.yaml", "");
	snprintf(p, sizeof(p), "%s/empty.yaml", tmpdir);
	cr_expect_eq(cfg_load_file(p, 0, NULL, &t, &err), 0);
	cr_expect_null(t);
}
