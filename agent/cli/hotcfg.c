/*
 * hotcfg.c - the hotcfg command: global options, the command table, usage
 * and exit codes.
 *
 *   hotcfg [--name NAME | --dir DIR] COMMAND [ARGS]
 *
 * Exit codes (hotcfg(1)): 0 success; 1 something asked for is not there
 * (a key, a generation, the configuration itself), a wait timed out, or
 * status found the agent unhealthy; 2 a usage error or any other failure.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char usage_text[] =
"usage: hotcfg [--name NAME | --dir DIR] COMMAND [ARGS]\n"
"\n"
"Read the configuration that hotcfgd publishes.\n"
"\n"
"Commands:\n"
"  get KEY [-t|--type]         print one value (--type: its type first)\n"
"  dump [-f|--format flat|json|yaml] [-p|--prefix KEY] [-s|--sources]\n"
"                              print everything, or the subtree at KEY\n"
"  status [-f|--format text|json] [-s|--stale SECONDS]\n"
"                              the agent's health and last reload; exit 1\n"
"                              unless the agent is alive (heartbeat at most\n"
"                              SECONDS old, default 10) and the last reload\n"
"                              did not fail\n"
"  watch [-p|--prefix KEY]     print each change as it is published\n"
"  wait [-a|--after GEN] [-t|--timeout SECONDS]\n"
"                              wait for a generation newer than GEN\n"
"                              (default: the current one) and print it\n"
"  diff [GEN_A [GEN_B]]        the changes between two generations still\n"
"                              in the history (default: previous, current)\n"
"\n"
"Options:\n"
"  --name NAME    the configuration NAME under $HOTCFG_ROOT\n"
"                 (default root /dev/shm/hotcfg, default name $HOTCFG_NAME\n"
"                 or \"default\")\n"
"  --dir DIR      the configuration's directory itself\n"
"  -h, --help     show this help\n"
"  -V, --version  show the version\n"
"\n"
"Keys are escaped paths: server.port, servers[0].host, a\\.b for a key\n"
"holding a dot.  Changes print as '+ key = value', '- key' and\n"
"'~ key: old -> new'.\n"
"\n"
"Exit status: 0 success; 1 not found, timed out or unhealthy; 2 usage or\n"
"other error.\n";

void
cli_usage(FILE *fp)
{
	fputs(usage_text, fp);
}

void
cli_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("hotcfg: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	if (cmd != NULL)
		fprintf(stderr, "hotcfg %s: ", cmd);
	else
		fputs("hotcfg: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see hotcfg --help)\n", stderr);
	return EXIT_TROUBLE;
}

static int
set_where(struct cli *c, const char *cmd, int opt, const char *arg)
{
	if (c->where != NULL && strcmp(c->where, arg) != 0)
		return cli_usage_error(cmd, "give --name or --dir once");
	if (*arg == '\0')
		return cli_usage_error(cmd, "%s needs a value",
		    opt == CLI_OPT_NAME ? "--name" : "--dir");
	if (opt == CLI_OPT_NAME && strchr(arg, '/') != NULL)
		return cli_usage_error(cmd, "--name takes a name, not a path; "
		    "use --dir %s", arg);
	c->where = arg;
	c->by_dir = opt == CLI_OPT_DIR;
	return 0;
}

/* Build a getopt short-option string from the long options that have a
 * single-character value. */
static void
short_opts(const struct option *lo, char *buf, size_t len)
{
	size_t n = 0;

	buf[n++] = ':';         /* report a missing value as ':' */
	for (; lo->name != NULL && n + 3 < len; lo++) {
		if (lo->val <= 0 || lo->val > 0x7f)
			continue;
		buf[n++] = (char)lo->val;
		if (lo->has_arg == required_argument)
			buf[n++] = ':';
	}
	buf[n] = '\0';
}

int
cli_getopt(struct cli *c, const char *cmd, int argc, char **argv,
    const struct option *longopts, int *exit_code)
{
	char shorts[64];
	int opt;

	short_opts(longopts, shorts, sizeof(shorts));
	opterr = 0;
	for (;;) {
		opt = getopt_long(argc, argv, shorts, longopts, NULL);
		switch (opt) {
		case CLI_OPT_NAME:
		case CLI_OPT_DIR:
			if (set_where(c, cmd, opt, optarg) != 0) {
				*exit_code = EXIT_TROUBLE;
				return -2;
			}
			continue;
		case 'h':
			cli_usage(stdout);
			*exit_code = cli_flush();
			return -2;
		case ':':
			*exit_code = cli_usage_error(cmd, "%s needs a value",
			    argv[optind - 1]);
			return -2;
		case '?':
			if (optopt != 0 && optopt < 0x80)
				*exit_code = cli_usage_error(cmd,
				    "unknown option -%c", optopt);
			else
				*exit_code = cli_usage_error(cmd,
				    "unknown option %s", argv[optind - 1]);
			return -2;
		default:
			return opt;
		}
	}
}

int
cli_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

int
cli_parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	/* Up to a year: far enough for any wait, small enough for ns. */
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0 ||
	    v > 366.0 * 86400)
		return -EINVAL;
	*out = v;
	return 0;
}

int
cli_flush(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		int e = errno;
		fprintf(stderr, "hotcfg: cannot write the output: %s\n",
		    strerror(e ? e : EIO));
		return EXIT_TROUBLE;
	}
	return EXIT_OK;
}

void
cli_format_time(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	size_t n;

	if (ns <= 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "never");
		return;
	}
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(ns / 1000000 % 1000));
}

static const struct {
	const char *name;
	int (*run)(struct cli *, int, char **);
} commands[] = {
	{ "get", cmd_get },
	{ "dump", cmd_dump },
	{ "status", cmd_status },
	{ "watch", cmd_watch },
	{ "wait", cmd_wait },
	{ "diff", cmd_diff },
};

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "version", no_argument, NULL, 'V' },
		CLI_COMMON_OPTS
	};
	struct cli c = { 0 };
	int opt, code = EXIT_TROUBLE;
	const char *cmd;

	/* "+": stop at the command; its own options are its own. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:hV", lo, NULL)) != -1) {
		switch (opt) {
		case CLI_OPT_NAME:
		case CLI_OPT_DIR:
			if (set_where(&c, NULL, opt, optarg) != 0)
				return EXIT_TROUBLE;
			break;
		case 'h':
			cli_usage(stdout);
			return cli_flush();
		case 'V':
			printf("hotcfg %s (libhotcfg %s)\n",
			    HOTCFG_VERSION_STRING, hotcfg_version());
			return cli_flush();
		case ':':
			return cli_usage_error(NULL, "%s needs a value",
			    argv[optind - 1]);
		default:
			if (optopt != 0 && optopt < 0x80)
				return cli_usage_error(NULL,
				    "unknown option -%c", optopt);
			return cli_usage_error(NULL, "unknown option %s",
			    argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		cli_usage(stderr);
		return EXIT_TROUBLE;
	}
	cmd = argv[optind];
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		int first = optind;

		if (strcmp(cmd, commands[i].name) != 0)
			continue;
		/* The command sees its name as argv[0]; optind = 0 makes
		 * glibc's getopt start afresh on that array. */
		optind = 0;
		code = commands[i].run(&c, argc - first, argv + first);
		free(c.dir);
		return code;
	}
	return cli_usage_error(NULL, "unknown command '%s'", cmd);
}
