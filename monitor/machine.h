/*
 * monitor/machine.h — drive a cluster's state machine: classify what the
 * observers say (decide.c), fire the event at the table (fsm.c), log and
 * journal every state change with its reason, and carry out the action of
 * the transition taken (failover.c).  Nothing else changes cl->state: one
 * function here writes it.
 */
#ifndef VIGIL_MONITOR_MACHINE_H
#define VIGIL_MONITOR_MACHINE_H

#include <stdbool.h>
#include <stddef.h>

#include "monitor/cluster.h"
#include "monitor/fsm.h"
#include "monitor/journal_roles.h"

/*
 * Fire ev: when the table has a row for (cl->state, ev), change state and
 * run the row's action.  target is the node an action promotes.  Returns
 * false (nothing done) when the current state ignores ev.
 */
bool machine_fire(struct mon_cluster *cl, enum fsm_event ev, size_t target, const char *reason);

/* A new cluster's first state (STARTING), and a reloaded one's, carried over from old. */
void machine_init(struct mon_cluster *cl);
void machine_inherit(struct mon_cluster *cl, const struct mon_cluster *old);

/*
 * At start-up, after the journal's roles were taken: finish a failover a
 * crash interrupted, from the step it had reached, with its own epoch.
 * The promote (and restore) hook is never run twice for one epoch.
 * Returns true when a failover was resumed (the caller skips its render).
 */
bool machine_recover(struct mon_cluster *cl, const struct journal_roles *roles);

/* The retry of a FAILED action is due (the retry timer's callback). */
void machine_retry(struct mon_cluster *cl);
/* Arm the retry timer: retry_backoff doubled per retry done, at most 60 s. */
void machine_retry_arm(struct mon_cluster *cl);
/* HELD: alert why (the "held" event), and again every MACHINE_HOLD_REALERT_MS until resolved. */
#define MACHINE_HOLD_REALERT_MS (10 * 60 * 1000)
void machine_hold_alert(struct mon_cluster *cl);

#endif
