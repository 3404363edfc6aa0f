# Dependencies, all from Debian 12 packages (scripts/install-deps.sh installs them).
find_package(PkgConfig REQUIRED)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(PNG REQUIRED IMPORTED_TARGET libpng)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
find_package(OpenMP REQUIRED COMPONENTS C)
find_package(Threads REQUIRED)

# OpenBLAS: prefer the OpenMP build. It shares libgomp with our own parallel
# loops, so a GEMM called inside an OpenMP region runs single-threaded instead
# of spawning a second team of threads that would oversubscribe the cores.
find_library(OPENBLAS_LIBRARY NAMES openblas
  HINTS /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib/aarch64-linux-gnu/openblas-openmp
  NO_DEFAULT_PATH)
if(NOT OPENBLAS_LIBRARY)
  find_library(OPENBLAS_LIBRARY NAMES openblas REQUIRED)
  message(WARNING "ddpmx: using ${OPENBLAS_LIBRARY}; install libopenblas-openmp-dev to avoid thread oversubscription")
endif()
find_path(OPENBLAS_INCLUDE_DIR cblas.h
  HINTS /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/aarch64-linux-gnu/openblas-openmp
        /usr/include/openblas /usr/include/x86_64-linux-gnu)
if(NOT OPENBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "ddpmx: cblas.h not found; run scripts/install-deps.sh")
endif()
message(STATUS "ddpmx: OpenBLAS ${OPENBLAS_LIBRARY} (${OPENBLAS_INCLUDE_DIR})")

pkg_check_modules(CHECK IMPORTED_TARGET check)

# nvcc, if any: core/backend/cuda/ builds the CUDA module (libddpmx_cuda.so)
# when it and the CUDA runtime, cuBLAS and cuDNN are all found.
include(CheckLanguage)
check_language(CUDA)
if(CMAKE_CUDA_COMPILER)
  set(DDPMX_HAVE_CUDA_TOOLKIT ON)
  message(STATUS "ddpmx: nvcc found (${CMAKE_CUDA_COMPILER})")
else()
  set(DDPMX_HAVE_CUDA_TOOLKIT OFF)
endif()

# MPI (Debian's Open MPI, libopenmpi-dev): when found, `mpirun -np N ddpmx
# run` trains data-parallel on N ranks (core/comm/, docs/distributed.md).
# Without it ddpmx builds as before and is always one rank.
option(DDPMX_MPI "Build the MPI communicator when MPI is found" ON)
if(DDPMX_MPI)
  find_package(MPI COMPONENTS C QUIET)
endif()
if(MPI_C_FOUND)
  set(DDPMX_HAVE_MPI ON)
  find_program(DDPMX_MPIEXEC NAMES mpirun mpiexec HINTS ${MPIEXEC_EXECUTABLE})
  message(STATUS "ddpmx: MPI ${MPI_C_VERSION} found (${DDPMX_MPIEXEC}): data-parallel ranks built in")
else()
  set(DDPMX_HAVE_MPI OFF)
  message(STATUS "ddpmx: MPI not found: one process only (install libopenmpi-dev for data-parallel ranks)")
endif()
