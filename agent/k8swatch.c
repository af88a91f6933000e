/*
 * k8swatch.c - watch-stream framing, events, Status objects and ConfigMaps
 * (see k8swatch.h).
 *
 * This is the code that touches bytes coming from the network, so it is
 * written to be fed anything: every length is checked before it is used,
 * JSON is parsed by jansson (never by hand), and what is kept from a parsed
 * object is copied out with explicit bounds.  Error messages describe the
 * shape of the input, never its contents: a ConfigMap value may hold a
 * secret that someone put there by mistake, and errors end up in logs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "k8swatch.h"

/* ------------------------------------------------------------------ */
/* Lines.                                                               */
/* ------------------------------------------------------------------ */

void
k8s_lines_init(struct k8s_lines *l, size_t max)
{
	memset(l, 0, sizeof(*l));
	l->max = max ? max : K8S_MAX_LINE_DEFAULT;
}

void
k8s_lines_reset(struct k8s_lines *l)
{
	l->len = 0;
	/* A buffer grown for one huge line is not kept for the next. */
	if (l->cap > 65536) {
		free(l->buf);
		l->buf = NULL;
		l->cap = 0;
	}
}

void
k8s_lines_fini(struct k8s_lines *l)
{
	free(l->buf);
	l->buf = NULL;
	l->len = l->cap = 0;
}

size_t
k8s_lines_pending(const struct k8s_lines *l)
{
	return l->len;
}

static int
lines_append(struct k8s_lines *l, const char *p, size_t n)
{
	if (n > l->max || l->len > l->max - n)
		return -EMSGSIZE;
	if (l->len + n > l->cap) {
		size_t cap = l->cap ? l->cap : 4096;
		char *b;

		while (cap < l->len + n)
			cap = cap > SIZE_MAX / 2 ? l->len + n : cap * 2;
		if (cap > l->max)
			cap = l->max;
		if ((b = realloc(l->buf, cap)) == NULL)
			return -ENOMEM;
		l->buf = b;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, p, n);
	l->len += n;
	return 0;
}

int
k8s_lines_feed(struct k8s_lines *l, const void *p, size_t n,
    k8s_line_fn fn, void *arg)
{
	const char *s = p, *end = s + n;
	int rc;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *line;
		size_t len;

		if (nl == NULL) {
			rc = lines_append(l, s, (size_t)(end - s));
			if (rc != 0)
				k8s_lines_reset(l);
			return rc;
		}
		if (l->len == 0) {
			/* The common case: the whole line is in this piece. */
			line = s;
			len = (size_t)(nl - s);
			if (len > l->max) {
				k8s_lines_reset(l);
				return -EMSGSIZE;
			}
		} else {
			if ((rc = lines_append(l, s, (size_t)(nl - s))) != 0) {
				k8s_lines_reset(l);
				return rc;
			}
			line = l->buf;
			len = l->len;
		}
		s = nl + 1;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		l->len = 0;
		if ((rc = fn(arg, line, len)) != 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Small JSON helpers.                                                  */
/* ------------------------------------------------------------------ */

/* Copy a JSON string member into buf (cut to fit); "" when absent. */
static void
copy_str(const json_t *obj, const char *key, char *buf, size_t size)
{
	const json_t *v = json_object_get(obj, key);

	buf[0] = '\0';
	if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
}

/*
 * metadata.resourceVersion of an object into rv.  0 (rv "" when there is
 * none), -EBADMSG when it is there but not a short string.
 */
static int
object_rv(const json_t *obj, char rv[K8S_RV_MAX])
{
	const json_t *md = json_object_get(obj, "metadata");
	const json_t *v;
	size_t len;

	rv[0] = '\0';
	if (md == NULL || json_is_null(md))
		return 0;
	if (!json_is_object(md))
		return -EBADMSG;
	v = json_object_get(md, "resourceVersion");
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -EBADMSG;
	len = json_string_length(v);
	if (len >= K8S_RV_MAX || memchr(json_string_value(v), '\0', len))
		return -EBADMSG;
	memcpy(rv, json_string_value(v), len + 1);
	return 0;
}

static void
set_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

/* ------------------------------------------------------------------ */
/* Status.                                                              */
/* ------------------------------------------------------------------ */

int
k8s_status_from_json(const json_t *obj, struct k8s_status *st)
{
	const json_t *code, *kind, *det, *ra;

	memset(st, 0, sizeof(*st));
	if (!json_is_object(obj))
		return -EINVAL;
	kind = json_object_get(obj, "kind");
	code = json_object_get(obj, "code");
	if (!(json_is_string(kind) && strcmp(json_string_value(kind),
	    "Status") == 0) && !json_is_integer(code))
		return -EINVAL;
	if (json_is_integer(code) && json_integer_value(code) > 0 &&
	    json_integer_value(code) < 1000)
		st->code = (int)json_integer_value(code);
	copy_str(obj, "reason", st->reason, sizeof(st->reason));
	copy_str(obj, "message", st->message, sizeof(st->message));
	det = json_object_get(obj, "details");
	ra = json_is_object(det) ? json_object_get(det, "retryAfterSeconds") :
	    NULL;
	if (json_is_integer(ra) && json_integer_value(ra) > 0 &&
	    json_integer_value(ra) < 86400)
		st->retry_after = (long)json_integer_value(ra);
	return 0;
}

int
k8s_status_parse(const char *buf, size_t len, struct k8s_status *st)
{
	json_error_t jerr;
	json_t *v;
	int rc;

	memset(st, 0, sizeof(*st));
	if (buf == NULL || len == 0)
		return -EINVAL;
	if ((v = json_loadb(buf, len, JSON_ALLOW_NUL, &jerr)) == NULL)
		return -EINVAL;
	rc = k8s_status_from_json(v, st);
	json_decref(v);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Events.                                                              */
/* ------------------------------------------------------------------ */

static const struct {
	const char *name;
	int type;
} ev_types[] = {
	{ "ADDED", K8S_EV_ADDED },
	{ "MODIFIED", K8S_EV_MODIFIED },
	{ "DELETED", K8S_EV_DELETED },
	{ "BOOKMARK", K8S_EV_BOOKMARK },
	{ "ERROR", K8S_EV_ERROR },
};

const char *
k8s_ev_name(int type)
{
	size_t i;

	for (i = 0; i < sizeof(ev_types) / sizeof(ev_types[0]); i++)
		if (ev_types[i].type == type)
			return ev_types[i].name;
	return "OTHER";
}

void
k8s_event_clear(struct k8s_event *ev)
{
	if (ev == NULL)
		return;
	json_decref(ev->object);
	memset(ev, 0, sizeof(*ev));
}

int
k8s_event_parse(const char *line, size_t len, struct k8s_event *ev,
    char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = NULL, *type, *obj;
	const char *t;
	size_t i;
	int rc = -EBADMSG;

	memset(ev, 0, sizeof(*ev));
	if ((root = json_loadb(line, len, JSON_ALLOW_NUL, &jerr)) == NULL) {
		set_err(err, errlen, "watch event is not valid JSON");
		goto out;
	}
	if (!json_is_object(root)) {
		set_err(err, errlen, "watch event is not a JSON object");
		goto out;
	}
	type = json_object_get(root, "type");
	obj = json_object_get(root, "object");
	if (!json_is_string(type)) {
		set_err(err, errlen, "watch event has no type");
		goto out;
	}
	if (!json_is_object(obj)) {
		set_err(err, errlen, "watch event has no object");
		goto out;
	}
	t = json_string_value(type);
	ev->type = K8S_EV_OTHER;
	for (i = 0; i < sizeof(ev_types) / sizeof(ev_types[0]); i++)
		if (strcmp(t, ev_types[i].name) == 0)
			ev->type = ev_types[i].type;
	if (ev->type == K8S_EV_ERROR) {
		/* A Status without kind or code is still an error. */
		k8s_status_from_json(obj, &ev->status);
		if (ev->status.message[0] == '\0')
			copy_str(obj, "message", ev->status.message,
			    sizeof(ev->status.message));
	} else if (object_rv(obj, ev->rv) != 0) {
		set_err(err, errlen, "watch event object has a malformed "
		    "metadata.resourceVersion");
		goto out;
	}
	ev->object = json_incref(obj);
	rc = 0;
out:
	json_decref(root);
	if (rc != 0)
		memset(ev, 0, sizeof(*ev));
	return rc;
}

/* ------------------------------------------------------------------ */
/* The stream.                                                          */
/* ------------------------------------------------------------------ */

void
k8s_stream_init(struct k8s_stream *s, size_t max_line, k8s_event_fn fn,
    void *arg)
{
	memset(s, 0, sizeof(*s));
	k8s_lines_init(&s->lines, max_line);
	s->fn = fn;
	s->arg = arg;
}

void
k8s_stream_reset(struct k8s_stream *s)
{
	k8s_lines_reset(&s->lines);
	s->events = 0;
	s->err[0] = '\0';
}

void
k8s_stream_fini(struct k8s_stream *s)
{
	k8s_lines_fini(&s->lines);
}

static bool
blank(const char *p, size_t n)
{
	while (n > 0 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++, n--;
	return n == 0;
}

static int
stream_line(void *arg, const char *line, size_t len)
{
	struct k8s_stream *s = arg;
	struct k8s_event ev;
	int rc;

	if (blank(line, len))
		return 0;
	if ((rc = k8s_event_parse(line, len, &ev, s->err, sizeof(s->err))) != 0)
		return rc;
	s->events++;
	rc = s->fn(s->arg, &ev);
	k8s_event_clear(&ev);
	return rc;
}

int
k8s_stream_feed(struct k8s_stream *s, const void *p, size_t n)
{
	int rc;

	rc = k8s_lines_feed(&s->lines, p, n, stream_line, s);
	if (rc == -EMSGSIZE)
		snprintf(s->err, sizeof(s->err), "watch event longer than "
		    "%zu bytes", s->lines.max);
	else if (rc == -ENOMEM)
		snprintf(s->err, sizeof(s->err), "out of memory");
	return rc;
}

int
k8s_stream_finish(struct k8s_stream *s)
{
	struct k8s_lines *l = &s->lines;
	int rc = 0;

	if (l->len > 0 && !blank(l->buf, l->len))
		rc = stream_line(s, l->buf, l->len);
	l->len = 0;
	return rc;
}

/* ------------------------------------------------------------------ */
/* ConfigMaps.                                                          */
/* ------------------------------------------------------------------ */

bool
k8s_key_ok(const char *key)
{
	size_t n = 0;
	const char *p;

	for (p = key; *p != '\0'; p++, n++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return n > 0 && n <= 253 && strcmp(key, ".") != 0 &&
	    strcmp(key, "..") != 0;
}

int
k8s_b64_decode(const char *in, size_t len, unsigned char **out,
    size_t *outlen)
{
	unsigned char *buf;

	*out = NULL;
	*outlen = 0;
	if ((buf = malloc(len / 4 * 3 + 4)) == NULL)
		return -ENOMEM;
	if (hc_base64_decode(in, len, buf, outlen, HC_B64_PADDED) != 0) {
		/* What was decoded may be part of a client key. */
		explicit_bzero(buf, len / 4 * 3 + 4);
		free(buf);
		*outlen = 0;
		return -EINVAL;
	}
	*out = buf;
	return 0;
}

void
k8s_cm_free(struct k8s_cm *cm)
{
	size_t i;

	if (cm == NULL)
		return;
	for (i = 0; i < cm->nfiles; i++) {
		free((char *)cm->files[i].name);
		free((char *)cm->files[i].data);
	}
	free(cm->files);
	free(cm->ns);
	free(cm->name);
	free(cm->uid);
	free(cm);
}

static int
cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct cfg_file *)a)->name,
	    ((const struct cfg_file *)b)->name);
}

static char *
dup_member(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		return strdup("");
	return strdup(json_string_value(v));
}

/* Add the members of data or binaryData to cm->files. */
static int
add_files(struct k8s_cm *cm, const json_t *bag, bool binary, char *err,
    size_t errlen)
{
	const char *key;
	json_t *val;

	if (bag == NULL || json_is_null(bag))
		return 0;
	if (!json_is_object(bag)) {
		snprintf(err, errlen, "ConfigMap %s is not an object",
		    binary ? "binaryData" : "data");
		return -EBADMSG;
	}
	json_object_foreach((json_t *)bag, key, val) {
		struct cfg_file *f = &cm->files[cm->nfiles];
		unsigned char *bytes = NULL;
		size_t len = 0;
		int rc;

		if (!k8s_key_ok(key)) {
			snprintf(err, errlen, "ConfigMap %s has an invalid key "
			    "(%zu bytes)", binary ? "binaryData" : "data",
			    strlen(key));
			return -EBADMSG;
		}
		if (!json_is_string(val)) {
			snprintf(err, errlen, "ConfigMap %s[%s] is not a "
			    "string", binary ? "binaryData" : "data", key);
			return -EBADMSG;
		}
		if (binary) {
			rc = k8s_b64_decode(json_string_value(val),
			    json_string_length(val), &bytes, &len);
			if (rc == -EINVAL) {
				snprintf(err, errlen, "ConfigMap binaryData[%s] "
				    "is not valid base64", key);
				return -EBADMSG;
			}
			if (rc != 0)
				goto nomem;
		} else {
			len = json_string_length(val);
			if ((bytes = malloc(len + 1)) == NULL)
				goto nomem;
			memcpy(bytes, json_string_value(val), len);
			bytes[len] = '\0';
		}
		if ((f->name = strdup(key)) == NULL) {
			free(bytes);
			goto nomem;
		}
		f->data = (const char *)bytes;
		f->len = len;
		f->binary = binary;
		cm->bytes += len;
		cm->nfiles++;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

int
k8s_cm_from_json(const json_t *obj, struct k8s_cm **out, char *err,
    size_t errlen)
{
	struct k8s_cm *cm = NULL;
	const json_t *md, *data, *bin, *name;
	char tmp[160];
	size_t n = 0, i;
	int rc = -ENOMEM;

	*out = NULL;
	tmp[0] = '\0';
	if (!json_is_object(obj) ||
	    !json_is_object(md = json_object_get(obj, "metadata")) ||
	    !json_is_string(name = json_object_get(md, "name")) ||
	    json_string_length(name) == 0) {
		set_err(err, errlen, "object is not a ConfigMap (no "
		    "metadata.name)");
		return -EBADMSG;
	}
	data = json_object_get(obj, "data");
	bin = json_object_get(obj, "binaryData");
	if (json_is_object(data))
		n += json_object_size(data);
	if (json_is_object(bin))
		n += json_object_size(bin);
	if ((cm = calloc(1, sizeof(*cm))) == NULL)
		goto fail;
	if (n > 0 && (cm->files = calloc(n, sizeof(*cm->files))) == NULL)
		goto fail;
	if ((cm->name = strdup(json_string_value(name))) == NULL ||
	    (cm->ns = dup_member(md, "namespace")) == NULL ||
	    (cm->uid = dup_member(md, "uid")) == NULL)
		goto fail;
	if (object_rv(obj, cm->rv) != 0) {
		snprintf(tmp, sizeof(tmp), "ConfigMap has a malformed "
		    "metadata.resourceVersion");
		rc = -EBADMSG;
		goto fail;
	}
	if ((rc = add_files(cm, data, false, tmp, sizeof(tmp))) != 0 ||
	    (rc = add_files(cm, bin, true, tmp, sizeof(tmp))) != 0)
		goto fail;
	if (cm->nfiles > 1)
		qsort(cm->files, cm->nfiles, sizeof(*cm->files), cmp_file);
	for (i = 1; i < cm->nfiles; i++) {
		if (strcmp(cm->files[i - 1].name, cm->files[i].name) == 0) {
			snprintf(tmp, sizeof(tmp), "ConfigMap key %s is in both "
			    "data and binaryData", cm->files[i].name);
			rc = -EBADMSG;
			goto fail;
		}
	}
	*out = cm;
	return 0;
fail:
	set_err(err, errlen, tmp[0] ? tmp : "out of memory");
	k8s_cm_free(cm);
	return rc;
}

bool
k8s_cm_same_data(const struct k8s_cm *a, const struct k8s_cm *b)
{
	size_t i;

	if (a == NULL || b == NULL)
		return a == b;
	if (a->nfiles != b->nfiles)
		return false;
	for (i = 0; i < a->nfiles; i++) {
		const struct cfg_file *x = &a->files[i], *y = &b->files[i];

		if (strcmp(x->name, y->name) != 0 || x->binary != y->binary ||
		    x->len != y->len || memcmp(x->data, y->data, x->len) != 0)
			return false;
	}
	return true;
}
