/*
 * pending.c - the board of changed sources between the threads that see
 * changes and the main loop that rebuilds (see pending.h).
 *
 * A mutex guards a small array, one slot per source.  An eventfd wakes
 * the main loop; it is written after the slot is updated, so the loop that
 * wakes always finds the post.  Nothing here allocates after creation.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pending.h"

struct slot {
	int how;
	int64_t due;
	int64_t hold;
};

struct pending {
	pthread_mutex_t mtx;
	int efd;
	size_t n;
	struct slot s[];
};

int
pending_new(struct pending **out, size_t nsrc)
{
	struct pending *p;
	int rc;

	*out = NULL;
	p = calloc(1, sizeof(*p) + nsrc * sizeof(p->s[0]));
	if (p == NULL)
		return -ENOMEM;
	p->n = nsrc;
	if ((p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rc = -errno;
		free(p);
		return rc;
	}
	pthread_mutex_init(&p->mtx, NULL);
	*out = p;
	return 0;
}

void
pending_free(struct pending *p)
{
	if (p == NULL)
		return;
	close(p->efd);
	pthread_mutex_destroy(&p->mtx);
	free(p);
}

int
pending_fd(const struct pending *p)
{
	return p->efd;
}

void
pending_drain(struct pending *p)
{
	uint64_t v;

	/* Non-blocking: EAGAIN when nothing was posted. */
	while (read(p->efd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
}

static void
wake(struct pending *p)
{
	uint64_t one = 1;

	/* EAGAIN would mean the counter is full, which still wakes. */
	while (write(p->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

void
pending_post(struct pending *p, size_t id, int how, int64_t due,
    int64_t hold)
{
	struct slot *s;

	if (id >= p->n || how == PEND_NONE)
		return;
	pthread_mutex_lock(&p->mtx);
	s = &p->s[id];
	/* A check (a name gone, an attribute changed) never brings a
	 * pending source forward: vim's chmod right after its write must
	 * not cut short the wait for its backup file to go. */
	if (how == PEND_READ || s->how == PEND_NONE || due > s->due)
		s->due = due;
	if (how > s->how)
		s->how = how;
	if (hold >= 0)
		s->hold = hold;
	pthread_mutex_unlock(&p->mtx);
	wake(p);
}

void
pending_post_all(struct pending *p, int how, int64_t due)
{
	size_t i;

	if (how == PEND_NONE)
		return;
	pthread_mutex_lock(&p->mtx);
	for (i = 0; i < p->n; i++) {
		struct slot *s = &p->s[i];

		/* A source already pending keeps its later due time: a
		 * rescan must not cut short a delete's grace window. */
		if (s->how == PEND_NONE || due > s->due)
			s->due = due;
		if (how > s->how)
			s->how = how;
	}
	pthread_mutex_unlock(&p->mtx);
	wake(p);
}

size_t
pending_take(struct pending *p, int64_t now, int *how, int64_t *next)
{
	size_t i, taken = 0;
	int64_t nx = INT64_MAX;

	pthread_mutex_lock(&p->mtx);
	for (i = 0; i < p->n; i++) {
		struct slot *s = &p->s[i];
		int64_t at = s->due > s->hold ? s->due : s->hold;

		how[i] = PEND_NONE;
		if (s->how == PEND_NONE)
			continue;
		if (at <= now) {
			how[i] = s->how;
			s->how = PEND_NONE;
			taken++;
		} else if (at < nx) {
			nx = at;
		}
	}
	pthread_mutex_unlock(&p->mtx);
	*next = nx;
	return taken;
}
