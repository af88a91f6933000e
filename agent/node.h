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

struct cfg_node {
	int type;               /* enum hotcfg_type */
	unsigned source;        /* the source that set it (see tree.c) */
	size_t refs;            /* owners: parents, anchors, callers */
	bool open;              /* still being parsed: aliases refused */

	/*
	 * Scalars.  text holds the string of a string, the decoded bytes of
	 * bytes, and the text as written for null, bool, int and float (it
	 * names the node when it is used as a mapping key).  The binary
	 * value is in i, f or b.  text is always NUL-terminated.
	 */
	char *text;
	size_t len;
	int64_t i;
	double f;
	bool b;

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
};

/* A new node with one reference, or NULL when out of memory. */
struct cfg_node *cfg_node_new(int type, unsigned source);

/* Give a scalar node its text (copied, NUL added).  0 or -ENOMEM. */
int cfg_node_set_text(struct cfg_node *n, const char *s, size_t len);

/* The child of a map with this key, or NULL. */
struct cfg_node *cfg_map_get(const struct cfg_node *map, const char *key,
    size_t klen);

/*
 * Add a child to a map that has no child of that key (the caller checked),
 * or append an item to a sequence (key NULL).  Takes over the caller's
 * reference to child, also on failure.  Does not update weight and height:
 * call cfg_node_finish() when the node is complete.  0 or -ENOMEM.
 */
int cfg_node_add(struct cfg_node *parent, const char *key, size_t klen,
    struct cfg_node *child);

/* Set a map's child, replacing (and releasing) any child of that key.
 * Takes over the reference to child, also on failure.  0 or -ENOMEM. */
int cfg_map_put(struct cfg_node *map, const char *key, size_t klen,
    struct cfg_node *child);

/* Recompute weight and height from the children (saturating). */
void cfg_node_finish(struct cfg_node *n);

/* The weight of a tree (0 for NULL). */
size_t cfg_weight(const struct cfg_node *n);

/* Copy `in` (NULL: the defaults) with every member left 0 set to its
 * default. */
void cfg_limits_resolve(const struct cfg_limits *in, struct cfg_limits *out);

/* Adds that saturate instead of wrapping. */
static inline size_t
cfg_sat_add(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

#endif /* HOTCFGD_NODE_H */
