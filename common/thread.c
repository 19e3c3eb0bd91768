/*
 * common/thread.c — thread set-up shared by the backup library's workers
 * (thread.h).
 */
#include "common/thread.h"

#include <signal.h>

int thread_sync_init(pthread_mutex_t *mu, pthread_cond_t *a, pthread_cond_t *b)
{
	int rc = pthread_mutex_init(mu, NULL);

	if (rc == 0 && (rc = pthread_cond_init(a, NULL)) != 0)
		pthread_mutex_destroy(mu);
	if (rc == 0 && (rc = pthread_cond_init(b, NULL)) != 0) {
		pthread_cond_destroy(a);
		pthread_mutex_destroy(mu);
	}
	return rc;
}

int thread_start_quiet(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	rc = pthread_sigmask(SIG_SETMASK, &all, &old);
	if (rc != 0)
		return rc;
	rc = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}
