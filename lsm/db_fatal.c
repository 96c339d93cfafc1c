/*
 * lsm/db_fatal.c - the database's fatal state: the first permanent failure
 * of a background upload or flush is kept, every later write fails with it,
 * and whoever waits on the database is woken to see it.
 */
#include "db_int.h"

void lsm_set_fatal(struct lsm_db *db, lsm_status st)
{
	if (!db->fatal)
		db->fatal = st;
	pthread_cond_broadcast(&db->cond);
	pthread_cond_broadcast(&db->durable_cond);
}
