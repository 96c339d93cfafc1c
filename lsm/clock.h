/*
 * lsm/clock.h - the engine's clocks (clock.c).
 */
#ifndef ZEROFS_LSM_CLOCK_H
#define ZEROFS_LSM_CLOCK_H

#include <pthread.h>
#include <stdint.h>

/* Monotonic milliseconds: intervals and deadlines. */
uint64_t lsm_now_ms(void);
/* Monotonic microseconds: short durations (waits) measured for stats. */
uint64_t lsm_now_us(void);
/* A bounded wait on a condvar made with CLOCK_MONOTONIC: every waiter in the
 * engine re-checks its condition at least this often, so a missed wake-up
 * delays it instead of hanging it. */
void lsm_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *lock, unsigned ms);
/* Wall-clock milliseconds since the epoch: what is stored (object ages). */
uint64_t lsm_wall_ms(void);

#endif
