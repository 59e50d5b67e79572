/*
 * hsdb.c - the scanner's Vectorscan database, compiled in a child process.
 *
 * hs_compile_multi() runs Vectorscan's whole compiler: it pages in ~3.7 MiB
 * of libhs text and grows the heap by more, and glibc keeps both resident
 * in a long-running engine (at start and again on every reload).  A fork()ed
 * child compiles instead, from the expressions it inherited, and sends back
 * hs_serialize_database()'s image; the engine only runs
 * hs_deserialize_database(), a small part of the runtime it pages in anyway
 * to scan.
 *
 * fork() and not posix_spawn() of our own binary: the child needs nothing
 * but the memory it inherits, no command line, no /proc/self/exe and no
 * re-exec after privileges were dropped.  The engine is multi-threaded at a
 * reload; the child only calls the Vectorscan compiler (C++, malloc: glibc
 * keeps malloc usable after fork), write() and _exit(), never stdio, locks
 * of ours, OpenSSL or logging.
 *
 * Wire format child -> parent: struct hsdb_answer, then msglen bytes of
 * Vectorscan's message (status -1), or dblen bytes of the image (status 0).
 */
#include "core/hsdb.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hs.h>

#include "core/log.h"
#include "core/loop.h"

#define HSDB_MAGIC	0x68736462u	/* "hsdb" */
#define HSDB_MSG_MAX	1024u

struct hsdb_answer {
	uint32_t	magic;
	int32_t		status;		/* 0 ok, -1 Vectorscan error */
	int32_t		bad;		/* rejected expression or -1 */
	uint32_t	msglen;
	uint64_t	dblen;
};

int
hsdb_compile_here(const char *const *exprs, const unsigned *flags,
    const unsigned *ids, unsigned n, char **db, size_t *dblen, int *bad,
    char *err, size_t errlen)
{
	hs_compile_error_t *cerr = NULL;
	hs_database_t *hdb = NULL;
	int ret = -1;

	*bad = -1;
	*db = NULL;
	*dblen = 0;
	if (hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &hdb,
	    &cerr) != HS_SUCCESS) {
		*bad = cerr != NULL ? cerr->expression : -1;
		snprintf(err, errlen, "%s", cerr != NULL ? cerr->message :
		    "compile failed");
		goto cleanup;
	}
	/* the default misc allocator is malloc(): the caller free()s it */
	if (hs_serialize_database(hdb, db, dblen) != HS_SUCCESS) {
		snprintf(err, errlen, "cannot serialize the database");
		goto cleanup;
	}
	ret = 0;
cleanup:
	hs_free_compile_error(cerr);
	hs_free_database(hdb);
	return ret;
}

static int
hsdb_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The child: compile, answer, exit without running the parent's atexit. */
static void __attribute__((noreturn))
hsdb_child(int fd, pid_t parent, const char *const *exprs,
    const unsigned *flags, const unsigned *ids, unsigned n)
{
	struct hsdb_answer a = { .magic = HSDB_MAGIC };
	char msg[HSDB_MSG_MAX], *db = NULL;
	size_t dblen = 0;
	int bad;

	/* an engine killed mid-compile must not leave us behind */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(1);
	msg[0] = '\0';
	if (hsdb_compile_here(exprs, flags, ids, n, &db, &dblen, &bad, msg,
	    sizeof(msg)) == 0) {
		a.dblen = dblen;
	} else {
		a.status = -1;
		a.bad = bad;
		a.msglen = (uint32_t)strlen(msg);
	}
	if (hsdb_write_all(fd, &a, sizeof(a)) == -1 ||
	    hsdb_write_all(fd, a.status == 0 ? db : msg,
	    a.status == 0 ? dblen : a.msglen) == -1)
		_exit(1);
	free(db);	/* for leak checkers that follow the fork */
	_exit(0);
}

/* Read exactly len bytes before the deadline; -1 with errno (ETIMEDOUT). */
static int
hsdb_read_all(int fd, void *buf, size_t len, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char *p = buf;
	long long left;
	ssize_t r;
	int pr;

	while (len > 0) {
		if ((left = deadline - (long long)loop_now_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pr = poll(&pfd, 1, (int)left);
		if (pr == -1 && errno == EINTR)
			continue;
		if (pr == -1)
			return -1;
		if (pr == 0)
			continue;
		r = read(fd, p, len);
		if (r == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r == -1)
			return -1;
		if (r == 0) {
			errno = EPIPE;	/* the child went away */
			return -1;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int
hsdb_compile(const char *const *exprs, const unsigned *flags,
    const unsigned *ids, unsigned n, char **db, size_t *dblen, int *bad,
    char *err, size_t errlen)
{
	struct hsdb_answer a;
	long long deadline;
	char *img = NULL;
	int fds[2] = { -1, -1 }, status = 0, ret = -1, saved, died = 0;
	pid_t pid, self = getpid();

	*bad = -1;
	*db = NULL;
	*dblen = 0;
	if (pipe2(fds, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		log_warn("dlp: cannot start the Vectorscan compiler process; "
		    "compiling in the engine (more resident memory)");
		if (fds[0] != -1) {
			close(fds[0]);
			close(fds[1]);
		}
		return hsdb_compile_here(exprs, flags, ids, n, db, dblen, bad,
		    err, errlen);
	}
	if (pid == 0) {
		close(fds[0]);
		hsdb_child(fds[1], self, exprs, flags, ids, n);
	}
	close(fds[1]);
	fds[1] = -1;
	deadline = (long long)loop_now_ms() + HSDB_TIMEOUT_MS;
	if (hsdb_read_all(fds[0], &a, sizeof(a), deadline) == -1)
		goto fail_io;
	if (a.magic != HSDB_MAGIC || (a.status != 0 && a.status != -1) ||
	    (a.status == 0 && (a.dblen == 0 || a.dblen > HSDB_IMAGE_MAX)) ||
	    (a.status == -1 && a.msglen >= HSDB_MSG_MAX)) {
		snprintf(err, errlen, "the compiler process answered garbage");
		goto kill;
	}
	if (a.status == -1) {
		char msg[HSDB_MSG_MAX];

		if (hsdb_read_all(fds[0], msg, a.msglen, deadline) == -1)
			goto fail_io;
		msg[a.msglen] = '\0';
		snprintf(err, errlen, "%s", msg);
		*bad = a.bad;
		goto reap;
	}
	if ((img = malloc(a.dblen)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto kill;
	}
	if (hsdb_read_all(fds[0], img, a.dblen, deadline) == -1)
		goto fail_io;
	*db = img;
	*dblen = a.dblen;
	img = NULL;
	ret = 0;
	goto reap;
fail_io:
	saved = errno;
	if (saved == ETIMEDOUT)
		snprintf(err, errlen, "the compiler process took more than "
		    "%d s", HSDB_TIMEOUT_MS / 1000);
	else if (saved == EPIPE) {
		died = 1;
		snprintf(err, errlen, "the compiler process died");
	}
	else
		snprintf(err, errlen, "reading from the compiler process: %s",
		    strerror(saved));
kill:
	kill(pid, SIGKILL);
reap:
	close(fds[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (died && WIFSIGNALED(status))
		snprintf(err, errlen, "the compiler process died (signal %d)",
		    WTERMSIG(status));
	free(img);
	return ret;
}
