/*
 * common/thread.h — what the backup library's worker threads share: a
 * mutex with two condition variables, and starting a thread that never
 * takes a signal (so SIGINT, SIGTERM and SIGCHLD reach the thread that
 * owns the work).
 */
#ifndef VIGIL_COMMON_THREAD_H
#define VIGIL_COMMON_THREAD_H

#include <pthread.h>

/* Initialise mu, a and b: 0, or an errno value with none of them left initialised. */
int thread_sync_init(pthread_mutex_t *mu, pthread_cond_t *a, pthread_cond_t *b);
/* pthread_create with every signal blocked in the new thread: 0 or an errno value. */
int thread_start_quiet(pthread_t *th, void *(*fn)(void *), void *arg);

#endif
