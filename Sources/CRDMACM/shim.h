#ifndef TANDEM_CRDMACM_SHIM_H
#define TANDEM_CRDMACM_SHIM_H
#include <rdma/rdma_cma.h>
#endif
