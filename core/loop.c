/*
 * loop.c - epoll event loop (see loop.h).
 */
#include "core/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOOP_BATCH	128	/* events fetched per epoll_wait */

struct loop_fd {
	int		 mask;		/* interest */
	int		 used;
	uint32_t	 gen;
	void		(*fn)(struct loop *, int, int, void *);
	void		*ctx;
};

struct loop {
	int		 epfd;
	struct loop_fd	*fds;
	int		 nfds;		/* size of fds[] */
	uint32_t	 gen;
	struct epoll_event events[LOOP_BATCH];
};

uint64_t
loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct loop *
loop_new(void)
{
	struct loop *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		free(l);
		return NULL;
	}
	return l;
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	if (l->epfd != -1)
		close(l->epfd);
	free(l->fds);
	free(l);
}

static uint32_t
loop_epoll_mask(int mask)
{
	uint32_t ev = 0;

	if (mask & LOOP_READ)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (mask & LOOP_WRITE)
		ev |= EPOLLOUT;
	return ev;
}

static int
loop_grow(struct loop *l, int fd)
{
	struct loop_fd *n;
	int size = l->nfds ? l->nfds : 64;

	while (size <= fd)
		size *= 2;
	if ((n = realloc(l->fds, (size_t)size * sizeof(*n))) == NULL)
		return -1;
	memset(n + l->nfds, 0, (size_t)(size - l->nfds) * sizeof(*n));
	l->fds = n;
	l->nfds = size;
	return 0;
}

int
loop_add(struct loop *l, int fd, int mask,
    void (*fn)(struct loop *, int, int, void *), void *ctx)
{
	struct epoll_event ev;
	struct loop_fd *f;

	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (fd >= l->nfds && loop_grow(l, fd) == -1)
		return -1;
	f = &l->fds[fd];
	memset(&ev, 0, sizeof(ev));
	ev.events = loop_epoll_mask(mask);
	l->gen++;
	ev.data.u64 = (uint64_t)l->gen << 32 | (uint32_t)fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		return -1;
	f->used = 1;
	f->mask = mask;
	f->gen = l->gen;
	f->fn = fn;
	f->ctx = ctx;
	return 0;
}

int
loop_set(struct loop *l, int fd, int mask)
{
	struct epoll_event ev;
	struct loop_fd *f;

	if (fd < 0 || fd >= l->nfds || !l->fds[fd].used) {
		errno = EBADF;
		return -1;
	}
	f = &l->fds[fd];
	if (f->mask == mask)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.events = loop_epoll_mask(mask);
	ev.data.u64 = (uint64_t)f->gen << 32 | (uint32_t)fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) == -1)
		return -1;
	f->mask = mask;
	return 0;
}

void
loop_del(struct loop *l, int fd)
{
	if (fd < 0 || fd >= l->nfds || !l->fds[fd].used)
		return;
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	memset(&l->fds[fd], 0, sizeof(l->fds[fd]));
}

int
loop_once(struct loop *l, int timeout_ms)
{
	struct loop_fd *f;
	uint32_t gen, e;
	int n, i, fd, ready;

	n = epoll_wait(l->epfd, l->events, LOOP_BATCH, timeout_ms);
	if (n == -1)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < n; i++) {
		fd = (int)(uint32_t)l->events[i].data.u64;
		gen = (uint32_t)(l->events[i].data.u64 >> 32);
		e = l->events[i].events;
		/* closed, or closed and reused, by an earlier callback */
		if (fd >= l->nfds || !l->fds[fd].used || l->fds[fd].gen != gen)
			continue;
		f = &l->fds[fd];
		ready = 0;
		if (e & (EPOLLIN | EPOLLRDHUP))
			ready |= LOOP_READ;
		if (e & EPOLLOUT)
			ready |= LOOP_WRITE;
		if (e & (EPOLLERR | EPOLLHUP))
			ready |= LOOP_ERROR | LOOP_READ | LOOP_WRITE;
		f->fn(l, fd, ready, f->ctx);
	}
	return n;
}
