/*
 * fuzzseed - writes the seed corpus of the fuzz_snapshot target: real
 * snapshots made by the builder, each behind the harness's mode byte (see
 * tests/fuzz/fuzz_snapshot.c), so the fuzzer starts from blobs that pass
 * validation instead of having to find the format on its own.
 *
 *   fuzzseed DIR [YAML...]
 *
 * Writes a snapshot with every type and escaped keys, an empty one, a
 * gensnap one, a few builder recipes (mode 2), and the flattened snapshot
 * of each YAML file named.  The checked-in tests/fuzz/corpus/snapshot was
 * made with:
 *
 *   fuzzseed tests/fuzz/corpus/snapshot \
 *       tests/fuzz/corpus/yaml/{anchors,basic,bom_crlf,multidoc}.yaml \
 *       tests/fuzz/corpus/yaml/{root_scalar,tags}.yaml \
 *       tests/fuzz/corpus/yaml/root_seq.json
 *
 * Exit 0, or 1 with the reason on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gensnap.h"
#include "tree.h"

static int
write_seed(const char *dir, const char *name, unsigned char mode,
    const void *data, size_t len)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "wb")) == NULL) {
		fprintf(stderr, "fuzzseed: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fputc(mode, fp);
	fwrite(data, 1, len, fp);
	if (fclose(fp) != 0) {
		fprintf(stderr, "fuzzseed: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void
add(struct hc_builder *b, const char *key, int type, const char *text,
    size_t tlen, int64_t i, unsigned src)
{
	hotcfg_entry e;

	memset(&e, 0, sizeof(e));
	e.key = key;
	e.key_len = strlen(key);
	e.type = type;
	e.text = text;
	e.text_len = tlen;
	e.i = i;
	e.f = 0.5 * (double)i;
	e.b = i != 0;
	e.count = (size_t)i;
	e.source = src;
	if (hc_builder_add(b, &e) != 0) {
		fprintf(stderr, "fuzzseed: cannot add %s\n", key);
		exit(1);
	}
}

static int
sample(void **blob, size_t *size)
{
	struct hc_builder *b;
	unsigned s0, s1;
	int rc;

	if (hc_builder_new(&b) != 0)
		return -ENOMEM;
	hc_builder_source(b, "base.yaml", &s0);
	hc_builder_source(b, "configmap:ns/name", &s1);
	add(b, "", HOTCFG_MAP, NULL, 0, 6, s0);
	add(b, "server", HOTCFG_MAP, NULL, 0, 3, s0);
	add(b, "server.host", HOTCFG_STR, "example.org", 11, 0, s0);
	add(b, "server.port", HOTCFG_INT, NULL, 0, 8080, s1);
	add(b, "server.tls", HOTCFG_BOOL, NULL, 0, 1, s1);
	add(b, "ratio", HOTCFG_FLOAT, NULL, 0, 3, s0);
	add(b, "nothing", HOTCFG_NULL, NULL, 0, 0, s0);
	add(b, "blob", HOTCFG_BYTES, "\x01\x00\xff", 3, 0, s1);
	add(b, "list", HOTCFG_SEQ, NULL, 0, 2, s0);
	add(b, "list[0]", HOTCFG_STR, "a", 1, 0, s0);
	add(b, "list[1]", HOTCFG_INT, NULL, 0, -7, s0);
	add(b, "labels", HOTCFG_MAP, NULL, 0, 2, s0);
	add(b, "labels.app\\.kubernetes\\.io/name", HOTCFG_STR, "demo", 4, 0,
	    s1);
	add(b, "labels.a\\[0\\]\\\\", HOTCFG_STR, "", 0, 0, s1);
	add(b, "empty", HOTCFG_MAP, NULL, 0, 0, s0);
	add(b, "serverless", HOTCFG_STR, "line\nbreak \"q\"", 14, 0, s0);
	rc = hc_builder_finish(b, 1234, blob, size, NULL);
	hc_builder_free(b);
	return rc;
}

static int
from_yaml(const char *path, void **blob, size_t *size)
{
	struct cfg_node *root = NULL;
	struct cfg_error err;
	struct hc_builder *b;
	unsigned id;
	int rc;

	if ((rc = cfg_load_file(path, 0, NULL, &root, &err)) != 0) {
		fprintf(stderr, "fuzzseed: %s: %s (skipped)\n", path, err.msg);
		return rc;
	}
	if ((rc = hc_builder_new(&b)) != 0)
		goto out;
	hc_builder_source(b, path, &id);
	if ((rc = cfg_emit(root, b, NULL, &err)) == 0)
		rc = hc_builder_finish(b, 0, blob, size, NULL);
	hc_builder_free(b);
out:
	cfg_free(root);
	return rc;
}

int
main(int argc, char **argv)
{
	/* Builder recipes for mode 2: nsources, then per entry key length,
	 * key, type, source and the value's bytes. */
	static const unsigned char recipe1[] = {
		2, 1, 'a', 6, 0, 0, 2,
		3, 'a', '.', 'b', 2, 1, 0, 0, 0, 0, 0, 0, 0, 42,
		4, 'a', '[', '0', ']', 4, 1, 3, 'x', 'y', 'z',
		0, 7, 0, 0, 1,
	};
	static const unsigned char recipe2[] = {
		1, 2, 'k', '1', 3, 0, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0,
		2, 'k', '2', 5, 0, 2, 0xff, 0x00,
		2, 'k', '1', 1, 0, 1,
	};
	void *blob;
	size_t size;
	int bad = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: fuzzseed DIR [YAML...]\n");
		return 2;
	}
	if (sample(&blob, &size) != 0)
		return 1;
	bad |= write_seed(argv[1], "sample", 0, blob, size);
	bad |= write_seed(argv[1], "sample-repaired", 1, blob, size);
	free(blob);
	if (gensnap_build(7, 40, &blob, &size) != 0)
		return 1;
	hc_blob_set_generation(blob, 7);
	bad |= write_seed(argv[1], "gensnap", 0, blob, size);
	free(blob);
	{
		struct hc_builder *b;
		if (hc_builder_new(&b) != 0 ||
		    hc_builder_finish(b, 0, &blob, &size, NULL) != 0)
			return 1;
		hc_builder_free(b);
		bad |= write_seed(argv[1], "empty", 1, blob, size);
		free(blob);
	}
	bad |= write_seed(argv[1], "recipe-types", 2, recipe1, sizeof(recipe1));
	bad |= write_seed(argv[1], "recipe-dup", 2, recipe2, sizeof(recipe2));
	for (int i = 2; i < argc; i++) {
		const char *base = strrchr(argv[i], '/');
		char name[256];

		base = base ? base + 1 : argv[i];
		if (from_yaml(argv[i], &blob, &size) != 0)
			continue;
		snprintf(name, sizeof(name), "yaml-%s", base);
		bad |= write_seed(argv[1], name, 0, blob, size);
		free(blob);
	}
	return bad ? 1 : 0;
}
