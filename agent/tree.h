/*
 * tree.h - the agent's in-memory configuration tree.
 *
 * Every source (a YAML/JSON file, a directory, a ConfigMap) is loaded into a
 * tree of cfg_node; the sources' trees are merged in order (later wins: maps
 * merge deeply, scalars and sequences replace); the merged tree is then
 * flattened into a snapshot builder with escaped keys (design.md "The data
 * model").  Each node remembers the source that set it.
 *
 * Ownership: a function that gives out a tree gives one reference to it;
 * cfg_free() drops one.  Nodes are shared (aliases, and trees merged from
 * cached ones), so a tree is never changed in place while shared:
 * cfg_merge() copies the nodes it changes.  The reference counts are plain
 * integers: a tree, and every tree it shares nodes with, belongs to one
 * thread at a time.  Apart from that every function may be called from any
 * thread; none keeps state between calls (a hash seed is chosen once).
 *
 * Errors: a negative errno value; where a struct cfg_error is passed it says
 * what and where.  Every `lim` may be NULL for the defaults, and a member
 * left 0 takes its default.
 */
#ifndef HOTCFGD_TREE_H
#define HOTCFGD_TREE_H

#include <dirent.h>
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
/* Fill l with the defaults above. */
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
 * errors.  All documents of the stream merge in order, like layers; a
 * document whose root is null (empty, or only ~) contributes nothing, and
 * a stream with nothing else gives *out = NULL and 0.  Every node carries
 * `source`.  Typing and the other rules are in yaml.c's top comment.
 * 0; -EINVAL with *err filled (syntax error, duplicate key, bad tag, a
 * depth, node or key limit), -EFBIG past lim->max_file, -ENOMEM.
 * On failure *out is NULL.
 */
int cfg_load_yaml(const char *name, const char *buf, size_t len,
    unsigned source, const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err);

/* Read and parse one file (size limit checked before reading).  -ENOENT
 * when it does not exist, -EFBIG when too large, -EINVAL for a parse error
 * or something that is not a regular file, or the errno of a failed
 * read; err is filled in every case, err->source being the path. */
int cfg_load_file(const char *path, unsigned source,
    const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err);

/*
 * What a file source keeps between reads to parse only what changed
 * (section.c): the last good text and a tree per top-level section.
 */
struct cfg_pcache;
void cfg_pcache_free(struct cfg_pcache *c);

/*
 * cfg_load_yaml() of text that is likely an edit of the text *cache last
 * saw: top-level sections whose text did not change keep their trees, the
 * others are parsed, and the result is the tree cfg_load_yaml() gives for
 * the whole text (section.c says when the text is parsed whole instead).
 * Takes over buf (malloc'd): the cache keeps it.  *cache (NULL at first)
 * is updated after a good load; free it with cfg_pcache_free().
 */
int cfg_load_yaml_cached(const char *name, char *buf, size_t len,
    unsigned source, const struct cfg_limits *lim, struct cfg_pcache **cache,
    struct cfg_node **out, struct cfg_error *err);

/* cfg_load_file() through a cache as cfg_load_yaml_cached(). */
int cfg_load_file_cached(const char *path, unsigned source,
    const struct cfg_limits *lim, struct cfg_pcache **cache,
    struct cfg_node **out, struct cfg_error *err);

/*
 * A set of files as a directory source sees them: *.yaml, *.yml, *.json
 * parsed and merged in name order (bytewise), every other file one string
 * entry named after the file (bytes if binary, or if the content is not
 * UTF-8).  Names starting with '.' are skipped.  The files need not be
 * sorted.  Each file is held to lim->max_file, the whole to max_nodes.
 * err->source is the name of the file at fault.  No files (or only YAML
 * files with empty documents) give *out = NULL and 0.
 */
int cfg_load_files(const struct cfg_file *files, size_t n, unsigned source,
    const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err);

/* The visible names of an open directory (not starting with '.'),
 * sorted bytewise, as directory sources see them: a malloc'd array of
 * malloc'd strings, freed with cfg_names_free().  0, -ENOMEM, -errno. */
int cfg_dir_names(DIR *d, char ***names, size_t *n);
void cfg_names_free(char **names, size_t n);

/* Read a directory (regular files, and symlinks to them, not hidden) and
 * load it as cfg_load_files() does, one file at a time.  Anything else
 * (directories, dangling links, files that vanish meanwhile) is skipped.
 * -ENOENT when the directory is missing; err->source is the directory or
 * "DIR/NAME" of the file at fault. */
int cfg_load_dir(const char *path, unsigned source,
    const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err);

/*
 * Mount a tree under an escaped key prefix ("app.db", "labels.app\.io"),
 * creating the intermediate maps with `source`.  NULL or "" leaves it as
 * is, and so does an empty tree (*tree NULL): cfg_mount(&null, p, 0) only
 * checks p.  -EINVAL for a bad prefix (an empty segment, '[' or ']'
 * unescaped, a backslash before anything else): the tree is left as it
 * was.  -ENOMEM: the tree is released and *tree is NULL.
 */
int cfg_mount(struct cfg_node **tree, const char *prefix, unsigned source);

/*
 * Merge `layer` into *into (later wins; *into may be NULL).  Takes over
 * one reference to layer (NULL: nothing to do), even on failure; to keep a
 * cached tree, pass cfg_node_ref(tree).  Shared nodes of *into are copied
 * before they change.  A map both sides hold is credited to the later
 * source.  0, or -ENOMEM with *into partly merged but consistent.
 */
int cfg_merge(struct cfg_node **into, struct cfg_node *layer);

/* Flatten into a builder: one entry per node, keys escaped.  The root is
 * the entry with the empty key; a NULL tree adds nothing.  Strings and
 * bytes carry their text, other scalars only their binary value (the
 * builder writes the canonical text).  -ENAMETOOLONG past lim->max_key,
 * -EINVAL for an empty key directly under an unprefixed root (it would
 * flatten to the root's empty key), or the builder's error; err->msg says
 * which key (err->source is left empty: the caller knows the sources). */
int cfg_emit(const struct cfg_node *root, struct hc_builder *b,
    const struct cfg_limits *lim, struct cfg_error *err);

/* One more reference to a tree (returns n, which must not be NULL). */
struct cfg_node *cfg_node_ref(struct cfg_node *n);

/* Drop one reference; the last one frees the tree.  NULL is a no-op. */
void cfg_free(struct cfg_node *n);

#endif /* HOTCFGD_TREE_H */
