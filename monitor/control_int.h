/* monitor/control_int.h — shared by the control API's handlers (control*.c). */
#ifndef VIGIL_MONITOR_CONTROL_INT_H
#define VIGIL_MONITOR_CONTROL_INT_H

#include <jansson.h>

struct evhttp_request;
struct evhttp_uri;
struct mon_daemon;

/* Send body (reference stolen) as JSON with status code. */
void control_reply_json(struct evhttp_request *req, int code, json_t *body);
void control_reply_error(struct evhttp_request *req, int code, const char *msg);

/* GET /v1/events?cluster=NAME&after=SEQ&limit=N */
void control_events(struct evhttp_request *req, struct mon_daemon *d,
		    const struct evhttp_uri *uri);

#endif
