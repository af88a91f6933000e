/*
 * kubeconfig.h - where the Kubernetes API server is and how to prove who
 * we are: in-cluster service-account credentials or a kubeconfig file.
 *
 * Resolution order (the first that applies wins):
 *  1. an explicit kubeconfig path (hotcfgd.yaml `kubeconfig:` or
 *     --kubeconfig): it must exist;
 *  2. $KUBECONFIG, a ':'-separated list merged as kubectl does (the first
 *     file that sets current-context, or defines a context, cluster or
 *     user of a given name, wins; missing files are skipped);
 *  3. in-cluster: $KUBERNETES_SERVICE_HOST and $KUBERNETES_SERVICE_PORT
 *     (an IPv6 host is bracketed in the URL) with the service account's
 *     token, ca.crt and namespace under
 *     /var/run/secrets/kubernetes.io/serviceaccount;
 *  4. ~/.kube/config.
 *
 * From a kubeconfig: the context (current-context unless one is named),
 * its cluster's server, certificate-authority or certificate-authority-data,
 * insecure-skip-tls-verify; its user's token or tokenFile,
 * client-certificate(-data) and client-key(-data); its namespace.  Relative
 * paths are relative to the file that holds them; -data variants win over
 * files, and a tokenFile over a token (as client-go does).  exec plugins,
 * auth-provider, username/password are refused with a clear error.
 *
 * TLS peer and host verification stay on unless insecure-skip-tls-verify is
 * true.  Secrets (tokens, client keys) are held in memory only as long as
 * needed and appear in no error message; the copies this code keeps are
 * wiped before they are freed (kubeconfig.c says which are not).
 */
#ifndef HOTCFGD_KUBECONFIG_H
#define HOTCFGD_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_opts {
	const char *kubeconfig;  /* explicit path, or NULL */
	const char *context;     /* NULL: current-context */
	const char *sa_dir;      /* NULL: KUBE_SA_DIR (tests move it) */
	/* NULL: getenv().  Tests pass their own environment. */
	const char *(*getenv)(const char *name);
};

/* A blob of PEM (certificate or key) held in memory. */
struct kube_blob {
	unsigned char *data;
	size_t len;
};

struct kube_creds {
	char *server;           /* "https://host:port[/path]", no final '/' */
	char *namespace;        /* the context's or service account's; may
	                           be NULL */
	char *where;            /* for messages: "in-cluster" or
	                           "kubeconfig PATH (context NAME)" */
	bool insecure;          /* insecure-skip-tls-verify: true */
	char *ca_file;          /* certificate-authority, or ca.crt */
	struct kube_blob ca;    /* certificate-authority-data (decoded) */
	char *cert_file, *key_file;
	struct kube_blob cert, key;  /* client-*-data (decoded); key secret */
	char *token_file;       /* tokenFile or the service account's token */
	char *token;            /* the current token (secret), or NULL */
	int64_t token_read_ns;  /* monotonic time of the last read */
};

/*
 * Find and read the credentials.  0; -ENOENT when there is no kubeconfig
 * and we are not in a cluster; -EINVAL for a kubeconfig that cannot be
 * used; another negative errno for a read error.  err (errlen bytes) says
 * what and where, never a secret.  On failure *c is left empty.
 */
int kube_load(struct kube_creds *c, const struct kube_opts *o, char *err,
    size_t errlen);

/* Wipe the secrets and free everything.  The struct can be loaded again. */
void kube_free(struct kube_creds *c);

/*
 * The token to send, re-read from token_file when `force` is set or when
 * it was last read more than `every_ns` ago (now is monotonic ns).  A
 * token read from a file is trimmed of leading and trailing whitespace.
 * Returns 1 when the token changed, 0 when not; a negative errno when the
 * file cannot be read or is empty (the previous token is kept and stays
 * in use; err says which file).  c->token may be NULL: no token.
 */
int kube_token_refresh(struct kube_creds *c, bool force, int64_t now,
    int64_t every_ns, char *err, size_t errlen);

/* Set the TLS options of an easy handle (CA, client certificate and key,
 * verification).  0 or -EINVAL (libcurl refused an option). */
int kube_curl_tls(const struct kube_creds *c, CURL *h);

/* Read a small file whole (at most max bytes).  *out is malloc'd and
 * NUL-terminated.  0 or a negative errno (-EFBIG past max). */
int kube_read_file(const char *path, size_t max, char **out, size_t *len);

#endif /* HOTCFGD_KUBECONFIG_H */
