/*
 * k8swatch.h - the bytes the Kubernetes API sends, turned into values: the
 * line splitter of a watch stream, watch events, Status objects and
 * ConfigMaps.
 *
 * Everything here is a pure function of its input: no I/O, no clock, no
 * global state, no threads.  The ConfigMap client (k8s.c) feeds it what
 * libcurl hands over, in whatever pieces the network cut it into, and a
 * fuzzer can feed it arbitrary bytes the same way (issue 7: "Kubernetes
 * watch-stream bytes -> event parser").  Every input is bounded: a line
 * longer than the splitter's limit is refused, not buffered.
 *
 * A watch response is a sequence of JSON objects, one per line:
 *
 *	{"type":"MODIFIED","object":{"kind":"ConfigMap",...}}\n
 *
 * where type is ADDED, MODIFIED, DELETED, BOOKMARK (only the object's
 * metadata.resourceVersion matters) or ERROR (the object is a Status, e.g.
 * code 410 reason Expired when the requested resourceVersion is too old).
 */
#ifndef HOTCFGD_K8SWATCH_H
#define HOTCFGD_K8SWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tree.h"

/* The default bound on one event line (and on one whole list or get
 * response): a ConfigMap holds at most 1 MiB of data, which JSON escaping
 * can grow several times over, plus its metadata and annotations. */
#define K8S_MAX_LINE_DEFAULT ((size_t)16 << 20)

/* resourceVersion strings are opaque; real ones are decimal numbers far
 * shorter than this.  A longer one is refused as malformed. */
#define K8S_RV_MAX 64

/* ------------------------------------------------------------------ */
/* Lines.                                                               */
/* ------------------------------------------------------------------ */

/*
 * Splits a byte stream into lines, however the stream is cut.  A line is
 * handed over without its '\n' (and without a '\r' before it).  A line
 * that lies whole inside one piece is handed over in place, without a
 * copy; only a line spanning pieces is gathered in buf.
 */
struct k8s_lines {
	char *buf;              /* the unfinished line */
	size_t len, cap;
	size_t max;             /* longest line accepted, in bytes */
};

/* Called once per complete line; a nonzero return stops the feed and is
 * returned by k8s_lines_feed(). */
typedef int (*k8s_line_fn)(void *arg, const char *line, size_t len);

/* max 0 means K8S_MAX_LINE_DEFAULT.  Never fails (allocates lazily). */
void k8s_lines_init(struct k8s_lines *l, size_t max);
/* Forget an unfinished line (a new response starts). */
void k8s_lines_reset(struct k8s_lines *l);
void k8s_lines_fini(struct k8s_lines *l);

/*
 * Feed n bytes.  Returns 0; -EMSGSIZE when a line grows past the limit
 * (the splitter is then reset); -ENOMEM; or the callback's nonzero value.
 * After an error the rest of the piece is not looked at.
 */
int k8s_lines_feed(struct k8s_lines *l, const void *p, size_t n,
    k8s_line_fn fn, void *arg);

/* Bytes of the unfinished line held so far. */
size_t k8s_lines_pending(const struct k8s_lines *l);

/* ------------------------------------------------------------------ */
/* Status objects and watch events.                                     */
/* ------------------------------------------------------------------ */

/* What a v1 Status says (an HTTP error body, or an ERROR event). */
struct k8s_status {
	int code;               /* HTTP-like code, 0 when absent */
	char reason[64];        /* "Expired", "Forbidden"...; "" if absent */
	char message[256];      /* the server's words, cut to fit */
	long retry_after;       /* details.retryAfterSeconds, 0 if absent */
};

/*
 * Read a Status from a JSON value.  Returns 0 when it is an object with
 * kind "Status" or a numeric code, -EINVAL otherwise (st is then zeroed).
 * Fields that are missing or of the wrong type are left empty.
 */
int k8s_status_from_json(const json_t *obj, struct k8s_status *st);

/* The same from the text of a response body. */
int k8s_status_parse(const char *buf, size_t len, struct k8s_status *st);

enum k8s_ev_type {
	K8S_EV_ADDED = 1,
	K8S_EV_MODIFIED,
	K8S_EV_DELETED,
	K8S_EV_BOOKMARK,
	K8S_EV_ERROR,
	K8S_EV_OTHER            /* a type this client does not know */
};

/* "ADDED" ... "ERROR", "OTHER". */
const char *k8s_ev_name(int type);

struct k8s_event {
	int type;               /* enum k8s_ev_type */
	json_t *object;         /* one reference, owned by the event */
	char rv[K8S_RV_MAX];    /* object.metadata.resourceVersion or "" */
	struct k8s_status status; /* ERROR only */
};

/*
 * Parse one line of a watch stream.  Returns 0 with *ev filled (free it
 * with k8s_event_clear()), or -EBADMSG with a reason in err (not valid
 * JSON, not an object, no type, no object, a resourceVersion that is not a
 * short string).  The reason never quotes the input.
 */
int k8s_event_parse(const char *line, size_t len, struct k8s_event *ev,
    char *err, size_t errlen);
void k8s_event_clear(struct k8s_event *ev);

/*
 * A watch response as a whole: the line splitter and the event parser
 * together.  Blank lines are skipped.  The callback sees each event; the
 * event is cleared after it returns (take a reference to keep the object).
 */
typedef int (*k8s_event_fn)(void *arg, const struct k8s_event *ev);

struct k8s_stream {
	struct k8s_lines lines;
	k8s_event_fn fn;
	void *arg;
	unsigned long events;   /* events handed to fn so far */
	char err[160];          /* why the last feed failed */
};

void k8s_stream_init(struct k8s_stream *s, size_t max_line, k8s_event_fn fn,
    void *arg);
void k8s_stream_reset(struct k8s_stream *s);
void k8s_stream_fini(struct k8s_stream *s);

/*
 * Feed bytes of the response body.  0; -EMSGSIZE (a line past the limit),
 * -EBADMSG (a line that is not an event), -ENOMEM, each with s->err set;
 * or the callback's nonzero value.
 */
int k8s_stream_feed(struct k8s_stream *s, const void *p, size_t n);

/*
 * The response ended cleanly.  A last event without its newline is still
 * an event (the API's framing is a sequence of JSON values); anything else
 * left over is -EBADMSG.
 */
int k8s_stream_finish(struct k8s_stream *s);

/* ------------------------------------------------------------------ */
/* ConfigMaps.                                                          */
/* ------------------------------------------------------------------ */

/*
 * The part of a ConfigMap that becomes configuration: its data keys as
 * files (design.md: the same as a mounted directory), sorted by name.
 * binaryData values are decoded from base64 and marked binary.  Every
 * file's data is followed by a NUL that len does not count.  Immutable
 * once built, so it can be shared between threads.
 */
struct k8s_cm {
	char *ns, *name, *uid;
	char rv[K8S_RV_MAX];
	size_t nfiles;
	struct cfg_file *files; /* name and data owned by the k8s_cm */
	size_t bytes;           /* sum of the files' sizes */
};

/*
 * Build a k8s_cm from a ConfigMap object.  -EBADMSG with err set when it is
 * not one: no metadata.name, data or binaryData not an object of strings,
 * a key the API would refuse (empty, longer than 253, characters other than
 * alphanumerics, '-', '_' and '.', "." or ".."), a key in both data and
 * binaryData, bad base64; -ENOMEM.  err names the key at fault, never a
 * value.
 */
int k8s_cm_from_json(const json_t *obj, struct k8s_cm **out, char *err,
    size_t errlen);
void k8s_cm_free(struct k8s_cm *cm);

/* Same files, same contents, same binary flags (metadata ignored). */
bool k8s_cm_same_data(const struct k8s_cm *a, const struct k8s_cm *b);

/* A ConfigMap data key the API server would accept. */
bool k8s_key_ok(const char *key);

/*
 * Decode standard base64 (RFC 4648 section 4, padding required, as Go's
 * encoding/json writes []byte).  Line breaks are skipped, as Go's decoder
 * does.  *out is malloc'd, NUL-terminated, *outlen excludes the NUL.
 * 0, -EINVAL (not base64), -ENOMEM.
 */
int k8s_b64_decode(const char *in, size_t len, unsigned char **out,
    size_t *outlen);

#endif /* HOTCFGD_K8SWATCH_H */
