/*
 * monitor/refusal.h — why the daemon refused an operator's order, in its
 * own terms.  The decisions say which; only the API layer turns it into an
 * HTTP status (monitor/control.c), so a new front end needs no 404s here.
 */
#ifndef VIGIL_MONITOR_REFUSAL_H
#define VIGIL_MONITOR_REFUSAL_H

enum refusal {
	REFUSED_UNKNOWN, /* no such node or job */
	REFUSED_NOT_NOW, /* the state does not take the order (a job runs, paused, held...) */
	REFUSED_INVALID, /* the order itself is wrong (a field missing or out of range) */
	REFUSED_FAULT,   /* vigil could not carry it out (the journal, memory) */
};

#endif
