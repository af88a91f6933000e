/*
 * show.c - `hotcfg get` and `hotcfg dump`: the current snapshot, read
 * through the public API and printed with the dump code hotcfgd --print
 * shares.
 *
 * get prints a value the way a shell script wants it: a string as it is
 * (plus a newline unless it ends in one), bytes as one line of base64,
 * null, bools and numbers in their canonical YAML form, and a map or a
 * sequence as its subtree in YAML.  --type puts the type's name on a line
 * of its own first.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dump.h"

static int
print_value(struct cli *c, const hotcfg_snap *s, const char *key,
    const hotcfg_entry *e)
{
	char *b64;
	int rc = 0;

	switch (e->type) {
	case HOTCFG_STR:
		fwrite(e->text, 1, e->text_len, stdout);
		if (e->text_len == 0 || e->text[e->text_len - 1] != '\n')
			putchar('\n');
		break;
	case HOTCFG_BYTES:
		if ((b64 = hc_base64(e->text, e->text_len, NULL)) == NULL)
			return cli_fail(c, -ENOMEM, "cannot print");
		puts(b64);
		free(b64);
		break;
	case HOTCFG_MAP:
	case HOTCFG_SEQ:
		rc = hc_dump(s, stdout, HC_DUMP_YAML, key, false);
		break;
	default:
		fwrite(e->text, 1, e->text_len, stdout);
		putchar('\n');
		break;
	}
	if (rc == -EILSEQ) {
		cli_err("%s holds text that is not UTF-8, which YAML cannot "
		    "carry; try hotcfg dump --prefix %s", key, key);
		return EXIT_TROUBLE;
	}
	if (rc != 0)
		return cli_fail(c, rc, "cannot print from");
	return cli_flush();
}

int
cmd_get(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "type", no_argument, NULL, 't' },
		CLI_COMMON_OPTS
	};
	const hotcfg_snap *s;
	hotcfg_entry e;
	hotcfg *h = NULL;
	bool with_type = false;
	const char *key;
	int opt, code = EXIT_TROUBLE, rc;

	while ((opt = cli_getopt(c, "get", argc, argv, lo, &code)) != -1) {
		if (opt == -2)
			return code;
		with_type = true;
	}
	if (optind + 1 != argc)
		return cli_usage_error("get", optind >= argc ?
		    "which KEY?" : "one KEY only");
	key = argv[optind];

	if ((code = cli_open(c, &h, false, -1)) != 0)
		return code;
	if ((code = cli_snapshot(c, h, &s)) != 0)
		goto out;
	rc = hotcfg_get(s, key, &e);
	if (rc == -ENOENT) {
		cli_err("no key '%s' in %s (generation %llu); hotcfg dump "
		    "lists the keys", key, c->dir,
		    (unsigned long long)hotcfg_snap_generation(s));
		code = EXIT_NOTFOUND;
		goto out;
	}
	if (rc != 0) {
		code = cli_fail(c, rc, "cannot read");
		goto out;
	}
	if (with_type)
		printf("%s\n", hotcfg_type_name(e.type));
	code = print_value(c, s, key, &e);
out:
	hotcfg_close(h);
	return code;
}

int
cmd_dump(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "sources", no_argument, NULL, 's' },
		CLI_COMMON_OPTS
	};
	const hotcfg_snap *s;
	const char *prefix = NULL;
	hotcfg *h = NULL;
	bool sources = false;
	int opt, code = EXIT_TROUBLE, format = HC_DUMP_FLAT, rc;

	while ((opt = cli_getopt(c, "dump", argc, argv, lo, &code)) != -1) {
		switch (opt) {
		case -2:
			return code;
		case 'f':
			if ((format = hc_dump_parse_format(optarg)) < 0)
				return cli_usage_error("dump", "unknown format "
				    "'%s': use flat, json or yaml", optarg);
			break;
		case 'p':
			prefix = optarg;
			break;
		case 's':
			sources = true;
			break;
		}
	}
	if (optind != argc)
		return cli_usage_error("dump", "unexpected argument '%s'",
		    argv[optind]);

	if ((code = cli_open(c, &h, false, -1)) != 0)
		return code;
	if ((code = cli_snapshot(c, h, &s)) != 0)
		goto out;
	rc = hc_dump(s, stdout, format, prefix, sources);
	switch (rc) {
	case 0:
		code = cli_flush();
		break;
	case -ENOENT:
		cli_err("no key '%s' in %s (generation %llu); hotcfg dump "
		    "lists the keys", prefix, c->dir,
		    (unsigned long long)hotcfg_snap_generation(s));
		code = EXIT_NOTFOUND;
		break;
	case -EILSEQ:
		cli_err("a string in %s is not UTF-8, which JSON and YAML "
		    "cannot carry; use --format flat", c->dir);
		code = EXIT_TROUBLE;
		break;
	case -EIO:
		code = cli_flush();
		if (code == EXIT_OK) {
			cli_err("cannot write the output");
			code = EXIT_TROUBLE;
		}
		break;
	default:
		code = cli_fail(c, rc, "cannot dump");
		break;
	}
out:
	hotcfg_close(h);
	return code;
}
