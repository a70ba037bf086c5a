// Open MPI's handles are macros over global symbols that Swift cannot import;
// these static inline accessors return them (no compiled C needed).
#ifndef TANDEM_CMPI_SHIM_H
#define TANDEM_CMPI_SHIM_H
#include <mpi.h>
static inline MPI_Comm tandem_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm tandem_mpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Datatype tandem_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype tandem_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype tandem_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype tandem_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Op tandem_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op tandem_mpi_max(void) { return MPI_MAX; }
static inline void *tandem_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *tandem_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Errhandler tandem_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int tandem_mpi_success(void) { return MPI_SUCCESS; }
static inline int tandem_mpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline int tandem_mpi_undefined(void) { return MPI_UNDEFINED; }
static inline int tandem_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline int tandem_mpi_max_library_version_string(void) { return MPI_MAX_LIBRARY_VERSION_STRING; }
static inline int tandem_mpi_thread_single(void) { return MPI_THREAD_SINGLE; }
static inline int tandem_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int tandem_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int tandem_mpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }
#endif
