/*
 * common/curl_loop.h — libcurl's multi-socket API driven by the libevent
 * base (the hiperfifo shape): one event per socket curl asks for, one timer
 * curl sets, and a completion sweep that calls each transfer's owner.
 * No threads and no polling timers.
 *
 * The loop sets CURLOPT_PRIVATE on every easy handle it is given: callers
 * must not use CURLOPT_PRIVATE themselves.
 */
#ifndef VIGIL_COMMON_CURL_LOOP_H
#define VIGIL_COMMON_CURL_LOOP_H

#include <curl/curl.h>

struct event_base;
struct curl_loop;

typedef void (*curl_done_fn)(void *arg, CURL *easy, CURLcode result);

struct curl_loop *curl_loop_new(struct event_base *base, char *err, size_t errlen);
/* Removes (without callbacks) any transfer still running; does not free easy handles. */
void curl_loop_free(struct curl_loop *loop);
/* Start a configured easy handle; cb runs once when it completes. 0 or -1. */
int curl_loop_add(struct curl_loop *loop, CURL *easy, curl_done_fn cb, void *arg);
/*
 * The same, on the connection cache KEY selects: transfers to one target
 * should pass one key so they keep reusing its connection (see curl_loop.c).
 */
int curl_loop_add_keyed(struct curl_loop *loop, unsigned key, CURL *easy, curl_done_fn cb,
			void *arg);
/* Stop a running transfer without calling its callback.  Safe if not running. */
void curl_loop_remove(struct curl_loop *loop, CURL *easy);

#endif
