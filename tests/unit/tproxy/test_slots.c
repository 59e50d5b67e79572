/*
 * test_slots.c - the engine's connection slots: the total and per-agent
 * limits refuse with the limit's name, uids are counted separately, and
 * released slots can be taken again (the table never fills with uids that
 * have no connection left).
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tproxy/engine.h"

int
main(void)
{
	struct engine *e = calloc(1, sizeof(*e));
	const char *why = NULL;
	int i, bad = 0;

	pthread_mutex_init(&e->uid_lock, NULL);
	for (i = 0; i < 3; i++)
		is_int(engine_slot_take(e, 1000, 10, 3, &why), 0, "uid 1000 slot %d", i + 1);
	is_int(engine_slot_take(e, 1000, 10, 3, &why), -1, "4th slot of uid 1000 refused");
	is_str(why, "firewall.max_conns_per_agent", "named limit");
	is_int(engine_slot_take(e, 1001, 10, 3, &why), 0, "uid 1001 has its own budget");
	is_int(e->conns_total, 4, "total counts only taken slots");
	engine_slot_put(e, 1000);
	is_int(engine_slot_take(e, 1000, 10, 3, &why), 0, "released slot taken again");

	for (i = 0; i < 6; i++)
		engine_slot_take(e, 2000 + i, 10, 3, &why);
	is_int(e->conns_total, 10, "ten slots in use");
	is_int(engine_slot_take(e, 3000, 10, 3, &why), -1, "11th refused by the total");
	is_str(why, "firewall.max_conns_total", "named limit");

	/* churn far more uids than the table holds, one at a time */
	for (i = 0; i < 10 * ENGINE_UID_SLOTS; i++) {
		if (engine_slot_take(e, 50000 + i, 0, 0, &why) != 0)
			bad++;
		engine_slot_put(e, 50000 + i);
	}
	is_int(bad, 0, "uids without connections give their entries back");
	is_int(e->conns_total, 10, "churn left the total unchanged");
	pthread_mutex_destroy(&e->uid_lock);
	free(e);
	return tap_done();
}
