/*
 * files.c - file and directory sources.
 *
 * A file source is one YAML (or JSON) file.  A directory source is what a
 * mounted ConfigMap looks like, and the same rules serve a ConfigMap read
 * from the API server, whose data keys are the file names
 * (cfg_load_files()), so that both give the same tree:
 *
 *  - names starting with '.' are not files of their own: editors' hidden
 *    files, and the kubelet's "..data" link and "..2024_01_01_..." timestamp
 *    directories that the visible names point through;
 *  - *.yaml, *.yml and *.json (suffixes matched exactly, case included)
 *    are parsed and merged like layers, in bytewise name order, so "10-x"
 *    comes before "9-x" and upper case before lower case;
 *  - every other file becomes one entry at the top level named after the
 *    file: a string holding its content, or bytes when the content is not
 *    UTF-8 (or the ConfigMap put it in binaryData).
 *
 * The merge is the one of tree.c, so a file whose top level is not a
 * mapping replaces whatever earlier files gave, and later files with
 * mappings replace it in turn.
 *
 * In a directory, symbolic links are followed and only what they lead to
 * counts: regular files are read, anything else (directories, sockets,
 * dangling links, which the kubelet leaves for a moment during an update)
 * is skipped.  Files are read one at a time in name order, so memory holds
 * one file's text at most besides the tree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "log.h"

#include "node.h"
#include "tree.h"

static void
set_error(struct cfg_error *err, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_error(struct cfg_error *err, const char *source, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	memset(err, 0, sizeof(*err));
	snprintf(err->source, sizeof(err->source), "%s", source);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* Is the text well-formed UTF-8 (no overlong forms, no surrogates)? */
static bool
is_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t len, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static bool
has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return n > s && memcmp(name + n - s, suffix, s) == 0;
}

static bool
is_yaml_name(const char *name)
{
	return has_suffix(name, ".yaml") || has_suffix(name, ".yml") ||
	    has_suffix(name, ".json");
}

/*
 * Read a regular file whole, at most `max` bytes.  `what` names it in
 * errors.  -ENOENT, -EFBIG, -EINVAL (not a regular file), -errno.
 */
/*
 * Open path under dirfd.  With `beneath`, the resolution, symbolic links
 * included, must stay inside dirfd's directory (openat2 RESOLVE_BENEATH):
 * a directory source publishes what is in the directory, never what a
 * link in it points to elsewhere ("leak.txt -> /proc/self/environ").
 * The kubelet's layout uses relative links that stay inside, so it is
 * unaffected.  A link that leaves fails with EXDEV.  On a kernel without
 * openat2 (before 5.6) links are followed as openat does.
 */
static int
open_source(int dirfd, const char *path, bool beneath)
{
	/* O_NONBLOCK: never hang on a FIFO put in a file's place. */
	int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

	if (beneath) {
		struct open_how how;
		long fd;

		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)flags;
		how.resolve = RESOLVE_BENEATH;
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd >= 0 || errno != ENOSYS)
			return (int)fd;
	}
	return openat(dirfd, path, flags);
}

static int
read_file(int dirfd, const char *path, bool beneath, const char *what,
    size_t max, char **out, size_t *outlen, struct cfg_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap;
	int fd, rc;

	fd = open_source(dirfd, path, beneath);
	if (fd < 0) {
		rc = -errno;
		set_error(err, what, "cannot open: %s", strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		set_error(err, what, "cannot stat: %s", strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		set_error(err, what, "not a regular file");
		goto out;
	}
	if ((uintmax_t)st.st_size > max) {
		rc = -EFBIG;
		set_error(err, what, "%jd bytes is more than the limit of %zu "
		    "(limit max_file)", (intmax_t)st.st_size, max);
		goto out;
	}
	/* The file may grow while we read: read until EOF, but never past
	 * the limit. */
	cap = (size_t)st.st_size + 1;
	for (;;) {
		ssize_t got;

		if (len == cap) {
			char *p;

			if (cap > max) {
				rc = -EFBIG;
				set_error(err, what, "the file grew past the "
				    "limit of %zu bytes (limit max_file)", max);
				goto out;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			if ((p = realloc(buf, cap)) == NULL) {
				rc = -ENOMEM;
				set_error(err, what, "out of memory");
				goto out;
			}
			buf = p;
		}
		if (buf == NULL && (buf = malloc(cap)) == NULL) {
			rc = -ENOMEM;
			set_error(err, what, "out of memory");
			goto out;
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			set_error(err, what, "cannot read: %s", strerror(-rc));
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Read the file at path within the resolved limits *l (filled). */
static int
read_source(const char *path, const struct cfg_limits *lim,
    struct cfg_limits *l, char **buf, size_t *len, struct cfg_error *err)
{
	*buf = NULL;
	*len = 0;
	cfg_limits_resolve(lim, l);
	return read_file(AT_FDCWD, path, false, path, l->max_file, buf, len,
	    err);
}

int
cfg_load_file(const char *path, unsigned source,
    const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err)
{
	struct cfg_limits l;
	char *buf;
	size_t len;
	int rc;

	*out = NULL;
	rc = read_source(path, lim, &l, &buf, &len, err);
	if (rc == 0)
		rc = cfg_load_yaml(path, buf, len, source, &l, out, err);
	free(buf);
	return rc;
}

int
cfg_load_file_cached(const char *path, unsigned source,
    const struct cfg_limits *lim, struct cfg_pcache **cache,
    struct cfg_node **out, struct cfg_error *err)
{
	struct cfg_limits l;
	char *buf;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = read_source(path, lim, &l, &buf, &len, err)) != 0)
		return rc;
	return cfg_load_yaml_cached(path, buf, len, source, &l, cache, out,
	    err);
}

/*
 * Merge one file of a directory source into *root.  `what` names it in
 * errors (the bare name for a ConfigMap, the path for a directory).
 */
static int
load_one(const char *name, const char *what, const char *data, size_t len,
    bool binary, unsigned source, const struct cfg_limits *l,
    struct cfg_node **root, struct cfg_error *err)
{
	struct cfg_node *tree = NULL, *leaf = NULL;
	int rc;

	if (len > l->max_file) {
		set_error(err, what, "%zu bytes is more than the limit of %zu "
		    "(limit max_file)", len, l->max_file);
		return -EFBIG;
	}
	if (!binary && is_yaml_name(name)) {
		rc = cfg_load_yaml(what, data, len, source, l, &tree, err);
		if (rc != 0)
			return rc;
	} else {
		rc = -ENOMEM;
		if (strlen(name) > l->max_key) {
			set_error(err, what, "file name longer than %zu bytes "
			    "(limit max_key)", l->max_key);
			return -EINVAL;
		}
		binary = binary || !is_utf8((const unsigned char *)data, len);
		leaf = cfg_node_new(binary ? HOTCFG_BYTES : HOTCFG_STR, source);
		if (leaf == NULL || cfg_node_set_text(leaf, data, len) != 0)
			goto nomem;
		if ((tree = cfg_node_new(HOTCFG_MAP, source)) == NULL)
			goto nomem;
		rc = cfg_node_add(tree, name, strlen(name), leaf);
		leaf = NULL;
		if (rc != 0)
			goto nomem;
		cfg_node_finish(tree);
	}
	rc = cfg_merge(root, tree);
	tree = NULL;
	if (rc != 0)
		goto nomem;
	if (cfg_weight(*root) > l->max_nodes) {
		set_error(err, what, "the source holds more than %zu nodes "
		    "(limit max_nodes)", l->max_nodes);
		return -EINVAL;
	}
	return 0;
nomem:
	cfg_free(leaf);
	cfg_free(tree);
	set_error(err, what, "out of memory");
	return -ENOMEM;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
cmp_file(const void *a, const void *b)
{
	const struct cfg_file *fa = *(const struct cfg_file *const *)a;
	const struct cfg_file *fb = *(const struct cfg_file *const *)b;

	return strcmp(fa->name, fb->name);
}

int
cfg_load_files(const struct cfg_file *files, size_t n, unsigned source,
    const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err)
{
	const struct cfg_file **order = NULL;
	struct cfg_node *root = NULL;
	struct cfg_limits l;
	size_t k;
	int rc = -ENOMEM;

	*out = NULL;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	cfg_limits_resolve(lim, &l);
	if (n == 0)
		return 0;
	if ((order = calloc(n, sizeof(*order))) == NULL) {
		set_error(err, "", "out of memory");
		goto out;
	}
	for (k = 0; k < n; k++)
		order[k] = &files[k];
	qsort(order, n, sizeof(*order), cmp_file);
	for (k = 0; k < n; k++) {
		const struct cfg_file *f = order[k];

		if (f->name[0] == '.' || f->name[0] == '\0')
			continue;
		rc = load_one(f->name, f->name, f->data, f->len, f->binary,
		    source, &l, &root, err);
		if (rc != 0)
			goto out;
	}
	*out = root;
	root = NULL;
	rc = 0;
out:
	cfg_free(root);
	free(order);
	return rc;
}

int
cfg_dir_names(DIR *d, char ***out, size_t *count)
{
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = -ENOMEM;

	*out = NULL;
	*count = 0;
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				rc = -errno;
				goto fail;
			}
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 16;
			char **v = realloc(names, c * sizeof(*v));

			if (v == NULL)
				goto fail;
			names = v;
			cap = c;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto fail;
		n++;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_name);
	*out = names;
	*count = n;
	return 0;
fail:
	cfg_names_free(names, n);
	return rc;
}

void
cfg_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
cfg_load_dir(const char *path, unsigned source,
    const struct cfg_limits *lim, struct cfg_node **out,
    struct cfg_error *err)
{
	struct cfg_limits l;
	struct cfg_node *root = NULL;
	DIR *dir;
	char **names = NULL, *what = NULL, *data = NULL;
	const char *sep;
	size_t n = 0, k, len;
	int rc = -ENOMEM;

	*out = NULL;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	cfg_limits_resolve(lim, &l);
	if ((dir = opendir(path)) == NULL) {
		rc = -errno;
		set_error(err, path, "cannot open directory: %s",
		    strerror(-rc));
		return rc;
	}
	sep = path[0] != '\0' && path[strlen(path) - 1] == '/' ? "" : "/";
	/* Gather the names first: the order is by name, not readdir's. */
	if ((rc = cfg_dir_names(dir, &names, &n)) != 0) {
		if (rc == -ENOMEM)
			goto nomem;
		set_error(err, path, "cannot read directory: %s",
		    strerror(-rc));
		goto out;
	}
	for (k = 0; k < n; k++) {
		struct stat st;

		free(what);
		if (asprintf(&what, "%s%s%s", path, sep, names[k]) < 0) {
			what = NULL;
			goto nomem;
		}
		/* Follows symbolic links, as the kubelet's layout needs.
		 * A name that vanished since readdir() is simply gone. */
		if (fstatat(dirfd(dir), names[k], &st, 0) != 0) {
			if (errno == ENOENT)
				continue;
			rc = -errno;
			set_error(err, what, "cannot stat: %s", strerror(-rc));
			goto out;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		rc = read_file(dirfd(dir), names[k], true, what, l.max_file,
		    &data, &len, err);
		/* Gone, or no longer a regular file, since fstatat(). */
		if (rc == -ENOENT || rc == -EINVAL) {
			if (err != NULL)
				memset(err, 0, sizeof(*err));
			continue;
		}
		/* A link that leads out of the directory: skipped, said. */
		if (rc == -EXDEV) {
			struct logline ll;

			log_begin(&ll, LOGL_WARNING, "skip");
			log_str(&ll, "file", what);
			log_str(&ll, "why", "symbolic link leads out of the "
			    "source directory");
			log_end(&ll);
			if (err != NULL)
				memset(err, 0, sizeof(*err));
			continue;
		}
		if (rc != 0)
			goto out;
		rc = load_one(names[k], what, data, len, false, source, &l,
		    &root, err);
		free(data);
		data = NULL;
		if (rc != 0)
			goto out;
	}
	*out = root;
	root = NULL;
	rc = 0;
	goto out;
nomem:
	rc = -ENOMEM;
	set_error(err, path, "out of memory");
out:
	cfg_names_free(names, n);
	free(what);
	free(data);
	cfg_free(root);
	closedir(dir);
	return rc;
}
