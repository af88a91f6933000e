/*
 * k8sdrive - exercise the ConfigMap source's threading in a process of its
 * own, so that `make tsan` can run it under ThreadSanitizer (Criterion
 * itself cannot run under TSan; see the Makefile).
 *
 *   k8sdrive DIR KUBECONFIG
 *
 * DIR is a running test API server's directory (tests/k8s/apiserver.py).
 * While the k8s thread applies a stream of updates and recovers from cut
 * connections, three reader threads call k8s_load(), k8s_state(),
 * k8s_identity() and k8s_get_stats() without pause, and the notify
 * callback counts from the k8s thread.  Then the source is started and
 * stopped repeatedly, some of the time mid-connection.  Exit 0 when every
 * update was seen; 1 with the reason on stderr; 66 from TSan on a race.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8sserver.h"
#include "log.h"

static atomic_bool done;
static atomic_ulong notes;

static void
on_notify(void *arg, unsigned what)
{
	(void)arg;
	(void)what;
	atomic_fetch_add(&notes, 1);
}

static void *
reader(void *arg)
{
	struct k8s *k = arg;
	unsigned long n = 0;

	while (!atomic_load(&done)) {
		char st[64], detail[256];
		struct k8s_stats s;
		uint64_t fp;
		char *v = k8s_text(k, "k");

		free(v);
		k8s_state(k, st, sizeof(st), detail, sizeof(detail));
		k8s_identity(k, &fp);
		k8s_get_stats(k, &s);
		n++;
	}
	return (void *)(uintptr_t)n;
}

static int
fail(const char *what)
{
	fprintf(stderr, "k8sdrive: %s\n", what);
	return 1;
}

int
main(int argc, char **argv)
{
	struct k8ssrv s;
	struct k8s_opts o;
	struct k8s *k = NULL;
	struct cfg_error err;
	pthread_t th[3];
	char urlf[256], v[32], logf[256];
	int i, rc = 1;
	bool ok;

	if (argc != 3) {
		fprintf(stderr, "usage: k8sdrive DIR KUBECONFIG\n");
		return 2;
	}
	memset(&s, 0, sizeof(s));
	snprintf(s.dir, sizeof(s.dir), "%s", argv[1]);
	k8ssrv_path(&s, "url", urlf, sizeof(urlf));
	if (k8ssrv_readfile(urlf, s.url, sizeof(s.url)) != 0)
		return fail("no url file in DIR");
	k8ssrv_path(&s, "drive.log", logf, sizeof(logf));
	log_open(logf, LOGL_DEBUG);
	if (k8ssrv_put1(&s, "default", "app", "a.yaml", "k: 0") != 200)
		return fail("cannot create the ConfigMap");

	memset(&o, 0, sizeof(o));
	o.kubeconfig = argv[2];
	o.ns = "default";
	o.name = "app";
	o.backoff_min_ns = 5 * 1000000LL;
	o.backoff_max_ns = 50 * 1000000LL;
	if (k8s_start(&k, &o, on_notify, NULL, &err) != 0)
		return fail(err.msg);
	for (i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, reader, k);
	K8S_WAIT(ok, k8s_has(k, "k", "0"), 20000);
	if (!ok) {
		fail("never synced");
		goto out;
	}
	for (i = 1; i <= 30; i++) {
		if (i % 3 == 0)
			k8ssrv_cut(&s, i % 2 ? "{\"mid_chunk\": true}" : "{}");
		snprintf(v, sizeof(v), "k: %d", i);
		if (k8ssrv_put1(&s, "default", "app", "a.yaml", v) != 200) {
			fail("update refused");
			goto out;
		}
		if (i % 5 == 0) {
			snprintf(v, sizeof(v), "%d", i);
			K8S_WAIT(ok, k8s_has(k, "k", v), 20000);
			if (!ok) {
				fail("update not seen");
				goto out;
			}
		}
	}
	rc = 0;
out:
	atomic_store(&done, true);
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	k8s_stop(k);
	if (rc != 0)
		return rc;

	/* Start and stop, synced or not. */
	for (i = 0; i < 20; i++) {
		if (k8s_start(&k, &o, on_notify, NULL, &err) != 0)
			return fail(err.msg);
		if (i % 2 == 0) {
			K8S_WAIT(ok, k8s_has(k, "k", "30"), 20000);
			if (!ok) {
				k8s_stop(k);
				return fail("restart did not sync");
			}
		}
		k8s_stop(k);
	}
	printf("k8sdrive: ok, %lu notifications\n", atomic_load(&notes));
	log_close();
	return 0;
}
