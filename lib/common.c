/*
 * common.c - small pieces every part of hotcfg uses: version, error
 * strings, type names, clocks, where a configuration lives, and the
 * canonical text of a float.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hotcfg.h"
#include "internal.h"

const char *
hotcfg_version(void)
{
	return HOTCFG_VERSION_STRING;
}

const char *
hotcfg_strerror(int err)
{
	switch (err) {
	case HOTCFG_ETYPE:
		return "key has another type";
	case HOTCFG_ECORRUPT:
		return "snapshot or control file is corrupt";
	case HOTCFG_EVERSION:
		return "snapshot or control file has an unknown format version";
	case HOTCFG_ERANGE:
		return "value out of range for the requested type";
	case HOTCFG_ENOTPUB:
		return "nothing has been published yet";
	case 0:
		return "success";
	}
	if (err < 0)
		err = -err;
	/* strerror() may return a buffer it overwrites later; the glibc
	 * table behind strerrordesc_np() is static. */
	const char *s = strerrordesc_np(err);
	return s ? s : "unknown error";
}

const char *
hotcfg_type_name(int type)
{
	static const char *const names[] = {
		"null", "bool", "int", "float", "str", "bytes", "map", "seq"
	};
	if (type < 0 || type >= (int)(sizeof(names) / sizeof(names[0])))
		return "unknown";
	return names[type];
}

int64_t
hc_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
hc_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * A NAME is a single path component under the root; anything with a slash
 * is a directory path taken as is.  Names that could climb out of the root
 * ("..", ".") are refused.
 */
int
hc_resolve_dir(const char *where, char **out)
{
	const char *root;
	int n;

	*out = NULL;
	if (where == NULL || *where == '\0') {
		where = getenv("HOTCFG_NAME");
		if (where == NULL || *where == '\0')
			where = "default";
	}
	if (strchr(where, '/') != NULL) {
		*out = strdup(where);
		return *out ? 0 : -ENOMEM;
	}
	if (strcmp(where, ".") == 0 || strcmp(where, "..") == 0)
		return -EINVAL;
	root = getenv("HOTCFG_ROOT");
	if (root == NULL || *root == '\0')
		root = "/dev/shm/hotcfg";
	n = asprintf(out, "%s/%s", root, where);
	if (n < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

/*
 * The shortest decimal form that reads back to the same double, made to
 * look like a YAML 1.2 core-schema float ("1.0", not "1").
 */
void
hc_format_float(double f, char *buf, size_t len)
{
	if (isnan(f)) {
		snprintf(buf, len, ".nan");
		return;
	}
	if (isinf(f)) {
		snprintf(buf, len, f < 0 ? "-.inf" : ".inf");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, f);
		if (strtod(buf, NULL) == f)
			break;
	}
	if (strpbrk(buf, ".eEn") == NULL && strlen(buf) + 3 <= len)
		strcat(buf, ".0");
}
