// Open MPI's handles are macros over global symbols that Swift cannot import;
// these static inline accessors return them (no compiled C needed).
#ifndef TANDEM_CMPI_SHIM_H
#define TANDEM_CMPI_SHIM_H
#include <mpi.h>
static inline MPI_Comm tandem_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype tandem_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype tandem_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype tandem_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Op tandem_mpi_sum(void) { return MPI_SUM; }
static inline void *tandem_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline int tandem_mpi_success(void) { return MPI_SUCCESS; }
static inline int tandem_mpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline int tandem_mpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }
static inline int tandem_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
#endif
