/*
 * config.h - hotcfgd's own configuration, hotcfgd.yaml(5).
 *
 * struct agent_conf holds everything the agent runs with: where it
 * publishes, its ordered sources, its timings and limits, its log.  It is
 * filled with defaults by conf_init(), then by conf_load() from the file
 * given with -c, then by the command line (main.c), which overrides both.
 * Errors carry the file, line and column of the offending node.
 */
#ifndef HOTCFGD_CONFIG_H
#define HOTCFGD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tree.h"

/* The kinds of source.  SRC_PATH is a file or a directory, decided each
 * time it is read (what a command-line SOURCE is). */
enum src_kind {
	SRC_PATH = 0,
	SRC_FILE,
	SRC_DIR,
	SRC_CONFIGMAP
};

const char *src_kind_name(int kind);

struct src_conf {
	int kind;               /* enum src_kind */
	char *path;             /* file or directory; NAMESPACE/NAME */
	char *name;             /* how logs and status name it */
	char *prefix;           /* escaped key prefix, NULL for none */
	bool optional;          /* missing is fine (contributes nothing) */
	/* configmap sources only; 0 and NULL mean the client's defaults. */
	char *kubeconfig;       /* credentials file, else the agent's */
	char *context;          /* kubeconfig context, else current-context */
	int64_t poll_ns;        /* > 0: get every poll_ns instead of watching */
	bool drop_on_delete;    /* deleted: drop its data (default: keep) */
	int64_t watch_timeout_ns; /* a watch lasts this to twice this */
	int64_t request_timeout_ns; /* a list or get; the -n wait too */
	int64_t backoff_ns;     /* first retry delay after a failure */
	int64_t backoff_max_ns; /* longest retry delay */
	/* Where it was configured: "hotcfgd.yaml", line and column, or
	 * "command line" with the argument's position. */
	char *where;
	unsigned line, col;
};

struct agent_conf {
	char *file;             /* the configuration file read, or NULL */
	char *name;             /* publish under $HOTCFG_ROOT/NAME */
	char *dir;              /* or in this directory */
	unsigned history;       /* previous snapshots kept */
	char *group;            /* group name or number for the files */
	int64_t debounce_ns;    /* extra wait after a completed change */
	int64_t write_timeout_ns; /* a file still open for writing */
	int64_t delete_grace_ns;  /* a deleted file may come back */
	int64_t rescan_ns;      /* periodic full rescan, 0 = off */
	int64_t heartbeat_ns;
	struct cfg_limits limits;
	int log_level;          /* enum log_level */
	char *log_file;         /* NULL: stderr */
	char *kubeconfig;       /* default of every configmap source */
	struct src_conf *src;
	size_t nsrc;
};

/* Defaults; never fails. */
void conf_init(struct agent_conf *c);
void conf_free(struct agent_conf *c);

/*
 * Read hotcfgd.yaml(5) from `path` into c (over the defaults).  Relative
 * source and log paths are taken relative to the file's directory.
 * 0; -EINVAL with *err filled (file:line:col and why); -ENOENT and other
 * read errors with err->msg filled too.
 */
int conf_load(struct agent_conf *c, const char *path, struct cfg_error *err);

/* Is s a publication name: one path component, not empty, "." or ".."?
 * (--name and name: alike.) */
bool conf_is_name(const char *s);

/*
 * Parse a text buffer as the file `name` would be (conf_load() and the
 * tests).  Nothing reads standard input: conf_load() opens "-" as a file.
 */
int conf_parse(struct agent_conf *c, const char *name, const char *buf,
    size_t len, struct cfg_error *err);

/*
 * Append one source as the command line gives it: a path (file or
 * directory) or "configmap:NAMESPACE/NAME".  0, -EINVAL (err filled),
 * -ENOMEM.
 */
int conf_add_arg(struct agent_conf *c, const char *arg, unsigned argno,
    struct cfg_error *err);

/* Drop every source (the command line replaces the file's sources). */
void conf_clear_sources(struct agent_conf *c);

/*
 * Once the file and the command line are in: every configmap source that
 * names no kubeconfig of its own gets the agent's (c->kubeconfig, from
 * the file's top level or --kubeconfig).  0 or -ENOMEM.
 */
int conf_finish(struct agent_conf *c);

/* "50ms", "1.5s", "2m", "1h", "250us", "0"; a bare number is seconds.
 * 0 or -EINVAL. */
int conf_parse_duration(const char *s, int64_t *ns);
/* "4096", "64KiB", "64k", "64MiB", "1G"; binary multiples. */
int conf_parse_size(const char *s, uint64_t *bytes);

#endif /* HOTCFGD_CONFIG_H */
