/*
 * node.h - the inside of the configuration tree, shared by the code that
 * builds trees (yaml.c, files.c) and the code that merges and flattens them
 * (tree.c).  The rest of the agent sees only the opaque struct cfg_node of
 * tree.h.
 *
 * Nodes are reference counted because anchors and `<<` merge keys make one
 * node appear at several places of a document.  Sharing instead of copying
 * is what keeps a "billion laughs" file small in memory: an alias costs one
 * pointer, and its expanded size is known in advance (the weight below), so
 * the node budget refuses such a file before anything is expanded.  A
 * shared node is never changed in place; cfg_merge() copies the path it
 * modifies when a node on it has more than one owner.
 *
 * Memory.  A loader (cfg_load_yaml()) allocates every node of its tree,
 * with the nodes' texts, keys, child arrays and indexes, from one arena:
 * a few large chunks, filled in order and freed in one go, so that a tree
 * of a million nodes costs a handful of mallocs and frees, not millions.
 * While the loader runs, the arena is "open": nodes in it are changed and
 * released as usual, but their memory stays until the arena goes.  When
 * the loader returns, the arena is frozen: its nodes never change again
 * (cfg_merge() copies a frozen node before changing it, as it copies a
 * shared one), and the arena counts the references held from outside it
 * (callers, nodes of other arenas or of the heap); the last one released
 * frees the arena whole.  Nodes made outside a loader (merges, mounts,
 * the files of a directory) come from the heap and are freed one by one,
 * as before.
 */
#ifndef HOTCFGD_NODE_H
#define HOTCFGD_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tree.h"

/* One child of a map or sequence.  Sequence items have no key. */
struct cfg_kid {
	char *key;              /* unescaped key segment, NUL-terminated */
	size_t klen;
	uint64_t hash;          /* of the key; 0 for sequence items */
	struct cfg_node *node;  /* one reference owned by the parent */
};

struct cfg_arena;

struct cfg_node {
	int type;               /* enum hotcfg_type */
	unsigned source;        /* the source that set it (see tree.c) */
	size_t refs;            /* owners: parents, anchors, callers */
	struct cfg_arena *arena; /* where its memory lives; NULL: the heap */

	/*
	 * Scalars.  text holds the string of a string, the decoded bytes of
	 * bytes, and the text as written for null, bool, int and float (it
	 * names the node when it is used as a mapping key).  The binary
	 * value is in i, f or b, whichever the type says.  text is always
	 * NUL-terminated.
	 */
	char *text;
	size_t len;
	union {
		int64_t i;
		double f;
		bool b;
	};

	/* Maps and sequences, children in a stable order. */
	struct cfg_kid *kids;
	size_t nkids, cap;
	size_t *index;          /* map only: open addressing, kid index + 1 */
	size_t index_cap;       /* 0 while the map is small (linear search) */

	/*
	 * The size of the subtree once aliases are expanded (this node
	 * included) and its height (0 for a scalar).  Up to date once the
	 * node is complete; the budget and depth limits rely on them.
	 */
	size_t weight;
	unsigned height;
	bool open;              /* still being parsed: aliases refused */
};

/*
 * Open an arena and make it the calling thread's current one: every node
 * cfg_node_new() makes in this thread until cfg_arena_end() lives in it.
 * `hint` is the bytes it will likely need (its first chunk, from 1 KiB to
 * 4 MiB; the chunks after it double).  NULL when out of memory.  Arenas
 * do not nest.
 */
struct cfg_arena *cfg_arena_begin(size_t hint);

/*
 * Close the thread's current arena.  When `root` is a node of it (the
 * loader's result), the arena is frozen and root's reference is the one
 * reference held from outside: cfg_free(root) frees the arena.  Otherwise
 * (NULL: an empty result, or a failure) the arena is freed now, with every
 * node in it; the caller must hold no reference into it any more.
 */
void cfg_arena_end(struct cfg_arena *a, struct cfg_node *root);

/* A new node with one reference, or NULL when out of memory.  From the
 * thread's current arena if there is one, else from the heap. */
struct cfg_node *cfg_node_new(int type, unsigned source);

/* `size` bytes that live as long as node n (its arena, or the heap, to be
 * given to n as its text: see cfg_node_set_text_buf()).  NULL: no memory. */
void *cfg_node_alloc(struct cfg_node *n, size_t size);

/* Make buf (from cfg_node_alloc(n, len + 1 or more), NUL-terminated at
 * len) the node's text, releasing the old one. */
void cfg_node_set_text_buf(struct cfg_node *n, char *buf, size_t len);

/* Give a scalar node its text (copied, NUL added).  0 or -ENOMEM. */
int cfg_node_set_text(struct cfg_node *n, const char *s, size_t len);

/* The child of a map with this key, or NULL. */
struct cfg_node *cfg_map_get(const struct cfg_node *map, const char *key,
    size_t klen);

/* The same, giving the key's hash for cfg_node_add_hashed(). */
struct cfg_node *cfg_map_get_hash(const struct cfg_node *map,
    const char *key, size_t klen, uint64_t *hash);

/*
 * Add a child to a map that has no child of that key (the caller checked),
 * or append an item to a sequence (key NULL).  Takes over the caller's
 * reference to child, also on failure.  Does not update weight and height:
 * call cfg_node_finish() when the node is complete.  0 or -ENOMEM.
 */
int cfg_node_add(struct cfg_node *parent, const char *key, size_t klen,
    struct cfg_node *child);

/*
 * cfg_node_add() of a map child whose key hash is known (from
 * cfg_map_get_hash()).  With `borrow`, the key is not copied: the caller
 * promises that it lives as long as parent (the text of a node of the
 * parent's own arena).
 */
int cfg_node_add_hashed(struct cfg_node *parent, const char *key,
    size_t klen, uint64_t hash, bool borrow, struct cfg_node *child);

/* Set a map's child, replacing (and releasing) any child of that key.
 * Takes over the reference to child, also on failure.  0 or -ENOMEM. */
int cfg_map_put(struct cfg_node *map, const char *key, size_t klen,
    struct cfg_node *child);

/* Recompute weight and height from the children (saturating). */
void cfg_node_finish(struct cfg_node *n);

/* The weight of a tree (0 for NULL). */
size_t cfg_weight(const struct cfg_node *n);

/* What cfg_load_yaml_info() tells about the stream it loaded. */
struct cfg_yaml_info {
	unsigned docs;          /* documents that contributed */
	unsigned roots;         /* documents whose root is a collection */
	int root_block_col;     /* the column of the last such root when it
	                           is a block mapping with no tag or anchor
	                           at another column before it; else -1 */
	bool root_merge;        /* a root mapping has a `<<` key */
	size_t nodes;           /* the node budget the stream spent (more
	                           than the tree's weight with aliases, `<<`
	                           values, documents that are null) */
};

/* cfg_load_yaml(), telling also what *info holds. */
int cfg_load_yaml_info(const char *name, const char *buf, size_t len,
    unsigned source, const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err, struct cfg_yaml_info *info);

/* Copy `in` (NULL: the defaults) with every member left 0 set to its
 * default. */
void cfg_limits_resolve(const struct cfg_limits *in, struct cfg_limits *out);

/*
 * The section cache's insides, for the tests: the bytes the read that made
 * the cache parsed, the chunks it keeps (top-level sections and the groups
 * large ones were cut into), and how chunks are cut (section.c; the
 * defaults are 16384, 2048, 16384, 7).  Not thread-safe: set it before
 * any load.
 */
size_t cfg_pcache_parsed(const struct cfg_pcache *c);
size_t cfg_pcache_chunks(const struct cfg_pcache *c);
void cfg_pcache_tune(size_t split_min, size_t group_min, size_t group_max,
    unsigned group_mask);

/* Adds that saturate instead of wrapping. */
static inline size_t
cfg_sat_add(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

#endif /* HOTCFGD_NODE_H */
