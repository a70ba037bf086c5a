#ifndef TANDEM_CPROTOBUFC_SHIM_H
#define TANDEM_CPROTOBUFC_SHIM_H
#include <protobuf-c/protobuf-c.h>
#endif
