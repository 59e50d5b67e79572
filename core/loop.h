/*
 * loop.h - a small ae-like event loop over epoll, one per worker thread.
 *
 * fd -> {interest mask, callback, ctx}.  Level-triggered: a callback that
 * stops making progress clears its interest with loop_set() (want_read /
 * want_write are the caller's state; EAGAIN is how it learns "can't").
 * Every registration gets a generation number, so an event that was already
 * fetched for an fd which a previous callback closed (and perhaps reused for
 * a new connection) in the same iteration is dropped, never delivered to the
 * wrong owner.  Objects are freed by their owners after loop_once() returns
 * (mark and reap), never inside a callback.
 */
#ifndef PIPELOCK_LOOP_H
#define PIPELOCK_LOOP_H

#include <stdint.h>

#define LOOP_READ	0x1
#define LOOP_WRITE	0x2
#define LOOP_ERROR	0x4	/* EPOLLERR/EPOLLHUP: always reported */

struct loop;

/* A new loop, or NULL (errno set). */
struct loop *loop_new(void);
/* Closes the epoll fd; registered fds are the owners' to close.  NULL ok. */
void loop_free(struct loop *l);

/*
 * Register fd with an interest mask (0 allowed).  fn is called with the
 * ready mask (LOOP_READ | LOOP_WRITE | LOOP_ERROR) and ctx until loop_del().  0 on success, -1 (errno) on failure.
 */
int loop_add(struct loop *l, int fd, int mask,
    void (*fn)(struct loop *, int, int, void *), void *ctx);
/* Change the interest mask of a registered fd (no syscall if unchanged). */
int loop_set(struct loop *l, int fd, int mask);
/* Forget fd (before closing it).  Unknown fds are ignored. */
void loop_del(struct loop *l, int fd);

/*
 * Wait up to timeout_ms (-1: forever) and run the callbacks of ready fds.
 * Returns the number of events, 0 on timeout or EINTR, -1 on error.
 */
int loop_once(struct loop *l, int timeout_ms);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t loop_now_ms(void);

#endif
