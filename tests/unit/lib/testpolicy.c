/*
 * testpolicy.c - unit-test helpers (see testpolicy.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/policy.h"
#include "testpolicy.h"

struct policy *
testpolicy_new(const char *yaml)
{
	char err[CONFIG_ERR_MAX];
	struct config *cfg = NULL;
	struct policy *p;

	if (config_load_buffer("test.yaml", yaml, strlen(yaml), &cfg, err,
	    sizeof(err)) == -1) {
		printf("# config: %s\n", err);
		return NULL;
	}
	if ((p = policy_new(cfg, err, sizeof(err))) == NULL)
		printf("# policy: %s\n", err);
	return p;
}

void
testpolicy_addr_set(struct sockaddr_storage *ss, const char *ip,
    unsigned port)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		s6->sin6_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &s4->sin_addr);
		s4->sin_port = htons((uint16_t)port);
	}
}
