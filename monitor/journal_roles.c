/* monitor/journal_roles.c — fold journal records into roles (see journal_roles.h). */
#include "monitor/journal_roles.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *str(const json_t *rec, const char *key)
{
	const char *s = json_string_value(json_object_get(rec, key));

	return s ? s : "";
}

uint64_t journal_ts_ms(const char *ts)
{
	struct tm tm = { 0 };
	const char *rest = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
	unsigned ms = 0;
	time_t t;

	if (!rest || (*rest == '.' && sscanf(rest + 1, "%3u", &ms) != 1))
		return 0;
	t = timegm(&tm);
	return t < 0 ? 0 : (uint64_t)t * 1000 + ms;
}

bool journal_roles_is_out(const struct journal_roles *roles, const char *node)
{
	for (size_t i = 0; i < roles->n_out; i++)
		if (strcmp(roles->out[i], node) == 0)
			return true;
	return false;
}

static void set_out(struct journal_roles *roles, const char *node, bool out)
{
	for (size_t i = 0; i < roles->n_out; i++) {
		if (strcmp(roles->out[i], node) != 0)
			continue;
		if (!out)
			memmove(roles->out[i], roles->out[i + 1],
				(roles->n_out - i - 1) * sizeof(roles->out[0]));
		roles->n_out -= !out;
		return;
	}
	if (out && node[0] && roles->n_out < CONF_MAX_NODES)
		snprintf(roles->out[roles->n_out++], JOURNAL_NAME_MAX, "%s", node);
}

static void note_start(struct journal_roles *r, const json_t *rec, uint64_t epoch)
{
	uint64_t wall = journal_ts_ms(str(rec, "ts"));

	r->step = JSTEP_STARTED;
	r->fo_epoch = epoch;
	r->fo_switchover = json_is_true(json_object_get(rec, "switchover"));
	r->fo_manual = json_is_true(json_object_get(rec, "manual"));
	snprintf(r->fo_from, sizeof(r->fo_from), "%s", str(rec, "old_primary"));
	snprintf(r->fo_to, sizeof(r->fo_to), "%s", str(rec, "new_primary"));
	snprintf(r->fo_reason, sizeof(r->fo_reason), "%s", str(rec, "reason"));
	r->last_wall_ms = wall;
	if (r->fo_manual || !wall)
		return;
	if (r->n_auto == CONF_MAX_FAILOVERS) {
		memmove(r->auto_wall_ms, r->auto_wall_ms + 1,
			sizeof(r->auto_wall_ms) - sizeof(r->auto_wall_ms[0]));
		r->n_auto--;
	}
	r->auto_wall_ms[r->n_auto++] = wall;
}

/* Records that move a failover in flight forward. */
static bool fold_step(struct journal_roles *r, const char *event, const json_t *rec)
{
	if (strcmp(event, "fenced") == 0 && r->step == JSTEP_STARTED)
		r->step = JSTEP_FENCED;
	else if (strcmp(event, "promote_started") == 0 && r->step != JSTEP_NONE)
		r->step = JSTEP_PROMOTE_STARTED;
	else if (strcmp(event, "promoted") == 0) {
		/* The new primary is in charge from here, whatever happens to the balancers. */
		snprintf(r->primary, sizeof(r->primary), "%s", str(rec, "new_primary"));
		set_out(r, str(rec, "old_primary"), true);
		set_out(r, r->primary, false);
		if (r->step != JSTEP_NONE)
			r->step = JSTEP_PROMOTED;
	} else if (strcmp(event, "restore_started") == 0 && r->step != JSTEP_NONE)
		r->step = JSTEP_RESTORE_STARTED;
	else
		return false;
	return true;
}

/* A checkpoint (the head of a rotated journal) says it all at once. */
static void fold_checkpoint(struct journal_roles *r, const json_t *rec)
{
	const json_t *v;
	size_t i;

	snprintf(r->primary, sizeof(r->primary), "%s", str(rec, "primary"));
	r->step = JSTEP_NONE;
	r->paused = json_is_true(json_object_get(rec, "paused"));
	r->failed = json_is_true(json_object_get(rec, "failed"));
	r->n_out = 0;
	json_array_foreach(json_object_get(rec, "out"), i, v)
		set_out(r, json_string_value(v) ? json_string_value(v) : "", true);
	r->n_auto = 0;
	json_array_foreach(json_object_get(rec, "auto_wall_ms"), i, v)
		if (r->n_auto < CONF_MAX_FAILOVERS && json_integer_value(v) > 0)
			r->auto_wall_ms[r->n_auto++] = (uint64_t)json_integer_value(v);
	v = json_object_get(rec, "last_wall_ms");
	r->last_wall_ms = json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

void journal_roles_damage(struct journal_roles *r, const char *why)
{
	if (!r->damaged)
		snprintf(r->damage, sizeof(r->damage), "%s", why);
	r->damaged = true;
}

void journal_roles_fold(struct journal_roles *r, const char *cluster, const json_t *rec)
{
	const char *event = str(rec, "event");
	json_int_t epoch = json_integer_value(json_object_get(rec, "epoch"));

	if (strcmp(str(rec, "cluster"), cluster) != 0)
		return;
	if (epoch > 0 && (uint64_t)epoch > r->epoch)
		r->epoch = (uint64_t)epoch;
	if (strcmp(event, "checkpoint") == 0) {
		fold_checkpoint(r, rec);
	} else if (strcmp(event, "hold_resolved") == 0) {
		/* The operator's word on the roles: what came before no longer matters. */
		fold_checkpoint(r, rec);
		r->damaged = false;
		r->damage[0] = '\0';
	}
	else if (strcmp(event, "failover_started") == 0)
		note_start(r, rec, (uint64_t)epoch);
	else if (fold_step(r, event, rec))
		return;
	else if (strcmp(event, "paused") == 0)
		r->paused = true;
	else if (strcmp(event, "resumed") == 0)
		r->paused = r->failed = false;
	else if (strcmp(event, "failover") == 0 || strcmp(event, "switchover") == 0)
		r->step = JSTEP_NONE, r->failed = false;
	else if (strcmp(event, "failover_failed") == 0 || strcmp(event, "failover_interrupted") == 0)
		/* Held until resumed or a later failover succeeds, across restarts too. */
		r->step = JSTEP_NONE, r->failed = true;
	else if (strcmp(event, "rejoined") == 0)
		set_out(r, str(rec, "node"), false);
}
