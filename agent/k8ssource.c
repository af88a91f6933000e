/*
 * k8ssource.c - the "configmap" kind of source (source.h) on top of the
 * ConfigMap client (k8s.h).
 *
 * This is all the glue between the two: start() starts the client's
 * thread for NAMESPACE/NAME and has it post to the pending board - a read
 * when the data changed, a check when only the state did; load() is
 * k8s_load(); identity() is k8s_identity(); state() is k8s_state() for the
 * status.  Without start() (the one-shot modes hotcfgd -n and --print),
 * load() asks the API server once with k8s_load_once().
 *
 * The client's options beyond NAMESPACE/NAME (kubeconfig, context, poll,
 * drop on delete, timings) come from k8s_opts_from_conf(), the one place
 * that maps a src_conf onto them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "k8s.h"
#include "kubeconfig.h"
#include "pending.h"
#include "source.h"

struct cmsrc {
	struct k8s *k;
	struct pending *pend;
	size_t id;
	char ns[64], name[254];
	char state[64];
};

/*
 * A src_conf onto k8s_opts.  path is "NAMESPACE/NAME" (config.c checked
 * it); strings point into c and into ns/name.  0 or -EINVAL.
 */
static int
k8s_opts_from_conf(const struct src_conf *c, struct k8s_opts *o,
    char *ns, size_t nslen, char *name, size_t namelen)
{
	const char *slash = strchr(c->path, '/');

	memset(o, 0, sizeof(*o));
	if (slash == NULL || (size_t)(slash - c->path) >= nslen ||
	    strlen(slash + 1) >= namelen)
		return -EINVAL;
	memcpy(ns, c->path, (size_t)(slash - c->path));
	ns[slash - c->path] = '\0';
	snprintf(name, namelen, "%s", slash + 1);
	o->ns = ns;
	o->name = name;
	o->label = c->name;
	/* Zero and NULL, what the configuration leaves out, are the
	 * client's defaults; the kubeconfig is the source's own, or the
	 * agent's (conf_finish()), else the usual search. */
	o->kubeconfig = c->kubeconfig;
	o->context = c->context;
	o->poll_ns = c->poll_ns;
	o->drop_on_delete = c->drop_on_delete;
	o->watch_min_ns = c->watch_timeout_ns;
	o->watch_max_ns = 2 * c->watch_timeout_ns;
	o->request_ns = c->request_timeout_ns;
	o->backoff_min_ns = c->backoff_ns;
	o->backoff_max_ns = c->backoff_max_ns;
	return 0;
}

static void
cm_notify(void *arg, unsigned what)
{
	struct cmsrc *c = arg;

	/* The k8s thread: posting is cheap and never blocks on a build. */
	pending_post(c->pend, c->id, (what & K8S_NOTIFY_DATA) ? PEND_READ :
	    PEND_CHECK, hc_mono_ns(), -1);
}

static int
cm_start(struct source *s, struct pending *p, struct cfg_error *err)
{
	struct cmsrc *c;
	struct k8s_opts o;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->pend = p;
	c->id = s->id;
	if ((rc = k8s_opts_from_conf(s->conf, &o, c->ns, sizeof(c->ns),
	    c->name, sizeof(c->name))) != 0) {
		memset(err, 0, sizeof(*err));
		snprintf(err->source, sizeof(err->source), "%s", s->conf->name);
		snprintf(err->msg, sizeof(err->msg), "not NAMESPACE/NAME");
		free(c);
		return rc;
	}
	if ((rc = k8s_start(&c->k, &o, cm_notify, c, err)) != 0) {
		free(c);
		return rc;
	}
	s->priv = c;
	return 0;
}

static void
cm_stop(struct source *s)
{
	struct cmsrc *c = s->priv;

	if (c == NULL)
		return;
	k8s_stop(c->k);         /* joins: no post after this */
	free(c);
	s->priv = NULL;
}

/* Whether credentials can be found for o (kubeconfig.h). */
static bool
found_creds(const struct k8s_opts *o)
{
	struct kube_opts ko;
	struct kube_creds cr;
	char why[256];
	int rc;

	memset(&ko, 0, sizeof(ko));
	memset(&cr, 0, sizeof(cr));
	ko.kubeconfig = o->kubeconfig;
	ko.context = o->context;
	ko.sa_dir = o->sa_dir;
	rc = kube_load(&cr, &ko, why, sizeof(why));
	kube_free(&cr);
	return rc == 0;
}

static int
cm_load(struct source *s, const struct cfg_limits *lim,
    struct cfg_node **out, struct cfg_error *err)
{
	struct cmsrc *c = s->priv;
	struct k8s_opts o;
	char ns[64], name[254];
	int rc;

	if (c != NULL)
		return k8s_load(c->k, (unsigned)s->id, lim, out, err);
	/* Not started: a one-shot mode.  Ask once. */
	*out = NULL;
	if (k8s_opts_from_conf(s->conf, &o, ns, sizeof(ns), name,
	    sizeof(name)) != 0) {
		memset(err, 0, sizeof(*err));
		snprintf(err->source, sizeof(err->source), "%s", s->conf->name);
		snprintf(err->msg, sizeof(err->msg), "not NAMESPACE/NAME");
		return -EINVAL;
	}
	rc = k8s_load_once(&o, (unsigned)s->id, lim, out, err);
	/* -ENOENT from k8s_start() means no credentials at all, not a
	 * missing ConfigMap: an error even for an optional source, as it
	 * is for the daemon. */
	if (rc == -ENOENT && !found_creds(&o))
		rc = -EINVAL;
	return rc;
}

static int
cm_identity(struct source *s, uint64_t *fp)
{
	struct cmsrc *c = s->priv;

	if (c == NULL)
		return -ENOSYS;         /* one-shot: always read */
	return k8s_identity(c->k, fp);
}

static const char *
cm_state(struct source *s, char *detail, size_t len)
{
	struct cmsrc *c = s->priv;

	if (c == NULL)
		return NULL;
	k8s_state(c->k, c->state, sizeof(c->state), detail, len);
	return c->state;
}

const struct source_ops k8s_source_ops = {
	.kind = "configmap",
	.inotify = false,
	.load = cm_load,
	.identity = cm_identity,
	.start = cm_start,
	.stop = cm_stop,
	.state = cm_state,
};
