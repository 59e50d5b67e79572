/*
 * fuzz_config.c - libFuzzer target for the YAML config loader.
 *
 * Besides "no crash, no leak", checks config_load_buffer's contract: it
 * either returns 0 with a config or -1 with an error message that starts
 * with the file name and carries a position (FILE:LINE:COL:) when the
 * document was readable, and a loaded config is internally consistent
 * (fail-closed invariants the firewall and engine rely on).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	char err[CONFIG_ERR_MAX];
	size_t i;

	if (config_load_buffer("fuzz.yaml", (const char *)data, size, &cfg,
	    err, sizeof(err)) == -1) {
		if (cfg != NULL || strncmp(err, "fuzz.yaml", 9) != 0)
			abort();
		return 0;
	}
	if (cfg == NULL)
		abort();
	if (cfg->fw.mark == 0 || (cfg->fw.mark & cfg->fw.engine_mark) != 0)
		abort();
	for (i = 0; i < cfg->fw.n_agent_uids; i++)
		if (cfg->fw.agent_uids[i] == 0)
			abort();
	if (cfg->mode == MODE_STRICT && cfg->scanner.api_allowlist.n == 0)
		abort();
	if (cfg->fw.n_loopback_ports > FW_MAX_LOOPBACK_PORTS ||
	    cfg->fw.n_agent_uids > FW_MAX_AGENTS)
		abort();
	for (i = 0; i < cfg->scanner.npatterns; i++)
		if (cfg->scanner.patterns[i].name == NULL ||
		    cfg->scanner.patterns[i].regex == NULL)
			abort();
	config_free(cfg);
	return 0;
}
