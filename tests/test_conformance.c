/*
 * test_conformance.c - the agent's YAML loader against the yaml-test-suite.
 *
 * The suite lives beside the repository in ../shared/yaml-test-suite (from
 * $HOTCFG_SRC, the repository root, when set).  Two properties are checked
 * over every case, variants (00, 01, ...) included:
 *
 *  - a case marked `error` is refused by cfg_load_yaml() with an error
 *    message, and nothing crashes;
 *  - a case with in.json gives, through the loader, the builder and the
 *    reader's iterator, exactly the entries its in.yaml gives.  in.json may
 *    hold several JSON values one after the other, one per YAML document;
 *    they are joined with "---" lines and read by the same loader, so they
 *    merge exactly like the documents of the YAML file.
 *
 * Two tables hold the cases where that cannot hold.  LIBYAML lists inputs
 * that libyaml 0.2.5 itself parses wrongly, grouped by the reason.  The
 * test proves each entry: it runs libyaml alone over the input, writes its
 * events in the suite's notation and finds them refused, accepted or
 * different from the case's test.event (the events the YAML spec
 * demands), while the same writer reproduces test.event exactly for every
 * case not listed.  MODEL lists the few cases where our documented data
 * model gives a different, intended answer than in.json, and how they are
 * compared instead.  Both tables are checked in the other direction too: a
 * listed case that starts to pass makes the test fail, so they cannot go
 * stale (a libyaml upgrade that fixes a case will say so).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <yaml.h>

#include "internal.h"
#include "tree.h"

/*
 * Inputs libyaml 0.2.5 gets wrong.  For `error` cases: libyaml accepts
 * invalid YAML (its events run to the end of the stream without an
 * error).  For in.json cases: libyaml refuses valid YAML, or its events
 * differ from test.event as described.
 */
#define DIRECTIVE  "refuses a reserved directive instead of ignoring it"
#define ANCHOR     "allows only ASCII letters, digits, '-' and '_' in an " \
	"anchor name"
#define FLOWCOLON  "refuses a flow mapping's ':' on a line after its key"
#define COLONSTART "refuses a plain scalar in flow starting with ':'"
#define QUESTION   "reads '?' starting a plain scalar in flow as a key " \
	"indicator"
#define TABSEP     "refuses a tab used as separation white space"
#define TABBLOCK   "refuses a tab at the start of block scalar content"
#define MULTIKEY   "refuses an implicit key over several lines in flow"
#define BAREDOC    "refuses a bare document after a '...' marker"
#define ZEROINDENT "refuses a block scalar at indentation 0 after '--- >'"
#define ONLYEND    "refuses a stream holding nothing but a '...' marker"
#define LASTSPACES "drops a last line of spaces (no line break) from a " \
	"block scalar"
#define NOFOOTER   "accepts a directive without '...' closing the " \
	"previous document"
#define COMMENTWS  "accepts a '#' comment with no white space before it"
#define INDENT     "does not check the indentation of continuation lines"
#define FLOWDASH   "accepts a plain '-' as a flow sequence item"
#define TABINDENT  "accepts a tab as indentation"

static const struct known {
	const char *id;
	const char *why;
} LIBYAML[] = {
	/* Valid YAML that libyaml refuses. */
	{ "2LFX", DIRECTIVE }, { "6LVF", DIRECTIVE },
	{ "MUS6/05", DIRECTIVE }, { "MUS6/06", DIRECTIVE },
	{ "BEC7", "refuses %YAML 1.3 instead of warning" },
	{ "2SXE", ANCHOR }, { "8XYN", ANCHOR }, { "W5VH", ANCHOR },
	{ "4MUZ/00", FLOWCOLON }, { "4MUZ/01", FLOWCOLON },
	{ "4MUZ/02", FLOWCOLON }, { "5MUD", FLOWCOLON }, { "K3WX", FLOWCOLON },
	{ "VJP3/01", FLOWCOLON },
	{ "58MP", COLONSTART }, { "5T43", COLONSTART }, { "DBG4", COLONSTART },
	{ "HM87/00", COLONSTART },
	{ "6BCT", TABSEP }, { "6CA3", TABSEP }, { "A2M4", TABSEP },
	{ "DK95/00", TABSEP }, { "DK95/03", TABSEP }, { "DK95/04", TABSEP },
	{ "Q5MG", TABSEP }, { "Y79Y/010", TABSEP },
	{ "96NN/00", TABBLOCK }, { "96NN/01", TABBLOCK }, { "R4YG", TABBLOCK },
	{ "Y79Y/001", TABBLOCK },
	{ "9SA2", MULTIKEY }, { "NJ66", MULTIKEY }, { "UT92", MULTIKEY },
	{ "7Z25", BAREDOC }, { "M7A3", BAREDOC },
	{ "DK3J", ZEROINDENT }, { "FP8R", ZEROINDENT },
	{ "HWV9", ONLYEND }, { "QT73", ONLYEND },
	{ "W4TN", "reads a '%' line inside a block scalar as a directive" },
	/* Valid YAML that libyaml reads differently from test.event. */
	{ "652Z", QUESTION }, { "HM87/01", QUESTION },
	{ "JEF9/02", LASTSPACES }, { "L24T/01", LASTSPACES },
	{ "Y2GN", "ends an anchor name at ':' (&an:chor)" },
	/* Invalid YAML that libyaml accepts. */
	{ "9HCY", NOFOOTER }, { "EB22", NOFOOTER }, { "RHX7", NOFOOTER },
	{ "9JBA", COMMENTWS }, { "CVW2", COMMENTWS }, { "SU5Z", COMMENTWS },
	{ "X4QW", COMMENTWS },
	{ "MUS6/00", "accepts a '#' comment right after a directive" },
	{ "9C9N", INDENT }, { "QB6E", INDENT },
	{ "DK95/01", TABINDENT }, { "Y79Y/003", TABINDENT },
	{ "G5U8", FLOWDASH }, { "YJV2", FLOWDASH },
	{ "MUS6/01", "accepts two %YAML directives for one document" },
	{ "S98Z", "accepts leading empty lines more indented than a block "
	    "scalar's content" },
	{ NULL, NULL }
};

/* How a MODEL case is compared instead. */
enum model_how {
	BYTES_AS_BASE64,   /* !!binary is bytes; in.json has the base64 text */
	FLOAT_AS_INT,      /* the suite's JSON wrote a float like 450.00 as 450 */
	BOTH_REFUSED,      /* the data cannot be flattened, from either side */
};

static const struct model {
	const char *id;
	enum model_how how;
	const char *why;
} MODEL[] = {
	{ "565N", BYTES_AS_BASE64, "!!binary makes a bytes entry; JSON can "
	    "only carry the base64 text" },
	{ "UGM3", FLOAT_AS_INT, "price: 450.00 is a float; in.json writes "
	    "it as the integer 450" },
	{ "WZ62", BOTH_REFUSED, "an empty key at the top level would share "
	    "the root's empty flattened key" },
	{ NULL, 0, NULL }
};

static const char *
known_why(const char *id)
{
	const struct known *k;

	for (k = LIBYAML; k->id != NULL; k++)
		if (strcmp(k->id, id) == 0)
			return k->why;
	return NULL;
}

static const struct model *
model_of(const char *id)
{
	const struct model *m;

	for (m = MODEL; m->id != NULL; m++)
		if (strcmp(m->id, id) == 0)
			return m;
	return NULL;
}

/* ------------------------------------------------------------------ */

static char suite[1024];

static bool
find_suite(void)
{
	const char *src = getenv("HOTCFG_SRC");
	struct stat st;

	snprintf(suite, sizeof(suite), "%s/../shared/yaml-test-suite",
	    src != NULL && *src != '\0' ? src : ".");
	return stat(suite, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool
exists(const char *dir, const char *file)
{
	char p[2000];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s/%s", suite, dir, file);
	return stat(p, &st) == 0;
}

static char *
slurp(const char *dir, const char *file, size_t *len)
{
	char p[2000], *buf;
	FILE *fp;
	long n;

	snprintf(p, sizeof(p), "%s/%s/%s", suite, dir, file);
	cr_assert_not_null(fp = fopen(p, "rb"), "cannot open %s", p);
	cr_assert_eq(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	cr_assert_not_null(buf = malloc((size_t)n + 1));
	cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static int
strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every case id ("229Q", "DK95/01"), sorted.  Returns the count. */
static size_t
list_cases(char ***out)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de, *de2;
	DIR *d, *d2;

	cr_assert_not_null(d = opendir(suite));
	while ((de = readdir(d)) != NULL) {
		char sub[1400];

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", suite, de->d_name);
		if ((d2 = opendir(sub)) == NULL)
			continue;
		while ((de2 = readdir(d2)) != NULL) {
			const char *nm = de2->d_name;
			char id[600];

			if (strcmp(nm, "in.yaml") == 0)
				snprintf(id, sizeof(id), "%s", de->d_name);
			else if (nm[0] >= '0' && nm[0] <= '9')
				snprintf(id, sizeof(id), "%s/%s", de->d_name,
				    nm);
			else
				continue;
			if (!exists(id, "in.yaml"))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				cr_assert_not_null(v = realloc(v,
				    cap * sizeof(*v)));
			}
			cr_assert_not_null(v[n++] = strdup(id));
		}
		closedir(d2);
	}
	closedir(d);
	qsort(v, n, sizeof(*v), strcmp_ptr);
	*out = v;
	return n;
}

/* ------------------------------------------------------------------ */

/*
 * Turn a stream of JSON values into a YAML stream of one document per
 * value.  Only the value boundaries matter: strings are skipped with
 * their escapes, brackets counted, bare words end at white space.
 */
static char *
json_stream_to_yaml(const char *s, size_t len, size_t *outlen)
{
	char *out = malloc(len * 2 + 16);
	size_t i = 0, o = 0;

	cr_assert_not_null(out);
	for (;;) {
		size_t start;
		int depth = 0;

		while (i < len && strchr(" \t\r\n", s[i]) != NULL)
			i++;
		if (i == len)
			break;
		start = i;
		do {
			if (s[i] == '"') {
				for (i++; i < len && s[i] != '"'; i++)
					if (s[i] == '\\')
						i++;
				i++;
			} else if (s[i] == '{' || s[i] == '[') {
				depth++;
				i++;
			} else if (s[i] == '}' || s[i] == ']') {
				depth--;
				i++;
			} else if (depth == 0) {
				while (i < len && strchr(" \t\r\n", s[i]) ==
				    NULL)
					i++;
			} else {
				i++;
			}
		} while (i < len && depth > 0);
		o += (size_t)sprintf(out + o, "---\n");
		memcpy(out + o, s + start, i - start);
		o += i - start;
		out[o++] = '\n';
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

struct built {
	int rc;                 /* 0, or the failing step's error */
	char msg[700];
	void *blob;
	hotcfg_snap *snap;
};

/* Load text, flatten it, build and wrap the snapshot. */
static void
build(const char *name, const char *text, size_t len, struct built *b)
{
	struct cfg_node *tree = NULL;
	struct cfg_error err;
	struct hc_builder *bld = NULL;
	size_t size;
	char *dup = NULL;

	memset(b, 0, sizeof(*b));
	b->rc = cfg_load_yaml(name, text, len, 0, NULL, &tree, &err);
	if (b->rc != 0) {
		snprintf(b->msg, sizeof(b->msg), "load: %u:%u: %s", err.line,
		    err.col, err.msg);
		cr_assert(err.msg[0] != '\0', "%s: refused without a message",
		    name);
		return;
	}
	cr_assert_eq(hc_builder_new(&bld), 0);
	b->rc = cfg_emit(tree, bld, NULL, &err);
	cfg_free(tree);
	if (b->rc != 0) {
		snprintf(b->msg, sizeof(b->msg), "emit: %s", err.msg);
		hc_builder_free(bld);
		return;
	}
	b->rc = hc_builder_finish(bld, 0, &b->blob, &size, &dup);
	hc_builder_free(bld);
	cr_assert_eq(b->rc, 0, "%s: builder: %d (%s)", name, b->rc,
	    dup != NULL ? dup : "");
	cr_assert_eq(hc_snap_wrap(b->blob, size, &b->snap), 0);
}

static void
built_free(struct built *b)
{
	hc_snap_unwrap(b->snap);
	free(b->blob);
}

static size_t
b64(const char *s, size_t n, unsigned char *out)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	size_t i, o = 0, q = 0;

	for (i = 0; i < n; i++) {
		const char *p = s[i] != '\0' ? strchr(abc, s[i]) : NULL;

		if (p == NULL)
			continue;
		acc = (acc << 6) | (uint32_t)(p - abc);
		if (++q % 4 == 0) {
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
		}
	}
	if (q % 4 == 2)
		out[o++] = (unsigned char)(acc >> 4);
	if (q % 4 == 3) {
		out[o++] = (unsigned char)(acc >> 10);
		out[o++] = (unsigned char)(acc >> 2);
	}
	return o;
}

/* Are two entries equal, with the relaxation a MODEL case allows? */
static bool
entry_eq(const hotcfg_entry *y, const hotcfg_entry *j,
    const struct model *m, char *why, size_t whylen)
{
	if (strcmp(y->key, j->key) != 0) {
		snprintf(why, whylen, "key \"%s\" from YAML, \"%s\" from JSON",
		    y->key, j->key);
		return false;
	}
	if (m != NULL && m->how == BYTES_AS_BASE64 &&
	    y->type == HOTCFG_BYTES && j->type == HOTCFG_STR) {
		unsigned char *dec = malloc(j->text_len + 4);
		size_t n = b64(j->text, j->text_len, dec);
		bool same = n == y->text_len && memcmp(dec, y->text, n) == 0;

		free(dec);
		snprintf(why, whylen, "%s: bytes differ from base64", y->key);
		return same;
	}
	if (m != NULL && m->how == FLOAT_AS_INT &&
	    y->type == HOTCFG_FLOAT && j->type == HOTCFG_INT) {
		snprintf(why, whylen, "%s: %g is not %jd", y->key, y->f,
		    (intmax_t)j->i);
		return y->f == (double)j->i;
	}
	snprintf(why, whylen, "%s: %s \"%.*s\" from YAML, %s \"%.*s\" from "
	    "JSON", y->key, hotcfg_type_name(y->type), (int)y->text_len,
	    y->text, hotcfg_type_name(j->type), (int)j->text_len, j->text);
	if (y->type != j->type || y->text_len != j->text_len ||
	    memcmp(y->text, j->text, y->text_len) != 0 ||
	    y->count != j->count || y->i != j->i || y->b != j->b)
		return false;
	if (y->type == HOTCFG_FLOAT && !(y->f == j->f ||
	    (isnan(y->f) && isnan(j->f))))
		return false;
	return true;
}

/* Compare the entries of two snapshots; describe the first difference. */
static bool
same_entries(const hotcfg_snap *y, const hotcfg_snap *j,
    const struct model *m, char *why, size_t whylen)
{
	size_t cy = 0, cj = 0;
	hotcfg_entry ey, ej;

	for (;;) {
		int ry = hotcfg_next(y, NULL, &cy, &ey);
		int rj = hotcfg_next(j, NULL, &cj, &ej);

		if (ry != 0 && rj != 0)
			return true;
		if (ry != 0 || rj != 0) {
			snprintf(why, whylen, "%s has more entries (%s)",
			    ry == 0 ? "YAML" : "JSON", ry == 0 ? ey.key :
			    ej.key);
			return false;
		}
		if (!entry_eq(&ey, &ej, m, why, whylen))
			return false;
	}
}


/* ------------------------------------------------------------------ */
/* libyaml's own reading, in the suite's test.event notation.          */
/* ------------------------------------------------------------------ */

static void
event_text(FILE *fp, const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '\\':
			fputs("\\\\", fp);
			break;
		case '\n':
			fputs("\\n", fp);
			break;
		case '\t':
			fputs("\\t", fp);
			break;
		case '\r':
			fputs("\\r", fp);
			break;
		case '\b':
			fputs("\\b", fp);
			break;
		case '\0':
			fputs("\\0", fp);
			break;
		default:
			fputc(s[i], fp);
		}
	}
}

static void
event_props(FILE *fp, const yaml_char_t *anchor, const yaml_char_t *tag)
{
	if (anchor != NULL)
		fprintf(fp, " &%s", (const char *)anchor);
	if (tag != NULL)
		fprintf(fp, " <%s>", (const char *)tag);
}

/*
 * Run libyaml alone over a text and write its events as test.event does.
 * Returns true when libyaml reached the end of the stream without error.
 */
static bool
libyaml_events(const char *text, size_t len, char **out)
{
	static const char style[] = {
		[YAML_PLAIN_SCALAR_STYLE] = ':',
		[YAML_SINGLE_QUOTED_SCALAR_STYLE] = '\'',
		[YAML_DOUBLE_QUOTED_SCALAR_STYLE] = '"',
		[YAML_LITERAL_SCALAR_STYLE] = '|',
		[YAML_FOLDED_SCALAR_STYLE] = '>',
	};
	yaml_parser_t p;
	yaml_event_t ev;
	size_t size;
	FILE *fp;
	bool ok = false, done = false;

	cr_assert_not_null(fp = open_memstream(out, &size));
	cr_assert(yaml_parser_initialize(&p));
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev))
			break;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
			fputs("+STR\n", fp);
			break;
		case YAML_STREAM_END_EVENT:
			fputs("-STR\n", fp);
			ok = done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			fprintf(fp, "+DOC%s\n", ev.data.document_start.implicit ?
			    "" : " ---");
			break;
		case YAML_DOCUMENT_END_EVENT:
			fprintf(fp, "-DOC%s\n", ev.data.document_end.implicit ?
			    "" : " ...");
			break;
		case YAML_MAPPING_START_EVENT:
			fputs(ev.data.mapping_start.style ==
			    YAML_FLOW_MAPPING_STYLE ? "+MAP {}" : "+MAP", fp);
			event_props(fp, ev.data.mapping_start.anchor,
			    ev.data.mapping_start.tag);
			fputc('\n', fp);
			break;
		case YAML_MAPPING_END_EVENT:
			fputs("-MAP\n", fp);
			break;
		case YAML_SEQUENCE_START_EVENT:
			fputs(ev.data.sequence_start.style ==
			    YAML_FLOW_SEQUENCE_STYLE ? "+SEQ []" : "+SEQ", fp);
			event_props(fp, ev.data.sequence_start.anchor,
			    ev.data.sequence_start.tag);
			fputc('\n', fp);
			break;
		case YAML_SEQUENCE_END_EVENT:
			fputs("-SEQ\n", fp);
			break;
		case YAML_ALIAS_EVENT:
			fprintf(fp, "=ALI *%s\n",
			    (const char *)ev.data.alias.anchor);
			break;
		case YAML_SCALAR_EVENT:
			fputs("=VAL", fp);
			event_props(fp, ev.data.scalar.anchor,
			    ev.data.scalar.tag);
			fprintf(fp, " %c", style[ev.data.scalar.style]);
			event_text(fp, ev.data.scalar.value,
			    ev.data.scalar.length);
			fputc('\n', fp);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	fclose(fp);
	return ok;
}

/* ------------------------------------------------------------------ */

Test(conformance, error_cases_are_refused_cleanly)
{
	char **ids;
	size_t n, k, checked = 0, refused = 0;

	if (!find_suite())
		cr_skip_test("no yaml-test-suite at %s", suite);
	n = list_cases(&ids);
	for (k = 0; k < n; k++) {
		const char *why = known_why(ids[k]);
		struct cfg_node *tree = NULL;
		struct cfg_error err;
		size_t len;
		char *text;
		int rc;

		if (!exists(ids[k], "error"))
			continue;
		text = slurp(ids[k], "in.yaml", &len);
		rc = cfg_load_yaml(ids[k], text, len, 0, NULL, &tree, &err);
		if (why != NULL) {
			cr_expect_eq(rc, 0, "%s is listed as accepted by "
			    "libyaml (%s) but is refused now: drop it from "
			    "the list", ids[k], why);
		} else {
			cr_expect_lt(rc, 0, "%s (%s): invalid YAML accepted",
			    ids[k], "error case");
			if (rc < 0)
				cr_expect(err.msg[0] != '\0', "%s: no message",
				    ids[k]);
			cr_expect_null(tree);
		}
		cfg_free(tree);
		free(text);
		refused += rc < 0 ? 1 : 0;
		checked++;
	}
	cr_log_info("%zu error cases checked, %zu refused", checked,
	    refused);
	cr_expect_gt(checked, 50, "the suite looks incomplete");
	for (k = 0; k < n; k++)
		free(ids[k]);
	free(ids);
}

Test(conformance, yaml_and_json_give_the_same_entries)
{
	char **ids;
	size_t n, k, checked = 0, matched = 0;

	if (!find_suite())
		cr_skip_test("no yaml-test-suite at %s", suite);
	n = list_cases(&ids);
	for (k = 0; k < n; k++) {
		const char *why = known_why(ids[k]);
		const struct model *m = model_of(ids[k]);
		struct built y, j;
		char *ytext, *jtext, *jyaml, diff[1024];
		size_t ylen, jlen, jylen;
		bool same;

		if (!exists(ids[k], "in.json") || exists(ids[k], "error"))
			continue;
		ytext = slurp(ids[k], "in.yaml", &ylen);
		jtext = slurp(ids[k], "in.json", &jlen);
		jyaml = json_stream_to_yaml(jtext, jlen, &jylen);
		build(ids[k], ytext, ylen, &y);
		build(ids[k], jyaml, jylen, &j);
		if (m == NULL || m->how != BOTH_REFUSED)
			cr_expect_eq(j.rc, 0, "%s: in.json refused: %s",
			    ids[k], j.msg);
		if (m != NULL && m->how == BOTH_REFUSED) {
			cr_expect(y.rc != 0 && j.rc != 0 &&
			    strcmp(y.msg, j.msg) == 0, "%s (%s): expected "
			    "both refused alike, got \"%s\" and \"%s\"",
			    ids[k], m->why, y.msg, j.msg);
		} else if (y.rc != 0 || j.rc != 0) {
			cr_expect_not_null(why, "%s: in.yaml refused: %s",
			    ids[k], y.msg);
		} else {
			same = same_entries(y.snap, j.snap, m, diff,
			    sizeof(diff));
			if (why != NULL)
				cr_expect(!same, "%s is listed as misread by "
				    "libyaml (%s) but matches now: drop it",
				    ids[k], why);
			else
				cr_expect(same, "%s: %s", ids[k], diff);
			matched += same ? 1 : 0;
			/* A MODEL entry must still be needed. */
			if (m != NULL)
				cr_expect(!same_entries(y.snap, j.snap, NULL,
				    diff, sizeof(diff)), "%s is listed in "
				    "MODEL (%s) but matches strictly: drop it",
				    ids[k], m->why);
		}
		built_free(&y);
		built_free(&j);
		free(ytext);
		free(jtext);
		free(jyaml);
		checked++;
	}
	cr_log_info("%zu YAML/JSON pairs checked, %zu give the same entries",
	    checked, matched);
	cr_expect_gt(checked, 150, "the suite looks incomplete");
	for (k = 0; k < n; k++)
		free(ids[k]);
	free(ids);
}

/* Every listed case exists, so that a typo cannot hide a real case. */
Test(conformance, exception_lists_name_real_cases)
{
	const struct known *k;
	const struct model *m;

	if (!find_suite())
		cr_skip_test("no yaml-test-suite at %s", suite);
	for (k = LIBYAML; k->id != NULL; k++)
		cr_expect(exists(k->id, "in.yaml"), "%s: no such case", k->id);
	for (m = MODEL; m->id != NULL; m++)
		cr_expect(exists(m->id, "in.json"), "%s: no such case", m->id);
}

/*
 * The LIBYAML table is libyaml's fault, not ours: libyaml alone accepts
 * each listed invalid input, and refuses or misreads each listed valid
 * one.  To trust the comparison, the same event writer must reproduce
 * test.event exactly for every valid case with in.json not listed.
 */
Test(conformance, listed_cases_are_libyamls_own_and_no_others)
{
	char **ids;
	size_t n, k, same = 0;

	if (!find_suite())
		cr_skip_test("no yaml-test-suite at %s", suite);
	n = list_cases(&ids);
	for (k = 0; k < n; k++) {
		const char *why = known_why(ids[k]);
		bool invalid = exists(ids[k], "error"), ok;
		char *text, *want = NULL, *got = NULL;
		size_t len, wlen;

		if (why == NULL && (invalid || !exists(ids[k], "in.json"))) {
			free(ids[k]);
			continue;
		}
		text = slurp(ids[k], "in.yaml", &len);
		ok = libyaml_events(text, len, &got);
		if (invalid) {
			cr_expect(ok, "%s: libyaml refuses it by itself, so "
			    "\"%s\" is no reason to list it", ids[k], why);
		} else {
			want = slurp(ids[k], "test.event", &wlen);
			if (why != NULL)
				cr_expect(!ok || strcmp(got, want) != 0, "%s: "
				    "libyaml reads it right, so \"%s\" is no "
				    "reason to list it", ids[k], why);
			else
				cr_expect_str_eq(got, want, "%s: libyaml's "
				    "events differ from test.event", ids[k]);
			same += why == NULL && strcmp(got, want) == 0;
		}
		free(text);
		free(want);
		free(got);
		free(ids[k]);
	}
	free(ids);
	cr_log_info("%zu cases read by libyaml exactly as test.event says",
	    same);
}
