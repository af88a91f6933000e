/*
 * config.c - reading hotcfgd.yaml(5).
 *
 * The file is small and its schema fixed, so it is read in two steps: the
 * libyaml event stream becomes a little tree of scalars, mappings and
 * sequences that remembers where each node started (struct ynode), and
 * then that tree is checked against the schema, key by key.  Every error,
 * whether YAML syntax, an unknown key or a bad value, names the file, line
 * and column, so `hotcfgd -n` can say exactly what is wrong.
 *
 * The configuration's own YAML is deliberately plain: anchors and aliases,
 * tags and several documents are refused rather than half supported.
 *
 * Keys (defaults in conf_init()):
 *   name, dir, history, group, debounce, write_timeout, delete_grace,
 *   rescan, heartbeat, kubeconfig,
 *   log: { level, file },
 *   limits: { max_file, max_depth, max_nodes, max_key },
 *   sources: [ { file|dir|path|configmap, prefix, optional,
 *                and for a configmap: kubeconfig, context, poll,
 *                drop_on_delete, watch_timeout, request_timeout, backoff,
 *                backoff_max } or "PATH" ]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"
#include "log.h"

/* The configuration file may not be larger than this. */
#define CONF_MAX_FILE (1u << 20)
#define CONF_MAX_DEPTH 16

enum { Y_SCALAR, Y_MAP, Y_SEQ, Y_NULL };

struct ynode {
	int type;
	char *text;             /* scalars */
	bool quoted;
	unsigned line, col;     /* 1-based */
	struct ynode **kid;     /* maps: key, value, key, value... */
	size_t n, cap;
};

static void
ynode_free(struct ynode *y)
{
	size_t i;

	if (y == NULL)
		return;
	for (i = 0; i < y->n; i++)
		ynode_free(y->kid[i]);
	free(y->kid);
	free(y->text);
	free(y);
}

static int
ynode_add(struct ynode *parent, struct ynode *kid)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct ynode **k = realloc(parent->kid, cap * sizeof(*k));

		if (k == NULL)
			return -ENOMEM;
		parent->kid = k;
		parent->cap = cap;
	}
	parent->kid[parent->n++] = kid;
	return 0;
}

static void
seterr(struct cfg_error *err, const char *file, unsigned line, unsigned col,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
seterr(struct cfg_error *err, const char *file, unsigned line, unsigned col,
    const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	snprintf(err->source, sizeof(err->source), "%s", file);
	err->line = line;
	err->col = col;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* YAML events into a ynode tree.                                      */
/* ------------------------------------------------------------------ */

static int
read_tree(const char *name, const char *buf, size_t len, struct ynode **out,
    struct cfg_error *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct ynode *stack[CONF_MAX_DEPTH + 1];
	struct ynode *root = NULL, *y = NULL;
	size_t depth = 0;
	unsigned docs = 0;
	bool done = false;
	int rc = -EINVAL;

	*out = NULL;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done) {
		unsigned line, col;

		if (!yaml_parser_parse(&parser, &ev)) {
			seterr(err, name, (unsigned)parser.problem_mark.line + 1,
			    (unsigned)parser.problem_mark.column + 1, "%s%s%s",
			    parser.problem ? parser.problem : "syntax error",
			    parser.context ? " " : "",
			    parser.context ? parser.context : "");
			rc = -EINVAL;
			goto out;
		}
		line = (unsigned)ev.start_mark.line + 1;
		col = (unsigned)ev.start_mark.column + 1;
		y = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				seterr(err, name, line, col,
				    "only one YAML document is allowed");
				rc = -EINVAL;
				goto out_ev;
			}
			break;
		case YAML_ALIAS_EVENT:
			seterr(err, name, line, col,
			    "aliases are not allowed in the agent's "
			    "configuration");
			rc = -EINVAL;
			goto out_ev;
		case YAML_SCALAR_EVENT:
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT: {
			const yaml_char_t *anchor, *tag;

			if (ev.type == YAML_SCALAR_EVENT) {
				anchor = ev.data.scalar.anchor;
				tag = ev.data.scalar.tag;
			} else if (ev.type == YAML_MAPPING_START_EVENT) {
				anchor = ev.data.mapping_start.anchor;
				tag = ev.data.mapping_start.tag;
			} else {
				anchor = ev.data.sequence_start.anchor;
				tag = ev.data.sequence_start.tag;
			}
			if (anchor != NULL || tag != NULL) {
				seterr(err, name, line, col, "%s are not "
				    "allowed in the agent's configuration",
				    anchor != NULL ? "anchors" : "tags");
				rc = -EINVAL;
				goto out_ev;
			}
			if ((y = calloc(1, sizeof(*y))) == NULL) {
				rc = -ENOMEM;
				goto out_ev;
			}
			y->line = line;
			y->col = col;
			if (ev.type == YAML_SCALAR_EVENT) {
				y->type = Y_SCALAR;
				y->quoted = ev.data.scalar.style !=
				    YAML_PLAIN_SCALAR_STYLE;
				y->text = strndup(
				    (const char *)ev.data.scalar.value,
				    ev.data.scalar.length);
				if (y->text == NULL) {
					ynode_free(y);
					rc = -ENOMEM;
					goto out_ev;
				}
				if (!y->quoted && (y->text[0] == '\0' ||
				    strcmp(y->text, "~") == 0 ||
				    strcmp(y->text, "null") == 0))
					y->type = Y_NULL;
				if (strlen(y->text) != ev.data.scalar.length) {
					seterr(err, name, line, col,
					    "NUL byte in a value");
					ynode_free(y);
					rc = -EINVAL;
					goto out_ev;
				}
			} else {
				y->type = ev.type == YAML_MAPPING_START_EVENT ?
				    Y_MAP : Y_SEQ;
			}
			if (depth == 0) {
				root = y;
			} else if ((rc = ynode_add(stack[depth - 1], y)) != 0) {
				ynode_free(y);
				goto out_ev;
			}
			if (y->type == Y_MAP || y->type == Y_SEQ) {
				if (depth == CONF_MAX_DEPTH) {
					seterr(err, name, line, col,
					    "nested too deeply");
					rc = -EINVAL;
					goto out_ev;
				}
				stack[depth++] = y;
			}
			break;
		}
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	*out = root;
	root = NULL;
	rc = 0;
	goto out;
out_ev:
	yaml_event_delete(&ev);
out:
	ynode_free(root);
	yaml_parser_delete(&parser);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Value parsers.                                                       */
/* ------------------------------------------------------------------ */

int
conf_parse_duration(const char *s, int64_t *ns)
{
	static const struct { const char *unit; double mul; } units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
		{ "m", 60e9 }, { "h", 3600e9 }, { "", 1e9 },
	};
	char *end;
	double v;
	size_t i;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || !isfinite(v) || v < 0 ||
	    *s == '+' || *s == '-' || *s == ' ' || *s == '\t')
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			double r = v * units[i].mul;

			/* A day is plenty for any of our timings. */
			if (r > 86400e9)
				return -EINVAL;
			*ns = (int64_t)r;
			return 0;
		}
	}
	return -EINVAL;
}

int
conf_parse_size(const char *s, uint64_t *bytes)
{
	static const struct { const char *unit; uint64_t mul; } units[] = {
		{ "", 1 }, { "B", 1 },
		{ "k", 1ull << 10 }, { "K", 1ull << 10 }, { "KiB", 1ull << 10 },
		{ "M", 1ull << 20 }, { "MiB", 1ull << 20 },
		{ "G", 1ull << 30 }, { "GiB", 1ull << 30 },
	};
	char *end;
	unsigned long long v;
	size_t i;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (v > UINT64_MAX / units[i].mul)
				return -EINVAL;
			*bytes = v * units[i].mul;
			return 0;
		}
	}
	return -EINVAL;
}

static int
parse_bool(const char *s, bool *out)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
	    strcmp(s, "TRUE") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 ||
	    strcmp(s, "FALSE") == 0) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

/* ------------------------------------------------------------------ */
/* The schema.                                                          */
/* ------------------------------------------------------------------ */

struct walk {
	struct agent_conf *c;
	const char *file;       /* for errors */
	char *base;             /* directory of the file, for relative paths */
	struct cfg_error *err;
};

static int
bad(struct walk *w, const struct ynode *y, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
bad(struct walk *w, const struct ynode *y, const char *fmt, ...)
{
	char msg[sizeof(w->err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	seterr(w->err, w->file, y->line, y->col, "%s", msg);
	return -EINVAL;
}

static int
want_scalar(struct walk *w, const char *key, const struct ynode *v)
{
	if (v->type != Y_SCALAR)
		return bad(w, v, "%s: expected a single value", key);
	return 0;
}

static int
get_string(struct walk *w, const char *key, const struct ynode *v,
    char **out)
{
	char *s;

	if (v->type == Y_NULL) {
		free(*out);
		*out = NULL;
		return 0;
	}
	if (want_scalar(w, key, v) != 0)
		return -EINVAL;
	if ((s = strdup(v->text)) == NULL)
		return -ENOMEM;
	free(*out);
	*out = s;
	return 0;
}

/* A path relative to the configuration file's directory. */
static int
get_path(struct walk *w, const char *key, const struct ynode *v, char **out)
{
	char *s = NULL;
	int rc;

	if ((rc = get_string(w, key, v, &s)) != 0 || s == NULL)
		goto out;
	if (*s == '\0') {
		rc = bad(w, v, "%s: empty path", key);
		goto out;
	}
	if (s[0] != '/' && w->base != NULL && strcmp(w->base, ".") != 0) {
		char *abs;

		if (asprintf(&abs, "%s/%s", w->base, s) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		free(s);
		s = abs;
	}
	free(*out);
	*out = s;
	s = NULL;
	rc = 0;
out:
	free(s);
	return rc;
}

static int
get_duration(struct walk *w, const char *key, const struct ynode *v,
    int64_t *out)
{
	if (want_scalar(w, key, v) != 0)
		return -EINVAL;
	if (conf_parse_duration(v->text, out) != 0)
		return bad(w, v, "%s: \"%s\" is not a duration (e.g. 50ms, "
		    "1s, 2m)", key, v->text);
	return 0;
}

static int
get_uint(struct walk *w, const char *key, const struct ynode *v,
    uint64_t min, uint64_t max, uint64_t *out, bool size)
{
	uint64_t n;

	if (want_scalar(w, key, v) != 0)
		return -EINVAL;
	if (conf_parse_size(v->text, &n) != 0 ||
	    (!size && strspn(v->text, "0123456789") != strlen(v->text)))
		return bad(w, v, "%s: \"%s\" is not %s", key, v->text,
		    size ? "a size (e.g. 4096, 64KiB, 64MiB)" :
		    "a whole number");
	if (n < min || n > max)
		return bad(w, v, "%s: %" PRIu64 " is out of range (%" PRIu64
		    "..%" PRIu64 ")", key, n, min, max);
	*out = n;
	return 0;
}

static int
get_bool(struct walk *w, const char *key, const struct ynode *v, bool *out)
{
	if (want_scalar(w, key, v) != 0)
		return -EINVAL;
	if (parse_bool(v->text, out) != 0)
		return bad(w, v, "%s: \"%s\" is not true or false", key,
		    v->text);
	return 0;
}

/* Reject a mapping that repeats a key. */
static int
check_dups(struct walk *w, const struct ynode *map)
{
	size_t i, j;

	for (i = 0; i + 1 < map->n; i += 2) {
		if (map->kid[i]->type != Y_SCALAR &&
		    map->kid[i]->type != Y_NULL)
			return bad(w, map->kid[i], "keys must be plain words");
		for (j = 0; j < i; j += 2)
			if (strcmp(map->kid[i]->text, map->kid[j]->text) == 0)
				return bad(w, map->kid[i],
				    "duplicate key \"%s\"", map->kid[i]->text);
	}
	return 0;
}

static int
walk_log(struct walk *w, const struct ynode *map)
{
	size_t i;
	int rc;

	if (map->type == Y_NULL)
		return 0;
	if (map->type != Y_MAP)
		return bad(w, map, "log: expected a mapping (level, file)");
	if ((rc = check_dups(w, map)) != 0)
		return rc;
	for (i = 0; i + 1 < map->n; i += 2) {
		const char *k = map->kid[i]->text;
		const struct ynode *v = map->kid[i + 1];

		if (strcmp(k, "level") == 0) {
			int lv;

			if ((rc = want_scalar(w, "log.level", v)) != 0)
				return rc;
			if ((lv = log_level_parse(v->text)) < 0)
				return bad(w, v, "log.level: \"%s\" is not "
				    "error, warning, info or debug", v->text);
			w->c->log_level = lv;
		} else if (strcmp(k, "file") == 0) {
			if ((rc = get_path(w, "log.file", v,
			    &w->c->log_file)) != 0)
				return rc;
		} else {
			return bad(w, map->kid[i], "log: unknown key \"%s\"",
			    k);
		}
	}
	return 0;
}

static int
walk_limits(struct walk *w, const struct ynode *map)
{
	struct cfg_limits *l = &w->c->limits;
	size_t i;
	uint64_t n;
	int rc;

	if (map->type == Y_NULL)
		return 0;
	if (map->type != Y_MAP)
		return bad(w, map, "limits: expected a mapping");
	if ((rc = check_dups(w, map)) != 0)
		return rc;
	for (i = 0; i + 1 < map->n; i += 2) {
		const char *k = map->kid[i]->text;
		const struct ynode *v = map->kid[i + 1];

		if (strcmp(k, "max_file") == 0) {
			if ((rc = get_uint(w, "limits.max_file", v, 1,
			    SIZE_MAX, &n, true)) != 0)
				return rc;
			l->max_file = (size_t)n;
		} else if (strcmp(k, "max_depth") == 0) {
			if ((rc = get_uint(w, "limits.max_depth", v, 1,
			    100000, &n, false)) != 0)
				return rc;
			l->max_depth = (unsigned)n;
		} else if (strcmp(k, "max_nodes") == 0) {
			if ((rc = get_uint(w, "limits.max_nodes", v, 1,
			    SIZE_MAX, &n, false)) != 0)
				return rc;
			l->max_nodes = (size_t)n;
		} else if (strcmp(k, "max_key") == 0) {
			if ((rc = get_uint(w, "limits.max_key", v, 16,
			    1u << 20, &n, true)) != 0)
				return rc;
			l->max_key = (size_t)n;
		} else {
			return bad(w, map->kid[i], "limits: unknown key \"%s\"",
			    k);
		}
	}
	return 0;
}

static int
add_source(struct agent_conf *c, struct src_conf **out)
{
	struct src_conf *s;

	s = realloc(c->src, (c->nsrc + 1) * sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	c->src = s;
	s = &c->src[c->nsrc++];
	memset(s, 0, sizeof(*s));
	*out = s;
	return 0;
}

/* A prefix is an escaped key path; ask the tree code whether it is one. */
static bool
prefix_ok(const char *prefix)
{
	struct cfg_node *none = NULL;

	return cfg_mount(&none, prefix, 0) == 0;
}

/* "NAMESPACE/NAME", both non-empty, no further '/'. */
static bool
configmap_ok(const char *s)
{
	const char *slash = strchr(s, '/');

	return slash != NULL && slash != s && slash[1] != '\0' &&
	    strchr(slash + 1, '/') == NULL;
}

static int
set_name(struct src_conf *s)
{
	free(s->name);
	if (s->kind == SRC_CONFIGMAP) {
		if (asprintf(&s->name, "configmap:%s", s->path) < 0)
			s->name = NULL;
	} else {
		s->name = strdup(s->path);
	}
	return s->name == NULL ? -ENOMEM : 0;
}

/* A duration of at least `min` ns; `zero` allows 0 as well. */
static int
get_duration_min(struct walk *w, const char *key, const struct ynode *v,
    int64_t min, bool zero, const char *range, int64_t *out)
{
	int64_t ns;

	if (get_duration(w, key, v, &ns) != 0)
		return -EINVAL;
	if (ns < min && !(zero && ns == 0))
		return bad(w, v, "%s: %s", key, range);
	*out = ns;
	return 0;
}

/*
 * The settings only a configmap source has.  0 when `key` was one of
 * them, 1 when it is not, or an error.  Zero and NULL stand for the
 * client's defaults (k8s.h), so a setting left out costs nothing here.
 */
static int
walk_cm_key(struct walk *w, struct src_conf *s, const struct ynode *key,
    const struct ynode *v)
{
	const char *k = key->text;
	int rc;

	if (strcmp(k, "kubeconfig") == 0)
		return get_path(w, k, v, &s->kubeconfig);
	if (strcmp(k, "context") == 0) {
		if ((rc = get_string(w, k, v, &s->context)) != 0)
			return rc;
		if (s->context != NULL && s->context[0] == '\0')
			return bad(w, v, "context: empty name");
		return 0;
	}
	if (strcmp(k, "poll") == 0)
		return get_duration_min(w, k, v, 1000000000, true,
		    "0 (watch) or at least 1s", &s->poll_ns);
	if (strcmp(k, "drop_on_delete") == 0)
		return get_bool(w, k, v, &s->drop_on_delete);
	if (strcmp(k, "watch_timeout") == 0)
		return get_duration_min(w, k, v, 1000000000, false,
		    "at least 1s", &s->watch_timeout_ns);
	if (strcmp(k, "request_timeout") == 0)
		return get_duration_min(w, k, v, 1000000000, false,
		    "at least 1s", &s->request_timeout_ns);
	if (strcmp(k, "backoff") == 0)
		return get_duration_min(w, k, v, 1000000, false,
		    "at least 1ms", &s->backoff_ns);
	if (strcmp(k, "backoff_max") == 0)
		return get_duration_min(w, k, v, 1000000, false,
		    "at least 1ms", &s->backoff_max_ns);
	return 1;
}

static int
walk_source(struct walk *w, const struct ynode *item)
{
	static const struct { const char *key; int kind; } kinds[] = {
		{ "path", SRC_PATH }, { "file", SRC_FILE }, { "dir", SRC_DIR },
		{ "configmap", SRC_CONFIGMAP },
	};
	struct src_conf *s;
	const struct ynode *kindkey = NULL, *cmkey = NULL;
	size_t i, k;
	int rc;

	if ((rc = add_source(w->c, &s)) != 0)
		return rc;
	s->line = item->line;
	s->col = item->col;
	if ((s->where = strdup(w->file)) == NULL)
		return -ENOMEM;
	if (item->type == Y_SCALAR) {
		/* The command-line form. */
		char *path = NULL;

		if (strncmp(item->text, "configmap:", 10) == 0) {
			s->kind = SRC_CONFIGMAP;
			if ((s->path = strdup(item->text + 10)) == NULL)
				return -ENOMEM;
		} else {
			s->kind = SRC_PATH;
			if ((rc = get_path(w, "source", item, &path)) != 0)
				return rc;
			s->path = path;
		}
		goto check;
	}
	if (item->type != Y_MAP)
		return bad(w, item, "sources: each item is a path or a mapping "
		    "with file, dir, path or configmap");
	if ((rc = check_dups(w, item)) != 0)
		return rc;
	for (i = 0; i + 1 < item->n; i += 2) {
		const struct ynode *key = item->kid[i];
		const struct ynode *v = item->kid[i + 1];
		bool kindk = false;

		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			if (strcmp(key->text, kinds[k].key) != 0)
				continue;
			kindk = true;
			if (kindkey != NULL)
				return bad(w, key, "source: \"%s\" and \"%s\" "
				    "given; use one", kindkey->text,
				    key->text);
			kindkey = key;
			s->kind = kinds[k].kind;
			if (v->type != Y_SCALAR)
				return bad(w, v, "%s: expected a %s",
				    key->text, s->kind == SRC_CONFIGMAP ?
				    "NAMESPACE/NAME" : "path");
			if (s->kind == SRC_CONFIGMAP)
				rc = get_string(w, key->text, v, &s->path);
			else
				rc = get_path(w, key->text, v, &s->path);
			if (rc != 0)
				return rc;
		}
		if (kindk)
			continue;
		if (strcmp(key->text, "prefix") == 0) {
			if ((rc = get_string(w, "prefix", v, &s->prefix)) != 0)
				return rc;
			if (s->prefix != NULL && !prefix_ok(s->prefix))
				return bad(w, v, "prefix: \"%s\" is not a key "
				    "path (segments joined by '.', with '.', "
				    "'[', ']' and '\\' escaped by '\\')",
				    s->prefix);
		} else if (strcmp(key->text, "optional") == 0) {
			if ((rc = get_bool(w, "optional", v,
			    &s->optional)) != 0)
				return rc;
		} else if ((rc = walk_cm_key(w, s, key, v)) == 0) {
			if (cmkey == NULL)
				cmkey = key;
		} else if (rc < 0) {
			return rc;
		} else {
			return bad(w, key, "source: unknown key \"%s\"",
			    key->text);
		}
	}
	if (kindkey == NULL)
		return bad(w, item, "source: give one of file, dir, path or "
		    "configmap");
	if (cmkey != NULL && s->kind != SRC_CONFIGMAP)
		return bad(w, cmkey, "%s: only a configmap source has this "
		    "setting", cmkey->text);
	if (s->backoff_ns > 0 && s->backoff_max_ns > 0 &&
	    s->backoff_max_ns < s->backoff_ns)
		return bad(w, item, "backoff_max is shorter than backoff");
check:
	if (s->kind == SRC_CONFIGMAP && !configmap_ok(s->path))
		return bad(w, item, "configmap: \"%s\" is not NAMESPACE/NAME",
		    s->path);
	return set_name(s);
}

static int
walk_sources(struct walk *w, const struct ynode *seq)
{
	size_t i;
	int rc;

	if (seq->type == Y_NULL)
		return 0;
	if (seq->type != Y_SEQ)
		return bad(w, seq, "sources: expected a list");
	for (i = 0; i < seq->n; i++)
		if ((rc = walk_source(w, seq->kid[i])) != 0)
			return rc;
	return 0;
}

static int
walk_top(struct walk *w, const struct ynode *root)
{
	struct agent_conf *c = w->c;
	size_t i;
	uint64_t n;
	int rc;

	if (root == NULL || root->type == Y_NULL)
		return 0;       /* an empty file: all defaults */
	if (root->type != Y_MAP)
		return bad(w, root, "expected a mapping of settings");
	if ((rc = check_dups(w, root)) != 0)
		return rc;
	for (i = 0; i + 1 < root->n; i += 2) {
		const char *k = root->kid[i]->text;
		const struct ynode *v = root->kid[i + 1];

		if (strcmp(k, "name") == 0) {
			rc = get_string(w, k, v, &c->name);
			if (rc == 0 && c->name != NULL &&
			    !conf_is_name(c->name))
				rc = bad(w, v, "name: \"%s\" is not a name "
				    "(use dir for a path)", c->name);
		} else if (strcmp(k, "dir") == 0) {
			rc = get_path(w, k, v, &c->dir);
		} else if (strcmp(k, "history") == 0) {
			rc = get_uint(w, k, v, 0, 64, &n, false);
			c->history = (unsigned)n;
		} else if (strcmp(k, "group") == 0) {
			rc = get_string(w, k, v, &c->group);
		} else if (strcmp(k, "debounce") == 0) {
			rc = get_duration(w, k, v, &c->debounce_ns);
		} else if (strcmp(k, "write_timeout") == 0) {
			rc = get_duration(w, k, v, &c->write_timeout_ns);
		} else if (strcmp(k, "delete_grace") == 0) {
			rc = get_duration(w, k, v, &c->delete_grace_ns);
		} else if (strcmp(k, "rescan") == 0) {
			rc = get_duration(w, k, v, &c->rescan_ns);
		} else if (strcmp(k, "heartbeat") == 0) {
			rc = get_duration(w, k, v, &c->heartbeat_ns);
			/* hotcfg status calls an agent dead after 10 s
			 * without a beat: stay well inside that. */
			if (rc == 0 && (c->heartbeat_ns < 10000000 ||
			    c->heartbeat_ns > 3000000000))
				rc = bad(w, v, "heartbeat: from 10ms to 3s");
		} else if (strcmp(k, "log") == 0) {
			rc = walk_log(w, v);
		} else if (strcmp(k, "limits") == 0) {
			rc = walk_limits(w, v);
		} else if (strcmp(k, "sources") == 0) {
			rc = walk_sources(w, v);
		} else if (strcmp(k, "kubeconfig") == 0) {
			rc = get_path(w, k, v, &c->kubeconfig);
		} else {
			rc = bad(w, root->kid[i], "unknown key \"%s\"", k);
		}
		if (rc != 0)
			return rc;
	}
	if (c->name != NULL && c->dir != NULL)
		return bad(w, root, "give name or dir, not both");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Entry points.                                                        */
/* ------------------------------------------------------------------ */

const char *
src_kind_name(int kind)
{
	switch (kind) {
	case SRC_PATH:
		return "path";
	case SRC_FILE:
		return "file";
	case SRC_DIR:
		return "dir";
	case SRC_CONFIGMAP:
		return "configmap";
	}
	return "unknown";
}

void
conf_init(struct agent_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->history = 2;
	c->debounce_ns = 0;
	c->write_timeout_ns = 1000000000;
	c->delete_grace_ns = 50000000;
	c->rescan_ns = 60000000000;
	c->heartbeat_ns = 1000000000;
	cfg_limits_default(&c->limits);
	c->log_level = LOGL_INFO;
}

void
conf_clear_sources(struct agent_conf *c)
{
	size_t i;

	for (i = 0; i < c->nsrc; i++) {
		free(c->src[i].path);
		free(c->src[i].name);
		free(c->src[i].prefix);
		free(c->src[i].where);
		free(c->src[i].kubeconfig);
		free(c->src[i].context);
	}
	free(c->src);
	c->src = NULL;
	c->nsrc = 0;
}

void
conf_free(struct agent_conf *c)
{
	if (c == NULL)
		return;
	conf_clear_sources(c);
	free(c->file);
	free(c->name);
	free(c->dir);
	free(c->group);
	free(c->log_file);
	free(c->kubeconfig);
	memset(c, 0, sizeof(*c));
}

bool
conf_is_name(const char *s)
{
	return s[0] != '\0' && strchr(s, '/') == NULL &&
	    strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int
conf_parse(struct agent_conf *c, const char *name, const char *buf,
    size_t len, struct cfg_error *err)
{
	struct walk w = { .c = c, .file = name, .err = err };
	struct ynode *root = NULL;
	char *slash;
	int rc;

	if ((w.base = strdup(name)) == NULL)
		return -ENOMEM;
	if ((slash = strrchr(w.base, '/')) != NULL)
		*(slash == w.base ? slash + 1 : slash) = '\0';
	else
		strcpy(w.base, ".");
	if ((rc = read_tree(name, buf, len, &root, err)) != 0)
		goto out;
	if ((rc = walk_top(&w, root)) != 0)
		goto out;
	free(c->file);
	if ((c->file = strdup(name)) == NULL)
		rc = -ENOMEM;
out:
	if (rc == -ENOMEM)
		seterr(err, name, 0, 0, "out of memory");
	ynode_free(root);
	free(w.base);
	return rc;
}

int
conf_load(struct agent_conf *c, const char *path, struct cfg_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) != 0) {
		rc = -errno;
		seterr(err, path, 0, 0, "%s", strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONF_MAX_FILE) {
		rc = -EINVAL;
		seterr(err, path, 0, 0, "%s", S_ISREG(st.st_mode) ?
		    "larger than 1 MiB" : "not a regular file");
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + len, (size_t)st.st_size - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			seterr(err, path, 0, 0, "%s", strerror(-rc));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	rc = conf_parse(c, path, buf, len, err);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

int
conf_add_arg(struct agent_conf *c, const char *arg, unsigned argno,
    struct cfg_error *err)
{
	struct src_conf *s;
	int rc;

	if (*arg == '\0') {
		seterr(err, "command line", 0, 0, "argument %u: empty source",
		    argno);
		return -EINVAL;
	}
	if ((rc = add_source(c, &s)) != 0)
		return rc;
	s->line = argno;
	if ((s->where = strdup("command line")) == NULL)
		return -ENOMEM;
	if (strncmp(arg, "configmap:", 10) == 0) {
		s->kind = SRC_CONFIGMAP;
		if ((s->path = strdup(arg + 10)) == NULL)
			return -ENOMEM;
		if (!configmap_ok(s->path)) {
			seterr(err, "command line", 0, 0, "argument %u: \"%s\" "
			    "is not configmap:NAMESPACE/NAME", argno, arg);
			return -EINVAL;
		}
	} else {
		s->kind = SRC_PATH;
		if ((s->path = strdup(arg)) == NULL)
			return -ENOMEM;
	}
	return set_name(s);
}

int
conf_finish(struct agent_conf *c)
{
	size_t i;

	if (c->kubeconfig == NULL)
		return 0;
	for (i = 0; i < c->nsrc; i++) {
		struct src_conf *s = &c->src[i];

		if (s->kind != SRC_CONFIGMAP || s->kubeconfig != NULL)
			continue;
		if ((s->kubeconfig = strdup(c->kubeconfig)) == NULL)
			return -ENOMEM;
	}
	return 0;
}
