/*
 * fuzzrun - runs the fuzz targets' checks on given inputs, outside
 * libFuzzer: the targets' sources are included with their entry points
 * renamed, so an input goes through exactly what the fuzzer does to it.
 * tests/test_fuzz_inputs.c runs every seed and every past finding through
 * it in the ordinary test suite, hence also under ASan, UBSan and LSan
 * (make san) and ThreadSanitizer (make tsan).
 *
 *   fuzzrun snapshot|yaml|watch FILE...
 *
 * A failed check aborts (as under libFuzzer); exit 0 when every input
 * passed, 2 on a usage or read error.
 */
#include <stdio.h>
#include <stdlib.h>

#define LLVMFuzzerTestOneInput fuzz_snapshot_one
#include "../fuzz/fuzz_snapshot.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_yaml_one
#include "../fuzz/fuzz_yaml.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_watch_one
#include "../fuzz/fuzz_watch.c"
#undef LLVMFuzzerTestOneInput

static int
read_all(const char *path, uint8_t **buf, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	size_t cap = 4096, n = 0, r;
	uint8_t *b = NULL, *nb;

	if (fp == NULL)
		return -1;
	for (;;) {
		if (b == NULL || n == cap) {
			cap = b == NULL ? cap : cap * 2;
			if ((nb = realloc(b, cap)) == NULL) {
				free(b);
				fclose(fp);
				return -1;
			}
			b = nb;
		}
		if ((r = fread(b + n, 1, cap - n, fp)) == 0)
			break;
		n += r;
	}
	fclose(fp);
	/* An exact-size copy, so ASan sees a read past the end. */
	if ((*buf = malloc(n ? n : 1)) == NULL) {
		free(b);
		return -1;
	}
	memcpy(*buf, b, n);
	free(b);
	*len = n;
	return 0;
}

int
main(int argc, char **argv)
{
	int (*fn)(const uint8_t *, size_t) = NULL;

	if (argc >= 2 && strcmp(argv[1], "snapshot") == 0)
		fn = fuzz_snapshot_one;
	else if (argc >= 2 && strcmp(argv[1], "yaml") == 0)
		fn = fuzz_yaml_one;
	else if (argc >= 2 && strcmp(argv[1], "watch") == 0)
		fn = fuzz_watch_one;
	if (fn == NULL) {
		fprintf(stderr, "usage: fuzzrun snapshot|yaml|watch FILE...\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		uint8_t *buf;
		size_t len;

		if (read_all(argv[i], &buf, &len) != 0) {
			fprintf(stderr, "fuzzrun: %s: cannot read\n", argv[i]);
			return 2;
		}
		fn(buf, len);
		free(buf);
	}
	return 0;
}
