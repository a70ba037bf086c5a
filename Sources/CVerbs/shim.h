#ifndef TANDEM_CVERBS_SHIM_H
#define TANDEM_CVERBS_SHIM_H
#include <infiniband/verbs.h>
#include <errno.h>
static inline int tandem_errno(void) { return errno; }
static inline void tandem_clear_errno(void) { errno = 0; }
#endif
