// libibverbs declares several entry points as macros (ibv_query_port, ibv_reg_mr) that Swift
// cannot import, and errno is a macro too; these static inline accessors expose them
// (no compiled C needed).
#ifndef TANDEM_CVERBS_SHIM_H
#define TANDEM_CVERBS_SHIM_H
#include <infiniband/verbs.h>
#include <errno.h>
static inline int tandem_errno(void) { return errno; }
static inline void tandem_clear_errno(void) { errno = 0; }
static inline int tandem_ibv_query_port(struct ibv_context *context, uint8_t port,
                                        struct ibv_port_attr *attr) {
    return ibv_query_port(context, port, attr);
}
static inline struct ibv_mr *tandem_ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length,
                                               int access) {
    return ibv_reg_mr(pd, addr, length, access);
}
#endif
