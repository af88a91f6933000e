/*
 * tree.h - the agent's in-memory configuration tree.
 *
 * Every source (a YAML/JSON file, a directory, a ConfigMap) is loaded into a
 * tree of cfg_node; the sources' trees are merged in order (later wins: maps
 * merge deeply, scalars and sequences replace); the merged tree is then
 * flattened into a snapshot builder with escaped keys (design.md "The data
 * model").  Each node remembers the source that set it.
 */
#ifndef HOTCFGD_TREE_H
#define HOTCFGD_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

struct cfg_node;

/* Limits that guard the agent against hostile input (hotcfgd.yaml(5)). */
struct cfg_limits {
	size_t max_file;        /* bytes per file; default 64 MiB */
	unsigned max_depth;     /* nesting depth; default 128 */
	size_t max_nodes;       /* nodes after alias expansion, per source;
	                           default 1,000,000 */
	size_t max_key;         /* bytes of one flattened key; default 4096 */
};
void cfg_limits_default(struct cfg_limits *l);

/* Where and why a load failed.  line/col are 1-based, 0 when unknown. */
struct cfg_error {
	char source[256];       /* the file (or ConfigMap key) at fault */
	unsigned line, col;
	char msg[512];
};

/* One input file of a directory or ConfigMap source. */
struct cfg_file {
	const char *name;       /* file name or data key, no directory */
	const char *data;
	size_t len;
	bool binary;            /* ConfigMap binaryData: a bytes entry */
};

/*
 * Parse YAML (or JSON, which is YAML) text into a tree.  `name` is used in
 * errors.  All documents of the stream merge in order; an empty stream
 * gives *out = NULL and 0.  Every node carries `source`.
 * 0, or -EINVAL with *err filled (parse error, duplicate key, limit).
 */
int cfg_load_yaml(const char *name, const char *buf, size_t len,
    unsigned source, const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err);

/* Read and parse one file (size limit checked before reading).
 * -ENOENT when it does not exist (err filled), -EINVAL, -EIO... */
int cfg_load_file(const char *path, unsigned source,
    const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err);

/*
 * A set of files as a directory source sees them: *.yaml, *.yml, *.json
 * parsed and merged in name order (bytewise), every other file one string
 * (or bytes, if binary) entry named after the file.  Names starting with
 * '.' are skipped.  The files need not be sorted.
 */
int cfg_load_files(const struct cfg_file *files, size_t n, unsigned source,
    const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err);

/* Read a directory (regular files, and symlinks to them, not hidden) and
 * load it with cfg_load_files().  -ENOENT when the directory is missing. */
int cfg_load_dir(const char *path, unsigned source,
    const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err);

/* Mount a tree under an escaped key prefix ("app.db"), creating the
 * intermediate maps.  NULL or "" leaves it as is.  -EINVAL bad prefix. */
int cfg_mount(struct cfg_node **tree, const char *prefix, unsigned source);

/* Merge `layer` into *into (later wins).  Takes ownership of layer. */
int cfg_merge(struct cfg_node **into, struct cfg_node *layer);

/* Flatten into a builder: one entry per node, keys escaped.  The root is
 * the entry with the empty key.  -ENAMETOOLONG past lim->max_key. */
int cfg_emit(const struct cfg_node *root, struct hc_builder *b,
    const struct cfg_limits *lim, struct cfg_error *err);

void cfg_free(struct cfg_node *n);

#endif /* HOTCFGD_TREE_H */
