/*
 * common.c - small pieces every part of hotcfg uses: version, error
 * strings, type names, clocks, where a configuration lives, and the
 * canonical text of a float.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
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

size_t
hc_format_int(int64_t v, char *buf)
{
	char tmp[20];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t n = 0, len = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		buf[len++] = '-';
	while (n > 0)
		buf[len++] = tmp[--n];
	buf[len] = '\0';
	return len;
}

/*
 * The common case of hc_format_float() without printf: f is m / 10^k for
 * an integer m of at most 15 digits, k <= 6 the least that works, and
 * 1e-4 <= |f| < 1e15.  Then m / 10^k, both exact and divided with one
 * rounding, is what strtod() makes of the text, so the text reads back;
 * and "%.15g" prints that text: f lies within half an ulp of it, far less
 * than half a unit of its 15th digit, in the range where %g writes no
 * exponent.  false: not such a value (0, -0.0, inf and nan included).
 */
static bool
format_short_decimal(double f, char *buf, size_t len)
{
	static const double p10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6 };
	double a = f < 0 ? -f : f;

	if (!(a >= 1e-4 && a < 1e15))
		return false;
	for (unsigned k = 0; k < sizeof(p10) / sizeof(p10[0]); k++) {
		double s = a * p10[k], r;
		char digits[24];
		size_t nd, n = 0;

		if (s >= 1e15)
			return false;
		/* An integer near s (s + 0.5 < 2^50 is exact); whether it is
		 * m, the division below checks. */
		r = (double)(int64_t)(s + 0.5);
		if (r >= 1e15)
			return false;
		if (r / p10[k] != a)
			continue;
		nd = hc_format_int((int64_t)r, digits);
		/* sign, "0." and zeros for |f| < 1, digits, ".0" or nothing */
		if (len < 1 + 2 + k + nd + 2 + 1)
			return false;
		if (f < 0)
			buf[n++] = '-';
		if (nd <= k) {
			buf[n++] = '0';
			buf[n++] = '.';
			for (size_t z = nd; z < k; z++)
				buf[n++] = '0';
			memcpy(buf + n, digits, nd);
			n += nd;
		} else {
			memcpy(buf + n, digits, nd - k);
			n += nd - k;
			buf[n++] = '.';
			if (k == 0) {
				buf[n++] = '0';
			} else {
				memcpy(buf + n, digits + nd - k, k);
				n += k;
			}
		}
		buf[n] = '\0';
		return true;
	}
	return false;
}

/*
 * The shortest decimal form that reads back to the same double, made to
 * look like a YAML 1.2 core-schema float ("1.0", not "1"), by the rule:
 * the first of "%.15g", "%.16g", "%.17g" that strtod() reads back.
 */
void
hc_format_float_printf(double f, char *buf, size_t len)
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

/* The same text; values with a few decimals (most of a configuration's)
 * take format_short_decimal(), without printf and strtod. */
void
hc_format_float(double f, char *buf, size_t len)
{
	if (!format_short_decimal(f, buf, len))
		hc_format_float_printf(f, buf, len);
}
