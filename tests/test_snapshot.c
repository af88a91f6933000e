/*
 * test_snapshot.c - the snapshot format on its own: builder, validator,
 * lookups and iteration, and the validator's refusal of damaged blobs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hotcfg.h"
#include "internal.h"

static hotcfg_entry
ent(const char *key, int type)
{
	hotcfg_entry e;
	memset(&e, 0, sizeof(e));
	e.key = key;
	e.key_len = strlen(key);
	e.type = type;
	return e;
}

static void
add_str(struct hc_builder *b, const char *key, const char *val)
{
	hotcfg_entry e = ent(key, HOTCFG_STR);
	e.text = val;
	e.text_len = strlen(val);
	cr_assert_eq(hc_builder_add(b, &e), 0);
}

static void
add_int(struct hc_builder *b, const char *key, int64_t v)
{
	hotcfg_entry e = ent(key, HOTCFG_INT);
	e.i = v;
	cr_assert_eq(hc_builder_add(b, &e), 0);
}

static void
add_count(struct hc_builder *b, const char *key, int type, size_t n)
{
	hotcfg_entry e = ent(key, type);
	e.count = n;
	cr_assert_eq(hc_builder_add(b, &e), 0);
}

/* A small config with every type, escaped keys and empty containers. */
static void
build_sample(void **blob, size_t *size)
{
	struct hc_builder *b;
	unsigned src0, src1;
	hotcfg_entry e;

	cr_assert_eq(hc_builder_new(&b), 0);
	cr_assert_eq(hc_builder_source(b, "base.yaml", &src0), 0);
	cr_assert_eq(hc_builder_source(b, "override.yaml", &src1), 0);
	add_count(b, "", HOTCFG_MAP, 6);
	add_count(b, "server", HOTCFG_MAP, 3);
	add_str(b, "server.host", "example.org");
	add_int(b, "server.port", 8080);
	e = ent("server.tls", HOTCFG_BOOL);
	e.b = true;
	e.source = src1;
	cr_assert_eq(hc_builder_add(b, &e), 0);
	e = ent("ratio", HOTCFG_FLOAT);
	e.f = 0.25;
	cr_assert_eq(hc_builder_add(b, &e), 0);
	e = ent("nothing", HOTCFG_NULL);
	cr_assert_eq(hc_builder_add(b, &e), 0);
	e = ent("blob", HOTCFG_BYTES);
	e.text = "\x01\x00\x02";
	e.text_len = 3;
	cr_assert_eq(hc_builder_add(b, &e), 0);
	add_count(b, "list", HOTCFG_SEQ, 2);
	add_str(b, "list[0]", "a");
	add_int(b, "list[1]", -7);
	add_count(b, "labels", HOTCFG_MAP, 1);
	add_str(b, "labels.app\\.kubernetes\\.io/name", "demo");
	add_count(b, "empty_map", HOTCFG_MAP, 0);
	add_count(b, "empty_seq", HOTCFG_SEQ, 0);
	add_str(b, "serverless", "not in server's subtree");
	cr_assert_eq(hc_builder_finish(b, 1234, blob, size, NULL), 0);
	hc_builder_free(b);
}

Test(snapshot, every_type_round_trips)
{
	void *blob;
	size_t size;
	hotcfg_snap *s;
	int64_t i;
	double f;
	bool bo;
	const char *str;
	const void *data;
	size_t len, n;
	int type;

	build_sample(&blob, &size);
	cr_assert_eq(hc_snap_wrap(blob, size, &s), 0);
	cr_assert_eq(hotcfg_snap_count(s), 16);
	cr_assert_eq(hotcfg_snap_size(s), size);
	cr_assert_eq(hotcfg_snap_time(s), 1234);

	cr_assert_eq(hotcfg_get_str(s, "server.host", &str), 0);
	cr_assert_str_eq(str, "example.org");
	cr_assert_eq(hotcfg_get_int(s, "server.port", &i), 0);
	cr_assert_eq(i, 8080);
	cr_assert_eq(hotcfg_get_bool(s, "server.tls", &bo), 0);
	cr_assert(bo);
	cr_assert_eq(hotcfg_get_float(s, "ratio", &f), 0);
	cr_assert_float_eq(f, 0.25, 0);
	/* An int reads as a float; nothing else converts. */
	cr_assert_eq(hotcfg_get_float(s, "server.port", &f), 0);
	cr_assert_float_eq(f, 8080.0, 0);
	cr_assert_eq(hotcfg_get_int(s, "server.host", &i), HOTCFG_ETYPE);
	cr_assert_eq(hotcfg_get_int(s, "ratio", &i), HOTCFG_ETYPE);
	cr_assert_eq(hotcfg_get_str(s, "server.port", &str), HOTCFG_ETYPE);
	cr_assert_eq(hotcfg_get_bool(s, "nothing", &bo), HOTCFG_ETYPE);
	cr_assert_eq(hotcfg_get_int(s, "no.such.key", &i), -ENOENT);
	cr_assert_eq(hotcfg_get_bytes(s, "blob", &data, &len), 0);
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(data, "\x01\x00\x02", 3), 0);
	cr_assert_eq(hotcfg_get_type(s, "nothing", &type), 0);
	cr_assert_eq(type, HOTCFG_NULL);
	cr_assert_eq(hotcfg_get_count(s, "list", &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(hotcfg_get_count(s, "empty_map", &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(hotcfg_get_type(s, "empty_seq", &type), 0);
	cr_assert_eq(type, HOTCFG_SEQ);
	cr_assert_eq(hotcfg_get_count(s, "server.port", &n), HOTCFG_ETYPE);
	cr_assert_eq(hotcfg_get_str(s, "labels.app\\.kubernetes\\.io/name",
	    &str), 0);
	cr_assert_str_eq(str, "demo");
	cr_assert_eq(hotcfg_get_count(s, "", &n), 0);
	cr_assert_eq(n, 6);

	hotcfg_entry e;
	cr_assert_eq(hotcfg_get(s, "server.tls", &e), 0);
	cr_assert_str_eq(hotcfg_snap_source(s, e.source), "override.yaml");
	cr_assert_str_eq(e.text, "true");
	cr_assert_eq(hotcfg_get(s, "list[1]", &e), 0);
	cr_assert_str_eq(e.text, "-7");
	cr_assert_str_eq(hotcfg_snap_source(s, e.source), "base.yaml");
	cr_assert_eq(hotcfg_get(s, "ratio", &e), 0);
	cr_assert_str_eq(e.text, "0.25");
	cr_assert_eq(hotcfg_get(s, "nothing", &e), 0);
	cr_assert_str_eq(e.text, "null");
	cr_assert_null(hotcfg_snap_source(s, 2));
	hc_snap_unwrap(s);
	free(blob);
}

Test(snapshot, iteration_is_in_key_order_and_prefix_is_a_subtree)
{
	void *blob;
	size_t size, cur = 0, n = 0;
	hotcfg_snap *s;
	hotcfg_entry e;
	char prev[256] = "";
	const char *want[] = { "server", "server.host", "server.port",
	    "server.tls" };

	build_sample(&blob, &size);
	cr_assert_eq(hc_snap_wrap(blob, size, &s), 0);
	while (hotcfg_next(s, NULL, &cur, &e) == 0) {
		if (n > 0)
			cr_assert_lt(strcmp(prev, e.key), 0, "%s before %s",
			    prev, e.key);
		snprintf(prev, sizeof(prev), "%s", e.key);
		n++;
	}
	cr_assert_eq(n, 16);
	/* "serverless" shares the bytes but is not in the subtree. */
	cur = 0;
	n = 0;
	while (hotcfg_next(s, "server", &cur, &e) == 0) {
		cr_assert_lt(n, 4);
		cr_assert_str_eq(e.key, want[n]);
		n++;
	}
	cr_assert_eq(n, 4);
	cur = 0;
	cr_assert_eq(hotcfg_next(s, "list", &cur, &e), 0);
	cr_assert_str_eq(e.key, "list");
	cr_assert_eq(e.count, 2);
	cr_assert_eq(hotcfg_next(s, "list", &cur, &e), 0);
	cr_assert_str_eq(e.key, "list[0]");
	cr_assert_eq(hotcfg_next(s, "list", &cur, &e), 0);
	cr_assert_str_eq(e.key, "list[1]");
	cr_assert_eq(hotcfg_next(s, "list", &cur, &e), -ENOENT);
	cr_assert_eq(hotcfg_next(s, "list", &cur, &e), -ENOENT);
	cur = 0;
	cr_assert_eq(hotcfg_next(s, "zzz", &cur, &e), -ENOENT);
	hc_snap_unwrap(s);
	free(blob);
}

Test(snapshot, duplicate_keys_are_refused)
{
	struct hc_builder *b;
	void *blob;
	size_t size;
	char *dup;

	cr_assert_eq(hc_builder_new(&b), 0);
	add_str(b, "a", "1");
	add_str(b, "b", "2");
	add_str(b, "a", "3");
	cr_assert_eq(hc_builder_finish(b, 0, &blob, &size, &dup), -EEXIST);
	cr_assert_str_eq(dup, "a");
	free(dup);
	hotcfg_entry e = ent("x", HOTCFG_STR);
	e.key = "bad\0key";
	e.key_len = 7;
	cr_assert_eq(hc_builder_add(b, &e), -EINVAL);
	e = ent("x", 42);
	cr_assert_eq(hc_builder_add(b, &e), -EINVAL);
	hc_builder_free(b);
}

Test(snapshot, empty_snapshot_is_valid)
{
	struct hc_builder *b;
	void *blob;
	size_t size, cur = 0;
	hotcfg_snap *s;
	hotcfg_entry e;
	int64_t i;

	cr_assert_eq(hc_builder_new(&b), 0);
	cr_assert_eq(hc_builder_finish(b, 0, &blob, &size, NULL), 0);
	cr_assert_eq(hc_snap_wrap(blob, size, &s), 0);
	cr_assert_eq(hotcfg_snap_count(s), 0);
	cr_assert_eq(hotcfg_get_int(s, "", &i), -ENOENT);
	cr_assert_eq(hotcfg_next(s, NULL, &cur, &e), -ENOENT);
	hc_snap_unwrap(s);
	free(blob);
	hc_builder_free(b);
}

Test(snapshot, equal_content_gives_equal_hash_whatever_the_generation)
{
	void *a, *b;
	size_t sa, sb;

	build_sample(&a, &sa);
	build_sample(&b, &sb);
	cr_assert_eq(sa, sb);
	hc_blob_set_generation(a, 7);
	cr_assert_eq(hc_blob_content_hash(a), hc_blob_content_hash(b));
	hotcfg_snap *s;
	cr_assert_eq(hc_snap_wrap(a, sa, &s), 0, "generation change keeps "
	    "the checksum right");
	cr_assert_eq(hotcfg_snap_generation(s), 7);
	hc_snap_unwrap(s);
	free(a);
	free(b);
}

Test(snapshot, many_keys_all_found)
{
	struct hc_builder *b;
	void *blob;
	size_t size;
	hotcfg_snap *s;
	char key[64];
	int64_t v;

	cr_assert_eq(hc_builder_new(&b), 0);
	for (int i = 0; i < 50000; i++) {
		snprintf(key, sizeof(key), "section%d.item%d", i % 97, i);
		add_int(b, key, i * 3);
	}
	cr_assert_eq(hc_builder_finish(b, 0, &blob, &size, NULL), 0);
	cr_assert_eq(hc_snap_wrap(blob, size, &s), 0);
	for (int i = 0; i < 50000; i++) {
		snprintf(key, sizeof(key), "section%d.item%d", i % 97, i);
		cr_assert_eq(hotcfg_get_int(s, key, &v), 0, "%s", key);
		cr_assert_eq(v, i * 3);
		snprintf(key, sizeof(key), "section%d.item%d", i % 97, i + 50000);
		cr_assert_eq(hotcfg_get_int(s, key, &v), -ENOENT);
	}
	hc_snap_unwrap(s);
	free(blob);
	hc_builder_free(b);
}

/*
 * Every single-byte change and every truncation must be refused: the
 * checksum covers every byte but itself, and a change to the checksum
 * makes it disagree with the rest.
 */
Test(snapshot, every_corruption_and_truncation_is_refused)
{
	void *blob;
	size_t size;
	hotcfg_snap *s;
	unsigned char *copy;

	build_sample(&blob, &size);
	copy = aligned_alloc(64, (size + 63) & ~(size_t)63);
	cr_assert_not_null(copy);
	for (size_t off = 0; off < size; off++) {
		for (int bit = 0; bit < 8; bit += 3) {
			memcpy(copy, blob, size);
			copy[off] ^= (unsigned char)(1u << bit);
			int rc = hc_snap_wrap(copy, size, &s);
			cr_assert(rc == HOTCFG_ECORRUPT || rc == HOTCFG_EVERSION,
			    "flip at %zu bit %d accepted (rc %d)", off, bit, rc);
		}
		memcpy(copy, blob, size);
		copy[off] = (unsigned char)~copy[off];
		cr_assert_neq(hc_snap_wrap(copy, size, &s), 0,
		    "byte %zu inverted accepted", off);
	}
	for (size_t len = 0; len < size; len++) {
		memcpy(copy, blob, len);
		cr_assert_eq(hc_snap_wrap(copy, len, &s), HOTCFG_ECORRUPT,
		    "truncation to %zu accepted", len);
	}
	memcpy(copy, blob, size);
	cr_assert_eq(hc_snap_wrap(copy, size, &s), 0);
	hc_snap_unwrap(s);
	free(copy);
	free(blob);
}

Test(snapshot, float_text_reads_back)
{
	char buf[40];
	double vals[] = { 0.1, 1.0, -2.5, 1e300, 5e-324, 123456789.125, -0.0 };

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		hc_format_float(vals[i], buf, sizeof(buf));
		cr_assert_eq(strtod(buf, NULL), vals[i], "%s", buf);
		cr_assert_not_null(strpbrk(buf, ".e"), "%s looks like an int",
		    buf);
	}
	hc_format_float(INFINITY, buf, sizeof(buf));
	cr_assert_str_eq(buf, ".inf");
	hc_format_float(-INFINITY, buf, sizeof(buf));
	cr_assert_str_eq(buf, "-.inf");
	hc_format_float(NAN, buf, sizeof(buf));
	cr_assert_str_eq(buf, ".nan");
	hc_format_float(1.0, buf, sizeof(buf));
	cr_assert_str_eq(buf, "1.0");
}

Test(snapshot, strerror_covers_library_and_errno_codes)
{
	cr_assert_str_eq(hotcfg_strerror(HOTCFG_ETYPE), "key has another type");
	cr_assert_str_eq(hotcfg_strerror(-ENOENT), "No such file or directory");
	cr_assert_str_eq(hotcfg_strerror(ENOENT), "No such file or directory");
	cr_assert_not_null(hotcfg_strerror(-99999));
	cr_assert_str_eq(hotcfg_type_name(HOTCFG_SEQ), "seq");
	cr_assert_str_eq(hotcfg_type_name(99), "unknown");
	cr_assert_str_eq(hotcfg_version(), HOTCFG_VERSION_STRING);
}
