/* Deadlines for pthread_cond_timedwait, which takes an absolute
 * CLOCK_REALTIME time. */
#ifndef ANCHOR_CORE_DEADLINE_H
#define ANCHOR_CORE_DEADLINE_H

#include <time.h>

/* *until = now + ms milliseconds (ms <= 0: now). */
static inline void anc_deadline_after_ms(struct timespec *until, long ms) {
    clock_gettime(CLOCK_REALTIME, until);
    if (ms <= 0) return;
    until->tv_sec += (time_t)(ms / 1000);
    until->tv_nsec += (ms % 1000) * 1000000L;
    if (until->tv_nsec >= 1000000000L) {
        until->tv_sec++;
        until->tv_nsec -= 1000000000L;
    }
}

#endif
