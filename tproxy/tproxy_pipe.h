/*
 * tproxy_pipe.h - the splice relay's pipes, recycled per worker thread.
 *
 * A relayed direction splices socket -> pipe -> socket.  Creating a pipe
 * (pipe2 + F_SETPIPE_SZ) and closing it again cost a connection-per-request
 * load about 5 % of the engine's CPU, so each worker thread keeps a few
 * empty pipes of the relay's size for the next connection.  A pipe goes
 * back only when the kernel says it is empty: bytes of one connection must
 * never reach another.
 */
#ifndef PIPELOCK_TPROXY_PIPE_H
#define PIPELOCK_TPROXY_PIPE_H

#include <stddef.h>

/*
 * Bytes a relay pipe holds.  Larger measured slower (1 MiB bodies, 256 KiB
 * pipes: more CPU per byte, the in-flight data leaves the caches).
 */
#define TPROXY_PIPE_SIZE	65536

/*
 * A non-blocking, close-on-exec pipe of the relay's size: fds[0] read end,
 * fds[1] write end, *cap its capacity in bytes.  From this thread's pool
 * when it has one, else new.  0, or -1 (errno set; fds set to -1).
 */
int tproxy_pipe_get(int fds[2], size_t *cap);

/*
 * Give a pipe back (fds[0] == -1: nothing to do) with the capacity
 * tproxy_pipe_get() reported.  Kept for this thread if it is empty and the
 * pool has room, closed otherwise.  fds are set to -1.
 */
void tproxy_pipe_put(int fds[2], size_t cap);

/* Close this thread's pooled pipes (a worker's exit). */
void tproxy_pipe_thread_free(void);

#endif
