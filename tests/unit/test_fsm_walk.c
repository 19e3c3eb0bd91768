/*
 * tests/unit/test_fsm_walk.c — a seeded random walk: thousands of random
 * observer sequences (nodes dying, flapping, one noisy observer path),
 * operator orders, TILT and job outcomes go through health, decide() and
 * the table the way machine.c drives them, and after every step the
 * invariants must hold:
 *   - no two automatic failovers start within cooldown;
 *   - a failover only ever promotes a node that was UP, never a fenced one;
 *   - the epoch strictly increases with every failover;
 *   - PAUSED and TILT never act (only leaving them is possible).
 * A failing seed is printed: rerun it with that seed to reproduce.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/decide.h"
#include "monitor/fsm.h"
#include "monitor/health.h"

#define NODES 3
#define OBS 3
#define TICK_MS 100
#define COOLDOWN_MS 5000
#define STEPS 5000
#define SEEDS 24

struct sim {
	unsigned seed;
	uint64_t now;
	enum fsm_state state;
	size_t primary, target;
	bool alive[NODES];
	bool out[NODES];
	struct health obs[NODES][OBS];
	enum health_state health[NODES];
	bool sdown[NODES];
	uint64_t down_ms[NODES];
	bool tilt, promoted;
	uint64_t epoch, last_start, last_auto_start;
	unsigned failovers, auto_failovers;
};

static bool chance(unsigned pct)
{
	return (unsigned)(rand() % 1000) < pct;
}

/* One probe round: node truth flips now and then; observer 2 is a lossy path. */
static void observe(struct sim *s)
{
	for (size_t n = 0; n < NODES; n++) {
		enum health_state v[OBS], before = s->health[n];

		if (chance(s->alive[n] ? 8 : 30))
			s->alive[n] = !s->alive[n];
		for (size_t o = 0; o < OBS; o++) {
			bool ok = s->alive[n] && !(o == 2 && chance(300));

			health_feed(&s->obs[n][o], ok);
			v[o] = s->obs[n][o].state;
		}
		s->health[n] = health_combine(v, OBS, 0);
		s->sdown[n] = health_any_down(v, OBS);
		if (s->health[n] == HEALTH_DOWN && before != HEALTH_DOWN)
			s->down_ms[n] = s->now;
	}
}

static struct decision classify(const struct sim *s, bool for_retry)
{
	struct decide_input in = {
		.health = s->health, .n_nodes = NODES, .primary = s->primary, .out = s->out,
		.primary_sdown = s->sdown[s->primary],
		.delay_over = s->now - s->down_ms[s->primary] >= 300,
		.cooling_down = !for_retry && s->last_start &&
				s->now - s->last_start < COOLDOWN_MS,
		.preferred = 0,
	};

	return decide(&in);
}

static void begin(struct sim *s, enum fsm_event ev, size_t target)
{
	bool automatic = ev == EV_ODOWN_ACT || ev == EV_FAILBACK;

	ck_assert_msg(s->health[target] == HEALTH_UP && !s->out[target] && target != s->primary,
		      "seed %u: promoting node %zu that is %s%s", s->seed, target,
		      health_state_name(s->health[target]), s->out[target] ? ", fenced" : "");
	if (automatic) {
		ck_assert_msg(!s->last_auto_start || s->now - s->last_auto_start >= COOLDOWN_MS,
			      "seed %u: two automatic failovers %llu ms apart", s->seed,
			      (unsigned long long)(s->now - s->last_auto_start));
		s->last_auto_start = s->now;
		s->auto_failovers++;
	}
	s->epoch++;
	s->last_start = s->now;
	s->target = target;
	s->promoted = false;
	s->failovers++;
}

static void fire(struct sim *s, enum fsm_event ev, size_t target)
{
	const struct fsm_transition *t = fsm_lookup(s->state, ev);
	uint64_t epoch = s->epoch;

	if (!t)
		return;
	ck_assert_msg(!(s->state == ST_PAUSED || s->state == ST_TILT) ||
		      t->action == ACT_NONE || t->action == ACT_RESUME,
		      "seed %u: %s acts (%s)", s->seed, fsm_state_name(s->state),
		      fsm_action_name(t->action));
	s->state = t->to == ST_SETTLE ? fsm_settle(classify(s, false).event, s->tilt, false) : t->to;
	if (t->action == ACT_BEGIN_FAILOVER || t->action == ACT_BEGIN_SWITCHOVER) {
		begin(s, ev, target);
		ck_assert_msg(s->epoch > epoch, "seed %u: epoch did not increase", s->seed);
	} else if (t->action == ACT_RECONFIGURE && !s->promoted) {
		/* The promote step succeeded: the node takes over, the old one is fenced. */
		s->out[s->primary] = true;
		s->primary = s->target;
		s->promoted = true;
	}
}

static void job_tick(struct sim *s)
{
	if (chance(50))
		fire(s, EV_STEP_FAILED, s->target);
	else if (chance(600))
		fire(s, EV_STEP_OK, s->target);
}

static void operator_tick(struct sim *s)
{
	if (chance(3))
		fire(s, EV_PAUSE, 0);
	if (chance(20))
		fire(s, EV_RESUME, 0);
	if (chance(6)) {
		size_t to = (size_t)rand() % NODES;

		/* vigilctl validates the target first (decide_manual); the table the state. */
		if (to != s->primary && s->health[to] == HEALTH_UP && !s->out[to])
			fire(s, chance(500) ? EV_SWITCHOVER_CMD : EV_FAILOVER_CMD, to);
	}
	for (size_t n = 0; n < NODES; n++)
		if (s->out[n] && chance(10))
			s->out[n] = false; /* vigilctl rejoin */
}

static void tick(struct sim *s)
{
	struct decision d;

	s->now += TICK_MS;
	observe(s);
	if (chance(5))
		s->tilt = !s->tilt;
	operator_tick(s);
	if (fsm_state_busy(s->state)) {
		job_tick(s);
		return;
	}
	if (s->state == ST_FAILED && chance(100)) {
		d = classify(s, true);
		if (s->promoted)
			fire(s, EV_RETRY_REROUTE, s->target);
		else if (d.event == EV_ODOWN_ACT)
			fire(s, EV_RETRY_FAILOVER, d.target);
		return;
	}
	if (s->tilt) {
		fire(s, EV_TILT, 0);
		return;
	}
	if (s->state == ST_TILT)
		fire(s, EV_TILT_END, 0);
	d = classify(s, false);
	fire(s, d.event, d.target);
}

START_TEST(random_walk)
{
	struct sim s = { .seed = 1000u + (unsigned)_i, .state = ST_STARTING };

	srand(s.seed);
	for (size_t n = 0; n < NODES; n++) {
		s.alive[n] = true;
		for (size_t o = 0; o < OBS; o++)
			health_init(&s.obs[n][o], 2, 3);
	}
	for (int i = 0; i < STEPS; i++)
		tick(&s);
	/* The walk must have exercised what it checks, or it proves nothing. */
	ck_assert_msg(s.auto_failovers > 0 && s.failovers > s.auto_failovers,
		      "seed %u: %u failovers (%u automatic): the walk is too tame", s.seed,
		      s.failovers, s.auto_failovers);
}
END_TEST

TCase *walk_tcase(void);

TCase *walk_tcase(void)
{
	TCase *t = tcase_create("walk");

	tcase_add_loop_test(t, random_walk, 0, SEEDS);
	tcase_set_timeout(t, 60);
	return t;
}
