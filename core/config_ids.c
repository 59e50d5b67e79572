/*
 * config_ids.c - agent users and groups given as names or numeric ids: the
 * one parser that the config file's firewall.agent_users/agent_groups and
 * the --agent-user/--agent-group options of `run` and `firewall apply` share.
 */
#include "core/config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>

int
config_id_parse(const char *s, int group, uint32_t *out)
{
	struct passwd *pw;
	struct group *gr;
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s >= '0' && *s <= '9' && *end == '\0') {
		if (errno != 0 || v >= UINT32_MAX)
			return -1;
		*out = (uint32_t)v;
		return 0;
	}
	if (group) {
		if ((gr = getgrnam(s)) == NULL)
			return -1;
		*out = gr->gr_gid;
	} else {
		if ((pw = getpwnam(s)) == NULL)
			return -1;
		*out = pw->pw_uid;
	}
	return 0;
}

/* Replace one list (uids or gids) of fw with names; see config.h. */
static int
agents_list_set(struct firewall_config *fw, int group, const char *const *v,
    size_t n, char *err, size_t errlen)
{
	const char *opt = group ? "--agent-group" : "--agent-user";
	size_t i, j, *cnt = group ? &fw->n_agent_gids : &fw->n_agent_uids;
	uint32_t id;

	if (n == 0)
		return 0;
	*cnt = 0;
	for (i = 0; i < n; i++) {
		if (config_id_parse(v[i], group, &id) == -1) {
			snprintf(err, errlen, "%s `%s': no such %s", opt, v[i],
			    group ? "group" : "user");
			return -1;
		}
		/* As in the config file: the engine runs as root:root. */
		if (id == 0) {
			snprintf(err, errlen, "%s `%s': %s 0 (root) cannot be "
			    "an agent", opt, v[i], group ? "gid" : "uid");
			return -1;
		}
		for (j = 0; j < *cnt; j++)
			if ((group ? fw->agent_gids[j] : fw->agent_uids[j]) ==
			    (id_t)id)
				break;
		if (j < *cnt)
			continue;
		if (*cnt >= FW_MAX_AGENTS) {
			snprintf(err, errlen, "%s: at most %d", opt,
			    FW_MAX_AGENTS);
			return -1;
		}
		if (group)
			fw->agent_gids[(*cnt)++] = (gid_t)id;
		else
			fw->agent_uids[(*cnt)++] = (uid_t)id;
	}
	return 0;
}

int
config_agents_set(struct config *cfg, const char *const *users,
    size_t nusers, const char *const *groups, size_t ngroups, char *err,
    size_t errlen)
{
	if (agents_list_set(&cfg->fw, 0, users, nusers, err, errlen) == -1 ||
	    agents_list_set(&cfg->fw, 1, groups, ngroups, err, errlen) == -1)
		return -1;
	return 0;
}
