/*
 * tree.c - the configuration tree: nodes, layering, mounting, flattening.
 *
 * The loaders (yaml.c, files.c) build one tree per source.  The agent
 * mounts each tree under its source's prefix, merges the trees in source
 * order and flattens the result into the snapshot builder.  This file does
 * those three steps, plus the node bookkeeping they share.
 *
 * Layering.  cfg_merge() lays a later tree over an earlier one: when both
 * sides hold a map at the same place the maps merge key by key, recursively;
 * in every other case (scalar, sequence, or a map meeting a non-map) the
 * later node replaces the earlier one whole.  A map that exists on both
 * sides is credited to the later source, the last one that touched it, so
 * that `hotcfg dump` points at the newest file that set keys in it; a node
 * only one side has keeps its own source.  Children keep the order in which
 * they first appeared and new keys are appended, so the result does not
 * depend on hashing (the builder sorts the entries anyway).
 *
 * Sharing.  Nodes are reference counted (see node.h) and never changed
 * while shared: before merging into a node that has several owners, the
 * merge replaces it, in its parent only, by a private shallow copy.
 *
 * Flattening.  Every node becomes one entry.  Mapping keys join with '.',
 * sequence items are "[N]", and a key segment escapes '.', '[', ']' and '\'
 * with a backslash, so that a flattened key always splits back into the
 * segments it came from.  The root is the entry with the empty key.  An
 * empty key segment directly under the root would flatten to the empty key
 * as well; cfg_emit() refuses it rather than silently losing one of them.
 *
 * Maps are searched linearly while small; from MAP_INDEX_MIN children on
 * they carry an open-addressing index over a seeded hash, so that a file
 * with many keys (or keys made to collide) stays linear to load.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "node.h"
#include "tree.h"

#define MAP_INDEX_MIN 8

/* The characters a key segment escapes with a backslash. */
static bool
needs_escape(char ch)
{
	return ch == '.' || ch == '[' || ch == ']' || ch == '\\';
}

void
cfg_limits_default(struct cfg_limits *l)
{
	l->max_file = 64u << 20;
	l->max_depth = 128;
	l->max_nodes = 1000000;
	l->max_key = 4096;
}

void
cfg_limits_resolve(const struct cfg_limits *in, struct cfg_limits *out)
{
	cfg_limits_default(out);
	if (in == NULL)
		return;
	if (in->max_file != 0)
		out->max_file = in->max_file;
	if (in->max_depth != 0)
		out->max_depth = in->max_depth;
	if (in->max_nodes != 0)
		out->max_nodes = in->max_nodes;
	if (in->max_key != 0)
		out->max_key = in->max_key;
}

/* ------------------------------------------------------------------ */
/* Hashing of map keys.                                                 */
/* ------------------------------------------------------------------ */

static uint64_t hash_seed;
static pthread_once_t hash_once = PTHREAD_ONCE_INIT;

static void
hash_seed_init(void)
{
	uint64_t s = 0;

	/* A seed nobody can predict makes collisions hard to prepare;
	 * when the kernel cannot give one, time and pid still vary. */
	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
		    ((uint64_t)getpid() << 16);
	}
	hash_seed = s | 1;
}

static uint64_t
hash_mix(uint64_t x)
{
	x ^= x >> 31;
	x *= UINT64_C(0x9e3779b97f4a7c15);
	x ^= x >> 29;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 32;
	return x;
}

static uint64_t
hash_key(const char *key, size_t len)
{
	const unsigned char *p = (const unsigned char *)key;
	uint64_t h, w;
	size_t i;

	pthread_once(&hash_once, hash_seed_init);
	h = hash_mix(hash_seed ^ (uint64_t)len);
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		h = hash_mix(h ^ w) + UINT64_C(0x632be59bd9b4e019);
	}
	w = 0;
	memcpy(&w, p + i, len - i);
	return hash_mix(h ^ w ^ ((uint64_t)(len - i) << 56));
}

/* ------------------------------------------------------------------ */
/* Arenas (see node.h).                                                 */
/* ------------------------------------------------------------------ */

#define ARENA_MIN       (1u << 10)
#define ARENA_MAX       (4u << 20)
/* Parts this large (a long sequence's child array, a big map's index)
 * get a heap block of their own, freed when they grow or the arena goes,
 * so that growing them by doubling leaves no garbage in the chunks. */
#define ARENA_BIG       (4u << 10)

struct achunk {
	struct achunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct bigblk {
	struct bigblk *next, *prev;
	max_align_t data[];
};

struct cfg_arena {
	struct achunk *chunks;  /* the newest first */
	struct bigblk *big;     /* the big parts */
	struct cfg_node *spare; /* released nodes of an open arena, reused */
	size_t next_cap;        /* the size of the next chunk */
	size_t refs;            /* references from outside, once frozen */
	bool frozen;
};

/* The arena cfg_node_new() allocates from in this thread (a loader's). */
static _Thread_local struct cfg_arena *cur_arena;

/*
 * Full-size chunks of arenas that went, kept for the next loader (up to
 * CHUNK_CACHE bytes): the agent frees the previous tree of a source once
 * the next one is published, and the next load then writes to memory
 * that is already mapped instead of faulting in fresh pages.
 */
#define CHUNK_CACHE     (64u << 20)

static pthread_mutex_t cache_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct achunk *cache;
static size_t cache_bytes;

static struct achunk *
cache_get(void)
{
	struct achunk *c;

	pthread_mutex_lock(&cache_mtx);
	if ((c = cache) != NULL) {
		cache = c->next;
		cache_bytes -= c->cap;
	}
	pthread_mutex_unlock(&cache_mtx);
	return c;
}

/* Keep c for later, or free it. */
static void
cache_put(struct achunk *c)
{
	if (c->cap == ARENA_MAX) {
		pthread_mutex_lock(&cache_mtx);
		if (cache_bytes + c->cap <= CHUNK_CACHE) {
			c->next = cache;
			cache = c;
			cache_bytes += c->cap;
			c = NULL;
		}
		pthread_mutex_unlock(&cache_mtx);
	}
	free(c);
}

struct cfg_arena *
cfg_arena_begin(size_t hint)
{
	struct cfg_arena *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->next_cap = hint < ARENA_MIN ? ARENA_MIN : hint > ARENA_MAX ?
	    ARENA_MAX : hint;
	cur_arena = a;
	return a;
}

static void
arena_destroy(struct cfg_arena *a)
{
	struct achunk *c, *next;
	struct bigblk *b, *bnext;

	for (c = a->chunks; c != NULL; c = next) {
		next = c->next;
		cache_put(c);
	}
	for (b = a->big; b != NULL; b = bnext) {
		bnext = b->next;
		free(b);
	}
	free(a);
}

void
cfg_arena_end(struct cfg_arena *a, struct cfg_node *root)
{
	if (cur_arena == a)
		cur_arena = NULL;
	if (a == NULL)
		return;
	if (root != NULL && root->arena == a) {
		a->frozen = true;
		a->refs = 1;
		a->spare = NULL;
		return;
	}
	arena_destroy(a);
}

/* size bytes from the arena's chunks, aligned to `align` (a power of two
 * up to that of max_align_t); NULL: no memory. */
static void *
arena_alloc(struct cfg_arena *a, size_t size, size_t align)
{
	struct achunk *c = a->chunks;
	size_t at;

	if (size > SIZE_MAX / 2)
		return NULL;
	at = c != NULL ? (c->used + align - 1) & ~(align - 1) : 0;
	if (c == NULL || at > c->cap || c->cap - at < size) {
		size_t cap = a->next_cap;

		if (cap < size)
			cap = size;
		if (cap == ARENA_MAX && (c = cache_get()) != NULL)
			;
		else if ((c = malloc(sizeof(*c) + cap)) == NULL)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = a->chunks;
		a->chunks = c;
		if (a->next_cap < ARENA_MAX)
			a->next_cap = a->next_cap > ARENA_MAX / 2 ? ARENA_MAX :
			    a->next_cap * 2;
		at = 0;
	}
	c->used = at + size;
	return (char *)c->data + at;
}

static void *
big_alloc(struct cfg_arena *a, size_t size)
{
	struct bigblk *b;

	if (size > SIZE_MAX - sizeof(*b) ||
	    (b = malloc(sizeof(*b) + size)) == NULL)
		return NULL;
	b->prev = NULL;
	b->next = a->big;
	if (a->big != NULL)
		a->big->prev = b;
	a->big = b;
	return b->data;
}

static struct bigblk *
big_of(void *p)
{
	return (struct bigblk *)((char *)p - offsetof(struct bigblk, data));
}

static void
big_free(struct cfg_arena *a, void *p)
{
	struct bigblk *b = big_of(p);

	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		a->big = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	free(b);
}

/* Memory for a part of node n (text, key, children, index): from its
 * arena, or the heap.  Texts need no alignment. */
static void *
part_alloc(const struct cfg_node *n, size_t size, size_t align)
{
	if (n->arena == NULL)
		return malloc(size);
	if (size >= ARENA_BIG)
		return big_alloc(n->arena, size);
	return arena_alloc(n->arena, size, align);
}

/* Release a part of `size` bytes; small parts of an arena stay until it
 * goes. */
static void
part_free(const struct cfg_node *n, void *p, size_t size)
{
	if (p == NULL)
		return;
	if (n->arena == NULL)
		free(p);
	else if (size >= ARENA_BIG)
		big_free(n->arena, p);
}

static void *
part_calloc(const struct cfg_node *n, size_t count, size_t size)
{
	void *p;

	if (n->arena == NULL)
		return calloc(count, size);
	if (size != 0 && count > SIZE_MAX / size)
		return NULL;
	if ((p = part_alloc(n, count * size, sizeof(size_t))) != NULL)
		memset(p, 0, count * size);
	return p;
}

/* Grow a part from `old` bytes to `size`. */
static void *
part_realloc(const struct cfg_node *n, void *p, size_t old, size_t size)
{
	void *q;

	if (n->arena == NULL)
		return realloc(p, size);
	if (old >= ARENA_BIG) {
		struct bigblk *b = big_of(p), *nb, save = *b;

		if (size > SIZE_MAX - sizeof(*b) ||
		    (nb = realloc(b, sizeof(*b) + size)) == NULL)
			return NULL;
		if (nb != b) {
			if (save.prev != NULL)
				save.prev->next = nb;
			else
				n->arena->big = nb;
			if (save.next != NULL)
				save.next->prev = nb;
		}
		return nb->data;
	}
	if ((q = part_alloc(n, size, sizeof(void *))) != NULL && old > 0)
		memcpy(q, p, old);
	return q;
}

/* ------------------------------------------------------------------ */
/* Nodes.                                                               */
/* ------------------------------------------------------------------ */

struct cfg_node *
cfg_node_new(int type, unsigned source)
{
	struct cfg_node *n;

	if (cur_arena != NULL) {
		if ((n = cur_arena->spare) != NULL)
			cur_arena->spare = n->kids != NULL ?
			    (struct cfg_node *)(void *)n->kids : NULL;
		else if ((n = arena_alloc(cur_arena, sizeof(*n),
		    _Alignof(struct cfg_node))) == NULL)
			return NULL;
		memset(n, 0, sizeof(*n));
		n->arena = cur_arena;
	} else if ((n = calloc(1, sizeof(*n))) == NULL) {
		return NULL;
	}
	n->type = type;
	n->source = source;
	n->refs = 1;
	n->weight = 1;
	n->height = (type == HOTCFG_MAP || type == HOTCFG_SEQ) ? 1 : 0;
	return n;
}

struct cfg_node *
cfg_node_ref(struct cfg_node *n)
{
	n->refs++;
	if (n->arena != NULL && n->arena->frozen)
		n->arena->refs++;
	return n;
}

void *
cfg_node_alloc(struct cfg_node *n, size_t size)
{
	return part_alloc(n, size, 1);
}

void
cfg_node_set_text_buf(struct cfg_node *n, char *buf, size_t len)
{
	/* The old text's size is unknown: in an arena it stays. */
	if (n->arena == NULL)
		free(n->text);
	n->text = buf;
	n->len = len;
}

int
cfg_node_set_text(struct cfg_node *n, const char *s, size_t len)
{
	char *t;

	if (len == SIZE_MAX)
		return -ENOMEM;
	t = part_alloc(n, len + 1, 1);
	if (t == NULL)
		return -ENOMEM;
	if (len > 0)
		memcpy(t, s, len);
	t[len] = '\0';
	cfg_node_set_text_buf(n, t, len);
	return 0;
}

/* A frozen node is never changed: merges copy it first. */
static bool
node_frozen(const struct cfg_node *n)
{
	return n->arena != NULL && n->arena->frozen;
}

void
cfg_free(struct cfg_node *n)
{
	size_t k;

	if (n == NULL)
		return;
	if (n->arena != NULL) {
		/* A frozen arena goes with the last reference from outside.
		 * An open one keeps the memory until it ends, but reuses the
		 * node itself (a mapping key's node, once its text is the
		 * key) for the next one; its parts stay where they are. */
		struct cfg_arena *a = n->arena;

		if (a->frozen) {
			if (--a->refs == 0)
				arena_destroy(a);
		} else if (--n->refs == 0) {
			n->kids = (struct cfg_kid *)(void *)a->spare;
			a->spare = n;
		}
		return;
	}
	if (--n->refs > 0)
		return;
	for (k = 0; k < n->nkids; k++) {
		free(n->kids[k].key);
		cfg_free(n->kids[k].node);
	}
	free(n->kids);
	free(n->index);
	free(n->text);
	free(n);
}

size_t
cfg_weight(const struct cfg_node *n)
{
	return n == NULL ? 0 : n->weight;
}

void
cfg_node_finish(struct cfg_node *n)
{
	size_t w = 1, k;
	unsigned h = 0;

	if (n->type != HOTCFG_MAP && n->type != HOTCFG_SEQ)
		return;
	for (k = 0; k < n->nkids; k++) {
		const struct cfg_node *c = n->kids[k].node;

		w = cfg_sat_add(w, c->weight);
		if (c->height > h)
			h = c->height;
	}
	n->weight = w;
	n->height = h + 1;
}

/* The slot of the index where `hash` lives or would go. */
static size_t
index_probe(const struct cfg_node *map, uint64_t hash, const char *key,
    size_t klen)
{
	size_t mask = map->index_cap - 1, s = (size_t)hash & mask;

	for (;;) {
		size_t v = map->index[s];
		const struct cfg_kid *c;

		if (v == 0)
			return s;
		c = &map->kids[v - 1];
		if (c->hash == hash && c->klen == klen &&
		    memcmp(c->key, key, klen) == 0)
			return s;
		s = (s + 1) & mask;
	}
}

/* The position of the child with this key, or SIZE_MAX. */
static size_t
map_find(const struct cfg_node *map, const char *key, size_t klen,
    uint64_t hash)
{
	size_t k;

	if (map->index_cap == 0) {
		for (k = 0; k < map->nkids; k++) {
			const struct cfg_kid *c = &map->kids[k];

			if (c->hash == hash && c->klen == klen &&
			    memcmp(c->key, key, klen) == 0)
				return k;
		}
		return SIZE_MAX;
	}
	k = map->index[index_probe(map, hash, key, klen)];
	return k == 0 ? SIZE_MAX : k - 1;
}

/* (Re)build the index of a map with room for its children to grow. */
static int
index_build(struct cfg_node *map, size_t cap)
{
	size_t *idx, k;

	if (cap > SIZE_MAX / sizeof(*idx))
		return -ENOMEM;
	idx = part_calloc(map, cap, sizeof(*idx));
	if (idx == NULL)
		return -ENOMEM;
	part_free(map, map->index, map->index_cap * sizeof(*idx));
	map->index = idx;
	map->index_cap = cap;
	for (k = 0; k < map->nkids; k++) {
		const struct cfg_kid *c = &map->kids[k];

		idx[index_probe(map, c->hash, c->key, c->klen)] = k + 1;
	}
	return 0;
}

struct cfg_node *
cfg_map_get_hash(const struct cfg_node *map, const char *key, size_t klen,
    uint64_t *hash)
{
	size_t k;

	*hash = hash_key(key, klen);
	if (map == NULL || map->type != HOTCFG_MAP)
		return NULL;
	k = map_find(map, key, klen, *hash);
	return k == SIZE_MAX ? NULL : map->kids[k].node;
}

struct cfg_node *
cfg_map_get(const struct cfg_node *map, const char *key, size_t klen)
{
	uint64_t h;

	return cfg_map_get_hash(map, key, klen, &h);
}

int
cfg_node_add_hashed(struct cfg_node *parent, const char *key, size_t klen,
    uint64_t hash, bool borrow, struct cfg_node *child)
{
	struct cfg_kid *c;
	char *kcopy = NULL;
	int rc = -ENOMEM;

	if (parent->nkids == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;
		struct cfg_kid *v;

		if (cap > SIZE_MAX / sizeof(*v))
			goto out;
		v = part_realloc(parent, parent->kids,
		    parent->nkids * sizeof(*v), cap * sizeof(*v));
		if (v == NULL)
			goto out;
		parent->kids = v;
		parent->cap = cap;
	}
	if (key != NULL) {
		if (borrow) {
			kcopy = (char *)key;
		} else {
			if (klen == SIZE_MAX ||
			    (kcopy = part_alloc(parent, klen + 1, 1)) == NULL)
				goto out;
			if (klen > 0)
				memcpy(kcopy, key, klen);
			kcopy[klen] = '\0';
		}
		/* Grow the index before the child goes in, so that a
		 * failure leaves the map as it was. */
		if (parent->index_cap == 0 ?
		    parent->nkids + 1 > MAP_INDEX_MIN :
		    (parent->nkids + 1) * 4 > parent->index_cap * 3) {
			size_t cap = parent->index_cap ?
			    parent->index_cap * 2 : 4 * MAP_INDEX_MIN;

			if ((rc = index_build(parent, cap)) != 0)
				goto out;
			rc = -ENOMEM;
		}
	}
	c = &parent->kids[parent->nkids];
	c->key = kcopy;
	c->klen = key != NULL ? klen : 0;
	c->hash = key != NULL ? hash : 0;
	c->node = child;
	if (parent->index_cap != 0)
		parent->index[index_probe(parent, c->hash, key, klen)] =
		    parent->nkids + 1;
	parent->nkids++;
	kcopy = NULL;
	child = NULL;
	rc = 0;
out:
	if (!borrow && kcopy != NULL)
		part_free(parent, kcopy, klen + 1);
	cfg_free(child);
	return rc;
}

int
cfg_node_add(struct cfg_node *parent, const char *key, size_t klen,
    struct cfg_node *child)
{
	return cfg_node_add_hashed(parent, key, klen,
	    key != NULL ? hash_key(key, klen) : 0, false, child);
}

int
cfg_map_put(struct cfg_node *map, const char *key, size_t klen,
    struct cfg_node *child)
{
	size_t k;

	k = map_find(map, key, klen, hash_key(key, klen));
	if (k == SIZE_MAX)
		return cfg_node_add(map, key, klen, child);
	cfg_free(map->kids[k].node);
	map->kids[k].node = child;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Layering.                                                            */
/* ------------------------------------------------------------------ */

/*
 * Make *slot a node that only the caller's tree owns, copying it (one
 * level deep: the children become shared) if it has other owners.
 */
static int
make_private(struct cfg_node **slot)
{
	struct cfg_node *old = *slot, *n;
	size_t k;
	int rc = -ENOMEM;

	if (old->refs == 1 && !node_frozen(old))
		return 0;
	if ((n = cfg_node_new(old->type, old->source)) == NULL)
		return -ENOMEM;
	if (old->text != NULL && cfg_node_set_text(n, old->text, old->len))
		goto out;
	n->i = old->i;
	n->f = old->f;
	n->b = old->b;
	for (k = 0; k < old->nkids; k++) {
		const struct cfg_kid *c = &old->kids[k];

		rc = cfg_node_add_hashed(n, c->key, c->klen, c->hash, false,
		    cfg_node_ref(c->node));
		if (rc != 0)
			goto out;
	}
	cfg_node_finish(n);
	cfg_free(old);
	*slot = n;
	n = NULL;
	rc = 0;
out:
	cfg_free(n);
	return rc;
}

/* Lay `layer` over *slot.  Takes over the reference to layer. */
static int
merge_into(struct cfg_node **slot, struct cfg_node *layer)
{
	struct cfg_node *dst = *slot;
	size_t k;
	int rc = 0;

	if (dst == NULL || dst->type != HOTCFG_MAP ||
	    layer->type != HOTCFG_MAP) {
		*slot = layer;
		cfg_free(dst);
		return 0;
	}
	if ((rc = make_private(slot)) != 0)
		goto out;
	dst = *slot;
	for (k = 0; k < layer->nkids; k++) {
		const struct cfg_kid *c = &layer->kids[k];
		size_t at = map_find(dst, c->key, c->klen, c->hash);

		if (at == SIZE_MAX)
			rc = cfg_node_add_hashed(dst, c->key, c->klen, c->hash,
			    false, cfg_node_ref(c->node));
		else
			rc = merge_into(&dst->kids[at].node,
			    cfg_node_ref(c->node));
		if (rc != 0)
			break;
	}
	/* Even after a failure, keep the bookkeeping true for what did
	 * merge, so the tree stays consistent for cfg_free(). */
	dst->source = layer->source;
	cfg_node_finish(dst);
out:
	cfg_free(layer);
	return rc;
}

int
cfg_merge(struct cfg_node **into, struct cfg_node *layer)
{
	if (layer == NULL)
		return 0;
	return merge_into(into, layer);
}

/* ------------------------------------------------------------------ */
/* Mounting.                                                            */
/* ------------------------------------------------------------------ */

/*
 * Split an escaped prefix into its segments, last one first, each one
 * wrapped around *tree as a single-child map.
 */
int
cfg_mount(struct cfg_node **tree, const char *prefix, unsigned source)
{
	const char *end;
	char *seg = NULL;
	struct cfg_node *top = NULL, *m;
	size_t plen, i;
	int rc = -EINVAL;

	if (prefix == NULL || *prefix == '\0')
		return 0;
	plen = strlen(prefix);
	/* Check the whole prefix first so that a bad one changes nothing. */
	for (i = 0; i < plen; i++) {
		char ch = prefix[i];

		if (ch == '\\') {
			if (i + 1 == plen || !needs_escape(prefix[i + 1]))
				return -EINVAL;
			i++;
		} else if (ch == '[' || ch == ']') {
			return -EINVAL;
		} else if (ch == '.' && (i == 0 || i + 1 == plen ||
		    prefix[i + 1] == '.')) {
			return -EINVAL;
		}
	}
	if (*tree == NULL)
		return 0;
	if ((seg = malloc(plen + 1)) == NULL)
		return -ENOMEM;
	top = *tree;
	end = prefix + plen;
	while (end > prefix) {
		const char *start = end, *p;
		size_t n = 0;

		/* Find the segment's start: a '.' with an even number of
		 * backslashes before it. */
		for (;;) {
			size_t bs = 0;

			if (start == prefix)
				break;
			if (start[-1] == '.') {
				for (p = start - 1; p > prefix && p[-1] == '\\';
				    p--)
					bs++;
				if (bs % 2 == 0)
					break;
			}
			start--;
		}
		for (p = start; p < end; p++) {
			if (*p == '\\')
				p++;
			seg[n++] = *p;
		}
		rc = -ENOMEM;
		if ((m = cfg_node_new(HOTCFG_MAP, source)) == NULL)
			goto out;
		if (cfg_node_add(m, seg, n, top) != 0) {
			top = NULL;     /* the add released it */
			cfg_free(m);
			goto out;
		}
		cfg_node_finish(m);
		top = m;
		end = start > prefix ? start - 1 : prefix;
	}
	*tree = top;
	top = NULL;
	rc = 0;
out:
	/* On failure the maps built so far own the tree: release them
	 * and report that the tree is gone. */
	if (top != NULL || rc != 0) {
		cfg_free(top);
		*tree = NULL;
	}
	free(seg);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Flattening.                                                          */
/* ------------------------------------------------------------------ */

struct emit {
	struct hc_builder *b;
	struct cfg_error *err;
	size_t max_key;
	char *key;              /* the current key, grown as needed */
	size_t len, cap;
};

static int
key_reserve(struct emit *e, size_t more)
{
	size_t need, cap;
	char *k;

	if (more > SIZE_MAX - e->len - 1)
		return -ENOMEM;
	need = e->len + more + 1;
	if (need <= e->cap)
		return 0;
	cap = e->cap ? e->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if ((k = realloc(e->key, cap)) == NULL)
		return -ENOMEM;
	e->key = k;
	e->cap = cap;
	return 0;
}

static void emit_error(struct emit *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Fill err; the message may show the current key with "%.*s%s" and the
 * three arguments KEY_SHOWN() expands to. */
static void
emit_error(struct emit *e, const char *fmt, ...)
{
	va_list ap;

	if (e->err == NULL)
		return;
	e->err->source[0] = '\0';
	e->err->line = e->err->col = 0;
	va_start(ap, fmt);
	vsnprintf(e->err->msg, sizeof(e->err->msg), fmt, ap);
	va_end(ap);
}

/* Long keys are cut in messages: the start says enough. */
#define KEY_SHOWN(e) \
	((e)->len > 80 ? 80 : (int)(e)->len), (e)->key, \
	((e)->len > 80 ? "..." : "")

/* Append one escaped map key segment (with its '.' unless at the root). */
static int
key_push_segment(struct emit *e, const char *seg, size_t n)
{
	size_t i, extra = 0;
	int rc;

	for (i = 0; i < n; i++)
		if (needs_escape(seg[i]))
			extra++;
	if ((rc = key_reserve(e, n + extra + 1)) != 0)
		return rc;
	if (e->len > 0)
		e->key[e->len++] = '.';
	for (i = 0; i < n; i++) {
		if (needs_escape(seg[i]))
			e->key[e->len++] = '\\';
		e->key[e->len++] = seg[i];
	}
	e->key[e->len] = '\0';
	return 0;
}

static int
key_push_index(struct emit *e, size_t idx)
{
	char buf[32];
	size_t n;
	int rc;

	/* A sequence's index fits an int64_t: its node count is bounded. */
	buf[0] = '[';
	n = 1 + hc_format_int((int64_t)idx, buf + 1);
	buf[n++] = ']';
	buf[n] = '\0';
	if ((rc = key_reserve(e, n)) != 0)
		return rc;
	memcpy(e->key + e->len, buf, n + 1);
	e->len += n;
	return 0;
}

static int
emit_node(struct emit *e, const struct cfg_node *n)
{
	hotcfg_entry ent;
	size_t saved = e->len, k;
	int rc;

	if (e->len > e->max_key) {
		emit_error(e, "key \"%.*s%s\" is %zu bytes long, more than "
		    "the limit of %zu", KEY_SHOWN(e), e->len, e->max_key);
		return -ENAMETOOLONG;
	}
	memset(&ent, 0, sizeof(ent));
	ent.key = e->key != NULL ? e->key : "";
	ent.key_len = e->len;
	ent.type = n->type;
	ent.source = n->source;
	switch (n->type) {
	case HOTCFG_STR:
	case HOTCFG_BYTES:
		ent.text = n->text != NULL ? n->text : "";
		ent.text_len = n->len;
		break;
	case HOTCFG_INT:
		ent.i = n->i;
		ent.f = (double)n->i;
		break;
	case HOTCFG_FLOAT:
		ent.f = n->f;
		break;
	case HOTCFG_BOOL:
		ent.b = n->b;
		break;
	case HOTCFG_MAP:
	case HOTCFG_SEQ:
		ent.count = n->nkids;
		break;
	}
	if ((rc = hc_builder_add(e->b, &ent)) != 0) {
		emit_error(e, "the snapshot builder refused key \"%.*s%s\": %s",
		    KEY_SHOWN(e), hotcfg_strerror(rc));
		return rc;
	}
	for (k = 0; k < n->nkids; k++) {
		const struct cfg_kid *c = &n->kids[k];

		if (n->type == HOTCFG_MAP) {
			if (e->len == 0 && c->klen == 0) {
				emit_error(e, "an empty mapping key at the top "
				    "level would have the same flattened key as "
				    "the root");
				return -EINVAL;
			}
			rc = key_push_segment(e, c->key, c->klen);
		} else {
			rc = key_push_index(e, k);
		}
		if (rc == 0)
			rc = emit_node(e, c->node);
		e->len = saved;
		if (e->key != NULL)
			e->key[saved] = '\0';
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
cfg_emit(const struct cfg_node *root, struct hc_builder *b,
    const struct cfg_limits *lim, struct cfg_error *err)
{
	struct cfg_limits l;
	struct emit e;
	int rc;

	if (root == NULL)
		return 0;
	cfg_limits_resolve(lim, &l);
	memset(&e, 0, sizeof(e));
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	e.b = b;
	e.err = err;
	e.max_key = l.max_key;
	if ((rc = key_reserve(&e, 0)) == 0) {
		e.key[0] = '\0';
		rc = emit_node(&e, root);
	}
	if (rc == -ENOMEM && err != NULL && err->msg[0] == '\0')
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	free(e.key);
	return rc;
}
