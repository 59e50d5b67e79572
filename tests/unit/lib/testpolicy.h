/*
 * testpolicy.h - unit-test helpers: a real policy (config + compiled
 * scanner) from YAML text, and socket addresses from strings.
 */
#ifndef PIPELOCK_TESTPOLICY_H
#define PIPELOCK_TESTPOLICY_H

#include <sys/socket.h>

struct policy;

/* The policy of config text yaml; NULL (with a TAP diag line) on error. */
struct policy *testpolicy_new(const char *yaml);

/* ss = ip (IPv4 or IPv6 text) and port. */
void testpolicy_addr_set(struct sockaddr_storage *ss, const char *ip,
    unsigned port);

#endif
