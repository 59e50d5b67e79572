/*
 * tproxy_pipe.c - per-thread pool of empty relay pipes (see tproxy_pipe.h).
 *
 * Thread-local, so no lock: a worker thread only ever hands its pipes to
 * its own connections.  The pool is small (PIPE_POOL_MAX pipes, two fds
 * each) so that it fits the engine's fd reserve whatever the worker count;
 * an fd shortage empties it (conn_accept_all) before accept backs off.
 */
#include "tproxy/tproxy_pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PIPE_POOL_MAX	16	/* pipes kept per thread */

struct pipe_slot {
	int	fds[2];
	size_t	cap;
};

static __thread struct pipe_slot pipe_pool[PIPE_POOL_MAX];
static __thread int pipe_pool_n;

int
tproxy_pipe_get(int fds[2], size_t *cap)
{
	int sz;

	if (pipe_pool_n > 0) {
		pipe_pool_n--;
		fds[0] = pipe_pool[pipe_pool_n].fds[0];
		fds[1] = pipe_pool[pipe_pool_n].fds[1];
		*cap = pipe_pool[pipe_pool_n].cap;
		return 0;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
		fds[0] = fds[1] = -1;
		return -1;
	}
	/* the default (16 pages) is the fallback if the size is refused */
	(void)fcntl(fds[1], F_SETPIPE_SZ, TPROXY_PIPE_SIZE);
	sz = fcntl(fds[1], F_GETPIPE_SZ);
	*cap = sz > 0 ? (size_t)sz : 4096;
	return 0;
}

void
tproxy_pipe_put(int fds[2], size_t cap)
{
	int queued = -1;

	if (fds[0] == -1)
		return;
	/*
	 * Ask the kernel rather than trust the relay's count: a pipe with a
	 * byte left in it would hand that byte to the next connection.
	 */
	if (pipe_pool_n < PIPE_POOL_MAX && fds[1] != -1 &&
	    ioctl(fds[0], FIONREAD, &queued) == 0 && queued == 0) {
		pipe_pool[pipe_pool_n].fds[0] = fds[0];
		pipe_pool[pipe_pool_n].fds[1] = fds[1];
		pipe_pool[pipe_pool_n].cap = cap;
		pipe_pool_n++;
	} else {
		close(fds[0]);
		if (fds[1] != -1)
			close(fds[1]);
	}
	fds[0] = fds[1] = -1;
}

void
tproxy_pipe_thread_free(void)
{
	while (pipe_pool_n > 0) {
		pipe_pool_n--;
		close(pipe_pool[pipe_pool_n].fds[0]);
		close(pipe_pool[pipe_pool_n].fds[1]);
	}
}
