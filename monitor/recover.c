/* monitor/recover.c — whether a journal may be trusted at start-up (see recover.h). */
#include "monitor/recover.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void recover_read_marks(const struct conf_cluster *conf, const char *const *sources,
			struct recover_mark *marks)
{
	for (size_t i = 0; i < conf->n_balancers; i++) {
		struct recover_mark *m = &marks[i];

		memset(m, 0, sizeof(*m));
		m->source = sources[i];
		m->found = conf->balancers[i].file ?
			   render_mark_read(conf->balancers[i].file, &m->mark, m->error,
					    sizeof(m->error)) : 0;
	}
}

/* The primary the journal says: its own word, or the config's when it never said. */
static const char *journal_primary(const struct conf_cluster *conf, const struct journal_roles *r)
{
	for (size_t i = 0; !r->primary[0] && i < conf->n_nodes; i++)
		if (conf->nodes[i].role == CONF_ROLE_PRIMARY)
			return conf->nodes[i].name;
	return r->primary;
}

/* A failover of that epoch to that node had started: a balancer may route to it already. */
static bool in_flight_to(const struct journal_roles *r, uint64_t epoch, const char *node)
{
	return r->step != JSTEP_NONE && r->fo_epoch == epoch && strcmp(r->fo_to, node) == 0;
}

static const char *mark_conflict(const struct conf_cluster *conf, const struct journal_roles *r,
				 const struct recover_mark *m, char *buf, size_t len)
{
	const char *jp = journal_primary(conf, r);

	if (m->found < 0) {
		snprintf(buf, len, "cannot read what %s last served: %s", m->source, m->error);
		return buf;
	}
	if (m->found == 0 || strcmp(m->mark.cluster, conf->name) != 0)
		return NULL;
	if (m->mark.has_epoch && m->mark.epoch > r->epoch) {
		snprintf(buf, len, "%s last routed to %s at epoch %" PRIu64 ", but the journal's "
			 "latest epoch is %" PRIu64 ": journal records are missing", m->source,
			 m->mark.primary, m->mark.epoch, r->epoch);
		return buf;
	}
	if (m->mark.has_epoch && m->mark.epoch < r->epoch)
		return NULL; /* the journal is ahead: the reroute had not run yet */
	if (strcmp(m->mark.primary, jp) == 0 ||
	    (m->mark.has_epoch && in_flight_to(r, m->mark.epoch, m->mark.primary)))
		return NULL;
	snprintf(buf, len, "%s last routed to %s%s, but the journal says the primary is %s",
		 m->source, m->mark.primary, m->mark.has_epoch ? "" : " (a file without an epoch)",
		 jp);
	return buf;
}

const char *recover_conflict(const struct conf_cluster *conf, const struct journal_roles *r,
			     const struct recover_mark *marks, size_t n, char *buf, size_t len)
{
	if (r->damaged) {
		snprintf(buf, len, "the journal is damaged (%s)", r->damage);
		return buf;
	}
	if (r->primary[0] && conf_cluster_find_node(conf, r->primary) < 0) {
		snprintf(buf, len, "the journal names primary %s, which is not in the config",
			 r->primary);
		return buf;
	}
	for (size_t i = 0; i < n; i++)
		if (mark_conflict(conf, r, &marks[i], buf, len))
			return buf;
	return NULL;
}

static void name(const struct conf_cluster *conf, const char *node, struct recover_evidence *ev)
{
	int i = conf_cluster_find_node(conf, node);

	if (i >= 0)
		ev->named[i] = true;
}

void recover_evidence(const struct conf_cluster *conf, const struct journal_roles *r,
		      const struct recover_mark *marks, size_t n, struct recover_evidence *ev)
{
	bool mark_newest = false;

	memset(ev, 0, sizeof(*ev));
	ev->epoch = r->epoch;
	name(conf, journal_primary(conf, r), ev);
	ev->likely = conf_cluster_find_node(conf, journal_primary(conf, r));
	for (size_t i = 0; i < n; i++) {
		const struct render_mark *m = &marks[i].mark;

		if (marks[i].found != 1 || strcmp(m->cluster, conf->name) != 0)
			continue;
		name(conf, m->primary, ev);
		/* What a balancer serves now wins over a journal it contradicts. */
		if (conf_cluster_find_node(conf, m->primary) >= 0 &&
		    (!mark_newest || (m->has_epoch && m->epoch >= ev->epoch))) {
			ev->likely = conf_cluster_find_node(conf, m->primary);
			mark_newest = true;
		}
		if (m->has_epoch && m->epoch > ev->epoch)
			ev->epoch = m->epoch;
	}
}
