/*
 * cli.h - what the files of the hotcfg command share.
 *
 * The command is a reader like any service: it reads through the public
 * API of libhotcfg (include/hotcfg.h) and prints with the dump code that
 * hotcfgd --print shares (lib/dump.c).  The one exception is `diff`, which
 * maps old generations from the directory's history itself and wraps them
 * with hc_snap_wrap(), the same validator the library uses.
 *
 *   hotcfg.c   main: global options, commands, usage, exit codes
 *   open.c     finding and opening a configuration, error messages
 *   show.c     get, dump
 *   status.c   status
 *   changes.c  watch, wait, diff: everything about generations changing
 */
#ifndef HOTCFG_CLI_H
#define HOTCFG_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hotcfg.h"
#include "internal.h"

/* Exit codes, as documented in hotcfg(1). */
#define EXIT_OK        0
#define EXIT_NOTFOUND  1   /* not found, timed out, unhealthy */
#define EXIT_TROUBLE   2   /* usage or any other error */

/* Where the configuration is, as the user named it. */
struct cli {
	const char *where;      /* --name NAME or --dir DIR; NULL: default */
	bool by_dir;            /* it was --dir */
	char *dir;              /* the resolved directory, for messages */
};

/* "hotcfg: " + message + newline on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The usage text; to stdout for --help, else to stderr. */
void cli_usage(FILE *fp);

/* A usage error: says what and where to look, returns EXIT_TROUBLE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Per-command option parsing.  Every command also takes --name, --dir and
 * --help, so they may come before or after the command.  `longopts` ends
 * with the shared ones (CLI_COMMON_OPTS).  Returns the option character,
 * -1 at the end, or -2 after reporting an error (the caller returns
 * EXIT_TROUBLE) or after printing help (*exit_code then says 0).
 */
struct option;
int cli_getopt(struct cli *c, const char *cmd, int argc, char **argv,
    const struct option *longopts, int *exit_code);
#define CLI_OPT_NAME 0x1001
#define CLI_OPT_DIR  0x1002
#define CLI_COMMON_OPTS \
	{ "name", required_argument, NULL, CLI_OPT_NAME }, \
	{ "dir", required_argument, NULL, CLI_OPT_DIR }, \
	{ "help", no_argument, NULL, 'h' }, \
	{ NULL, 0, NULL, 0 }

/* Strict number parsing for arguments: 0 or -EINVAL. */
int cli_parse_u64(const char *s, uint64_t *out);
int cli_parse_seconds(const char *s, double *out);

/*
 * Open the configuration.  With `wait`, a configuration that does not
 * exist yet (no directory, no control file) is waited for, with inotify,
 * until deadline_ns (CLOCK_MONOTONIC; negative: forever).  On failure the
 * error is reported and the exit code returned; 0 on success.
 */
int cli_open(struct cli *c, hotcfg **h, bool wait, int64_t deadline_ns);

/* The newest snapshot, or a reported error and its exit code. */
int cli_snapshot(struct cli *c, hotcfg *h, const hotcfg_snap **s);

/* Report err (a negative hotcfg/errno code) met while doing `what`, with
 * advice where there is some; returns the exit code it deserves. */
int cli_fail(struct cli *c, int err, const char *what);

/* " (is hotcfgd running with --name demo?)"-style advice, to stderr. */
void cli_hint_agent(const struct cli *c, char *buf, size_t len);

/* Flush stdout; a failure (a closed pipe, a full disk) is an error. */
int cli_flush(void);

/* Times: RFC 3339 UTC with milliseconds ("2024-05-01T12:00:00.123Z"). */
void cli_format_time(int64_t ns, char *buf, size_t len);

/* The commands: each returns the exit code. */
int cmd_get(struct cli *c, int argc, char **argv);
int cmd_dump(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_watch(struct cli *c, int argc, char **argv);
int cmd_wait(struct cli *c, int argc, char **argv);
int cmd_diff(struct cli *c, int argc, char **argv);

#endif /* HOTCFG_CLI_H */
