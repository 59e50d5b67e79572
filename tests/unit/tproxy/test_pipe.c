/*
 * test_pipe.c - the relay's pipe pool and the per-thread owner lookup:
 * an empty pipe is reused by the next connection of the thread, a pipe
 * with a byte left in it never is (closed instead), the pool is bounded
 * and emptied on request; sockdiag_owner_find() answers repeatedly over
 * its kept socket (our own uid and inode for a loopback connection, no
 * answer for a 4-tuple nobody has), also after the socket was dropped; the
 * process holding a socket inode, again from the last answer's hint.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "core/sockdiag.h"
#include "tproxy/tproxy_pipe.h"

#define MANY	40	/* more than the pool keeps */

static int
fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static void
test_pool(void)
{
	int a[2], b[2], c[2], many[MANY][2], kept[MANY], i, got = 0;
	int open_n = 0;
	size_t cap, cap2;
	char x = 'x';

	ok(tproxy_pipe_get(a, &cap) == 0, "a new pipe");
	ok(cap >= 4096, "its capacity is known (%zu)", cap);
	ok(fcntl(a[0], F_GETFL) & O_NONBLOCK, "non-blocking");
	ok(fcntl(a[1], F_GETFD) & FD_CLOEXEC, "close-on-exec");
	b[0] = a[0];
	b[1] = a[1];
	tproxy_pipe_put(a, cap);
	ok(a[0] == -1 && a[1] == -1, "put clears the caller's fds");
	ok(fd_open(b[0]) && fd_open(b[1]), "an empty pipe is kept open");
	ok(tproxy_pipe_get(c, &cap2) == 0 && c[0] == b[0] && c[1] == b[1],
	    "the next get reuses it");
	is_int((int)cap2, (int)cap, "with its capacity");

	/* a byte left in it: never handed to another connection */
	ok(write(c[1], &x, 1) == 1, "one byte left in the pipe");
	b[0] = c[0];
	b[1] = c[1];
	tproxy_pipe_put(c, cap2);
	ok(!fd_open(b[0]) && !fd_open(b[1]), "a non-empty pipe is closed");
	ok(tproxy_pipe_get(c, &cap2) == 0, "a fresh pipe after that");
	ok(read(c[0], &x, 1) == -1 && errno == EAGAIN, "and it is empty");
	tproxy_pipe_put(c, cap2);

	/* bounded: of MANY pipes given back only some stay open */
	tproxy_pipe_thread_free();
	for (i = 0; i < MANY; i++)
		got += tproxy_pipe_get(many[i], &cap) == 0;
	is_int(got, MANY, "%d pipes at once", MANY);
	for (i = 0; i < MANY; i++) {
		kept[i] = many[i][0];
		tproxy_pipe_put(many[i], cap);
	}
	for (i = 0; i < MANY; i++)
		open_n += fd_open(kept[i]);
	ok(open_n > 0 && open_n < MANY, "the pool keeps %d of %d", open_n,
	    MANY);
	tproxy_pipe_thread_free();
	for (i = 0, open_n = 0; i < MANY; i++)
		open_n += fd_open(kept[i]);
	is_int(open_n, 0, "thread_free closes the pooled pipes");
}

static void
test_owner(void)
{
	struct sockaddr_in lsa, csa, ssa;
	struct sockdiag_owner own;
	socklen_t sl;
	struct stat st;
	int l, cl, sv, i, hits = 0;

	memset(&lsa, 0, sizeof(lsa));
	lsa.sin_family = AF_INET;
	lsa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	cl = socket(AF_INET, SOCK_STREAM, 0);
	sl = sizeof(lsa);
	if (l == -1 || cl == -1 ||
	    bind(l, (struct sockaddr *)&lsa, sizeof(lsa)) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&lsa, &sl) == -1 ||
	    connect(cl, (struct sockaddr *)&lsa, sizeof(lsa)) == -1 ||
	    (sv = accept(l, NULL, NULL)) == -1) {
		diag("skipped: loopback TCP: %s", strerror(errno));
		return;
	}
	sl = sizeof(csa);
	getsockname(cl, (struct sockaddr *)&csa, &sl);
	sl = sizeof(ssa);
	getsockname(sv, (struct sockaddr *)&ssa, &sl);
	fstat(cl, &st);
	/* the engine's view: its peer is the agent's local end */
	for (i = 0; i < 3; i++) {
		memset(&own, 0, sizeof(own));
		if (sockdiag_owner_find((struct sockaddr *)&csa,
		    (struct sockaddr *)&ssa, IPPROTO_TCP, &own) == 0 &&
		    own.uid == getuid() && own.inode == st.st_ino)
			hits++;
		if (i == 1)
			sockdiag_thread_free();	/* the next one opens anew */
	}
	if (hits == 0 && errno == EPROTONOSUPPORT) {
		diag("skipped: no sock_diag here");
	} else {
		is_int(hits, 3, "owner uid and inode, three times over one "
		    "kept socket (and a new one)");
	}
	/* the process: a full /proc scan, then the same answer by the hint */
	for (i = 0, hits = 0; i < 2; i++) {
		pid_t pid = 0;
		char exe[256];

		if (sockdiag_inode_process(st.st_ino, &pid, exe,
		    sizeof(exe)) == 0 && pid == getpid() && exe[0] == '/')
			hits++;
	}
	is_int(hits, 2, "our pid and exe for the socket's inode, twice");
	/* nobody has this 4-tuple */
	csa.sin_port = htons(1);
	ok(sockdiag_owner_find((struct sockaddr *)&csa,
	    (struct sockaddr *)&ssa, IPPROTO_TCP, &own) == -1,
	    "no answer for a 4-tuple nobody has");
	csa.sin_family = AF_INET6;
	ok(sockdiag_owner_find((struct sockaddr *)&csa,
	    (struct sockaddr *)&ssa, IPPROTO_TCP, &own) == -1,
	    "mixed families refused");
	sockdiag_thread_free();
	close(sv);
	close(cl);
	close(l);
}

int
main(void)
{
	test_pool();
	test_owner();
	return tap_done();
}
